import CSystemd
import Glibc

/// sd_notify to whoever supervises this process (systemd or corrald), when NOTIFY_SOCKET is set.
public struct Notifier: Sendable {
    public let isEnabled: Bool
    /// Half of WATCHDOG_USEC (how often to ping), or nil when no watchdog is asked for.
    public let watchdogInterval: Duration?

    public init() {
        isEnabled = getenv("NOTIFY_SOCKET") != nil
        var usec: UInt64 = 0
        if sd_watchdog_enabled(0, &usec) > 0, usec > 0 {
            watchdogInterval = .microseconds(Int64(usec / 2))
        } else {
            watchdogInterval = nil
        }
    }

    /// Sends newline-separated assignments, e.g. "READY=1\nSTATUS=serving".
    public func send(_ state: String) {
        guard isEnabled else { return }
        _ = sd_notify(0, state)
    }
}

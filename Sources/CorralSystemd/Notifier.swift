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

    /// Hands a duplicate of `fd` to systemd's fd store under `name` (FDSTORE=1): the next start of
    /// the service gets it back in LISTEN_FDS, so a listening socket outlives a crash or restart.
    /// False when there is no supervisor or it refused (no FileDescriptorStoreMax=).
    @discardableResult
    public func store(_ fd: Int32, name: String) -> Bool {
        guard isEnabled else { return false }
        var fds = [fd]
        return sd_pid_notify_with_fds(0, 0, "FDSTORE=1\nFDNAME=\(name)", &fds, 1) > 0
    }

    /// Drops the stored fds named `name` (FDSTOREREMOVE=1).
    public func removeStored(name: String) {
        send("FDSTOREREMOVE=1\nFDNAME=\(name)")
    }
}

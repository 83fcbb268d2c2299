import CCorral
import Glibc

extension EventLoop {
    /// Delivers `signals` to `handler` from the loop, through a signalfd: they are blocked for
    /// normal delivery first, so call this before starting any thread. The handler gets the
    /// number and the int a sender gave with sigqueue (0 for a plain kill).
    public func watchSignals(_ signals: [Int32], _ handler: @escaping (_ signal: Int32, _ value: Int32) -> Void) throws(SystemError) {
        let fd = signals.withUnsafeBufferPointer { corral_signalfd($0.baseAddress, Int32($0.count)) }
        guard fd >= 0 else { throw SystemError("signalfd") }
        try register(fd, events: Self.readable, watcher: SignalWatcher(handler))
    }
}

/// Turns signalfd readiness into signal numbers.
private final class SignalWatcher: FDWatcher {
    private let deliver: (Int32, Int32) -> Void

    init(_ deliver: @escaping (Int32, Int32) -> Void) {
        self.deliver = deliver
    }

    override func ready(fd: Int32, events: UInt32) {
        while true {
            var value: Int32 = 0
            let signal = corral_signalfd_read(fd, &value)
            guard signal > 0 else { return }
            deliver(signal, value)
        }
    }
}

/// A watcher that calls a closure on readiness (for descriptors that need no state of their own).
public final class ReadinessHandler: FDWatcher {
    private let handler: () -> Void

    public init(_ handler: @escaping () -> Void) {
        self.handler = handler
    }

    public override func ready(fd: Int32, events: UInt32) { handler() }
}

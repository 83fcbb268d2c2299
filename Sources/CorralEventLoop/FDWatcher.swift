/// What the loop calls back for a registered descriptor (picoev's callback + argument).
/// Subclasses are the connection, the listener, the signal reader…; a class rather than a protocol
/// so the fd table stores one pointer and dispatch needs no cast.
open class FDWatcher {
    public init() {}

    /// Readiness (`EPOLLIN`, `EPOLLOUT`, `EPOLLHUP`… bits) for `fd`.
    open func ready(fd: Int32, events: UInt32) {}

    /// The deadline armed with `EventLoop.setTimeout` passed.
    open func timedOut(fd: Int32) {}
}

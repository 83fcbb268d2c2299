/// The life of one HTTP/1.1 connection as a plain state machine (no I/O): what to do when bytes
/// arrive, a head is parsed, a response is written, a timeout fires or the worker drains.
/// The server's connection coroutine performs the I/O and asks this struct what comes next.
public struct ConnectionState: Equatable, Sendable {
    public enum Phase: Equatable, Sendable {
        /// Between requests with no bytes buffered: a keep-alive connection at rest.
        case idle
        /// Some bytes of a request head are buffered.
        case readingHead
        /// The handler runs (and may read the body).
        case handling
        /// The response is being written.
        case writing
        case closed
    }

    public enum Next: Equatable, Sendable {
        case readNextRequest
        case close
    }

    public enum TimeoutAction: Equatable, Sendable {
        /// Close without a word (an idle keep-alive connection, or a client that stopped reading).
        case close
        /// Answer 408 and close (a request head that never completed: slowloris).
        case respond408AndClose
    }

    public private(set) var phase: Phase = .idle
    public private(set) var draining = false
    public private(set) var requestsServed = 0
    private var keepAlive = false

    public init() {}

    public mutating func bytesArrived() {
        if phase == .idle { phase = .readingHead }
    }

    /// A complete head; `keepAlive` is what the request allows (version and Connection header).
    public mutating func headParsed(keepAlive: Bool) {
        phase = .handling
        self.keepAlive = keepAlive && !draining
    }

    /// Called as the response head is written: whether it must carry `Connection: close`.
    /// `bodyUnreadable` means the request body cannot be skipped (e.g. 100-continue never sent).
    public mutating func responseStarting(bodyUnreadable: Bool = false) -> Bool {
        phase = .writing
        if draining || bodyUnreadable { keepAlive = false }
        return !keepAlive
    }

    /// A response whose head promised keep-alive keeps the connection even when the worker began
    /// draining while it was sent: its client may already be sending the next request, which is
    /// answered with `Connection: close` (see `drain`).
    public mutating func responseFinished() -> Next {
        requestsServed += 1
        if keepAlive {
            phase = .idle
            return .readNextRequest
        }
        phase = .closed
        return .close
    }

    /// The worker is draining: every response from now on says `Connection: close`. An idle
    /// keep-alive connection is not closed at once: its client may have sent a request that is
    /// still on the wire, and closing would lose it (how gunicorn drops requests on reload). It
    /// gets that request answered, or closes when its keep-alive time runs out, as at any time.
    public mutating func drain() {
        draining = true
    }

    public func timeoutAction() -> TimeoutAction {
        phase == .readingHead ? .respond408AndClose : .close
    }

    public mutating func failed() {
        phase = .closed
        keepAlive = false
    }
}

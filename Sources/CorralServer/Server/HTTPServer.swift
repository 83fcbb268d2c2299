import CCorral
import CorralEventLoop
import CorralHTTP
import CorralHTTP2
import CorralTLS
import Glibc

/// The HTTP engine of one worker process: accepts on the listening sockets, runs one coroutine
/// per connection on the loop, and calls the application's handler for each request.
public final class HTTPServer: @unchecked Sendable {
    public let loop: EventLoop
    public let configuration: ServerConfiguration
    public let log: ErrorLog
    public let accessLog: AccessLog?
    public let metrics: RequestMetrics
    let handler: Handler
    let pool: BufferPool
    /// h2c for trusted peers on plain listeners: `http2_cleartext`, off without h2 in
    /// `http_protocols` (looked at for every new connection's first bytes).
    let cleartextHTTP2: HTTP2Cleartext
    /// What HTTP/2 streams are served with, kept for the next ones.
    private(set) lazy var http2Streams = HTTP2StreamPool(server: self)
    private var listeners: [Listener] = []
    private var connections: Connection?
    /// The end of the `connections` list: the longest open.
    private var oldestConnection: Connection?
    /// Closed connections kept for reuse. They are made 64 at a time so that they sit together
    /// in memory, apart from the short-lived coroutine frames: otherwise freed frames leave holes
    /// between live connections that the allocator can never give back (RSS stays high).
    private var freeConnections: [Connection] = []
    public private(set) var openConnections = 0
    public private(set) var requestsServed = 0
    /// Reads that brought request bytes, on any connection: the open-file cache reads its change
    /// queue again when this has moved.
    var socketReads = 0
    public private(set) var isDraining = false
    private var acceptPaused = false
    private var parkedSinceTrim = 0
    private var trimScheduled = false
    /// Called once draining has closed the last connection.
    public var onDrained: () -> Void = {}
    /// Called when `maxRequests` is reached (the worker then drains).
    public var onMaxRequests: () -> Void = {}
    private let wallClockOffset: Int64
    private var date = HTTPDateCache()

    public init(loop: EventLoop, configuration: ServerConfiguration, log: ErrorLog,
                accessLog: AccessLog?, handler: @escaping Handler) {
        self.loop = loop
        self.configuration = configuration
        self.log = log
        self.accessLog = accessLog
        metrics = RequestMetrics(statsd: configuration.statsd, log: log, loop: loop)
        self.handler = handler
        cleartextHTTP2 = configuration.http2.speaksHTTP2 ? configuration.http2.cleartext : .off
        pool = BufferPool(capacity: BufferPool.connectionCapacity, fieldCapacity: configuration.limits.fieldCount,
                          outputCapacity: 4096, keep: 256)
        wallClockOffset = corral_realtime_us() * 1000 - corral_monotonic_ns()
        if let accessLog {
            loop.onEachIteration { accessLog.flush() }
        }
        pendingOutput.reserveCapacity(64)
    }

    /// Connections holding responses to pipelined requests back so they go out in one send
    /// (Connection.holdWhilePipelined); whatever is still held when the loop iteration ends is sent then.
    private var pendingOutput: [Connection] = []
    /// Made once: the end-of-iteration job while some connection holds output. Unowned: it runs
    /// only in an iteration in which one of this server's connections asked for it.
    private lazy var sendPendingOutput: () -> Void = { [unowned(unsafe) self] in
        for connection in pendingOutput { connection.sendHeldOutput() }
        pendingOutput.removeAll(keepingCapacity: true)
    }

    func holdsOutput(_ connection: Connection) {
        if pendingOutput.isEmpty { loop.atEndOfIteration(sendPendingOutput) }
        pendingOutput.append(connection)
    }

    /// Seconds since the epoch, from the loop's cached clock (no syscall).
    public var wallSeconds: Int { Int((loop.now + wallClockOffset) / 1_000_000_000) }

    /// Starts accepting on these listening sockets (non-blocking is set here); with `tls`, their
    /// connections speak TLS.
    public func listen(on fds: [Int32], tls: TLSContext? = nil) throws(SystemError) {
        for fd in fds {
            _ = corral_set_nonblocking(fd)
            let listener = Listener(fd: fd, server: self, tls: tls)
            listeners.append(listener)
            try startAccepting(listener)
        }
    }

    private func startAccepting(_ listener: Listener) throws(SystemError) {
        guard !listener.accepting else { return }
        // EPOLLEXCLUSIVE: one worker wakes per connection, not the whole herd.
        try loop.register(listener.fd, events: EventLoop.readable | EventLoop.exclusive, watcher: listener)
        listener.accepting = true
    }

    private func stopAccepting(_ listener: Listener) {
        guard listener.accepting else { return }
        loop.unregister(listener.fd)
        listener.accepting = false
    }

    private func pauseAccepting() {
        acceptPaused = true
        for listener in listeners { stopAccepting(listener) }
    }

    private func resumeAccepting() {
        acceptPaused = false
        guard !isDraining else { return }
        for listener in listeners { try? startAccepting(listener) }
    }

    private var descriptorsWarnedAt = Int64.min / 2

    func acceptConnections(from listener: Listener) {
        var peer = sockaddr_storage()
        for _ in 0..<64 {
            guard openConnections < configuration.workerConnections else {
                pauseAccepting()
                // When connections wait: a slow head gives way (it closes at once, and accepting
                // resumes with its slot). Either way, look again soon.
                if Self.hasWaitingConnection(listener.fd) { _ = takeSlotFromSlowHead() }
                retryAccepting(after: .milliseconds(250))
                return
            }
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = corral_accept(listener.fd, &peer, &length)
            if fd < 0 {
                if errno == EMFILE || errno == ENFILE {
                    // Said at most once a second: accepting is retried every 100 ms until fds free up.
                    if loop.now - descriptorsWarnedAt >= 1_000_000_000 {
                        descriptorsWarnedAt = loop.now
                        log.error("accept: out of file descriptors (\(errno == EMFILE ? "RLIMIT_NOFILE" : "the system's limit") reached, \(openConnections) connections open); new connections wait in the backlog")
                    }
                    pauseAccepting()
                    retryAccepting(after: .milliseconds(100))
                }
                return
            }
            if peer.ss_family != sa_family_t(AF_UNIX) {
                _ = corral_set_int_option(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
            }
            var tls: TLSStream?
            if let context = listener.tls {
                tls = TLSStream(context: context, fd: fd)
                if tls == nil {
                    log.error("cannot start TLS on an accepted connection (out of memory?)")
                    close(fd)
                    continue
                }
            }
            let connection = takeConnection()
            connection.open(fd: fd, peer: &peer, tls: tls)
            if configuration.proxyProtocol && !configuration.proxyAllowList.allows(connection.peerIP) {
                log.info("closing \(String(decoding: connection.peerAddress, as: UTF8.self)): not in proxy_allow_ips")
                connection.endTLS()
                close(fd)
                freeConnections.append(connection)
                continue
            }
            do {
                try loop.register(fd, events: EventLoop.readable | EventLoop.writable | EventLoop.peerClosed
                                  | EventLoop.edgeTriggered, watcher: connection)
            } catch {
                log.error("cannot watch accepted connection: \(error)")
                connection.endTLS()
                close(fd)
                continue
            }
            connection.next = connections
            connections?.previous = connection
            connections = connection
            if oldestConnection == nil { oldestConnection = connection }
            openConnections += 1
            loop.spawn { await connection.run() }
        }
    }

    /// A head that has taken this long when the connections run out is taken for slowloris.
    static let slowHead: Int64 = 1_000_000_000
    private var slowHeadsClosed = 0
    private var slowHeadsReportedAt = Int64.min / 2

    private var acceptRetryScheduled = false

    /// Accepting again after `delay`, once however often asked while it waits.
    private func retryAccepting(after delay: Duration) {
        guard !acceptRetryScheduled else { return }
        acceptRetryScheduled = true
        loop.spawn { [self] in
            await loop.sleep(for: delay)
            acceptRetryScheduled = false
            if acceptPaused { resumeAccepting() }
        }
    }

    /// Whether a connection waits in `listener`'s backlog (a poll that does not wait).
    private static func hasWaitingConnection(_ listener: Int32) -> Bool {
        var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 1
    }

    /// At worker_connections with connections waiting: the longest-open connection still sending
    /// its head after `slowHead` is closed with 408 (among the 64 longest open), so 10,000
    /// clients trickling heads cannot keep new ones out for their whole header_timeout. False
    /// when none is slow enough.
    private func takeSlotFromSlowHead() -> Bool {
        var candidate = oldestConnection
        for _ in 0..<64 {
            guard let connection = candidate else { break }
            candidate = connection.previous
            guard connection.yieldSlotIfSlow(now: loop.now, slowHead: Self.slowHead) else { continue }
            slowHeadsClosed += 1
            if loop.now - slowHeadsReportedAt >= 1_000_000_000 {
                log.warning("worker_connections (\(configuration.workerConnections)) reached: \(slowHeadsClosed) connection(s) whose request head took over a second closed with 408 to take new ones")
                (slowHeadsReportedAt, slowHeadsClosed) = (loop.now, 0)
            }
            return true
        }
        return false
    }

    func takeConnection() -> Connection {
        if freeConnections.isEmpty {
            freeConnections.reserveCapacity(freeConnections.capacity + 64)
            for _ in 0..<64 { freeConnections.append(Connection(server: self)) }
        }
        return freeConnections.removeLast()
    }

    /// A connection object no longer needed (an HTTP/2 stream's, past what its pool keeps).
    func giveBack(_ connection: Connection) {
        freeConnections.append(connection)
    }

    /// Lends the Date field's value now (HTTP/2's responses carry it as a field of their own).
    func withDate<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        date.withBytes(now: wallSeconds, body)
    }

    func connectionClosed(_ connection: Connection) {
        loop.unregister(connection.fd)
        close(connection.fd)
        if connections === connection { connections = connection.next }
        if oldestConnection === connection { oldestConnection = connection.previous }
        connection.previous?.next = connection.next
        connection.next?.previous = connection.previous
        connection.previous = nil
        connection.next = nil
        openConnections -= 1
        freeConnections.append(connection)
        if acceptPaused && openConnections < configuration.workerConnections { resumeAccepting() }
        if isDraining && openConnections == 0 { onDrained() }
    }

    /// A connection's coroutine ended while it idles. When many have, their frames are free
    /// memory scattered through the heap; a second later the allocator is asked to return whole
    /// free pages to the system (10,000 idle keep-alive connections: ~30 MB RSS growth → ~6 MB).
    func connectionParked() {
        parkedSinceTrim += 1
        guard parkedSinceTrim >= 256, !trimScheduled else { return }
        trimScheduled = true
        loop.spawn { [self] in
            await loop.sleep(for: .seconds(1))
            corral_release_free_memory()
            parkedSinceTrim = 0
            trimScheduled = false
        }
    }

    /// Every request the handler saw counts toward max_requests, also when the client left before
    /// its end; one that got a response head (whole or cut short) is measured and logged too.
    func requestCompleted(_ connection: Connection, head: RequestHead, answered: Bool) {
        requestsServed += 1
        if answered {
            let microseconds = Int(corral_monotonic_ns() - connection.startedAt) / 1000
            metrics.record(status: Int(connection.status), microseconds: microseconds)
            accessLog?.record(connection, head: head, now: wallSeconds, durationMicroseconds: microseconds)
        }
        if configuration.maxRequests > 0 && requestsServed == configuration.maxRequests && !isDraining {
            log.info("max_requests (\(configuration.maxRequests)) reached; draining")
            onMaxRequests()
        }
    }

    /// Graceful drain: stop accepting, let requests in flight finish (their responses carry
    /// `Connection: close`); an idle connection answers the request its client may already have
    /// sent, or closes at its keep-alive time. `onDrained` runs when the last one closes.
    public func beginDrain() {
        guard !isDraining else { return }
        isDraining = true
        for listener in listeners { stopAccepting(listener) }
        var connection = connections
        while let current = connection {
            connection = current.next
            current.drain()
        }
        if openConnections == 0 { onDrained() }
    }

    /// Starts the close handshake of every open WebSocket (the worker stops: 1001, going away;
    /// or is replaced by a reload: 1012, service restart); how many there were.
    @discardableResult
    public func closeWebSockets(code: UInt16, reason: String) -> Int {
        var count = 0
        var connection = connections
        while let current = connection {
            connection = current.next
            guard let socket = current.webSocket else { continue }
            socket.close(code: code, reason: reason)
            count += 1
        }
        return count
    }

    /// Status line, Server and the cached Date header.
    func appendResponseStart(status: UInt16, version: HTTPVersion, to out: inout [UInt8]) {
        date.withBytes(now: wallSeconds) { date in
            ResponseHead.appendStart(status: status, version: version, date: date, to: &out)
        }
    }
}

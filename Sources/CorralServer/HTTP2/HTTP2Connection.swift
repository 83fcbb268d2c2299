import CorralEventLoop
import CorralHTTP
import CorralHTTP2
import Glibc

/// A connection that speaks HTTP/2 (ALPN chose h2): the socket's `Connection` moves the bytes
/// (TLS included), the `HTTP2Session` frames them, and each request runs as its own coroutine on
/// a stream `Connection`, through the same handler and parser as HTTP/1.1.
final class HTTP2Connection: HTTP2SessionDelegate {
    unowned(unsafe) let connection: Connection
    private(set) var session: HTTP2Session!
    private var streams: [Int32: HTTP2Stream] = [:]
    /// A stream has output for the session: the connection's coroutine should send it.
    private var woken = false
    /// Stream coroutines still running; the connection waits for them before it ends, since
    /// they use it (its TLS, its session) until they do.
    private var running = 0
    private var lastStreamEnded: UnsafeContinuation<Void, Never>?
    private var server: HTTPServer { connection.server }

    init(connection: Connection) {
        self.connection = connection
        session = HTTP2Session(settings: connection.server.configuration.http2, delegate: self)
    }

    /// Serves the connection until the client or the session ends it; the bytes already read
    /// (the client's preface, after the TLS handshake) are the first input.
    func run() async {
        let configuration = server.configuration
        var alive = consumeInput()
        while true {
            if !alive {
                // The GOAWAY that says why; after a connection error, what the client still sends
                // is read and dropped for a moment, or closing with it unread would reset the
                // connection and the client could lose the GOAWAY.
                if await flush(), session.failure != nil { await dropInput() }
                break
            }
            guard await flush() else { break }
            if session.isFinished { break }
            if connection.state.phase == .closed || server.isDraining, !drainingSent {
                drainingSent = true
                session.goAway()
                continue
            }
            if drainingSent && session.openStreams == 0 { break }
            let idle = session.openStreams == 0
            let deadline = server.loop.now + (idle ? configuration.keepalive : configuration.headerTimeout)
            switch await readOrWake(until: deadline) {
            case .ready:
                alive = consumeInput()
            case .timedOut:
                if idle {
                    session.goAway()
                    _ = await flush()
                    alive = false
                } else {
                    // Nothing from the client for header_timeout: streams waiting for a body it
                    // does not send, or for a window it keeps shut, are cut off; those waiting
                    // for their app wait on.
                    for stream in streams.values where !stream.bodyEnded || (!stream.responseSent && session.windowClosed(stream.id)) {
                        session.reset(stream.id)
                    }
                }
            case .closed, .failed, .shutdown:
                alive = false
            }
        }
        if let failure = session.failure {
            server.log.info("HTTP/2 with \(String(decoding: connection.peerAddress, as: UTF8.self)) ended: \(failure)")
        }
        for stream in streams.values { end(stream) }
        streams.removeAll()
        // Their handlers may still be in the app: each finds its stream closed when it answers.
        while running > 0 { await withUnsafeContinuation { lastStreamEnded = $0 } }
    }

    /// h2c by Upgrade: the HTTP/1.1 request that asked is stream 1 (RFC 7540 §3.2), its head
    /// in HTTP/1.1's form; it has no body (Connection+H2C takes only those).
    func adoptUpgradedRequest(head: [UInt8]) {
        let stream = server.http2Streams.stream(id: 1, owner: self)
        streams[1] = stream
        stream.head.append(contentsOf: head)
        stream.bodyEnded = true
        stream.hasNoBody = true
        running += 1
        server.http2Streams.serve(stream, on: connection)
    }

    /// A stream's coroutine has ended (Connection.serveHTTP2Stream).
    func streamFinished() {
        running -= 1
        if running == 0, let waiter = lastStreamEnded {
            lastStreamEnded = nil
            waiter.resume()
        }
    }

    private var drainingSent = false

    /// Feeds what the read buffer holds to the session; false when the session failed.
    private func consumeInput() -> Bool {
        guard connection.filled > 0, let buffers = connection.buffers else { return true }
        let ok = session.receive(UnsafeRawBufferPointer(start: buffers.bytes, count: connection.filled), now: server.loop.now)
        connection.filled = 0
        return ok
    }

    /// Reads and drops the client's bytes for up to a second and 256 KiB, or until it closes.
    private func dropInput() async {
        let deadline = server.loop.now + 1_000_000_000
        var dropped = 0
        while dropped < 256 * 1024, case .ready = await connection.fill(until: deadline) {
            dropped += connection.filled
            connection.filled = 0
        }
    }

    /// Sends everything the session has to send.
    private func flush() async -> Bool {
        woken = false
        connection.readInterrupted = false
        if connection.buffers == nil { connection.buffers = server.pool.take() }
        let output = connection.buffers!
        output.output.removeAll(keepingCapacity: true)
        while let bytes = session.nextOutput() {
            output.output.append(contentsOf: bytes)
            if output.output.count >= 64 * 1024 {
                guard await connection.writeAll(output.output) else { return false }
                output.output.removeAll(keepingCapacity: true)
            }
        }
        if output.output.isEmpty { return session.failure == nil }
        return await connection.writeAll(output.output)
    }

    /// Reads from the socket, or returns early when a stream has output.
    private func readOrWake(until deadline: Int64) async -> Connection.Outcome {
        if woken { return .ready }
        return await connection.fill(until: deadline)
    }

    /// A stream coroutine submitted something: the connection's coroutine sends it.
    func wake() {
        woken = true
        connection.readInterrupted = true
        guard let waiter = connection.waiter else { return }
        connection.waiter = nil
        waiter.resume(returning: .ready)
    }

    // MARK: The session's events

    func streamOpened(_ id: Int32) {
        streams[id] = server.http2Streams.stream(id: id, owner: self)
    }

    func field(_ id: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Bool {
        guard let stream = streams[id] else { return false }
        stream.headListSize += name.count + value.count + 32
        if stream.headListSize > server.configuration.http2.maxHeaderListSize { return false }
        if name.first == UInt8(ascii: ":") {
            if name.equalsLowercased(":method") { stream.method.append(contentsOf: value) }
            else if name.equalsLowercased(":path") { stream.path.append(contentsOf: value) }
            else if name.equalsLowercased(":authority") { stream.authority.append(contentsOf: value) }
            // :scheme says nothing about this connection: TLS or a trusted proxy decides it.
            return true
        }
        if name.equalsLowercased("cookie") {
            // RFC 9113 §8.2.3: split cookies are joined with "; " for HTTP/1.1's one field.
            if !stream.cookies.isEmpty { stream.cookies.append(contentsOf: "; ".utf8) }
            stream.cookies.append(contentsOf: value)
            return true
        }
        // :authority is the host; a host field beside it would be a second Host.
        if name.equalsLowercased("host") {
            if stream.authority.isEmpty { stream.authority.append(contentsOf: value) }
            return true
        }
        stream.fields.append(contentsOf: name)
        stream.fields.append(contentsOf: ": ".utf8)
        stream.fields.append(contentsOf: value)
        stream.fields.append(contentsOf: "\r\n".utf8)
        return true
    }

    func headEnded(_ id: Int32, endOfBody: Bool) {
        guard let stream = streams[id] else { return }
        stream.bodyEnded = endOfBody
        stream.hasNoBody = endOfBody
        stream.head.append(contentsOf: stream.method)
        stream.head.append(0x20)
        stream.head.append(contentsOf: stream.path)
        stream.head.append(contentsOf: " HTTP/1.1\r\n".utf8)
        if !stream.authority.isEmpty {
            stream.head.append(contentsOf: "host: ".utf8)
            stream.head.append(contentsOf: stream.authority)
            stream.head.append(contentsOf: "\r\n".utf8)
        }
        stream.head.append(contentsOf: stream.fields)
        if !stream.cookies.isEmpty {
            stream.head.append(contentsOf: "cookie: ".utf8)
            stream.head.append(contentsOf: stream.cookies)
            stream.head.append(contentsOf: "\r\n".utf8)
        }
        stream.head.append(contentsOf: "\r\n".utf8)
        // Streams the client reset still have their handlers running: a client that opens and
        // resets streams without end (rapid reset) must not pile up work in the app.
        guard running < server.configuration.http2.maxConcurrentStreams else {
            session.refuse(id)
            return
        }
        running += 1
        server.http2Streams.serve(stream, on: connection)
    }

    func bodyData(_ id: Int32, _ bytes: UnsafeRawBufferPointer) {
        guard let stream = streams[id] else { return }
        stream.pendingBody.append(contentsOf: bytes)
        stream.bodyReceived += bytes.count
        stream.wake()
    }

    func bodyEnded(_ id: Int32) {
        guard let stream = streams[id] else { return }
        stream.bodyEnded = true
        stream.wake()
    }

    func streamClosed(_ id: Int32, errorCode: UInt32) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        end(stream)
    }

    func responseBody(_ id: Int32, into buffer: UnsafeMutableRawPointer, room: Int) -> (count: Int, end: Bool)? {
        guard let stream = streams[id] else { return (0, true) }
        return stream.nextBody(into: buffer, room: room)
    }

    func trailers(_ id: Int32, into fields: inout HTTP2ResponseFields) {
        guard let trailers = streams[id]?.connection?.responseTrailers else { return }
        fields.add(trailers)
    }

    private func end(_ stream: HTTP2Stream) {
        stream.closed = true
        stream.bodyEnded = true
        stream.releaseSource()
        stream.wake()
        server.http2Streams.retireIfDone(stream)
    }
}

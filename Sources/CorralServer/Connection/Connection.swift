import CCorral
import CorralEventLoop
import CorralHTTP
import CorralHTTP2
import CorralTLS
import Glibc

/// One client connection, served by one coroutine for its whole life: read a head, run the
/// handler, write the response, repeat. Registered once, edge-triggered, for reads and writes:
/// the coroutine tries the syscall first and suspends only on EAGAIN, so a keep-alive request
/// costs read + writev (+ one epoll_wait shared by the whole loop) and no epoll_ctl.
public final class Connection: FDWatcher, @unchecked Sendable {
    enum Outcome { case ready, timedOut, closed, failed, shutdown }

    private(set) var fd: Int32 = -1
    unowned(unsafe) let server: HTTPServer
    var state = ConnectionState()
    var parser: RequestParser
    var buffers: RequestBuffers?
    /// Bytes in the read buffer; `bodyStart`..`bodyCursor` is body not yet given to the handler.
    var filled = 0
    var headLength = 0
    var bodyCursor = 0
    var body = BodyProgress.none
    var expectsContinue = false
    var continueSent = false
    /// Edge-triggered readiness: whether the last syscall left more to do without waiting.
    var readReady = true
    var writeReady = true
    var waiter: UnsafeContinuation<Outcome, Never>?
    var waitingFor: UInt32 = 0
    /// The client's address as text: the socket's peer, or the client a PROXY header named.
    let address: UnsafeMutableRawBufferPointer
    var addressLength = 0
    /// The socket's peer as text (the balancer, when there is a PROXY header).
    let peer: UnsafeMutableRawBufferPointer
    var peerLength = 0
    /// The client's port; -1 for a unix socket.
    private(set) var remotePort: Int32 = -1
    /// The address the socket was accepted at, found at its first request that asks.
    var localAddress: (name: String, port: String)?
    /// Whether a PROXY header may still come (proxy_protocol, before the first request).
    var proxyHeaderPending = false
    /// The socket's peer as accept() gave it (nil for a unix socket), for the allow lists.
    private(set) var peerIP: ProxyAddress?
    /// The socket's peer is in forwarded_allow_ips: its secure_scheme_headers are believed.
    private(set) var peerTrustedForScheme = false
    // Response facts for the access log.
    var status: UInt16 = 0
    var bodyBytesSent = 0
    var startedAt: Int64 = 0
    /// When the first byte of the request head being read arrived.
    var headStartedAt: Int64 = 0
    /// Closed to give its slot to a new connection (the server says so, once a second).
    var yieldedSlot = false
    var responseHeaders = HTTPFields()
    /// Trailer fields the streamed body in progress ends with (chunked only).
    var responseTrailers: HTTPFields?
    /// How the streamed body in progress is framed, and whether the connection closes after it.
    var streamFraming = ResponseHead.Framing.none
    /// The streamed body reached its Content-Length and the producer had more.
    var bodyOverflowed = false
    var closeAfterResponse = false
    /// `buffers.output` holds whole responses not yet sent (pipelining: see holdWhilePipelined).
    var outputHeld = false
    /// After a 101: the WebSocket this connection carries (the drain closes it).
    var webSocket: WebSocket?
    /// epoll said the client closed its end, or the connection broke.
    var peerGone = false
    /// TLS on this connection (its listener has a certificate); nil for plain HTTP.
    var tls: TLSStream?
    /// This connection object serves one stream of an HTTP/2 connection (Connection+HTTP2).
    var http2Stream: HTTP2Stream?
    /// The HTTP/2 connection this socket carries, while it does.
    var http2: HTTP2Connection?
    /// A parked stream coroutine waits here for its next stream (HTTP2StreamPool).
    var streamAssignment: UnsafeContinuation<Bool, Never>?
    /// Ends a `fill` that waits, as if bytes had come: HTTP/2's streams have output to send.
    var readInterrupted = false
    /// The last TLS read stalled until the socket is writable (OpenSSL had records to send).
    var tlsReadWantsWrite = false
    /// The client's certificate (PEM, subject) once a request asked; `.none` after asking when
    /// it sent none.
    var tlsClientCertificate: (pem: [UInt8], subject: [UInt8])??
    /// Told when that happens while the handler works without the socket (`watchForLeaving`).
    var leavingObserver: (any ClientLeavingObserver)?
    // The server's intrusive list of open connections.
    var previous: Connection?
    var next: Connection?

    enum BodyProgress {
        case none
        case length(remaining: Int)
        case chunked(ChunkedDecoder)
        /// An HTTP/2 stream's DATA until its end.
        case untilEndOfStream
    }

    /// A blank connection for the server's pool; `open` gives it a socket.
    init(server: HTTPServer) {
        self.server = server
        parser = RequestParser(limits: server.configuration.limits)
        address = .allocate(byteCount: 48, alignment: 1)
        peer = .allocate(byteCount: 48, alignment: 1)
        super.init()
    }

    /// Starts a new life on an accepted socket: every per-connection field is reset here.
    func open(fd: Int32, peer: UnsafePointer<sockaddr_storage>, tls: TLSStream?) {
        resetForNewLife(fd: fd, tls: tls)
        peerLength = Int(corral_format_address(peer, self.peer.baseAddress!.assumingMemoryBound(to: CChar.self), 48))
        address.copyMemory(from: UnsafeRawBufferPointer(rebasing: self.peer[..<peerLength]))
        addressLength = peerLength
        remotePort = corral_address_port(peer)
        proxyHeaderPending = server.configuration.proxyProtocol
        peerIP = ProxyAddress(socketAddress: peer)
        peerTrustedForScheme = server.configuration.forwarded.allowList.allows(peerIP)
    }

    /// An HTTP/2 stream's client is its connection's (Connection+HTTP2).
    func inheritPeer(from parent: Connection) {
        remotePort = parent.remotePort
        peerIP = parent.peerIP
        peerTrustedForScheme = parent.peerTrustedForScheme
    }

    /// Every per-connection field but the addresses, reset.
    func resetForNewLife(fd: Int32, tls: TLSStream?) {
        self.fd = fd
        self.tls = tls
        http2Stream = nil
        http2 = nil
        readInterrupted = false
        alpnChecked = false
        tlsReadWantsWrite = false
        tlsClientCertificate = nil
        localAddress = nil
        proxyHeaderPending = false
        state = ConnectionState()
        parser.reset()
        filled = 0
        yieldedSlot = false
        headLength = 0
        bodyCursor = 0
        body = .none
        expectsContinue = false
        continueSent = false
        readReady = true
        writeReady = true
        waiter = nil
        waitingFor = 0
        status = 0
        bodyBytesSent = 0
        responseHeaders = HTTPFields()
        parked = false
        closeAfterResponse = false
        streamFraming = .none
        bodyOverflowed = false
        outputHeld = false
        webSocket = nil
        peerGone = false
        leavingObserver = nil
    }

    deinit {
        address.deallocate()
        peer.deallocate()
    }

    var remoteAddress: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: address[..<addressLength])
    }

    var peerAddress: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: peer[..<peerLength])
    }

    var requestBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: buffers?.bytes, count: filled)
    }

    func requestFields(count: Int) -> UnsafeBufferPointer<HeaderField> {
        UnsafeBufferPointer(start: buffers?.fields, count: count)
    }

    // MARK: Loop callbacks

    public override func ready(fd: Int32, events: UInt32) {
        let broken = events & (UInt32(EPOLLERR.rawValue) | UInt32(EPOLLHUP.rawValue)) != 0
        if broken || events & (EventLoop.readable | UInt32(EPOLLRDHUP.rawValue)) != 0 { readReady = true }
        if broken || events & EventLoop.writable != 0 { writeReady = true }
        if broken || events & UInt32(EPOLLRDHUP.rawValue) != 0 {
            peerGone = true
            if let observer = leavingObserver {
                leavingObserver = nil
                observer.clientLeft()
            }
        }
        if parked && readReady {
            parked = false
            server.loop.clearTimeout(fd)
            server.loop.spawn { await self.run() }
            return
        }
        // Held output the end-of-iteration send could not finish (EAGAIN): more of it now.
        if outputHeld && writeReady && waiter == nil { sendHeldOutput() }
        guard let waiter, broken || events & waitingFor != 0 ||
              (waitingFor == EventLoop.readable && events & UInt32(EPOLLRDHUP.rawValue) != 0) else { return }
        self.waiter = nil
        waiter.resume(returning: .ready)
    }

    public override func timedOut(fd: Int32) {
        if parked {
            parked = false
            finish()
            return
        }
        guard let waiter else { return }
        self.waiter = nil
        waiter.resume(returning: .timedOut)
    }

    /// At worker_connections, a connection whose head has been arriving for at least `slowHead`
    /// (slowloris) is answered 408 and closed to give its slot to a new connection, as its head
    /// timeout would later. True when it was told to go; it closes when its coroutine next runs.
    func yieldSlotIfSlow(now: Int64, slowHead: Int64) -> Bool {
        guard state.phase == .readingHead, filled > 0, now - headStartedAt >= slowHead, !proxyHeaderPending,
              let waiter, waitingFor == EventLoop.readable else { return false }
        yieldedSlot = true
        self.waiter = nil
        waiter.resume(returning: .timedOut)
        return true
    }

    /// The worker drains: the request in hand, or the next one an idle connection receives
    /// before its keep-alive time runs out, is answered with `Connection: close`.
    func drain() {
        state.drain()
        // An HTTP/2 connection says GOAWAY now, not when its client next sends something.
        http2?.wake()
    }

    // MARK: The coroutine

    /// How long a keep-alive connection may sit idle before its coroutine ends (it is "parked"
    /// and restarted by the next readable event). Busy connections keep their coroutine and
    /// allocate nothing; idle ones shrink to the Connection object.
    static let parkAfter: Int64 = 250_000_000
    var parked = false

    enum HeadOutcome {
        case head(RequestHead)
        case park(until: Int64)
        case close
        /// ALPN chose h2, or a trusted peer opened with the h2c preface: HTTP2Connection from here on.
        case http2
    }

    /// Whether the TLS handshake's ALPN choice was looked at (once, at the first bytes).
    var alpnChecked = false

    func run() async {
        while true {
            switch await readHead() {
            case .head(let head):
                if cleartextHTTP2.allowsUpgrade, await upgradeToHTTP2IfAsked(head) { return finish() }
                guard await serve(head) else {
                    if outputHeld { _ = await flushOutput() }
                    return finish()
                }
                prepareForNextRequest()
            case .park(let deadline):
                parked = true
                server.connectionParked()
                server.loop.setTimeout(fd, after: max(0, deadline - server.loop.now))
                return
            case .close:
                return finish()
            case .http2:
                await serveHTTP2(HTTP2Connection(connection: self))
                return finish()
            }
        }
    }

    func finish() {
        outputHeld = false
        endTLS()
        if let buffers { server.pool.give(buffers) }
        buffers = nil
        server.connectionClosed(self)
    }

    func readHead() async -> HeadOutcome {
        parser.reset()
        let idleBetweenRequests = state.requestsServed > 0 && filled == 0
        let deadline = server.loop.now + (idleBetweenRequests ? server.configuration.keepalive
                                                              : server.configuration.headerTimeout)
        var waitUntil = idleBetweenRequests ? min(deadline, server.loop.now + Self.parkAfter) : deadline
        var headStarted = false
        while true {
            if filled > 0 {
                if !headStarted {
                    headStarted = true
                    headStartedAt = server.loop.now
                    state.bytesArrived()
                    waitUntil = server.loop.now + server.configuration.headerTimeout
                }
                let buffers = buffers!
                if proxyHeaderPending && !readProxyHeader(buffers) { return .close }
                // h2c with prior knowledge: the preface, whole, or the bytes that begin it.
                var awaitingPreface = false
                if !proxyHeaderPending && state.requestsServed == 0, cleartextHTTP2.allowsPriorKnowledge {
                    switch HTTP2Cleartext.matchPreface(UnsafeRawBufferPointer(start: buffers.bytes, count: filled)) {
                    case .match: return .http2
                    case .partial: awaitingPreface = true
                    case .mismatch where cleartextHTTP2 == .priorKnowledge:
                        // Only prior knowledge is on: a trusted peer speaking HTTP/1 is misconfigured.
                        await refuse(HTTPError(400, "expected HTTP/2 with prior knowledge (http2_cleartext)"))
                        return .close
                    case .mismatch: break
                    }
                }
                // Unless a PROXY header is still arriving, or was all that arrived.
                if !proxyHeaderPending && filled > 0 && !awaitingPreface {
                    switch parser.parseHead(UnsafeRawBufferPointer(start: buffers.bytes, count: filled),
                                            fields: UnsafeMutableBufferPointer(start: buffers.fields,
                                                                               count: buffers.fieldCapacity)) {
                    case .complete(let head):
                        return .head(head)
                    case .failed(let error):
                        await refuse(error)
                        return .close
                    case .incomplete:
                        if filled == buffers.capacity {
                            // The parser enforces the limits; this only makes room up to them.
                            buffers.grow(to: min(buffers.capacity * 2, server.configuration.limits.maximumHeadSize + 4096))
                        }
                    }
                }
            }
            if outputHeld { guard await flushOutput() else { return .close } }
            switch await fill(until: waitUntil) {
            case .ready:
                if !alpnChecked, tls != nil {
                    alpnChecked = true
                    if tls!.choseHTTP2 { return .http2 }
                }
                continue
            case .timedOut:
                if filled == 0 && server.loop.now < deadline { return .park(until: deadline) }
                if proxyHeaderPending && filled > 0 { return .close }  // half a PROXY header: no HTTP answer
                if state.timeoutAction() == .respond408AndClose {
                    if !yieldedSlot { server.log.info("closing \(String(decoding: remoteAddress, as: UTF8.self)): request head not complete in time") }
                    await refuse(HTTPError(408, "request head timeout"))
                }
                return .close
            case .closed, .failed, .shutdown:
                return .close
            }
        }
    }

    /// Reads a PROXY header at the start of the buffer and takes it off the front; false when the
    /// connection must close. `proxyHeaderPending` stays true while the header is incomplete.
    func readProxyHeader(_ buffers: RequestBuffers) -> Bool {
        switch ProxyHeader.parse(UnsafeRawBufferPointer(start: buffers.bytes, count: filled)) {
        case .incomplete:
            return true
        case .absent:
            proxyHeaderPending = false
            return true
        case .failed(let reason):
            server.log.info("closing \(String(decoding: peerAddress, as: UTF8.self)): \(reason)")
            return false
        case .complete(let header, let length):
            proxyHeaderPending = false
            switch header {
            case .inet(let client):
                addressLength = client.format(into: address)
                remotePort = Int32(client.port)
            case .unix:
                addressLength = 0
                remotePort = -1
            case .local:
                break
            }
            memmove(buffers.bytes, buffers.bytes + length, filled - length)
            filled -= length
            return true
        }
    }

    /// Runs the handler and writes its response; false when the connection must close.
    func serve(_ head: RequestHead) async -> Bool {
        state.headParsed(keepAlive: head.keepAlive)
        headLength = head.headLength
        bodyCursor = headLength
        expectsContinue = head.expectsContinue
        continueSent = false
        switch head.framing {
        case .none: body = .none
        case .contentLength(let n): body = n > 0 ? .length(remaining: n) : .none
        case .chunked: body = .chunked(ChunkedDecoder(bodyLimit: server.configuration.limits.bodySize))
        case .untilEndOfStream: body = .untilEndOfStream
        }
        startedAt = corral_monotonic_ns()
        bodyBytesSent = 0
        var response: Response
        do {
            response = try await server.handler(Request(connection: self, head: head))
        } catch let error as HTTPError {
            response = Self.errorResponse(error.status)
            if case .none = body {} else { state.failed() }
        } catch is ConnectionError {
            server.requestCompleted(self, head: head, answered: false)   // gone before any answer
            return false
        } catch {
            server.log.error("handler failed for \(target(of: head)): \(error)")
            response = Self.errorResponse(500)
        }
        if case .handedOver = response.body {
            status = response.status
            server.requestCompleted(self, head: head, answered: true)
            return false
        }
        if case .webSocket(let settings, let session) = response.body {
            let written = await writeUpgrade(response)
            server.requestCompleted(self, head: head, answered: true)
            let socket = WebSocket(connection: self, settings: settings, handshakeSent: written)
            webSocket = socket
            await session(socket)
            webSocket = nil
            return false
        }
        if let replacement = Self.replacementForTunnel(status: response.status, method: head.method) {
            server.log.error("handler answered \(response.status) to \(head.method == .connect ? "CONNECT" : "a request"), which would make a proxy tunnel bytes that corral reads as requests; sent \(replacement)")
            await response.body.discard(on: self)
            response = Self.errorResponse(replacement)
        }
        // A body the handler left unread is skipped after the response, unless the client is
        // still waiting for 100 Continue (it may never send it): then the connection closes.
        let bodyPending: Bool
        if case .none = body { bodyPending = false } else { bodyPending = true }
        let close = state.responseStarting(bodyUnreadable: bodyPending && expectsContinue && !continueSent)
        let written = await write(response, for: head, close: close)
        server.requestCompleted(self, head: head, answered: true)
        guard written else { return false }
        if state.responseFinished() == .close || closeAfterResponse { return false }
        if bodyPending {
            do {
                while try await readBodyPiece() != nil {}
            } catch {
                return false
            }
        }
        return true
    }

    /// Only a WebSocket the engine speaks (`Response.webSocket`) changes protocols; a handler's own
    /// 1xx final answer (101 Switching Protocols) or a 2xx to CONNECT would make a proxy in front
    /// tunnel the client's bytes, which corral would go on reading as requests behind the proxy's
    /// back: the status that goes out instead (500: the handler's mistake; 501: CONNECT is not
    /// implemented), or nil.
    static func replacementForTunnel(status: UInt16, method: HTTPMethod) -> UInt16? {
        if status < 200 { return 500 }
        if method == .connect && status < 300 { return 501 }
        return nil
    }

    func prepareForNextRequest() {
        // Pipelined bytes after this request move to the front; an empty buffer goes back.
        let consumed = bodyCursor
        if filled > consumed, let buffers {
            memmove(buffers.bytes, buffers.bytes + consumed, filled - consumed)
        }
        filled -= consumed
        headLength = 0
        bodyCursor = 0
        responseHeaders = HTTPFields()
        if filled == 0, let buffers {
            server.pool.give(buffers)
            self.buffers = nil
        }
    }

    // MARK: Reading

    /// Reads what is available into the buffer, waiting until `deadline` if nothing is.
    func fill(until deadline: Int64) async -> Outcome {
        if let stream = http2Stream { return await fill(from: stream) }
        while true {
            if readReady {
                if buffers == nil { buffers = server.pool.take() }
                let buffers = buffers!
                let room = buffers.capacity - filled
                let n = receive(buffers.bytes + filled, room)
                if n > 0 {
                    filled += n
                    server.socketReads &+= 1
                    // A short read drained the socket; TLS reads a record at a time, so only
                    // its own "wants more" says so.
                    if n < room && tls == nil { readReady = false }
                    return .ready
                }
                if n == 0 { return .closed }
                switch errno {
                case EAGAIN: if tlsReadWantsWrite { writeReady = false } else { readReady = false }
                case EINTR: continue
                default: return .failed
                }
            }
            if filled == 0, let buffers {
                // Idle: hand the buffers back while waiting for the next request.
                server.pool.give(buffers)
                self.buffers = nil
            }
            let outcome = await wait(for: tlsReadWantsWrite ? EventLoop.writable : EventLoop.readable, until: deadline)
            if outcome != .ready { return outcome }
            if readInterrupted {
                readInterrupted = false
                return .ready
            }
        }
    }

    func wait(for interest: UInt32, until deadline: Int64) async -> Outcome {
        if state.phase == .closed { return .shutdown }
        server.loop.setTimeout(fd, after: max(0, deadline - server.loop.now))
        let outcome = await withUnsafeContinuation { (continuation: UnsafeContinuation<Outcome, Never>) in
            waiter = continuation
            waitingFor = interest
        }
        server.loop.clearTimeout(fd)
        return outcome
    }

    /// The next piece of the request body, nil at its end.
    func readBodyPiece() async throws -> UnsafeRawBufferPointer? {
        // Responses held for earlier pipelined requests go before anything about this one.
        if outputHeld { guard await flushOutput() else { throw ConnectionError.closed } }
        if expectsContinue && !continueSent {
            continueSent = true
            if case .none = body {} else {
                guard await writeAll(Self.continueLine) else { throw ConnectionError.closed }
            }
        }
        while true {
            switch body {
            case .none:
                return nil
            case .length(let remaining):
                if bodyCursor < filled {
                    let n = min(filled - bodyCursor, remaining)
                    let piece = UnsafeRawBufferPointer(start: buffers!.bytes + bodyCursor, count: n)
                    bodyCursor += n
                    body = remaining == n ? .none : .length(remaining: remaining - n)
                    return piece
                }
            case .chunked(var decoder):
                if bodyCursor < filled {
                    let input = UnsafeRawBufferPointer(start: buffers!.bytes + bodyCursor, count: filled - bodyCursor)
                    let step = decoder.next(input)
                    body = .chunked(decoder)
                    switch step {
                    case .data(let range, let consumed):
                        bodyCursor += consumed
                        return range.bytes(in: input)
                    case .needMore(let consumed):
                        bodyCursor += consumed
                        if bodyCursor < filled {
                            // A partial framing line: keep it, make room after it.
                            compactBody()
                        }
                    case .done(let consumed):
                        bodyCursor += consumed
                        body = .none
                        return nil
                    case .failed(let error):
                        throw error
                    }
                }
            case .untilEndOfStream:
                if bodyCursor < filled {
                    let piece = UnsafeRawBufferPointer(start: buffers!.bytes + bodyCursor, count: filled - bodyCursor)
                    bodyCursor = filled
                    return piece
                }
                if let stream = http2Stream, stream.bodyEnded && stream.pendingBody.isEmpty {
                    body = .none
                    return nil
                }
                let limit = server.configuration.limits.bodySize
                if limit > 0, let stream = http2Stream, stream.bodyReceived > limit { throw HTTPError(413, "request body too large") }
            }
            // Everything buffered is consumed: read more into the space after the head.
            if bodyCursor == filled {
                filled = headLength
                bodyCursor = headLength
            }
            if filled == buffers!.capacity { buffers!.grow(to: buffers!.capacity + BufferPool.connectionCapacity) }
            switch await fill(until: server.loop.now + server.configuration.headerTimeout) {
            case .ready: continue
            case .timedOut: throw HTTPError(408, "request body timeout")
            default: throw ConnectionError.closed
            }
        }
    }

    /// While the handler works without the socket (the body read, no response begun): tells
    /// `observer` if the client closes its end or the connection breaks, now or when epoll says
    /// so (no syscall, no coroutine). `stopWatchingForLeaving` ends it before the handler uses
    /// the socket again.
    func watchForLeaving(_ observer: any ClientLeavingObserver) {
        if peerGone {
            observer.clientLeft()
        } else {
            leavingObserver = observer
        }
    }

    func stopWatchingForLeaving() {
        leavingObserver = nil
    }

    /// Moves an unconsumed partial chunk-framing line down to just after the head.
    func compactBody() {
        let pending = filled - bodyCursor
        guard bodyCursor > headLength, let buffers else { return }
        memmove(buffers.bytes + headLength, buffers.bytes + bodyCursor, pending)
        bodyCursor = headLength
        filled = headLength + pending
    }

}

/// The client went away: a handler that throws it ends the request quietly, with no response
/// and no error logged (the engine throws it from body reads and stream writes).
public enum ConnectionError: Error {
    case closed
}

extension Connection {
    /// A response header's value for the access log: the handler's fields, then the engine's.
    func responseHeader(_ lowercasedName: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard let buffers else { return nil }
        if let value = responseHeaders.copyValue(lowercased: lowercasedName, into: buffers.scratch) {
            return value
        }
        if lowercasedName.equalsLowercased("server") {
            return UnsafeRawBufferPointer(start: Self.serverName.utf8Start, count: Self.serverName.utf8CodeUnitCount)
        }
        return nil
    }

    static let serverName: StaticString = "corral"
}

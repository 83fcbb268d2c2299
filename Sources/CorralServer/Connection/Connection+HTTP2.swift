import CorralHTTP
import CorralHTTP2
import CorralTLS
import Glibc

/// A `Connection` serving one HTTP/2 stream: its head comes from the session in HTTP/1.1's
/// text form and is parsed like any other (one header policy, one set of limits); its body
/// comes from DATA frames, read as the handler asks (each read opens the window again); its
/// response goes to the session as HEADERS and DATA. It has no socket of its own.
extension Connection {
    /// The TLS of the socket this request came over (an HTTP/2 stream's is its connection's).
    var transportTLS: TLSStream? { http2Stream?.owner.connection.tls ?? tls }

    /// The socket this request came over.
    var socketFD: Int32 { http2Stream?.owner.connection.fd ?? fd }

    /// Serves this socket's HTTP/2 connection until it ends.
    func serveHTTP2(_ connection: HTTP2Connection) async {
        http2 = connection
        await connection.run()
        http2 = nil
    }

    /// Starts a stream's life: the client's addresses are the connection's.
    func open(stream: HTTP2Stream, on parent: Connection) {
        resetForNewLife(fd: -1, tls: nil)
        http2Stream = stream
        address.copyMemory(from: UnsafeRawBufferPointer(rebasing: parent.address[..<parent.addressLength]))
        addressLength = parent.addressLength
        peer.copyMemory(from: UnsafeRawBufferPointer(rebasing: parent.peer[..<parent.peerLength]))
        peerLength = parent.peerLength
        inheritPeer(from: parent)
        localAddress = parent.localAddress
        stream.connection = self
    }

    /// A stream coroutine: serves a stream, then waits parked for the next.
    func serveHTTP2Streams() async {
        repeat { await serveHTTP2Stream() } while await server.http2Streams.park(self)
    }

    /// Parses the stream's head, serves it, lets the stream go.
    private func serveHTTP2Stream() async {
        guard let stream = http2Stream else { return }
        let pool = server.http2Streams
        let buffers = pool.buffers.take()
        self.buffers = buffers
        if stream.head.count > buffers.capacity { buffers.grow(to: stream.head.count + 4096) }
        stream.head.withUnsafeBytes { buffers.bytes.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        filled = stream.head.count
        parser.reset()
        switch parser.parseHead(UnsafeRawBufferPointer(start: buffers.bytes, count: filled),
                                fields: UnsafeMutableBufferPointer(start: buffers.fields, count: buffers.fieldCapacity)) {
        case .complete(var head):
            head.version = .http2
            head.expectsContinue = false
            // Not `bodyEnded`: the whole body may have come already, in the read that brought the head.
            if case .none = head.framing, !stream.hasNoBody { head.framing = .untilEndOfStream }
            _ = await serve(head)
        case .failed(let error):
            server.log.debug("refused HTTP/2 request from \(String(decoding: remoteAddress, as: UTF8.self)): \(error.status) \(error.reason)")
            let response = Self.errorResponse(error.status)
            _ = await writeHTTP2(response, method: .get, stream: stream)
        case .incomplete:
            _ = await writeHTTP2(Self.errorResponse(400), method: .get, stream: stream)
        }
        let owner = stream.owner
        if !stream.responseSent && !stream.closed {
            owner.session.reset(stream.id)
            owner.wake()
        }
        pool.buffers.give(self.buffers!)
        self.buffers = nil
        http2Stream = nil
        stream.connection = nil
        pool.retireIfDone(stream)
        owner.streamFinished()
    }

    /// Moves body bytes the stream received into the read buffer; waits for them. A body of no
    /// stated length that has ended returns `.ready` with nothing new: the reader then sees its end.
    func fill(from stream: HTTP2Stream) async -> Outcome {
        while true {
            // What the handler took since the last read: the client may send that much more.
            if stream.unacknowledged > 0 && !stream.closed {
                stream.owner.session.consumed(stream.id, stream.unacknowledged)
                stream.unacknowledged = 0
                stream.owner.wake()
            }
            if !stream.pendingBody.isEmpty {
                let buffers = buffers!
                let count = stream.pendingBody.count
                if filled + count > buffers.capacity { buffers.grow(to: filled + count) }
                stream.pendingBody.withUnsafeBytes { (buffers.bytes + filled).copyMemory(from: $0.baseAddress!, byteCount: count) }
                filled += count
                stream.unacknowledged += count
                stream.pendingBody.removeAll(keepingCapacity: true)
                return .ready
            }
            if stream.closed { return .closed }
            if stream.bodyEnded {
                if case .untilEndOfStream = body { return .ready }
                return .closed
            }
            await stream.wait()
        }
    }

    /// A response on an HTTP/2 stream: HEADERS now, the body as the session asks for it (a
    /// producer's pieces as they come); returns once all of it is handed over, false when the
    /// stream was reset first.
    func writeHTTP2(_ response: Response, method: HTTPMethod, stream: HTTP2Stream) async -> Bool {
        status = response.status
        // A client gone already: the body is let go as a bodyless one is (a producer still runs,
        // discarding, so a WSGI app's request ends when it has taken the app's last message).
        guard !stream.closed else {
            await response.body.discard(on: self)
            return false
        }
        if server.accessLog?.usesResponseHeaders == true { responseHeaders = response.headers }
        let bodyless = ResponseHead.isBodyless(status: response.status, method: method)
        var produce: ((BodyWriter) async throws -> Void)?
        switch response.body {
        case .empty, .webSocket, .handedOver:
            stream.source = .none
        case .bytes(let bytes):
            stream.source = .bytes(bytes, offset: 0)
        case .string(let string):
            stream.source = .bytes(Array(string.utf8), offset: 0)
        case .file(let fd, let offset, let count):
            stream.source = .file(fd, offset: offset, remaining: count, owned: true, keep: nil)
        case .openFile(let file, let offset, let count):
            stream.source = file.fd < 0 ? .cached(file, offset: offset, end: offset + count)
                                        : .file(file.fd, offset: offset, remaining: count, owned: false, keep: file)
        case .stream(let producer), .streamOfLength(_, let producer):
            stream.source = .queue(finished: false)
            produce = producer
        }
        let hasBody: Bool
        if bodyless {
            await response.body.discard(on: self)
            stream.releaseSource()
            hasBody = false
        } else if case .none = stream.source {
            hasBody = false
        } else if case .bytes(let bytes, _) = stream.source, bytes.isEmpty {
            hasBody = false
        } else if case .cached(_, let offset, let end) = stream.source, offset == end {
            hasBody = false
        } else if case .file(_, _, 0, _, _) = stream.source {
            stream.releaseSource()
            hasBody = false
        } else {
            hasBody = true
        }
        guard !stream.closed else { return false }   // gone while a bodyless body was let go
        stream.owner.session.respond(stream.id, status: response.status, hasBody: hasBody && !bodyless) { fields in
            fields.add(response.headers)
            fields.add(name: "server".utf8, value: "corral".utf8)
            server.withDate { fields.add(name: "date".utf8, value: $0) }
            if let length = response.body.knownLength, response.status >= 200, response.status != 204, response.status != 304 {
                fields.add(name: "content-length".utf8, decimal: length)
            }
        }
        if !hasBody || bodyless { stream.responseSent = true }
        stream.owner.wake()
        // Bytes in hand that the windows let go at once: the session sends them with the head,
        // and the request is done here (its objects free for the next stream) without waiting.
        if hasBody, stream.holdsItsBody, let length = response.body.knownLength, length <= stream.owner.session.windowRoom(stream.id) {
            bodyBytesSent = length
            stream.responseSent = true
            stream.connection = nil   // what the session sends is no longer counted here
            return true
        }
        if let produce, !bodyless {
            responseTrailers = nil
            do {
                try await produce(BodyWriter(connection: self, discarding: false))
            } catch {
                server.log.info("HTTP/2 response cut short after \(bodyBytesSent) body bytes: \(error)")
                stream.owner.session.reset(stream.id)
                stream.owner.wake()
                return false
            }
            stream.source = .queue(finished: true)
            stream.owner.session.resume(stream.id)
            stream.owner.wake()
        }
        while !stream.responseSent && !stream.closed { await stream.wait() }
        return stream.responseSent
    }

    /// An interim response (103 Early Hints) on an HTTP/2 stream: HEADERS before the final ones.
    func informHTTP2(_ status: UInt16, headers: HTTPFields, stream: HTTP2Stream) throws {
        guard !stream.closed else { throw ConnectionError.closed }
        stream.owner.session.inform(stream.id, status: status) { $0.add(headers) }
        stream.owner.wake()
    }

    /// A producer's piece on an HTTP/2 stream: queued for the session, waiting while the queue
    /// is full (the client's window is the back-pressure).
    func queueHTTP2<Bytes: Collection<UInt8>>(_ bytes: Bytes, on stream: HTTP2Stream) async throws {
        guard !stream.closed else { throw ConnectionError.closed }
        stream.queued.append(contentsOf: bytes)
        stream.owner.session.resume(stream.id)
        stream.owner.wake()
        while stream.queued.count - stream.queueStart >= HTTP2Stream.queueLimit && !stream.closed { await stream.wait() }
        if stream.closed { throw ConnectionError.closed }
    }

    /// Fields HTTP/2 forbids (RFC 9113 §8.2.2).
    static func isConnectionSpecific(_ name: String) -> Bool {
        asciiCaseInsensitiveEqual(name, "keep-alive") || asciiCaseInsensitiveEqual(name, "upgrade")
            || asciiCaseInsensitiveEqual(name, "proxy-connection")
    }
}

extension HTTP2ResponseFields {
    /// A handler's fields (a response's, a 103's, trailers), without those the framing owns or
    /// HTTP/2 forbids.
    mutating func add(_ headers: HTTPFields) {
        for field in headers.fields where !Connection.isFramingField(field.name) && !Connection.isConnectionSpecific(field.name) {
            add(name: field.name.utf8, value: field.value.utf8)
        }
    }
}

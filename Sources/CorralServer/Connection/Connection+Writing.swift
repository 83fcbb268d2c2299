import CCorral
import CorralEventLoop
import CorralHTTP
import Glibc

/// A connection's writing side: the response head and body in as few syscalls as fit (writev,
/// sendfile for files, chunked streams), waiting on EAGAIN, and the refusals of bad requests.
extension Connection {
    static let continueLine: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
    static let smallBody = 16 * 1024

    func write(_ response: Response, for head: RequestHead, close: Bool) async -> Bool {
        if let stream = http2Stream { return await writeHTTP2(response, method: head.method, stream: stream) }
        let buffers = buffers!
        status = response.status
        if server.accessLog?.usesResponseHeaders == true { responseHeaders = response.headers }
        let bodyless = ResponseHead.isBodyless(status: response.status, method: head.method)
        let framing: ResponseHead.Framing
        if response.status < 200 || response.status == 204 || response.status == 304 {
            framing = .none
        } else if head.method == .head, let declared = response.headers["content-length"].flatMap(Int.init) {
            // HEAD: the length a GET would have, when the handler knows it (a WSGI app's header).
            framing = .contentLength(declared)
        } else if let length = response.body.knownLength {
            framing = .contentLength(length)
        } else {
            framing = head.version == .http1_1 ? .chunked : .untilClose
        }
        let mustClose = close || framing == .untilClose
        closeAfterResponse = mustClose
        // After the responses held for earlier pipelined requests, if any.
        if !outputHeld { buffers.output.removeAll(keepingCapacity: true) }
        outputHeld = false
        let responseStart = buffers.output.count
        server.appendResponseStart(status: response.status, version: head.version, to: &buffers.output)
        for field in response.headers.fields where !Self.isFramingField(field.name) {
            ResponseHead.appendField(name: field.name, value: field.value, to: &buffers.output)
        }
        ResponseHead.appendEnd(framing: framing, version: head.version, close: mustClose, to: &buffers.output)
        if bodyless {
            // The head goes (or is held) first: a stream's producer may take its time to finish.
            let sent = holdWhilePipelined() ? true : await flushOutput()
            await response.body.discard(on: self)
            return sent
        }
        switch response.body {
        case .empty, .webSocket, .handedOver:   // (never here: serve() takes these first)
            return holdWhilePipelined() ? true : await flushOutput()
        case .bytes(let bytes):
            if bytes.count <= Self.smallBody {
                buffers.output.append(contentsOf: bytes)
                bodyBytesSent = bytes.count
                return holdWhilePipelined() ? true : await flushOutput()
            }
            guard await flushOutput() else { return false }
            guard await writeAll(bytes) else { return false }
            bodyBytesSent = bytes.count
            return true
        case .string(let string):
            buffers.output.append(contentsOf: string.utf8)
            bodyBytesSent = string.utf8.count
            return holdWhilePipelined() ? true : await flushOutput()
        case .file(let file, let offset, let count):
            defer { Glibc.close(file) }
            guard await flushOutput(more: count > 0) else { return false }
            return await sendFile(file, offset: offset, count: count)
        case .openFile(let file, let offset, let count):
            if file.fd < 0 {
                file.contents.withUnsafeBytes { buffers.output.append(contentsOf: $0[offset..<(offset + count)]) }
                bodyBytesSent = count
                return holdWhilePipelined() ? true : await flushOutput()
            }
            guard await flushOutput(more: count > 0) else { return false }
            return await sendFile(file.fd, offset: offset, count: count)
        case .stream(let produce), .streamOfLength(_, let produce):
            // A producer may read the body after the head is out (a WSGI app does): the client
            // still waiting for 100 Continue is told to send it first, not in the middle of the body.
            if expectsContinue && !continueSent {
                if case .none = body {} else { buffers.output.insert(contentsOf: Self.continueLine, at: responseStart) }
                continueSent = true
            }
            // The head goes with the first piece, in one send, or at the end of the loop's turn if
            // the producer takes longer (sendHeldOutput).
            outputHeld = true
            server.holdsOutput(self)
            streamFraming = framing
            bodyOverflowed = false
            responseTrailers = nil
            do {
                try await produce(BodyWriter(connection: self, discarding: false))
            } catch is ConnectionError {
                server.log.info("response to \(target(of: head)) cut short after \(bodyBytesSent) body bytes: the client went away")
                return false
            } catch {
                server.log.error("response to \(target(of: head)) failed after \(bodyBytesSent) body bytes: \(error)")
                return false
            }
            var complete = true
            switch framing {
            case .chunked:
                startOutputPiece()
                if let trailers = responseTrailers, !trailers.fields.isEmpty {
                    ResponseHead.append("0\r\n", to: &buffers.output)
                    for field in trailers.fields where !Self.isFramingField(field.name) {
                        ResponseHead.appendField(name: field.name, value: field.value, to: &buffers.output)
                    }
                    ResponseHead.append("\r\n", to: &buffers.output)
                } else {
                    buffers.output.append(contentsOf: Self.lastChunk)
                }
                return await flushOutput()
            case .contentLength(let count):
                if bodyOverflowed {
                    server.log.error("response to \(target(of: head)): the body is longer than its Content-Length (\(count) bytes); the rest was not sent")
                }
                if bodyBytesSent < count {
                    // Only closing tells the client that it got less than the head promised.
                    server.log.error("response to \(target(of: head)): the body ended after \(bodyBytesSent) of its Content-Length's \(count) bytes; the connection is closed")
                    complete = false
                }
            default:
                break
            }
            // A producer that wrote nothing still owes its head.
            let flushed = outputHeld ? await flushOutput() : true
            return flushed && complete
        }
    }

    /// An interim response, before the final one's head (HTTP/1.1 only).
    func writeInformational(_ status: UInt16, headers: HTTPFields, version: HTTPVersion) async throws {
        if let stream = http2Stream { return try informHTTP2(status, headers: headers, stream: stream) }
        guard version == .http1_1 else { return }
        if outputHeld { guard await flushOutput() else { throw ConnectionError.closed } }
        var head: [UInt8] = []
        ResponseHead.append("HTTP/1.1 ", to: &head)
        ResponseHead.appendDecimal(Int(status), to: &head)
        head.append(0x20)
        ResponseHead.append(HTTPStatus.reasonPhrase(status), to: &head)
        ResponseHead.append("\r\n", to: &head)
        for field in headers.fields { ResponseHead.appendField(name: field.name, value: field.value, to: &head) }
        ResponseHead.append("\r\n", to: &head)
        guard await writeAll(head) else { throw ConnectionError.closed }
    }

    /// The 101 that accepts a WebSocket: the handler's fields and `Connection: Upgrade`.
    func writeUpgrade(_ response: Response) async -> Bool {
        status = response.status
        if server.accessLog?.usesResponseHeaders == true { responseHeaders = response.headers }
        let buffers = buffers!
        if !outputHeld { buffers.output.removeAll(keepingCapacity: true) }
        server.appendResponseStart(status: response.status, version: .http1_1, to: &buffers.output)
        for field in response.headers.fields where !Self.isFramingField(field.name) {
            ResponseHead.appendField(name: field.name, value: field.value, to: &buffers.output)
        }
        ResponseHead.append("Connection: Upgrade\r\n\r\n", to: &buffers.output)
        return await flushOutput()
    }

    func target(of head: RequestHead) -> String {
        String(decoding: head.target.bytes(in: requestBytes), as: UTF8.self)
    }

    static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)

    static func isFramingField(_ name: String) -> Bool {
        asciiCaseInsensitiveEqual(name, "content-length") || asciiCaseInsensitiveEqual(name, "transfer-encoding")
            || asciiCaseInsensitiveEqual(name, "connection")
    }

    /// False when the body's Content-Length cut `bytes` (see BodyWriter).
    func writeStreamChunk<Bytes: Collection<UInt8>>(_ bytes: Bytes) async throws -> Bool {
        if bodyOverflowed { return false }
        // A body of a stated length gets no byte past it: the rest is dropped and the producer told.
        if case .contentLength(let count) = streamFraming, bodyBytesSent + bytes.count > count {
            bodyOverflowed = true
            if count > bodyBytesSent { try await sendStreamPiece(bytes.prefix(count - bodyBytesSent)) }
            return false
        }
        if !bytes.isEmpty { try await sendStreamPiece(bytes) }
        return true
    }

    /// The output buffer readied for the next bytes to send: held output (a head, earlier
    /// pipelined responses) stays in front of them, what was already sent goes.
    private func startOutputPiece() {
        if !outputHeld { buffers!.output.removeAll(keepingCapacity: true) }
    }

    /// One piece of a streamed body, after the held head if it has not gone yet.
    private func sendStreamPiece<Bytes: Collection<UInt8>>(_ bytes: Bytes) async throws {
        if let stream = http2Stream { return try await queueHTTP2(bytes, on: stream) }
        startOutputPiece()
        let buffers = buffers!
        if streamFraming == .chunked {
            ResponseHead.appendHex(bytes.count, to: &buffers.output)
            ResponseHead.append("\r\n", to: &buffers.output)
        }
        buffers.output.append(contentsOf: bytes)
        if streamFraming == .chunked { ResponseHead.append("\r\n", to: &buffers.output) }
        bodyBytesSent += bytes.count
        guard await flushOutput() else { throw ConnectionError.closed }
    }

    /// `more`: a sendfile body follows, so the kernel joins the head to its first segment.
    func flushOutput(more: Bool = false) async -> Bool {
        outputHeld = false
        return await writeAll(buffers!.output, more: more)
    }

    /// Holding back a whole response is worth it while another pipelined request is already
    /// here: its response joins this one in one send. Held output is sent before this
    /// connection waits for anything, and at the end of the loop iteration at the latest.
    static let holdLimit = 64 * 1024

    /// Holds the output instead of sending it when another pipelined request is here already;
    /// true when it did. Checked cheapest first: nothing is buffered after a lone request.
    func holdWhilePipelined() -> Bool {
        guard filled > bodyCursor, !closeAfterResponse, buffers!.output.count < Self.holdLimit, case .none = body else { return false }
        outputHeld = true
        server.holdsOutput(self)
        return true
    }

    /// From the loop's end of iteration: one non-blocking send of what is held. What does not
    /// fit stays held, for the connection's coroutine to send before it next waits.
    func sendHeldOutput() {
        guard outputHeld, writeReady, let buffers else { return }
        let n = buffers.output.withUnsafeBytes { transmit($0.baseAddress!, $0.count) }
        if n == buffers.output.count {
            outputHeld = false
            buffers.output.removeAll(keepingCapacity: true)
        } else if n > 0 {
            buffers.output.removeFirst(n)
        } else if n < 0 && errno == EAGAIN {
            writeReady = false
        }
    }

    /// Writes all of `bytes`, suspending while the socket buffer is full.
    func writeAll(_ bytes: [UInt8], more: Bool = false) async -> Bool {
        var offset = 0
        let flags = Int32(MSG_NOSIGNAL) | (more ? Int32(MSG_MORE) : 0)
        return await writeUntil({ offset == bytes.count }) {
            let n = bytes.withUnsafeBytes { transmit($0.baseAddress! + offset, $0.count - offset, flags: flags) }
            if n > 0 { offset += n }
            return n
        }
    }

    func sendFile(_ file: Int32, offset: Int, count: Int) async -> Bool {
        if let tls, !tls.kernelSends { return await sendFileThroughTLS(file, offset: offset, count: count) }
        var position = off_t(offset)
        var remaining = count
        return await writeUntil({ remaining == 0 }) {
            let n = tls == nil ? sendfile(fd, file, &position, remaining) : sendFileByKernelTLS(file, &position, remaining)
            if n > 0 {
                remaining -= n
                bodyBytesSent += n
            }
            return n   // 0: the file shrank under us
        }
    }

    /// Repeats `attempt` (one non-blocking write: bytes written, 0 for no progress, -1 with errno)
    /// until `done`, suspending on EAGAIN until writable or the send timeout passes.
    func writeUntil(_ done: () -> Bool, _ attempt: () -> Int) async -> Bool {
        let deadline = server.loop.now + server.configuration.sendTimeout
        while !done() {
            if writeReady {
                let n = attempt()
                if n > 0 { continue }
                if n == 0 { return false }
                switch errno {
                case EAGAIN: writeReady = false
                case EINTR: continue
                default: return false
                }
            }
            guard await wait(for: EventLoop.writable, until: deadline) == .ready else { return false }
        }
        return true
    }

    /// Answers a request the parser refused, then the connection closes.
    func refuse(_ error: HTTPError) async {
        if outputHeld { guard await flushOutput() else { return } }
        state.failed()
        let buffers = self.buffers ?? server.pool.take()
        self.buffers = buffers
        status = error.status
        server.log.debug("refused request from \(String(decoding: remoteAddress, as: UTF8.self)): \(error.status) \(error.reason)")
        let response = Self.errorResponse(error.status)
        buffers.output.removeAll(keepingCapacity: true)
        server.appendResponseStart(status: error.status, version: .http1_1, to: &buffers.output)
        for field in response.headers.fields { ResponseHead.appendField(name: field.name, value: field.value, to: &buffers.output) }
        guard case .bytes(let text) = response.body else { return }
        ResponseHead.appendEnd(framing: .contentLength(text.count), version: .http1_1, close: true, to: &buffers.output)
        buffers.output.append(contentsOf: text)
        _ = await flushOutput()
    }

    static let plainText: HTTPFields = ["Content-Type": "text/plain; charset=utf-8"]

    /// A short plain-text response for an error status ("404 Not Found\n").
    static func errorResponse(_ status: UInt16) -> Response {
        var text: [UInt8] = []
        ResponseHead.appendDecimal(Int(status), to: &text)
        text.append(0x20)
        ResponseHead.append(HTTPStatus.reasonPhrase(status), to: &text)
        text.append(0x0A)
        return Response(status: status, headers: plainText, body: .bytes(text))
    }
}

import CorralHTTP
import CorralServer
import CorralWebSocket
import CorralWebSocketHandshake
import Glibc

/// The engine's side of a WSGI request, on the loop thread: hands the request to the
/// application through an `Exchange` and turns what the application posts into the engine's
/// `Response`, reading the body and writing streamed pieces as it asks. It sits behind the
/// engine's one seam, `Handler`, like any other handler.
public struct WSGIHandler: Sendable {
    let bridge: WSGIBridge
    private var log: ErrorLog { bridge.log }

    static let full = HTTPError(503, "every request slot of the worker is taken")

    public init(bridge: WSGIBridge) {
        self.bridge = bridge
    }

    public func respond(to request: Request) async throws -> Response {
        if bridge.mode == .asgi && WebSocketHandshake.isRequested(in: request.buffer, fields: request.fields) {
            return try await webSocket(request)
        }
        guard let exchange = bridge.begin(request, now: request.loop.now) else { throw Self.full }
        if !exchange.hasBody { watchForLeaving(request, exchange) }
        while true {
            if let response = try await response(to: await exchange.next(), of: exchange, for: request) { return response }
        }
    }

    /// asgi mode: while the app works with the body read and nothing sent, a client that leaves
    /// is noticed: the app's receive() gets http.disconnect, and after asgi_disconnect_grace_period
    /// its task is cancelled.
    private func watchForLeaving(_ request: Request, _ exchange: Exchange) {
        guard bridge.mode == .asgi else { return }
        request.watchForLeaving(exchange)
    }

    /// An ASGI WebSocket handshake: checked by the engine (400 or 426 with the reason), then the
    /// app's `websocket` scope decides: accept (the engine's 101 and a `WebSocketSession`), or
    /// deny with an HTTP response (a close before accepting is a 403; websocket.http.response).
    private func webSocket(_ request: Request) async throws -> Response {
        let handshake: WebSocketHandshake
        do {
            handshake = try WebSocketHandshake(request.head, buffer: request.buffer, fields: request.fields)
        } catch {
            var headers: HTTPFields = ["Content-Type": "text/plain; charset=utf-8"]
            if error.status == 426 { headers.add("Sec-WebSocket-Version", "13") }
            return Response(status: error.status, headers: headers, body: .string("\(error.reason)\n"))
        }
        guard let exchange = bridge.begin(request, now: request.loop.now, webSocketSubprotocols: handshake.subprotocols) else { throw Self.full }
        while true {
            let message = await exchange.next()
            if case .acceptWebSocket(let subprotocol, var headers) = message {
                exchange.upgrade = .webSocket
                let bridge = bridge
                var settings = bridge.webSocketSettings
                if bridge.perMessageDeflate, let compression = PerMessageDeflate.negotiate(handshake.extensions) {
                    settings.compression = compression
                    headers.add("Sec-WebSocket-Extensions", compression.responseValue)
                }
                return .webSocket(accept: handshake.accept, subprotocol: subprotocol, headers: headers,
                                  settings: settings) { socket in
                    await WebSocketSession(exchange: exchange, socket: socket, bridge: bridge).run()
                }
            }
            if let response = try await response(to: message, of: exchange, for: request) { return response }
        }
    }

    /// The response the app's `message` makes, or nil when it only asked for the body.
    private func response(to message: Exchange.ToLoop, of exchange: Exchange, for request: Request) async throws -> Response? {
        request.stopWatchingForLeaving()
        if exchange.upgrade == .handedOver { return handedOver(message, exchange) }
        switch message {
        case .handOver:
            exchange.upgrade = .handedOver
            return nil
        case .earlyHint(let links):
            do {
                try await request.sendInformational(103, headers: links)
            } catch {
                exchange.readFailure = error   // the client is gone: the app's end is not answered
            }
            return nil
        case .readBody:
            await readBody(request, for: exchange)
            return nil
        case .respond(let head, let body, let final):
            // PEP 3333: the app's Content-Length is what goes out; the engine holds a body to
            // it (cut when longer, the connection closed when shorter) and logs the mismatch.
            let (status, headers, declared) = (head.status, head.fields, head.contentLength)
            if final {
                try end(exchange)
                guard let declared, declared != body.count,
                      !ResponseHead.isBodyless(status: status, method: request.head.method) else {
                    return Response(status: status, headers: headers, body: .bytes(body))
                }
                return Response(status: status, headers: headers, body: .streamOfLength(declared) { try await $0.write(body) })
            }
            let produce: (BodyWriter) async throws -> Void = { writer in
                try await stream(body, to: writer, for: exchange, request: request)
            }
            if let declared {
                return Response(status: status, headers: headers, body: .streamOfLength(declared, produce))
            }
            return Response(status: status, headers: headers, body: .stream(produce))
        case .file(let head, let fd, let offset, let count):
            do { try end(exchange) } catch { close(fd); throw error }
            return Response(status: head.status, headers: head.fields, body: .file(fd: fd, offset: offset, count: count))
        case .fail(let traceback):
            log.error(traceback)
            try end(exchange)
            throw HTTPError(500, "the application raised")
        case .finish, .chunk:
            // Only a request whose body could not be read ends here (the runtime sends no
            // piece before its head): end() throws why, a 400 or 413 or the client gone.
            try end(exchange)
            throw HTTPError(500, "the application ended without a response")
        case .trailers:
            return nil   // the response was not streamed: no place for them
        case .acceptWebSocket, .sendMessage, .closeWebSocket, .messagesTaken, .flushWebSocket:
            // The runtime sends these only for an accepted ASGI WebSocket.
            try end(exchange)
            throw HTTPError(500, "a WebSocket message outside a WebSocket")
        }
    }

    /// After the app took the connection: what it ends with is not sent (the connection is its
    /// library's); a failure is logged.
    private func handedOver(_ message: Exchange.ToLoop, _ exchange: Exchange) -> Response? {
        switch message {
        case .readBody, .chunk, .respond(_, _, false):
            exchange.reply(.failed("the connection was handed over"))   // the app's next call raises
            return nil
        case .file(_, let fd, _, _):
            close(fd)
        case .fail(let traceback):
            log.error(traceback)
        case .respond, .finish:
            break
        case .handOver, .acceptWebSocket, .sendMessage, .closeWebSocket, .messagesTaken, .flushWebSocket, .earlyHint, .trailers:
            return nil
        }
        bridge.end(exchange)
        return Response(status: 101, body: .handedOver)
    }

    /// The rest of a streamed body: each piece is written and its outcome replied, which the
    /// application takes before it posts the next, so it never runs more than one piece ahead of
    /// a slow client. Once the client is gone or the Content-Length is reached, nothing more is
    /// written and each piece gets that same reply.
    private func stream(_ first: [UInt8], to writer: BodyWriter, for exchange: Exchange, request: Request) async throws {
        var failure: (any Error)?
        var outcome = Exchange.ToPython.written
        var piece = first
        while true {
            if case .written = outcome {
                do {
                    if try await !writer.write(piece) { outcome = .cut }
                } catch {
                    failure = error
                    outcome = .failed("the client went away")
                }
            }
            exchange.reply(outcome)
            // Between pieces (an SSE stream's pause), a client that leaves is noticed too.
            if case .written = outcome, exchange.bodyRead { watchForLeaving(request, exchange) }
            var next = await exchange.next()
            request.stopWatchingForLeaving()
            while true {
                if case .readBody = next {
                    await readBody(request, for: exchange)
                } else if case .trailers(let fields) = next {
                    writer.setTrailers(fields)
                } else {
                    break
                }
                next = await exchange.next()
                request.stopWatchingForLeaving()
            }
            switch next {
            case .chunk(let bytes):
                piece = bytes
            case .finish:
                try end(exchange)
                if let failure { throw failure }
                return
            case .fail(let traceback):
                log.error(traceback)
                try? end(exchange)
                throw failure ?? WSGIStreamError.failedAfterHead
            case .respond, .file, .readBody, .acceptWebSocket, .sendMessage, .closeWebSocket, .messagesTaken, .flushWebSocket,
                 .handOver, .earlyHint, .trailers:
                try? end(exchange)
                throw WSGIStreamError.failedAfterHead
            }
        }
    }

    private func readBody(_ request: Request, for exchange: Exchange) async {
        do {
            let piece = try await request.body.next()
            exchange.reply(.body(piece.map { Array($0) } ?? []))
            if piece == nil {
                exchange.bodyRead = true
                watchForLeaving(request, exchange)
            }
        } catch let error as HTTPError {
            exchange.bodyError = error
            exchange.reply(.failed("request body: \(error.status) \(error.reason)"))
        } catch {
            exchange.readFailure = error
            exchange.reply(.failed("the client went away"))
        }
    }

    /// The application is done with `exchange`; a body that could not be read decides the answer.
    private func end(_ exchange: Exchange) throws {
        let bodyError = exchange.bodyError, readFailure = exchange.readFailure
        bridge.end(exchange)
        if let bodyError { throw bodyError }
        if let readFailure { throw readFailure }
    }
}

enum WSGIStreamError: Error, CustomStringConvertible {
    case failedAfterHead

    var description: String { "the application failed after its response head was sent" }
}

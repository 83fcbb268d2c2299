import CorralHTTP
import CorralServer
import Glibc

/// The engine's side of a WSGI request, on the loop thread: hands the request to the
/// application through an `Exchange` and turns what the application posts into the engine's
/// `Response`, reading the body and writing streamed chunks as it asks. It sits behind the
/// engine's one seam, `Handler`, like any other handler.
public struct WSGIHandler: Sendable {
    let bridge: WSGIBridge
    private var log: ErrorLog { bridge.log }

    public init(bridge: WSGIBridge) {
        self.bridge = bridge
    }

    public func respond(to request: Request) async throws -> Response {
        let exchange = bridge.begin(request, now: request.loop.now)
        while true {
            switch await exchange.next() {
            case .readBody:
                await readBody(request, for: exchange)
            case .respond(let status, let headers, let body, let final):
                if final {
                    try end(exchange)
                    return Response(status: status, headers: headers, body: .bytes(body))
                }
                let produce: (BodyWriter) async throws -> Void = { writer in
                    try await stream(body, to: writer, for: exchange, request: request)
                }
                // The app's Content-Length frames the streamed body, as under gunicorn.
                if let declared = headers["content-length"].flatMap(Int.init), declared >= 0 {
                    return Response(status: status, headers: headers, body: .streamOfLength(declared, produce))
                }
                return Response(status: status, headers: headers, body: .stream(produce))
            case .file(let status, let headers, let fd, let offset, let count):
                do { try end(exchange) } catch { close(fd); throw error }
                return Response(status: status, headers: headers, body: .file(fd: fd, offset: offset, count: count))
            case .fail(let traceback):
                log.error(traceback)
                try end(exchange)
                throw HTTPError(500, "the application raised")
            case .finish, .chunk:
                // Only a client gone before the head ends here (the runtime sends no chunk
                // before its head): end() throws the read failure and the connection closes.
                try end(exchange)
                throw HTTPError(500, "the application ended without a response")
            }
        }
    }

    /// The rest of a streamed body: each chunk is written, then acknowledged, so the
    /// application never runs ahead of a slow client by more than one chunk.
    private func stream(_ first: [UInt8], to writer: BodyWriter, for exchange: Exchange, request: Request) async throws {
        var gone = false
        var pending = first
        while true {
            if !gone {
                do { try await writer.write(pending) } catch { gone = true }
            }
            exchange.reply(gone ? .failed("the client is gone") : .written)
            var next = await exchange.next()
            while case .readBody = next {
                await readBody(request, for: exchange)
                next = await exchange.next()
            }
            switch next {
            case .chunk(let bytes):
                pending = bytes
            case .finish:
                try end(exchange)
                if gone { throw WSGIStreamError.clientGone }
                return
            case .fail(let traceback):
                log.error(traceback)
                try? end(exchange)
                throw WSGIStreamError.failedAfterHead
            case .respond, .file, .readBody:
                try? end(exchange)
                throw WSGIStreamError.failedAfterHead
            }
        }
    }

    private func readBody(_ request: Request, for exchange: Exchange) async {
        do {
            let piece = try await request.body.next()
            exchange.reply(.body(piece.map { Array($0) } ?? []))
        } catch let error as HTTPError {
            exchange.bodyError = error
            exchange.reply(.failed("request body: \(error.status) \(error.reason)"))
        } catch {
            exchange.readFailure = error
            exchange.reply(.failed("the client is gone"))
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
    case clientGone, failedAfterHead

    var description: String {
        switch self {
        case .clientGone: "the client went away"
        case .failedAfterHead: "the application failed after its response head was sent"
        }
    }
}

import CorralHTTP
import CorralWebSocket
import Glibc

/// What a handler returns. The engine adds Date, Server, framing (Content-Length or chunked) and
/// Connection; a handler's own Content-Length, Transfer-Encoding or Connection fields are ignored,
/// except that a HEAD response keeps the handler's Content-Length (the length a GET would have).
public struct Response {
    public var status: UInt16
    public var headers: HTTPFields
    public var body: ResponseBody

    public init(status: UInt16 = 200, headers: HTTPFields = HTTPFields(), body: ResponseBody = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

extension Response {
    /// Accepts a WebSocket handshake (`WebSocketHandshake`): 101 with its Sec-WebSocket-Accept,
    /// the chosen subprotocol and the app's own fields; then `session` has the connection.
    public static func webSocket(accept: String, subprotocol: String?, headers: HTTPFields = HTTPFields(),
                                 settings: WebSocketConversation.Settings,
                                 session: @escaping (WebSocket) async -> Void) -> Response {
        var fields: HTTPFields = ["Upgrade": "websocket", "Sec-WebSocket-Accept": accept]
        if let subprotocol { fields.add("Sec-WebSocket-Protocol", subprotocol) }
        for field in headers.fields { fields.add(field.name, field.value) }
        return Response(status: 101, headers: fields, body: .webSocket(settings, session))
    }
}

public enum ResponseBody {
    case empty
    case bytes([UInt8])
    case string(String)
    /// `count` bytes of an open file from `offset`, sent with sendfile; the engine closes `fd`.
    case file(fd: Int32, offset: Int, count: Int)
    /// `count` bytes of a static file from `offset`: from memory with the head in one send when
    /// StaticFiles holds its bytes, else by sendfile from its descriptor (which stays open).
    case openFile(OpenFile, offset: Int, count: Int)
    /// Produced while it is sent: chunked on HTTP/1.1, until close on HTTP/1.0. The producer
    /// always runs, so it can release what it holds: when nothing may be sent (HEAD, 304, the
    /// client already gone) its writes throw.
    case stream((BodyWriter) async throws -> Void)
    /// Produced while it is sent, `count` bytes sent with Content-Length: bytes past `count` are
    /// not sent (the write says so), and a producer that writes fewer has the connection closed;
    /// either is the handler's error, and the error log says which.
    case streamOfLength(Int, (BodyWriter) async throws -> Void)

    /// A WebSocket handshake accepted (status 101): after the head, `session` runs with the
    /// connection as a `WebSocket`; the connection closes when it returns.
    case webSocket(WebSocketConversation.Settings, (WebSocket) async -> Void)
    /// The handler's side used the connection itself (a copy of `Request.socketDescriptor`):
    /// nothing is sent; the access log gets the line and the engine closes its descriptor.
    case handedOver

    /// The length when it is known before sending.
    var knownLength: Int? {
        switch self {
        case .empty: return 0
        case .bytes(let bytes): return bytes.count
        case .string(let string): return string.utf8.count
        case .file(_, _, let count): return count
        case .openFile(_, _, let count): return count
        case .stream: return nil
        case .streamOfLength(let count, _): return count
        case .webSocket, .handedOver: return 0
        }
    }

    /// Releases what the body holds when it will not be sent (HEAD, 304, an error).
    func discard(on connection: Connection) async {
        switch self {
        case .file(let fd, _, _): close(fd)
        case .stream(let produce), .streamOfLength(_, let produce):
            try? await produce(BodyWriter(connection: connection, discarding: true))
        default: break
        }
    }
}

/// Writes a streamed body; each `write` suspends while the client is slow to read, and throws
/// when the client is gone. A write returns false when the body's Content-Length cut it: that
/// many bytes are sent, the rest of this write and every later one are not.
public struct BodyWriter {
    unowned(unsafe) let connection: Connection
    /// Nothing may be sent: every write throws.
    let discarding: Bool

    @discardableResult
    public func write(_ bytes: UnsafeRawBufferPointer) async throws -> Bool {
        if discarding { throw ConnectionError.closed }
        return try await connection.writeStreamChunk(bytes)
    }

    @discardableResult
    public func write(_ bytes: [UInt8]) async throws -> Bool {
        if discarding { throw ConnectionError.closed }
        return try await connection.writeStreamChunk(bytes)
    }

    /// Trailer fields for the end of a chunked body (sent only if the response is chunked: a
    /// body of a stated length has no place for them).
    public func setTrailers(_ trailers: HTTPFields) {
        guard !discarding else { return }
        connection.responseTrailers = trailers
    }

    @discardableResult
    public func write(_ string: String) async throws -> Bool {
        if discarding { throw ConnectionError.closed }
        return try await connection.writeStreamChunk(Array(string.utf8))
    }
}

import CCorral
import CorralEventLoop
import CorralHTTP
import Glibc

/// The request a handler receives. Its bytes live in the connection's read buffer (nothing is
/// copied); the String accessors copy on demand. Valid until the handler returns.
public struct Request {
    unowned(unsafe) let connection: Connection
    public let head: RequestHead

    init(connection: Connection, head: RequestHead) {
        self.connection = connection
        self.head = head
    }

    public var method: HTTPMethod { head.method }
    public var version: HTTPVersion { head.version }

    /// The buffer the head was parsed from; `head`'s ranges index into it.
    public var buffer: UnsafeRawBufferPointer { connection.requestBytes }
    public var fields: UnsafeBufferPointer<HeaderField> { connection.requestFields(count: head.fieldCount) }

    public var methodName: String { string(head.methodBytes) }
    /// The raw target as sent, e.g. `/a%20b?x=1`.
    public var target: String { string(head.target) }
    /// The path, still percent-encoded.
    public var rawPath: String { string(head.path) }
    /// The path with percent-escapes decoded.
    public var path: String {
        var decoded: [UInt8] = []
        PercentDecoding.decode(head.path.bytes(in: buffer), appendingTo: &decoded)
        return String(decoding: decoded, as: UTF8.self)
    }
    /// The query string without `?`; empty when there is none.
    public var query: String { head.query.map(string) ?? "" }

    /// The first value of the header `name` (case-insensitive), or nil.
    public func header(_ name: String) -> String? {
        let buffer = buffer
        for field in fields {
            let fieldName = field.name.bytes(in: buffer)
            if fieldName.count == name.utf8.count,
               zip(fieldName, name.utf8).allSatisfy({ ($0 | 0x20) == ($1 | 0x20) }) {
                return string(field.value)
            }
        }
        return nil
    }

    /// The raw bytes of the first header named `lowercased` (case-insensitive), or nil; valid
    /// until the handler returns, and nothing is copied.
    public func headerBytes(_ lowercased: StaticString) -> UnsafeRawBufferPointer? {
        headerValue(named: lowercased, in: buffer, fields: fields)?.bytes(in: buffer)
    }

    /// Every header as (name, value) strings, in order.
    public var headers: [(name: String, value: String)] {
        fields.map { (string($0.name), string($0.value)) }
    }

    /// The client's address ("127.0.0.1", "::1"; empty for a unix socket): the socket's peer, or
    /// the client a PROXY header named (proxy_protocol).
    public var remoteAddress: String { String(decoding: connection.remoteAddress, as: UTF8.self) }

    /// The client's address as bytes, valid until the handler returns (nothing is copied).
    public var remoteAddressBytes: UnsafeRawBufferPointer { connection.remoteAddress }

    /// The socket's peer (the balancer, behind one), as bytes.
    public var peerAddressBytes: UnsafeRawBufferPointer { connection.peerAddress }

    /// Whether the client spoke https: to this worker (a TLS listener), or to a trusted proxy
    /// (`secure_scheme_headers` from a peer in `forwarded_allow_ips`). The scheme for absolute
    /// URLs and `wsgi.url_scheme`.
    public var isSecure: Bool {
        connection.transportTLS != nil
            || connection.server.configuration.forwarded.isSecure(peerTrusted: connection.peerTrustedForScheme, fields: fields, buffer: buffer)
    }

    /// What this connection's TLS established (version, cipher, the client's certificate); nil
    /// for plain HTTP. Valid while the handler runs.
    public var tls: TLSFacts? {
        guard let stream = connection.transportTLS else { return nil }
        let parameters = stream.negotiated
        if connection.tlsClientCertificate == nil { connection.tlsClientCertificate = .some(stream.clientCertificate) }
        let client = connection.tlsClientCertificate!.map { certificate in
            certificate.pem.withUnsafeBytes { pem in certificate.subject.withUnsafeBytes { subject in (pem, subject) } }
        }
        return TLSFacts(version: parameters.version, cipher: parameters.cipher, versionNumber: parameters.versionNumber,
                        cipherSuite: parameters.cipherSuite, clientCertificate: client)
    }

    /// The client's port; nil for a unix socket.
    public var remotePort: Int? { connection.remotePort >= 0 ? Int(connection.remotePort) : nil }

    /// The address and port the request arrived at (one getsockname call per connection).
    public var localAddress: (name: String, port: String) {
        if let known = connection.localAddress { return known }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let fd = connection.socketFD
        let found = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard found else { return ("localhost", "") }
        var text = [CChar](repeating: 0, count: 48)
        let count = Int(corral_format_address(&storage, &text, 48))
        let name = String(decoding: text[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let port = corral_address_port(&storage)
        let address = (name: name.isEmpty ? "localhost" : name, port: port < 0 ? "" : String(port))
        connection.localAddress = address
        return address
    }

    /// The connection's socket, for a handler that hands the connection over (a WSGI app's
    /// WebSocket library): it is the engine's until the handler returns `ResponseBody.handedOver`.
    public var socketDescriptor: Int32 { connection.fd }

    /// Sends an interim response (103 Early Hints with its Link fields) before the final one; an
    /// HTTP/1.0 client, which cannot take one, gets nothing. Throws when the client is gone.
    public func sendInformational(_ status: UInt16, headers: HTTPFields) async throws {
        try await connection.writeInformational(status, headers: headers, version: head.version)
    }

    /// Tells `observer` (on the loop) if the client leaves while the handler works without the
    /// socket: after reading the body, before the response. A handler must call
    /// `stopWatchingForLeaving()` before it reads or answers again.
    public func watchForLeaving(_ observer: any ClientLeavingObserver) {
        connection.watchForLeaving(observer)
    }

    public func stopWatchingForLeaving() {
        connection.stopWatchingForLeaving()
    }

    /// The worker's event loop: `sleep(for:)`, `readable(_:)`, `writable(_:)` suspend the handler
    /// without blocking other connections.
    public var loop: EventLoop { connection.server.loop }

    /// The request body, read as the handler asks for it.
    public var body: RequestBody { RequestBody(connection: connection) }

    private func string(_ range: ByteRange) -> String {
        String(decoding: range.bytes(in: buffer), as: UTF8.self)
    }
}

/// The body, streamed from the socket: `next()` gives the following piece (valid until the next
/// call), nil at the end. Reading it sends `100 Continue` first when the client asked for it.
/// Bodies over the worker's `limit_request_body` end the request with a 413.
public struct RequestBody {
    unowned(unsafe) let connection: Connection

    public func next() async throws -> UnsafeRawBufferPointer? {
        try await connection.readBodyPiece()
    }

    /// The whole body as bytes, failing with a 413 when it exceeds `limit` bytes.
    public func collect(upTo limit: Int) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        while let piece = try await next() {
            guard bytes.count + piece.count <= limit else { throw HTTPError(413, "body too large") }
            bytes.append(contentsOf: piece)
        }
        return bytes
    }
}

/// What `Request.watchForLeaving` tells.
public protocol ClientLeavingObserver: AnyObject {
    func clientLeft()
}

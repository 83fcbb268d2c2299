import CorralHTTP

/// The byte part of a request's ASGI HTTP scope (asgiref's www spec 2.4), computed from the
/// parsed head without Python, in one reused buffer; the bridge makes the dict (str, bytes and
/// int objects, `state`). What servers commonly get wrong is decided here: headers lowercased,
/// in order, repeats kept; `path` percent-decoded and including `root_path` (prepended when a
/// proxy stripped it, as uvicorn does), `raw_path` as sent; ports as numbers.
public struct ASGIScope {
    /// A range of `bytes`.
    public struct Span: Equatable, Sendable {
        var start: Int32, count: Int32
    }

    private var storage: [UInt8] = []
    public private(set) var method = Span(start: 0, count: 0)
    /// Percent-decoded, UTF-8 bytes (the bridge decodes them, replacing what is not UTF-8).
    public private(set) var path = Span(start: 0, count: 0)
    public private(set) var rawPath = Span(start: 0, count: 0)
    public private(set) var query = Span(start: 0, count: 0)
    /// Each field: its name lowercased and its value.
    public private(set) var headers: [(name: Span, value: Span)] = []
    public private(set) var client: (host: Span, port: Int)?
    public private(set) var server: (host: Span, port: Int?)?
    public private(set) var isSecure = false
    /// ASGI's `tls` extension, on a connection this worker decrypted: the numbers, and the
    /// client certificate's PEM and subject when it sent one.
    public private(set) var tls: (version: Int, cipherSuite: Int, clientCertificate: (pem: Span, subject: Span)?)?
    public private(set) var version = HTTPVersion.http1_1
    public private(set) var hasBody = false
    /// A WebSocket handshake: the scope is a `websocket` one, with the client's subprotocols.
    public private(set) var isWebSocket = false
    public private(set) var subprotocols: [Span] = []

    public init() {}

    /// Fills the scope for `head`. `clientPort` nil: a unix socket peer (no client).
    /// `serverPort` nil: a unix socket (server is its path). `webSocketSubprotocols` non-nil: a
    /// WebSocket handshake, offering these.
    public mutating func build(head: RequestHead, buffer: UnsafeRawBufferPointer, fields: UnsafeBufferPointer<HeaderField>,
                               clientAddress: UnsafeRawBufferPointer, clientPort: Int?, isSecure: Bool,
                               server: (host: String, port: Int?), settings: WSGISettings, tls: TLSFacts? = nil,
                               webSocketSubprotocols: [String]? = nil) {
        storage.removeAll(keepingCapacity: true)
        headers.removeAll(keepingCapacity: true)
        subprotocols.removeAll(keepingCapacity: true)
        isWebSocket = webSocketSubprotocols != nil
        for var name in webSocketSubprotocols ?? [] { subprotocols.append(name.withUTF8 { append(UnsafeRawBufferPointer($0)) }) }
        hasBody = head.framing.hasBody
        self.isSecure = isSecure
        version = head.version
        method = append(head.methodBytes.bytes(in: buffer))
        let target = head.path.bytes(in: buffer)
        let root = settings.scriptName.utf8
        // `OPTIONS *` names no resource: its path is empty.
        let asterisk = target.count == 1 && target[0] == UInt8(ascii: "*")
        let start = storage.count
        if !asterisk { PercentDecoding.decode(target, appendingTo: &storage) }
        let decoded = storage[start...]
        let underRoot = root.isEmpty || (decoded.starts(with: root)
            && (decoded.count == root.count || storage[start + root.count] == UInt8(ascii: "/")))
        if !underRoot { storage.insert(contentsOf: root, at: start) }
        path = Span(start: Int32(start), count: Int32(storage.count - start))
        let rawStart = storage.count
        if !underRoot { storage.append(contentsOf: root) }
        if !asterisk { storage.append(contentsOf: target) }
        rawPath = Span(start: Int32(rawStart), count: Int32(storage.count - rawStart))
        query = append(head.query.map { $0.bytes(in: buffer) } ?? UnsafeRawBufferPointer(start: nil, count: 0))
        for field in fields {
            let nameStart = storage.count
            for c in field.name.bytes(in: buffer) { storage.append(c >= 0x41 && c <= 0x5A ? c | 0x20 : c) }
            let name = Span(start: Int32(nameStart), count: Int32(storage.count - nameStart))
            headers.append((name, append(field.value.bytes(in: buffer))))
        }
        client = clientPort.map { (append(clientAddress), $0) }
        var host = server.host
        self.server = (host.withUTF8 { append(UnsafeRawBufferPointer($0)) }, server.port)
        self.tls = tls.map { facts in
            (facts.versionNumber, facts.cipherSuite, facts.clientCertificate.map { (append($0.pem), append($0.subject)) })
        }
    }

    /// The bytes of `span`, valid during the call.
    public func withBytes<Result>(_ span: Span, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        storage.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[Int(span.start)..<Int(span.start + span.count)])) }
    }

    private mutating func append(_ bytes: UnsafeRawBufferPointer) -> Span {
        let start = storage.count
        storage.append(contentsOf: bytes)
        return Span(start: Int32(start), count: Int32(bytes.count))
    }
}

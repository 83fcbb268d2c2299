import CorralHTTP

/// The string part of a request's WSGI environ (PEP 3333), computed from the parsed head
/// without Python: keys and values as bytes in one reused buffer, which the bridge turns into
/// `str` (latin-1, one byte per code point, as PEP 3333 wants). The non-string keys
/// (`wsgi.input`, `wsgi.version`, …) are the bridge's.
public struct WSGIEnviron {
    private struct Entry {
        var keyStart: Int32, keyCount: Int32, valueStart: Int32, valueCount: Int32
    }
    private var storage: [UInt8] = []
    private var entries: [Entry] = []
    /// The request has a body (Content-Length above 0, or chunked).
    public private(set) var hasBody = false

    /// Empty: the buffers grow with the first requests and keep their capacity after.
    public init() {}

    /// Fills the environ for `head`; `serverAddress` (name, port) is asked for only when the
    /// request has no Host header (HTTP/1.0).
    public mutating func build(head: RequestHead, buffer: UnsafeRawBufferPointer,
                               fields: UnsafeBufferPointer<HeaderField>,
                               remoteAddress: UnsafeRawBufferPointer, remotePort: Int?, isSecure: Bool, settings: WSGISettings,
                               tls: TLSFacts? = nil,
                               serverAddress: () -> (name: String, port: String)) {
        storage.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
        hasBody = head.framing.hasBody
        add("REQUEST_METHOD", head.methodBytes.bytes(in: buffer))
        add("SCRIPT_NAME", settings.scriptName)
        addPathInfo(head.path.bytes(in: buffer), scriptName: settings.scriptName)
        add("QUERY_STRING", head.query.map { $0.bytes(in: buffer) } ?? UnsafeRawBufferPointer(start: nil, count: 0))
        add("RAW_URI", head.target.bytes(in: buffer))
        add("SERVER_PROTOCOL", head.version.text)
        add("REMOTE_ADDR", remoteAddress)
        if let remotePort {
            let entry = beginEntry("REMOTE_PORT".utf8)
            ResponseHead.appendDecimal(remotePort, to: &storage)
            endEntry(entry)
        }

        var host: UnsafeRawBufferPointer?
        for (index, field) in fields.enumerated() {
            let name = field.name.bytes(in: buffer)
            if name.equalsLowercased("host") { host = field.value.bytes(in: buffer) }
            // gunicorn's header_map = "drop": `X_Forwarded_For` must not pose as X-Forwarded-For.
            if name.contains(UInt8(ascii: "_")) { continue }
            // Repeats are joined into the first one's entry.
            if fields[..<index].contains(where: { asciiEqualsLowercase($0.name.bytes(in: buffer), name) }) { continue }
            addHeader(name, first: index, fields: fields, buffer: buffer)
        }
        add("wsgi.url_scheme", isSecure ? "https" : "http")
        addServer(host: host, secure: isSecure, fallback: serverAddress)
        // mod_ssl's variables, on a connection this worker decrypted (not behind a proxy's TLS).
        if let tls {
            add("HTTPS", "on")
            add("SSL_PROTOCOL", tls.version)
            add("SSL_CIPHER", tls.cipher)
            if let client = tls.clientCertificate {
                add("SSL_CLIENT_VERIFY", "SUCCESS")   // the handshake refuses one that fails
                add("SSL_CLIENT_S_DN", client.subject)
                add("SSL_CLIENT_CERT", client.pem)
            } else {
                add("SSL_CLIENT_VERIFY", "NONE")
            }
        }
    }

    /// Each key and value, in order, as bytes valid during the call.
    public func forEach(_ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Void) {
        storage.withUnsafeBytes { bytes in
            for entry in entries {
                body(UnsafeRawBufferPointer(rebasing: bytes[Int(entry.keyStart)..<Int(entry.keyStart + entry.keyCount)]),
                     UnsafeRawBufferPointer(rebasing: bytes[Int(entry.valueStart)..<Int(entry.valueStart + entry.valueCount)]))
            }
        }
    }

    /// The entries as Strings (latin-1 decoded, as the bridge decodes them), for tests and logs.
    public var pairs: [(key: String, value: String)] {
        var result: [(String, String)] = []
        forEach { key, value in result.append((Self.latin1(key), Self.latin1(value))) }
        return result
    }

    public subscript(_ key: String) -> String? { pairs.first { $0.key == key }?.value }

    static func latin1(_ bytes: UnsafeRawBufferPointer) -> String {
        var text = ""
        text.unicodeScalars.append(contentsOf: bytes.map { Unicode.Scalar($0) })
        return text
    }

    // MARK: Building

    private mutating func beginEntry<Key: Collection<UInt8>>(_ key: Key) -> Entry {
        let keyStart = storage.count
        storage.append(contentsOf: key)
        return Entry(keyStart: Int32(keyStart), keyCount: Int32(storage.count - keyStart),
                     valueStart: Int32(storage.count), valueCount: 0)
    }

    private mutating func endEntry(_ entry: Entry) {
        var entry = entry
        entry.valueCount = Int32(storage.count) - entry.valueStart
        entries.append(entry)
    }

    private mutating func add(_ key: StaticString, _ value: UnsafeRawBufferPointer) {
        let entry = beginEntry(UnsafeRawBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
        storage.append(contentsOf: value)
        endEntry(entry)
    }

    private mutating func add(_ key: StaticString, _ value: StaticString) {
        add(key, UnsafeRawBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount))
    }

    private mutating func add(_ key: StaticString, _ value: String) {
        let entry = beginEntry(UnsafeRawBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
        storage.append(contentsOf: value.utf8)
        endEntry(entry)
    }

    /// PATH_INFO: the percent-decoded path (bytes, so latin-1 on the Python side), without the
    /// SCRIPT_NAME prefix when the path lies under it.
    private mutating func addPathInfo(_ path: UnsafeRawBufferPointer, scriptName: String) {
        let entry = beginEntry("PATH_INFO".utf8)
        // `OPTIONS *` names no resource: PATH_INFO is empty (RAW_URI keeps the `*`).
        if path.count == 1 && path[0] == UInt8(ascii: "*") { return endEntry(entry) }
        PercentDecoding.decode(path, appendingTo: &storage)
        if !scriptName.isEmpty {
            let start = Int(entry.valueStart)
            let prefix = scriptName.utf8
            let decoded = storage[start...]
            if decoded.starts(with: prefix) {
                let rest = decoded.count - prefix.count
                if rest == 0 || storage[start + prefix.count] == UInt8(ascii: "/") {
                    storage.removeSubrange(start..<(start + prefix.count))
                }
            }
        }
        endEntry(entry)
    }

    /// HTTP_NAME (upper case, `-` → `_`), or CONTENT_TYPE / CONTENT_LENGTH; the value of every
    /// field with this name, joined with ",".
    private mutating func addHeader(_ name: UnsafeRawBufferPointer, first: Int,
                                    fields: UnsafeBufferPointer<HeaderField>, buffer: UnsafeRawBufferPointer) {
        let keyStart = storage.count
        if !(name.equalsLowercased("content-type") || name.equalsLowercased("content-length")) {
            storage.append(contentsOf: "HTTP_".utf8)
        }
        for c in name {
            storage.append(c == UInt8(ascii: "-") ? UInt8(ascii: "_") : (c >= 0x61 && c <= 0x7A ? c - 0x20 : c))
        }
        var entry = Entry(keyStart: Int32(keyStart), keyCount: Int32(storage.count - keyStart),
                          valueStart: Int32(storage.count), valueCount: 0)
        storage.append(contentsOf: fields[first].value.bytes(in: buffer))
        for field in fields[(first + 1)...] where asciiEqualsLowercase(field.name.bytes(in: buffer), name) {
            storage.append(UInt8(ascii: ","))
            storage.append(contentsOf: field.value.bytes(in: buffer))
        }
        entry.valueCount = Int32(storage.count) - entry.valueStart
        entries.append(entry)
    }

    /// SERVER_NAME and SERVER_PORT from Host (`name`, `name:port`, `[v6]:port`), else the socket.
    private mutating func addServer(host: UnsafeRawBufferPointer?, secure: Bool,
                                    fallback: () -> (name: String, port: String)) {
        let defaultPort = secure ? "443" : "80"
        guard let host, !host.isEmpty else {
            let (name, port) = fallback()
            add("SERVER_NAME", name)
            add("SERVER_PORT", port)
            return
        }
        var nameEnd = host.count
        var portStart: Int?
        if host[0] == UInt8(ascii: "[") {
            if let close = host.firstIndex(of: UInt8(ascii: "]")) {
                nameEnd = close + 1
                if close + 1 < host.count && host[close + 1] == UInt8(ascii: ":") { portStart = close + 2 }
            }
        } else if let colon = host.lastIndex(of: UInt8(ascii: ":")) {
            nameEnd = colon
            portStart = colon + 1
        }
        add("SERVER_NAME", UnsafeRawBufferPointer(rebasing: host[..<nameEnd]))
        if let portStart, portStart < host.count {
            add("SERVER_PORT", UnsafeRawBufferPointer(rebasing: host[portStart...]))
        } else {
            add("SERVER_PORT", defaultPort)
        }
    }
}

/// ASCII case-insensitive equality where `lowercase` is already lower case.
func asciiEqualsLowercase<A: Collection<UInt8>, B: Collection<UInt8>>(_ bytes: A, _ lowercase: B) -> Bool {
    bytes.count == lowercase.count && zip(bytes, lowercase).allSatisfy { a, b in
        (a >= 0x41 && a <= 0x5A ? a | 0x20 : a) == (b >= 0x41 && b <= 0x5A ? b | 0x20 : b)
    }
}

extension BodyFraming {
    /// Whether the request has a body (Content-Length above 0, or chunked).
    var hasBody: Bool {
        switch self {
        case .none: false
        case .contentLength(let n): n > 0
        case .chunked, .untilEndOfStream: true
        }
    }
}

import CCrypto
import CorralHTTP

/// The opening handshake of RFC 6455 §4.2, checked on a parsed request head: what the server
/// answers with (Sec-WebSocket-Accept), what the client offered (subprotocols, extensions), or the
/// status that refuses it and why.
public struct WebSocketHandshake: Equatable, Sendable {
    /// The value of the 101 response's Sec-WebSocket-Accept.
    public var accept: String
    /// Sec-WebSocket-Protocol's items, in the client's order of preference.
    public var subprotocols: [String]
    /// Sec-WebSocket-Extensions as sent (its offers are read by the extension that takes them).
    public var extensions: [String]

    public struct Refusal: Error, Equatable, Sendable {
        /// 400, or 426 for a version other than 13 (sent with `Sec-WebSocket-Version: 13`).
        public var status: UInt16
        public var reason: StaticString

        public static func == (a: Refusal, b: Refusal) -> Bool {
            a.status == b.status && a.reason.description == b.reason.description
        }
    }

    /// Whether the request asks to become a WebSocket (`Upgrade: websocket`); the handshake then
    /// either succeeds or is refused, never served as plain HTTP.
    public static func isRequested(in buffer: UnsafeRawBufferPointer, fields: UnsafeBufferPointer<HeaderField>) -> Bool {
        hasToken("websocket", in: "upgrade", buffer: buffer, fields: fields)
    }

    /// The handshake for a request that `isRequested`.
    public init(_ head: RequestHead, buffer: UnsafeRawBufferPointer, fields: UnsafeBufferPointer<HeaderField>) throws(Refusal) {
        guard head.method == .get else { throw Refusal(status: 400, reason: "a WebSocket handshake must be a GET") }
        guard head.version == .http1_1 else { throw Refusal(status: 400, reason: "a WebSocket handshake needs HTTP/1.1") }
        guard hasToken("upgrade", in: "connection", buffer: buffer, fields: fields) else {
            throw Refusal(status: 400, reason: "a WebSocket handshake needs Connection: Upgrade")
        }
        guard let version = headerValue(named: "sec-websocket-version", in: buffer, fields: fields),
              version.bytes(in: buffer).elementsEqual("13".utf8) else {
            throw Refusal(status: 426, reason: "only WebSocket version 13 is spoken")
        }
        guard let keyRange = headerValue(named: "sec-websocket-key", in: buffer, fields: fields),
              Self.isNonce(keyRange.bytes(in: buffer)) else {
            throw Refusal(status: 400, reason: "Sec-WebSocket-Key is not a base64 16-byte nonce")
        }
        accept = Self.acceptValue(forKey: String(decoding: keyRange.bytes(in: buffer), as: UTF8.self))
        subprotocols = Self.items(named: "sec-websocket-protocol", buffer, fields)
        extensions = Self.items(named: "sec-websocket-extensions", buffer, fields)
    }

    /// Sec-WebSocket-Accept for a key: base64(SHA-1(key + the RFC's GUID)).
    public static func acceptValue(forKey key: String) -> String {
        let input = Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8)
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var digestLength: UInt32 = 0
        _ = EVP_Digest(input, input.count, &digest, &digestLength, EVP_sha1(), nil)
        var encoded = [UInt8](repeating: 0, count: 4 * ((Int(digestLength) + 2) / 3) + 1)
        let count = EVP_EncodeBlock(&encoded, digest, Int32(digestLength))
        return String(decoding: encoded[..<Int(count)], as: UTF8.self)
    }

    /// 16 bytes in base64: 22 characters of the alphabet and "==".
    private static func isNonce(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count == 24, bytes[22] == UInt8(ascii: "="), bytes[23] == UInt8(ascii: "=") else { return false }
        return bytes.prefix(22).allSatisfy { byte in
            (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
                || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "/")
        }
    }

    /// The comma-separated items of every field named `name`, trimmed, empty ones left out.
    private static func items(named name: StaticString, _ buffer: UnsafeRawBufferPointer,
                              _ fields: UnsafeBufferPointer<HeaderField>) -> [String] {
        var result: [String] = []
        for field in fields where field.name.bytes(in: buffer).equalsLowercased(name) {
            for item in field.value.bytes(in: buffer).split(separator: UInt8(ascii: ",")) {
                let trimmed = item.drop { $0 == 0x20 || $0 == 0x09 }.reversed().drop { $0 == 0x20 || $0 == 0x09 }.reversed()
                if !trimmed.isEmpty { result.append(String(decoding: trimmed, as: UTF8.self)) }
            }
        }
        return result
    }
}

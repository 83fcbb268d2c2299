import CorralHTTP
import CorralHTTP2
import Glibc

/// Cleartext HTTP/2 (gunicorn's `http2_cleartext`) on a plain listener, for a peer in
/// `forwarded_allow_ips` (or on a unix socket): the proxy in front that ended TLS. Prior
/// knowledge is seen in the connection's first bytes; an `Upgrade: h2c` request is answered
/// 101 and served as stream 1 of the HTTP/2 connection that follows.
extension Connection {
    /// What h2c this connection may use: off on TLS (ALPN decides there) and for peers not
    /// trusted (the server's own is off without h2 in `http_protocols`).
    var cleartextHTTP2: HTTP2Cleartext {
        tls == nil && peerTrustedForScheme ? server.cleartextHTTP2 : .off
    }

    static let switchingToH2C: [UInt8] = Array("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n".utf8)

    /// Fields of the upgrading request that belong to its HTTP/1.1 hop, left out of stream 1.
    private static let upgradeFields: [StaticString] = ["connection", "upgrade", "http2-settings", "keep-alive", "proxy-connection"]

    /// Serves the rest of the connection as HTTP/2 when `head` asks for h2c properly (HTTP/1.1,
    /// `Upgrade: h2c`, one `HTTP2-Settings` named in `Connection`, no body) and nghttp2 takes its
    /// settings; false when it does not, and the request is served over HTTP/1.1 as usual. A
    /// request with a body stays HTTP/1.1: the server may ignore an upgrade (RFC 9110 §7.8).
    func upgradeToHTTP2IfAsked(_ head: RequestHead) async -> Bool {
        guard head.version == .http1_1, case .none = head.framing, let buffers else { return false }
        let buffer = UnsafeRawBufferPointer(start: buffers.bytes, count: filled)
        let fields = UnsafeBufferPointer(start: buffers.fields, count: head.fieldCount)
        guard hasToken("h2c", in: "upgrade", buffer: buffer, fields: fields),
              hasToken("upgrade", in: "connection", buffer: buffer, fields: fields),
              hasToken("http2-settings", in: "connection", buffer: buffer, fields: fields) else { return false }
        let settingsFields = fields.filter { $0.name.bytes(in: buffer).equalsLowercased("http2-settings") }
        guard settingsFields.count == 1,
              let payload = HTTP2Cleartext.settingsPayload(base64URL: settingsFields[0].value.bytes(in: buffer)) else { return false }
        let http2 = HTTP2Connection(connection: self)
        guard http2.session.upgrade(settings: payload, headRequest: head.method == .head) else { return false }

        // Stream 1's head: the request line and the fields, without the hop's own.
        var text = Array(buffer[Int(head.methodBytes.start)..<head.target.end])
        text.append(contentsOf: " HTTP/1.1\r\n".utf8)
        for field in fields where !Self.upgradeFields.contains(where: { field.name.bytes(in: buffer).equalsLowercased($0) }) {
            text.append(contentsOf: field.name.bytes(in: buffer))
            text.append(contentsOf: ": ".utf8)
            text.append(contentsOf: field.value.bytes(in: buffer))
            text.append(contentsOf: "\r\n".utf8)
        }
        text.append(contentsOf: "\r\n".utf8)
        // What came after the head (the client's preface, if it did not wait) is HTTP/2's.
        memmove(buffers.bytes, buffers.bytes + head.headLength, filled - head.headLength)
        filled -= head.headLength
        guard await writeAll(Self.switchingToH2C) else { return true }
        http2.adoptUpgradedRequest(head: text)
        await serveHTTP2(http2)
        return true
    }
}

import Foundation
import CorralHTTP
import Testing
@testable import CorralWebSocketHandshake

@Suite struct WebSocketHandshakeTests {
    /// The handshake of a request head given as text.
    private func handshake(_ text: String) -> Result<WebSocketHandshake, WebSocketHandshake.Refusal>? {
        let bytes = Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8) + [0x0D, 0x0A]
        let table = UnsafeMutableBufferPointer<HeaderField>.allocate(capacity: 100)
        defer { table.deallocate() }
        table.initialize(repeating: HeaderField(name: .empty, value: .empty))
        return bytes.withUnsafeBytes { buffer in
            var parser = RequestParser(limits: HTTPLimits())
            guard case .complete(let head) = parser.parseHead(buffer, fields: table) else { return nil }
            let fields = UnsafeBufferPointer(rebasing: table[0..<head.fieldCount])
            guard WebSocketHandshake.isRequested(in: buffer, fields: fields) else { return nil }
            return Result { () throws(WebSocketHandshake.Refusal) in try WebSocketHandshake(head, buffer: buffer, fields: fields) }
        }
    }

    private let rfcRequest = """
        GET /chat HTTP/1.1
        Host: server.example.com
        Upgrade: websocket
        Connection: keep-alive, Upgrade
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==
        Origin: http://example.com
        Sec-WebSocket-Protocol: chat, superchat
        Sec-WebSocket-Protocol: v3
        Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits
        Sec-WebSocket-Version: 13

        """

    @Test func theRFCsExample() throws {
        // RFC 6455 §1.3: this key's accept value.
        let accepted = try #require(try handshake(rfcRequest)?.get())
        #expect(accepted.accept == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(accepted.subprotocols == ["chat", "superchat", "v3"])
        #expect(accepted.extensions == ["permessage-deflate; client_max_window_bits"])
        #expect(handshake(rfcRequest.replacingOccurrences(of: "Upgrade: websocket", with: "Upgrade: WebSocket")).map { (try? $0.get()) != nil } == true)
    }

    @Test func refusals() {
        func refusal(_ from: String, _ to: String) -> WebSocketHandshake.Refusal? {
            guard case .failure(let refusal) = handshake(rfcRequest.replacingOccurrences(of: from, with: to)) else { return nil }
            return refusal
        }
        #expect(refusal("GET /chat", "POST /chat") == .init(status: 400, reason: "a WebSocket handshake must be a GET"))
        #expect(refusal("HTTP/1.1", "HTTP/1.0") == .init(status: 400, reason: "a WebSocket handshake needs HTTP/1.1"))
        #expect(refusal("Connection: keep-alive, Upgrade", "Connection: keep-alive") == .init(status: 400, reason: "a WebSocket handshake needs Connection: Upgrade"))
        #expect(refusal("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8") == .init(status: 426, reason: "only WebSocket version 13 is spoken"))
        #expect(refusal("Sec-WebSocket-Version: 13\n", "") == .init(status: 426, reason: "only WebSocket version 13 is spoken"))
        for key in ["dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25j*Q==", ""] {
            #expect(refusal("dGhlIHNhbXBsZSBub25jZQ==", key) == .init(status: 400, reason: "Sec-WebSocket-Key is not a base64 16-byte nonce"), "\(key)")
        }
        // Not asking for a WebSocket at all: plain HTTP.
        #expect(handshake(rfcRequest.replacingOccurrences(of: "Upgrade: websocket", with: "Upgrade: h2c")) == nil)
    }
}

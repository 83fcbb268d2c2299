import Testing
@testable import CorralWebSocket

@Suite struct WebSocketFrameHeaderTests {
    private func head(_ opcode: WebSocketFrameHeader.Opcode, final: Bool = true, compressed: Bool = false, length: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: WebSocketFrameHeader.maximumLength)
        let count = bytes.withUnsafeMutableBytes {
            WebSocketFrameHeader.write(opcode, final: final, compressed: compressed, payloadLength: length, to: $0.baseAddress!)
        }
        return Array(bytes[..<count])
    }

    @Test func theShortestLengthForm() {
        #expect(head(.text, length: 0) == [0x81, 0])
        #expect(head(.binary, length: 125) == [0x82, 125])
        #expect(head(.binary, length: 126) == [0x82, 126, 0, 126])
        #expect(head(.binary, length: 65_535) == [0x82, 126, 0xFF, 0xFF])
        #expect(head(.binary, length: 65_536) == [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0])
        #expect(head(.text, final: false, compressed: true, length: 5) == [0x41, 5])
        #expect(head(.continuation, length: 1) == [0x80, 1])
        #expect(head(.pong, length: 4) == [0x8A, 4])
    }

    @Test func closeFramesFitInAControlFrame() {
        #expect(WebSocketFrameHeader.close(1000) == [0x88, 2, 0x03, 0xE8])
        #expect(WebSocketFrameHeader.close(1012, reason: "restart") == [0x88, 9, 0x03, 0xF4] + Array("restart".utf8))
        // A long reason is cut to 123 bytes at a character boundary, so the frame is valid UTF-8.
        let frame = WebSocketFrameHeader.close(1001, reason: String(repeating: "é", count: 100))
        #expect(frame.count == 4 + 122 && frame[1] == 124)
        #expect(String(validating: frame[4...], as: UTF8.self) == String(repeating: "é", count: 61))
    }
}

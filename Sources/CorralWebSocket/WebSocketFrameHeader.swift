/// The head of a frame the server sends (RFC 6455 §5.2): never masked, the shortest length form.
public enum WebSocketFrameHeader {
    public enum Opcode: UInt8, Sendable {
        case continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10
    }

    /// The most bytes a head takes.
    public static let maximumLength = 10

    /// Writes the head of a frame with `payloadLength` bytes to `buffer` (at least
    /// `maximumLength` bytes); returns its length. `compressed` sets RSV1 (permessage-deflate, on
    /// a message's first frame only).
    public static func write(_ opcode: Opcode, final: Bool = true, compressed: Bool = false, payloadLength: Int,
                             to buffer: UnsafeMutableRawPointer) -> Int {
        buffer.storeBytes(of: (final ? 0x80 : 0) | (compressed ? 0x40 : 0) | opcode.rawValue, as: UInt8.self)
        switch payloadLength {
        case 0...125:
            buffer.storeBytes(of: UInt8(payloadLength), toByteOffset: 1, as: UInt8.self)
            return 2
        case 126...0xFFFF:
            buffer.storeBytes(of: 126, toByteOffset: 1, as: UInt8.self)
            buffer.storeBytes(of: UInt16(payloadLength).bigEndian, toByteOffset: 2, as: UInt16.self)
            return 4
        default:
            buffer.storeBytes(of: 127, toByteOffset: 1, as: UInt8.self)
            buffer.storeBytes(of: UInt64(payloadLength).bigEndian, toByteOffset: 2, as: UInt64.self)
            return 10
        }
    }

    /// A close frame whole (head, code, reason cut to fit 125 bytes at a character boundary), as
    /// the bytes to send.
    public static func close(_ code: UInt16, reason: String = "") -> [UInt8] {
        var reasonBytes: [UInt8] = []
        for scalar in reason.unicodeScalars {
            guard reasonBytes.count + scalar.utf8.count <= 123 else { break }
            reasonBytes += scalar.utf8
        }
        var frame = [UInt8](repeating: 0, count: 4 + reasonBytes.count)
        frame.withUnsafeMutableBytes { buffer in
            _ = write(.close, payloadLength: 2 + reasonBytes.count, to: buffer.baseAddress!)
        }
        frame[2] = UInt8(code >> 8)
        frame[3] = UInt8(code & 0xFF)
        frame.replaceSubrange(4..., with: reasonBytes)
        return frame
    }
}

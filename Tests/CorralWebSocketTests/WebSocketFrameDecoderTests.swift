import CorralHTTP
import Testing
@testable import CorralWebSocket

/// A client's frame as sent: masked with `mask`, the shortest length form unless told otherwise.
func clientFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, masked: Bool = true,
                 mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]) -> [UInt8] {
    var frame: [UInt8] = [(fin ? 0x80 : 0) | rsv | opcode]
    let maskBit: UInt8 = masked ? 0x80 : 0
    switch payload.count {
    case 0...125: frame.append(maskBit | UInt8(payload.count))
    case 126...0xFFFF: frame += [maskBit | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    default: frame += [maskBit | 127] + (0..<8).reversed().map { UInt8(truncatingIfNeeded: payload.count >> (8 * $0)) }
    }
    guard masked else { return frame + payload }
    return frame + mask + payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
}

/// What the decoder made of a byte stream fed in pieces of `split` bytes, kept as a connection
/// keeps its read buffer (unconsumed bytes stay at the front).
struct Decoded: Equatable {
    var messages: [(kind: WebSocketFrameDecoder.MessageKind, bytes: [UInt8])] = []
    var pings: [[UInt8]] = []
    var pongs: [[UInt8]] = []
    var close: (code: UInt16?, reason: String)?
    var failure: (WebSocketCloseCode, String)?
    var compressed: [Bool] = []

    static func == (a: Decoded, b: Decoded) -> Bool {
        a.messages.map(\.kind) == b.messages.map(\.kind) && a.messages.map(\.bytes) == b.messages.map(\.bytes)
            && a.pings == b.pings && a.pongs == b.pongs && a.close?.code == b.close?.code && a.close?.reason == b.close?.reason
            && a.failure?.0 == b.failure?.0 && a.failure?.1 == b.failure?.1
    }

    init() {}

    init(_ stream: [UInt8], split: Int = .max, decoder: WebSocketFrameDecoder = WebSocketFrameDecoder()) {
        var decoder = decoder
        var buffer: [UInt8] = []
        var current: [UInt8] = []
        var position = 0
        while position < stream.count || !buffer.isEmpty {
            let take = Swift.min(split, stream.count - position)
            buffer += stream[position..<position + take]
            position += take
            var progressed = true
            while progressed {
                progressed = false
                let step = buffer.withUnsafeMutableBytes { decoder.next($0) }
                func drop(_ consumed: Int) {
                    if consumed > 0 { progressed = true }
                    buffer.removeFirst(consumed)
                }
                switch step {
                case let .data(range, kind, compressed, ends, consumed):
                    current += buffer[Int(range.start)..<range.end]
                    if ends {
                        messages.append((kind, current))
                        self.compressed.append(compressed)
                        current = []
                    }
                    drop(consumed)
                    progressed = true
                case let .ping(range, consumed):
                    pings.append(Array(buffer[Int(range.start)..<range.end]))
                    drop(consumed)
                case let .pong(range, consumed):
                    pongs.append(Array(buffer[Int(range.start)..<range.end]))
                    drop(consumed)
                case let .close(code, reason, consumed):
                    close = (code, String(decoding: buffer[Int(reason.start)..<reason.end], as: UTF8.self))
                    drop(consumed)
                case let .needMore(consumed):
                    drop(consumed)
                case let .failed(code, reason):
                    failure = (code, reason.description)
                    return
                }
            }
            if take == 0 { break }
        }
    }
}

@Suite struct WebSocketFrameDecoderTests {
    let hello = Array("Hello".utf8)

    @Test func rfcExamplesInEverySplit() {
        // RFC 6455 §5.7: a masked "Hello"; "Hel" + "lo" fragmented, a ping between the fragments.
        let masked: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        #expect(clientFrame(1, hello) == masked)
        let stream = masked + clientFrame(1, Array("Hel".utf8), fin: false) + clientFrame(9, Array("ping".utf8))
            + clientFrame(0, Array("lo".utf8)) + clientFrame(10, []) + clientFrame(8, [0x03, 0xE8] + Array("bye".utf8))
        var expected = Decoded()
        expected.messages = [(.text, hello), (.text, hello)]
        expected.pings = [Array("ping".utf8)]
        expected.pongs = [[]]
        expected.close = (1000, "bye")
        for split in 1...stream.count {
            #expect(Decoded(stream, split: split) == expected, "split \(split)")
        }
    }

    @Test(arguments: [0, 1, 7, 125, 126, 127, 65_535, 65_536, 200_001])
    func everyLengthFormUnmasksInAnySplit(length: Int) {
        var generator = SystemRandomNumberGenerator()
        let payload = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let stream = clientFrame(2, payload, mask: mask)
        for split in [1, 3, 4, 5, 8, 13, 4096, .max] where split == .max || length < 70_000 || split >= 4096 {
            let decoded = Decoded(stream, split: split)
            #expect(decoded.failure == nil)
            #expect(decoded.messages.count == 1 && decoded.messages.first?.bytes == payload, "split \(split)")
        }
    }

    @Test func aLargeMessageComesOutAsItArrives() {
        // Pieces are handed over as they arrive: the decoder holds no message.
        var decoder = WebSocketFrameDecoder()
        var stream = clientFrame(2, [UInt8](repeating: 7, count: 100_000))
        let first = stream.withUnsafeMutableBytes { decoder.next(UnsafeMutableRawBufferPointer(rebasing: $0[0..<1000])) }
        #expect(first == .data(ByteRange(start: 14, count: 986), kind: .binary, compressed: false, messageEnds: false, consumed: 1000))
    }

    @Test func protocolErrorsClose1002() {
        let cases: [([UInt8], String)] = [
            (clientFrame(1, hello, masked: false), "a client frame must be masked"),
            (clientFrame(1, hello, rsv: 0x20), "reserved bits RSV2 or RSV3 set"),
            (clientFrame(1, hello, rsv: 0x10), "reserved bits RSV2 or RSV3 set"),
            (clientFrame(1, hello, rsv: 0x40), "RSV1 set without permessage-deflate"),
            (clientFrame(3, hello), "reserved opcode"),
            (clientFrame(0xB, hello), "reserved opcode"),
            (clientFrame(9, hello, fin: false), "a fragmented control frame"),
            (clientFrame(9, [UInt8](repeating: 0, count: 126)), "a control frame longer than 125 bytes"),
            (clientFrame(0, hello), "a continuation frame with no message to continue"),
            (clientFrame(1, hello, fin: false) + clientFrame(2, hello), "a new message before the last one ended"),
            (clientFrame(8, [0x03]), "a close frame with a 1-byte payload"),
        ]
        for (stream, reason) in cases {
            let decoded = Decoded(stream)
            #expect(decoded.failure?.0 == .protocolError && decoded.failure?.1 == reason, "\(reason): \(String(describing: decoded.failure))")
        }
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000] {
            #expect(Decoded(clientFrame(8, [UInt8(code >> 8), UInt8(code & 0xFF)])).failure?.0 == .protocolError, "close code \(code)")
        }
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999] {
            #expect(Decoded(clientFrame(8, [UInt8(code >> 8), UInt8(code & 0xFF)])).close?.code == code, "close code \(code)")
        }
        #expect(Decoded(clientFrame(8, [])).close.map { $0.code == nil && $0.reason.isEmpty } == true)
        // With permessage-deflate, RSV1 marks a compressed message (its first frame only).
        let deflating = WebSocketFrameDecoder(compressionNegotiated: true)
        let compressed = Decoded(clientFrame(1, [0xF2, 0x48, 0xCD], fin: false, rsv: 0x40) + clientFrame(0, [0x01]), decoder: deflating)
        #expect(compressed.failure == nil && compressed.compressed == [true])
        #expect(Decoded(clientFrame(1, hello, fin: false) + clientFrame(0, hello, rsv: 0x40), decoder: deflating).failure?.1
                == "RSV1 set on a continuation frame")
        #expect(Decoded(clientFrame(9, hello, rsv: 0x40), decoder: deflating).failure?.1 == "RSV1 set on a control frame")
    }

    @Test func textMustBeUTF8AndFailsAtTheFirstBadPiece() {
        let bad: [UInt8] = Array("κόσμε".utf8) + [0xED, 0xA0, 0x80] + Array("more".utf8)
        for split in 1...20 {
            #expect(Decoded(clientFrame(1, bad), split: split).failure?.0 == .invalidPayload, "split \(split)")
        }
        // Fragments split inside a character are fine; a message that ends inside one is not.
        let word = Array("κόσμε".utf8)
        let fragmented = clientFrame(1, Array(word[0..<3]), fin: false) + clientFrame(0, Array(word[3...]))
        #expect(Decoded(fragmented).messages.first?.bytes == word)
        #expect(Decoded(clientFrame(1, Array(word[0..<3]))).failure?.0 == .invalidPayload)
        // Binary messages are not text.
        #expect(Decoded(clientFrame(2, [0xFF, 0xFE])).failure == nil)
        #expect(Decoded(clientFrame(8, [0x03, 0xE8, 0xC0, 0x80])).failure?.0 == .invalidPayload)
    }

    @Test func messagesPastTheLimitClose1009() {
        let small = WebSocketFrameDecoder(maxMessageSize: 10)
        #expect(Decoded(clientFrame(2, [UInt8](repeating: 1, count: 10)), decoder: small).messages.count == 1)
        #expect(Decoded(clientFrame(2, [UInt8](repeating: 1, count: 11)), decoder: small).failure?.0 == .messageTooBig)
        // Counted across fragments, and refused from the frame head, before its payload arrives.
        let fragments = clientFrame(2, [UInt8](repeating: 1, count: 6), fin: false) + clientFrame(0, [UInt8](repeating: 1, count: 6))
        #expect(Decoded(fragments, decoder: small).failure?.0 == .messageTooBig)
        #expect(Decoded(Array(clientFrame(2, [UInt8](repeating: 1, count: 1000)).prefix(8)), decoder: small).failure?.0 == .messageTooBig)
    }

    @Test func afterAFailureNothingMoreIsDecoded() {
        var decoder = WebSocketFrameDecoder()
        var stream = clientFrame(3, []) + clientFrame(1, hello)
        let first = stream.withUnsafeMutableBytes { decoder.next($0) }
        let second = stream.withUnsafeMutableBytes { decoder.next(UnsafeMutableRawBufferPointer(rebasing: $0[6...])) }
        #expect(first == .failed(.protocolError, reason: "reserved opcode") && second == first && decoder.hasFailed)
    }
}

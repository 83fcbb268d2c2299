import CorralHTTP

/// A resumable decoder for the frames a client sends (RFC 6455 §5), in the style of the engine's
/// request parser: feed it the connection's read buffer in any split; each call to `next` returns
/// one step with the bytes it consumed, and payload as ranges of that buffer, unmasked in place
/// (no copy). Data messages come out as pieces, as they arrive (a large message is never held);
/// control frames (at most 125 bytes) come out whole, so their bytes stay in the caller's buffer
/// until the whole frame is there.
///
/// What the RFC requires of a server is checked here, each violation a close code with a reason:
/// unmasked frames, reserved bits and opcodes, fragmented or oversized control frames, a
/// continuation with no message or a new message inside one, a close frame's code and reason
/// (1002); text that is not UTF-8, checked piece by piece (1007); a message past `maxMessageSize`
/// (1009).
public struct WebSocketFrameDecoder: Sendable {
    public enum MessageKind: UInt8, Sendable {
        case text = 1
        case binary = 2
    }

    public enum Step: Equatable, Sendable {
        /// A piece of a data message, unmasked, at `range` of the input. `compressed`: the message
        /// has RSV1 set (permessage-deflate; its text is checked after inflating, not here).
        /// `messageEnds`: the last piece of the message.
        case data(ByteRange, kind: MessageKind, compressed: Bool, messageEnds: Bool, consumed: Int)
        case ping(ByteRange, consumed: Int)
        case pong(ByteRange, consumed: Int)
        /// The client's close frame: its code (nil when it gave none) and reason (UTF-8, checked).
        case close(code: UInt16?, reason: ByteRange, consumed: Int)
        /// Consumed `consumed` bytes (maybe 0) but nothing whole yet; call again with more input.
        case needMore(consumed: Int)
        /// The client broke the protocol: close with `code`; nothing more is decoded.
        case failed(WebSocketCloseCode, reason: StaticString)

        public static func == (a: Step, b: Step) -> Bool {
            switch (a, b) {
            case let (.data(r1, k1, c1, e1, n1), .data(r2, k2, c2, e2, n2)): r1 == r2 && k1 == k2 && c1 == c2 && e1 == e2 && n1 == n2
            case let (.ping(r1, n1), .ping(r2, n2)), let (.pong(r1, n1), .pong(r2, n2)): r1 == r2 && n1 == n2
            case let (.close(c1, r1, n1), .close(c2, r2, n2)): c1 == c2 && r1 == r2 && n1 == n2
            case let (.needMore(n1), .needMore(n2)): n1 == n2
            case let (.failed(c1, r1), .failed(c2, r2)): c1 == c2 && r1.description == r2.description
            default: false
            }
        }
    }

    /// Largest message, in payload bytes (uvicorn's `ws_max_size`, 16 MiB by default); 0 = no limit.
    public let maxMessageSize: Int
    /// permessage-deflate was negotiated: RSV1 marks a compressed message.
    public let compressionNegotiated: Bool

    private enum Opcode: UInt8 {
        case continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10
    }

    /// The data message in progress (its first frame seen, its final one not yet).
    private var message: (kind: MessageKind, compressed: Bool, size: Int)?
    /// The data frame whose payload is being read: bytes left, its mask, where in the mask the
    /// next byte falls, whether it is the message's last frame.
    private var frameRemaining = 0
    private var inFrame = false
    private var mask: UInt32 = 0
    private var maskOffset = 0
    private var frameIsFinal = false
    private var text = UTF8Validator()
    private var failure: (WebSocketCloseCode, StaticString)?

    public init(maxMessageSize: Int = 16 * 1024 * 1024, compressionNegotiated: Bool = false) {
        self.maxMessageSize = maxMessageSize
        self.compressionNegotiated = compressionNegotiated
    }

    /// Whether the decoder stopped at a protocol error.
    public var hasFailed: Bool { failure != nil }

    public mutating func next(_ input: UnsafeMutableRawBufferPointer) -> Step {
        if let failure { return .failed(failure.0, reason: failure.1) }
        if inFrame { return payloadPiece(input, from: 0) }
        var offset = 0
        while true {
            // Header: 2 bytes, 2 or 8 of extended length, 4 of mask; parsed only when all are here.
            let available = input.count - offset
            guard available >= 2 else { return .needMore(consumed: offset) }
            let first = input[offset], second = input[offset + 1]
            let fin = first & 0x80 != 0
            let rsv1 = first & 0x40 != 0
            guard first & 0x30 == 0 else { return fail(.protocolError, "reserved bits RSV2 or RSV3 set") }
            guard let opcode = Opcode(rawValue: first & 0x0F) else { return fail(.protocolError, "reserved opcode") }
            guard second & 0x80 != 0 else { return fail(.protocolError, "a client frame must be masked") }
            var length = Int(second & 0x7F)
            var headerLength = 6
            if length == 126 {
                headerLength = 8
                guard available >= headerLength else { return .needMore(consumed: offset) }
                length = Int(input[offset + 2]) << 8 | Int(input[offset + 3])
            } else if length == 127 {
                headerLength = 14
                guard available >= headerLength else { return .needMore(consumed: offset) }
                var wide: UInt64 = 0
                for i in 2..<10 { wide = wide << 8 | UInt64(input[offset + i]) }
                guard wide >> 63 == 0 else { return fail(.protocolError, "a 64-bit length with its top bit set") }
                guard wide <= UInt64(Int.max) else { return fail(.messageTooBig, "message too big") }
                length = Int(wide)
            }
            guard available >= headerLength else { return .needMore(consumed: offset) }
            let frameMask = input.loadUnaligned(fromByteOffset: offset + headerLength - 4, as: UInt32.self)

            switch opcode {
            case .close, .ping, .pong:
                guard fin else { return fail(.protocolError, "a fragmented control frame") }
                guard !rsv1 else { return fail(.protocolError, "RSV1 set on a control frame") }
                guard length <= 125 else { return fail(.protocolError, "a control frame longer than 125 bytes") }
                guard available >= headerLength + length else { return .needMore(consumed: offset) }
                let start = offset + headerLength
                Self.unmask(input, start..<start + length, mask: frameMask, offset: 0)
                let consumed = start + length
                let range = ByteRange(start: start, count: length)
                switch opcode {
                case .ping: return .ping(range, consumed: consumed)
                case .pong: return .pong(range, consumed: consumed)
                default: return closeFrame(input, range, consumed: consumed)
                }
            case .text, .binary:
                guard message == nil else { return fail(.protocolError, "a new message before the last one ended") }
                guard !rsv1 || compressionNegotiated else { return fail(.protocolError, "RSV1 set without permessage-deflate") }
                message = (opcode == .text ? .text : .binary, rsv1, 0)
                text = UTF8Validator()
            case .continuation:
                guard message != nil else { return fail(.protocolError, "a continuation frame with no message to continue") }
                guard !rsv1 else { return fail(.protocolError, "RSV1 set on a continuation frame") }
            }
            message!.size += length
            if maxMessageSize > 0 && message!.size > maxMessageSize { return fail(.messageTooBig, "message too big") }
            offset += headerLength
            (frameRemaining, mask, maskOffset, frameIsFinal, inFrame) = (length, frameMask, 0, fin, true)
            if length == 0 && !fin {
                inFrame = false   // an empty fragment: nothing to hand over
                continue
            }
            return payloadPiece(input, from: offset)
        }
    }

    /// The next piece of the current data frame's payload, from `start` of the input.
    private mutating func payloadPiece(_ input: UnsafeMutableRawBufferPointer, from start: Int) -> Step {
        let count = Swift.min(frameRemaining, input.count - start)
        guard count > 0 || frameRemaining == 0 else { return .needMore(consumed: start) }
        Self.unmask(input, start..<start + count, mask: mask, offset: maskOffset)
        maskOffset = (maskOffset + count) & 3
        frameRemaining -= count
        let current = message!
        if current.kind == .text && !current.compressed {
            guard text.validate(UnsafeRawBufferPointer(rebasing: input[start..<start + count])) else {
                return fail(.invalidPayload, "text that is not UTF-8")
            }
        }
        let ends = frameRemaining == 0 && frameIsFinal
        if frameRemaining == 0 {
            inFrame = false
            if ends {
                message = nil
                if current.kind == .text && !current.compressed && !text.isComplete {
                    return fail(.invalidPayload, "text that is not UTF-8")
                }
            }
        }
        return .data(ByteRange(start: start, count: count), kind: current.kind, compressed: current.compressed,
                     messageEnds: ends, consumed: start + count)
    }

    private mutating func closeFrame(_ input: UnsafeMutableRawBufferPointer, _ range: ByteRange, consumed: Int) -> Step {
        guard range.count != 1 else { return fail(.protocolError, "a close frame with a 1-byte payload") }
        guard range.count >= 2 else { return .close(code: nil, reason: range, consumed: consumed) }
        let start = Int(range.start)
        let code = UInt16(input[start]) << 8 | UInt16(input[start + 1])
        guard WebSocketCloseCode.isValidOnTheWire(code) else { return fail(.protocolError, "a close code that may not be sent") }
        let reason = ByteRange(start: start + 2, count: Int(range.count) - 2)
        var check = UTF8Validator()
        guard check.validate(reason.bytes(in: UnsafeRawBufferPointer(input))) && check.isComplete else {
            return fail(.invalidPayload, "a close reason that is not UTF-8")
        }
        return .close(code: code, reason: reason, consumed: consumed)
    }

    private mutating func fail(_ code: WebSocketCloseCode, _ reason: StaticString) -> Step {
        failure = (code, reason)
        return .failed(code, reason: reason)
    }

    /// XORs `range` of `buffer` with the mask (its bytes as sent, in memory order), starting
    /// `offset` bytes into it: eight bytes at a time, then the rest.
    static func unmask(_ buffer: UnsafeMutableRawBufferPointer, _ range: Range<Int>, mask: UInt32, offset: Int) {
        guard !range.isEmpty else { return }
        // The mask rotated so that its first byte is the one `range.lowerBound` takes.
        let rotated = offset == 0 ? mask : (mask >> (8 * UInt32(offset))) | (mask << (8 * UInt32(4 - offset)))
        let wide = UInt64(rotated) | UInt64(rotated) << 32
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            let word = buffer.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            buffer.storeBytes(of: word ^ wide, toByteOffset: i, as: UInt64.self)
            i += 8
        }
        var shift: UInt64 = 0
        while i < range.upperBound {
            buffer[i] ^= UInt8(truncatingIfNeeded: wide >> shift)
            shift += 8
            i += 1
        }
    }
}

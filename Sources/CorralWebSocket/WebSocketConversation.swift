/// One WebSocket's protocol after the handshake, as a plain state machine (no I/O): bytes the
/// client sent go in, whole messages and the end of the conversation come out, and the frames
/// the server owes (pongs, the close handshake, pings, the app's messages) collect in `output`
/// for the connection to write. Time is the caller's monotonic clock in nanoseconds.
///
/// The close handshake (RFC 6455 §7): the client's close is echoed and the conversation ends; a
/// close the server starts waits up to `closeTimeout` for the client's. A protocol error is
/// answered with its close code and ends it at once. Keepalive (uvicorn's `ws_ping_interval`,
/// `ws_ping_timeout`): a ping after each quiet interval; no pong within the timeout closes 1011.
public struct WebSocketConversation {
    public struct Settings: Sendable {
        /// `ws_max_size`: the largest message, in bytes (1009 past it).
        public var maxMessageSize = 16 * 1024 * 1024
        /// `ws_ping_interval`, nanoseconds; 0: no pings.
        public var pingInterval: Int64 = 20_000_000_000
        /// `ws_ping_timeout`, nanoseconds; 0: a ping's pong is not awaited.
        public var pingTimeout: Int64 = 20_000_000_000
        /// How long a close the server started waits for the client's close frame.
        public var closeTimeout: Int64 = 5_000_000_000
        /// permessage-deflate as negotiated in the handshake; nil: messages go uncompressed.
        public var compression: PerMessageDeflate.Parameters?

        public init() {}
    }

    public enum Event: Equatable, Sendable {
        case message(WebSocketFrameDecoder.MessageKind, [UInt8])
        /// The conversation is over: the client's close code (1005 when its frame had none; 1006
        /// when the connection ended without one) or the code the server closed with, and the reason.
        case closed(code: UInt16, reason: String)
    }

    public enum Phase: Equatable, Sendable {
        case open
        /// The server sent its close frame and waits for the client's until the deadline.
        case closing(deadline: Int64)
        /// Nothing more is read; `output` still holds the last frames to send.
        case closed
    }

    public let settings: Settings
    public private(set) var phase = Phase.open
    /// Frames to send, in order; the writer takes bytes off the front with `consumeOutput`.
    public private(set) var output: [UInt8] = []
    private var outputStart = 0
    private var decoder: WebSocketFrameDecoder
    private var message: [UInt8] = []
    private var messageCompressed = false
    private let deflate: PerMessageDeflate?
    /// A compressed message's bytes before they go out.
    private var compressed: [UInt8] = []
    /// When the next keepalive ping is due, and when its pong is overdue (0: none awaited).
    private var pingDue: Int64
    private var pongDue: Int64 = 0
    private var pingsSent: UInt32 = 0
    /// The close the server started: reported when the client's answer does not come.
    private var closeSent: (code: UInt16, reason: String)?

    public init(settings: Settings = Settings(), now: Int64) {
        self.settings = settings
        decoder = WebSocketFrameDecoder(maxMessageSize: settings.maxMessageSize, compressionNegotiated: settings.compression != nil)
        deflate = settings.compression.map(PerMessageDeflate.init)
        pingDue = settings.pingInterval > 0 ? now + settings.pingInterval : .max
        output.reserveCapacity(256)
    }

    /// Bytes not yet written.
    public var pendingOutput: UnsafeRawBufferPointer {
        output.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[outputStart...]) }
    }

    public var pendingOutputCount: Int { output.count - outputStart }

    public mutating func consumeOutput(_ count: Int) {
        outputStart += count
        if outputStart == output.count {
            output.removeAll(keepingCapacity: true)
            outputStart = 0
        }
    }

    public var isClosed: Bool { phase == .closed }

    /// The next time `timerFired` has something to do.
    public var deadline: Int64 {
        switch phase {
        case .open: return Swift.min(pingDue, pongDue == 0 ? .max : pongDue)
        case .closing(let deadline): return deadline
        case .closed: return .max
        }
    }

    /// Decodes what the client sent (unmasked in place); returns the bytes consumed and what
    /// happened, when something did. Call again with the rest while it consumes.
    public mutating func receive(_ input: UnsafeMutableRawBufferPointer, now: Int64) -> (consumed: Int, event: Event?) {
        guard phase != .closed else { return (input.count, nil) }
        var offset = 0
        while true {
            let rest = UnsafeMutableRawBufferPointer(rebasing: input[offset...])
            switch decoder.next(rest) {
            case .data(let range, let kind, let isCompressed, let ends, let consumed):
                offset += consumed
                guard phase == .open else { continue }   // closing: the client's last messages go unread
                if message.isEmpty { messageCompressed = isCompressed }
                message.append(contentsOf: range.bytes(in: UnsafeRawBufferPointer(rest)))
                if ends {
                    var whole = message
                    message.removeAll(keepingCapacity: message.capacity <= 64 * 1024)
                    if messageCompressed, let deflate {
                        do {
                            whole = try deflate.decompress(whole, limit: settings.maxMessageSize)
                        } catch .tooBig {
                            return (input.count, fail(WebSocketCloseCode.messageTooBig.rawValue, "message too big"))
                        } catch {
                            return (input.count, fail(WebSocketCloseCode.invalidPayload.rawValue, "invalid compressed data"))
                        }
                        // The decoder checks text as it arrives only when it is not compressed.
                        var text = UTF8Validator()
                        if kind == .text && !(whole.withUnsafeBytes { text.validate($0) } && text.isComplete) {
                            return (input.count, fail(WebSocketCloseCode.invalidPayload.rawValue, "text that is not UTF-8"))
                        }
                    }
                    return (offset, .message(kind, whole))
                }
            case .ping(let range, let consumed):
                offset += consumed
                if phase == .open { appendFrame(.pong, range.bytes(in: UnsafeRawBufferPointer(rest))) }
            case .pong(_, let consumed):
                offset += consumed
                pongDue = 0
            case .close(let code, let range, let consumed):
                offset += consumed
                let reason = String(decoding: range.bytes(in: UnsafeRawBufferPointer(rest)), as: UTF8.self)
                if phase == .open {
                    // Echo the client's code (RFC 6455 §5.5.1); none given, none echoed.
                    if let code {
                        output += WebSocketFrameHeader.close(code, reason: "")
                    } else {
                        output += [0x88, 0]
                    }
                }
                phase = .closed
                return (offset, .closed(code: code ?? WebSocketCloseCode.noStatus.rawValue, reason: reason))
            case .needMore(let consumed):
                return (offset + consumed, nil)
            case .failed(let code, let reason):
                return (input.count, fail(code.rawValue, String(describing: reason)))
            }
        }
    }

    /// The app's message.
    public mutating func send(_ kind: WebSocketFrameDecoder.MessageKind, _ bytes: UnsafeRawBufferPointer) {
        guard phase == .open else { return }
        guard let deflate else { return appendFrame(kind == .text ? .text : .binary, bytes) }
        compressed.removeAll(keepingCapacity: compressed.capacity <= 64 * 1024)
        deflate.compress(bytes, appendingTo: &compressed)
        compressed.withUnsafeBytes { appendFrame(kind == .text ? .text : .binary, $0, compressed: true) }
    }

    /// Starts the close handshake (the app's close, or the worker stopping).
    public mutating func close(code: UInt16, reason: String = "", now: Int64) {
        guard phase == .open else { return }
        output += WebSocketFrameHeader.close(code, reason: reason)
        closeSent = (code, reason)
        phase = .closing(deadline: now + settings.closeTimeout)
    }

    /// The connection ended without a close frame (the client vanished, or a write failed).
    public mutating func connectionLost() -> Event? {
        guard phase != .closed else { return nil }
        phase = .closed
        return .closed(code: WebSocketCloseCode.abnormal.rawValue, reason: "")
    }

    /// Does what is due at `now`: a keepalive ping, or the end of a wait that ran out.
    public mutating func timerFired(now: Int64) -> Event? {
        switch phase {
        case .closed:
            return nil
        case .closing(let deadline):
            guard now >= deadline else { return nil }
            phase = .closed
            return .closed(code: WebSocketCloseCode.abnormal.rawValue, reason: "")
        case .open:
            if pongDue != 0 && now >= pongDue {
                return fail(WebSocketCloseCode.internalError.rawValue, "keepalive ping timeout")
            }
            guard now >= pingDue else { return nil }
            pingsSent &+= 1
            withUnsafeBytes(of: pingsSent.bigEndian) { appendFrame(.ping, $0) }
            pingDue = now + settings.pingInterval
            if settings.pingTimeout > 0 && pongDue == 0 { pongDue = now + settings.pingTimeout }
            return nil
        }
    }

    /// The conversation ends with the server's close: `code` sent, nothing more read.
    private mutating func fail(_ code: UInt16, _ reason: String) -> Event {
        if phase == .open { output += WebSocketFrameHeader.close(code, reason: reason) }
        phase = .closed
        return .closed(code: code, reason: reason)
    }

    private mutating func appendFrame(_ opcode: WebSocketFrameHeader.Opcode, _ payload: UnsafeRawBufferPointer,
                                      compressed: Bool = false) {
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: WebSocketFrameHeader.maximumLength))
        let length = output.withUnsafeMutableBytes {
            WebSocketFrameHeader.write(opcode, compressed: compressed, payloadLength: payload.count, to: $0.baseAddress! + start)
        }
        output.removeLast(WebSocketFrameHeader.maximumLength - length)
        output.append(contentsOf: payload)
    }
}

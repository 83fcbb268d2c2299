import CorralHTTP

/// What a parser makes of a byte stream of pipelined requests: each message it accepts, where its
/// head and the message end, and how the stream ends. corral's transcript and llhttp's (written by
/// tests/differential/llhttp.js in the same JSON shape) are compared by the differential test.
/// Bytes are hex, so any byte compares exactly.
public struct RequestStreamTranscript: Codable, Equatable, Sendable {
    public struct Message: Codable, Equatable, Sendable {
        public var method: String
        public var target: String
        public var version: String
        /// Name and value of each field line, in order; values with surrounding whitespace trimmed.
        public var fields: [[String]]
        public var keepAlive: Bool
        /// Offset in the stream just past the blank line that ends the head.
        public var headEnd: Int
        public var body: String
        /// Offset in the stream just past the message's last byte (body and trailers included).
        public var end: Int

        public init(method: String, target: String, version: String, fields: [[String]], keepAlive: Bool,
                    headEnd: Int, body: String, end: Int) {
            (self.method, self.target, self.version, self.fields) = (method, target, version, fields)
            (self.keepAlive, self.headEnd, self.body, self.end) = (keepAlive, headEnd, body, end)
        }
    }

    public var messages: [Message]
    /// `clean` (the last message ends the stream), `incomplete` (waiting for more bytes),
    /// `error …` (refused, with the parser's reason), or llhttp's `upgrade`.
    public var end: String

    public init(messages: [Message], end: String) {
        self.messages = messages
        self.end = end
    }

    public var refused: Bool { end.hasPrefix("error") }

    /// corral's reading, as a connection reads: a head, then the body its framing says, then the next
    /// head; it stops after a message that does not keep the connection alive.
    public static func corral(_ stream: [UInt8], limits: HTTPLimits = HTTPLimits()) -> RequestStreamTranscript {
        let fields = UnsafeMutableBufferPointer<HeaderField>.allocate(capacity: limits.fieldCount)
        defer { fields.deallocate() }
        return stream.withUnsafeBytes { all in
            var messages: [Message] = []
            var offset = 0
            while true {
                if offset == all.count && !messages.isEmpty { return RequestStreamTranscript(messages: messages, end: "clean") }
                var parser = RequestParser(limits: limits)
                let rest = UnsafeRawBufferPointer(rebasing: all[offset...])
                let head: RequestHead
                switch parser.parseHead(rest, fields: fields) {
                case .incomplete: return RequestStreamTranscript(messages: messages, end: "incomplete")
                case .failed(let error): return RequestStreamTranscript(messages: messages, end: describe(error))
                case .complete(let parsed): head = parsed
                }
                let headEnd = offset + head.headLength
                let afterHead = UnsafeRawBufferPointer(rebasing: all[headEnd...])
                let body: [UInt8]
                let length: Int
                switch head.framing {
                case .none:
                    (body, length) = ([], 0)
                case .contentLength(let n):
                    guard afterHead.count >= n else { return RequestStreamTranscript(messages: messages, end: "incomplete") }
                    (body, length) = (Array(afterHead[..<n]), n)
                case .untilEndOfStream:   // never from the HTTP/1 parser
                    return RequestStreamTranscript(messages: messages, end: "HTTP/2 framing")
                case .chunked:
                    let decoded = FuzzTarget.decodeChunked(afterHead, arriving: [afterHead.count])
                    switch decoded.end {
                    case .incomplete: return RequestStreamTranscript(messages: messages, end: "incomplete")
                    case .failed(let error): return RequestStreamTranscript(messages: messages, end: describe(error))
                    case .done(let after): (body, length) = (decoded.body, after)
                    }
                }
                messages.append(Message(
                    method: hex(head.methodBytes.bytes(in: rest)), target: hex(head.target.bytes(in: rest)),
                    version: head.version == .http1_1 ? "1.1" : "1.0",
                    fields: (0..<head.fieldCount).map { [hex(fields[$0].name.bytes(in: rest)), hex(fields[$0].value.bytes(in: rest))] },
                    keepAlive: head.keepAlive, headEnd: headEnd, body: hex(body), end: headEnd + length))
                offset = headEnd + length
                if !head.keepAlive { return RequestStreamTranscript(messages: messages, end: offset == all.count ? "clean" : "closed") }
            }
        }
    }

    static func describe(_ error: HTTPError) -> String { "error \(error.status) \(error.reason)" }

    public static func hex<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes { out += [digits[Int(b >> 4)], digits[Int(b & 15)]] }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The first way two parsers' readings of one stream differ, and whether that difference could
/// split the stream differently between a proxy and corral (request smuggling).
public enum TranscriptDisagreement: Equatable, Sendable {
    /// Both accepted message `message` but disagree on where its head or body ends, or on its body;
    /// or one has a complete message where the other still waits for bytes. The smuggling kind.
    case framing(message: Int, detail: String)
    /// One parser refuses message `message`, which the other accepts.
    case acceptance(message: Int, refusedBy: Parser, reason: String)
    /// Both accepted the message with the same framing but read its method, target, version or
    /// fields differently.
    case fields(message: Int, what: String)
    /// They disagree on whether the connection carries on after message `message`.
    case persistence(message: Int, detail: String)
    /// Both accepted the same messages; the bytes after them are refused by one and still awaited
    /// by the other.
    case ending(corral: String, llhttp: String)

    public enum Parser: String, Sendable { case corral, llhttp }

    public var isSmuggling: Bool {
        if case .framing = self { return true }
        return false
    }

    /// What explains this kind of disagreement, independent of the stream it came from.
    public var key: String {
        switch self {
        case .framing(_, let detail): return "framing: \(detail)"
        case .acceptance(_, let parser, let reason): return "\(parser.rawValue) refuses: \(reason)"
        case .fields(_, let what): return "fields: \(what)"
        case .persistence(_, let detail): return "persistence: \(detail)"
        case .ending(let corral, let llhttp): return "ending: corral \(Self.word(corral)), llhttp \(Self.word(llhttp))"
        }
    }

    private static func word(_ end: String) -> String { end.hasPrefix("error") ? "refuses" : end }

    /// The first disagreement between corral's and llhttp's transcripts of one stream, or nil.
    public static func first(corral: RequestStreamTranscript, llhttp: RequestStreamTranscript) -> Self? {
        let common = min(corral.messages.count, llhttp.messages.count)
        for i in 0..<common {
            let c = corral.messages[i], l = llhttp.messages[i]
            if c.headEnd != l.headEnd { return .framing(message: i, detail: "head ends at different offsets") }
            if c.end != l.end { return .framing(message: i, detail: "message ends at different offsets") }
            if c.body != l.body { return .framing(message: i, detail: "different body bytes") }
            if c.method != l.method { return .fields(message: i, what: "method") }
            if c.target != l.target { return .fields(message: i, what: "target") }
            if c.version != l.version { return .fields(message: i, what: "version") }
            if c.fields.count != l.fields.count { return .fields(message: i, what: "number of fields") }
            for (a, b) in zip(c.fields, l.fields) {
                if !sameName(a[0], b[0]) { return .fields(message: i, what: "field name") }
                if a[1] != b[1] { return .fields(message: i, what: "field value") }
            }
            if c.keepAlive != l.keepAlive { return .persistence(message: i, detail: "keep-alive") }
            if !c.keepAlive { return nil }  // both close here: what follows is never read
        }
        if corral.messages.count != llhttp.messages.count {
            let corralShorter = corral.messages.count < llhttp.messages.count
            let shorter = corralShorter ? corral : llhttp
            if shorter.refused {
                return .acceptance(message: common, refusedBy: corralShorter ? .corral : .llhttp,
                                   reason: reason(shorter.end))
            }
            if shorter.end == "upgrade" {
                return .persistence(message: common - 1, detail: "llhttp hands the connection over")
            }
            return .framing(message: common, detail: "\(corralShorter ? "corral" : "llhttp") waits for more bytes")
        }
        if corral.end == llhttp.end || (corral.refused && llhttp.refused) { return nil }
        if llhttp.end == "upgrade" { return .persistence(message: common - 1, detail: "llhttp hands the connection over") }
        return .ending(corral: corral.end, llhttp: llhttp.end)
    }

    /// Field names compare ASCII case-insensitively; they are hex, so the letters are the bytes 41–5a.
    private static func sameName(_ a: String, _ b: String) -> Bool {
        func lowered(_ hex: String) -> [UInt8] {
            let digits = Array(hex.utf8)
            return stride(from: 0, to: digits.count - 1, by: 2).map {
                let byte = UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16) ?? 0
                return (0x41...0x5a).contains(byte) ? byte | 0x20 : byte
            }
        }
        return a == b || lowered(a) == lowered(b)
    }

    /// A refusal's reason without corral's status code or the stream it came from.
    private static func reason(_ end: String) -> String {
        String(end.dropFirst("error ".count))
    }
}

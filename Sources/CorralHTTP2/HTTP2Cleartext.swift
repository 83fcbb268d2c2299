/// gunicorn's `http2_cleartext`: whether a plain (non-TLS) listener lets a trusted peer speak
/// HTTP/2, h2c: with prior knowledge (the connection opens with HTTP/2's preface, RFC 9113 §3.3),
/// by `Upgrade: h2c` (RFC 7540 §3.2), or both. Only peers in `forwarded_allow_ips` (and unix
/// socket peers) are heard: h2c is what a TLS-terminating proxy in front speaks.
public enum HTTP2Cleartext: String, Equatable, Sendable {
    case off
    case priorKnowledge = "prior-knowledge"
    case upgrade
    case both

    /// gunicorn's values, and its booleans (true is prior-knowledge).
    public init(setting: String) throws(HTTP2SettingError) {
        switch setting.lowercased() {
        case "true": self = .priorKnowledge
        case "false", "none": self = .off
        default:
            guard let mode = HTTP2Cleartext(rawValue: setting.lowercased()) else {
                throw HTTP2SettingError("http2_cleartext: \"\(setting)\" is not off, prior-knowledge, upgrade or both")
            }
            self = mode
        }
    }

    public var allowsPriorKnowledge: Bool { self == .priorKnowledge || self == .both }
    public var allowsUpgrade: Bool { self == .upgrade || self == .both }

    public enum PrefaceMatch: Equatable, Sendable {
        case match
        /// What came so far begins the preface: more may complete it.
        case partial
        case mismatch
    }

    static let preface: StaticString = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

    /// How the first bytes of a connection compare with HTTP/2's preface.
    public static func matchPreface(_ bytes: UnsafeRawBufferPointer) -> PrefaceMatch {
        let preface = UnsafeRawBufferPointer(start: Self.preface.utf8Start, count: Self.preface.utf8CodeUnitCount)
        let compared = min(bytes.count, preface.count)
        guard bytes.prefix(compared).elementsEqual(preface.prefix(compared)) else { return .mismatch }
        return compared == preface.count ? .match : .partial
    }

    /// The SETTINGS payload an `HTTP2-Settings` field carries (base64url, padding optional), or
    /// nil when it is not base64url or not whole settings (6 bytes each).
    public static func settingsPayload<Bytes: Collection<UInt8>>(base64URL text: Bytes) -> [UInt8]? {
        var payload: [UInt8] = []
        var bits: UInt32 = 0
        var bitCount = 0
        var padded = false
        for character in text {
            if character == UInt8(ascii: "=") { padded = true; continue }
            guard !padded, let value = sextet(character) else { return nil }
            bits = bits << 6 | UInt32(value)
            bitCount += 6
            if bitCount >= 8 {
                bitCount -= 8
                payload.append(UInt8(truncatingIfNeeded: bits >> UInt32(bitCount)))
            }
        }
        // Leftover bits must be zero padding of fewer than one byte.
        guard bitCount < 6, bits & (1 << UInt32(bitCount) - 1) == 0, payload.count % 6 == 0 else { return nil }
        return payload
    }

    private static func sextet(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"): return 62
        case UInt8(ascii: "_"): return 63
        default: return nil
        }
    }
}

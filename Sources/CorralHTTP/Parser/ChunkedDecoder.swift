/// A resumable decoder for the chunked transfer coding (RFC 9112 §7.1).
///
/// Feed it the input in any split (even one byte at a time): each call to `next` consumes framing
/// bytes and returns at most one run of body bytes, as a range of the input it was given (no copy).
/// The caller drops `consumed` bytes from the front of its input and calls again.
///
/// The framing is parsed strictly: CRLF is required everywhere (a bare LF in chunk framing is a
/// request smuggling vector), chunk sizes are 1-16 hex digits, chunk extensions must follow the
/// grammar (and are skipped), and trailer fields are validated like header fields and skipped.
public struct ChunkedDecoder: Sendable {
    public enum Step: Equatable, Sendable {
        /// Body bytes at this range of the input; `consumed` = bytes of input used through their end.
        case data(ByteRange, consumed: Int)
        /// Consumed some framing bytes (maybe 0) but no data yet; call again with more input.
        case needMore(consumed: Int)
        /// The last chunk and the trailer section were consumed: the message ends after `consumed`.
        case done(consumed: Int)
        case failed(HTTPError)
    }

    /// Longest chunk-size line (size and extensions) accepted, without its CRLF. Over → 400.
    public static let maximumSizeLineLength = 4096
    /// Largest trailer section accepted, including its CRLFs. Over → 431.
    public static let maximumTrailerSize = 16 * 1024
    /// Most hex digits in a chunk size.
    public static let maximumSizeDigits = 16

    private enum State: UInt8, Sendable {
        case sizeStart          // expecting the first hex digit
        case sizeDigits         // in the hex digits
        case extBeforeSemicolon // BWS after the size or an extension, before ";"
        case extBeforeName      // after ";", BWS before the extension name
        case extName
        case extAfterName       // BWS after the name, before "=" or ";"
        case extBeforeValue     // after "=", BWS before the value
        case extToken
        case extQuoted
        case extQuotedEscape
        case extAfterQuoted
        case sizeLF             // CR seen at the end of the size line
        case data
        case dataCR
        case dataLF
        case trailerLineStart
        case trailerName
        case trailerValue
        case trailerLF
        case finalLF
        case done
        case failed
    }

    private var state: State = .sizeStart
    private var size = 0
    private var digits = 0
    private var sizeLineLength = 0
    private var remaining = 0
    private var trailerBytes = 0
    /// The trailer field name being read, lowercased (names longer than 32 bytes are never prohibited).
    private var trailerName = SIMD32<UInt8>()
    private var trailerNameLength = 0
    private var error: HTTPError?
    public let bodyLimit: Int
    /// Body bytes announced by the chunk sizes so far.
    public private(set) var bodyLength = 0

    /// `bodyLimit`: largest body in bytes (0 = unlimited); a chunk size taking the total over → 413.
    public init(bodyLimit: Int) {
        self.bodyLimit = bodyLimit
    }

    /// Whether the whole chunked body, trailers included, has been consumed.
    public var isDone: Bool { state == .done }

    public mutating func next(_ input: UnsafeRawBufferPointer) -> Step {
        let n = input.count
        var i = 0
        while i < n {
            if state == .data {
                let count = Swift.min(remaining, n - i)
                remaining -= count
                if remaining == 0 { state = .dataCR }
                return .data(ByteRange(start: i, count: count), consumed: i + count)
            }
            let c = input[i]
            i += 1
            switch state {
            case .sizeStart:
                guard let v = PercentDecoding.hexValue(c) else { return fail(400, "invalid chunk size") }
                size = Int(v)
                digits = 1
                sizeLineLength = 1
                state = .sizeDigits
                continue
            case .sizeDigits:
                if let v = PercentDecoding.hexValue(c) {
                    digits += 1
                    if digits > Self.maximumSizeDigits || size > (Int.max >> 4) {
                        return fail(400, "chunk size too large")
                    }
                    size = size << 4 | Int(v)
                    sizeLineLength += 1
                    continue
                }
                switch c {
                case HTTPGrammar.cr: state = .sizeLF
                case UInt8(ascii: ";"): state = .extBeforeName
                case HTTPGrammar.sp, HTTPGrammar.htab: state = .extBeforeSemicolon
                default: return fail(400, "invalid chunk size")
                }
            case .extBeforeSemicolon:
                switch c {
                case HTTPGrammar.sp, HTTPGrammar.htab: break
                case UInt8(ascii: ";"): state = .extBeforeName
                default: return fail(400, "invalid chunk extension")
                }
            case .extBeforeName:
                if HTTPGrammar.isTokenChar(c) {
                    state = .extName
                } else if !HTTPGrammar.isWhitespace(c) {
                    return fail(400, "invalid chunk extension")
                }
            case .extName:
                if HTTPGrammar.isTokenChar(c) { break }
                switch c {
                case HTTPGrammar.cr: state = .sizeLF
                case UInt8(ascii: ";"): state = .extBeforeName
                case UInt8(ascii: "="): state = .extBeforeValue
                case HTTPGrammar.sp, HTTPGrammar.htab: state = .extAfterName
                default: return fail(400, "invalid chunk extension")
                }
            case .extAfterName:
                switch c {
                case HTTPGrammar.sp, HTTPGrammar.htab: break
                case UInt8(ascii: ";"): state = .extBeforeName
                case UInt8(ascii: "="): state = .extBeforeValue
                default: return fail(400, "invalid chunk extension")
                }
            case .extBeforeValue:
                if HTTPGrammar.isTokenChar(c) {
                    state = .extToken
                } else if c == UInt8(ascii: "\"") {
                    state = .extQuoted
                } else if !HTTPGrammar.isWhitespace(c) {
                    return fail(400, "invalid chunk extension")
                }
            case .extToken:
                if HTTPGrammar.isTokenChar(c) { break }
                switch c {
                case HTTPGrammar.cr: state = .sizeLF
                case UInt8(ascii: ";"): state = .extBeforeName
                case HTTPGrammar.sp, HTTPGrammar.htab: state = .extBeforeSemicolon
                default: return fail(400, "invalid chunk extension")
                }
            case .extQuoted:
                // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
                if c == UInt8(ascii: "\"") {
                    state = .extAfterQuoted
                } else if c == UInt8(ascii: "\\") {
                    state = .extQuotedEscape
                } else if !HTTPGrammar.isFieldValueByte(c) {
                    return fail(400, "invalid chunk extension")
                }
            case .extQuotedEscape:
                // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
                guard HTTPGrammar.isFieldValueByte(c) else { return fail(400, "invalid chunk extension") }
                state = .extQuoted
            case .extAfterQuoted:
                switch c {
                case HTTPGrammar.cr: state = .sizeLF
                case UInt8(ascii: ";"): state = .extBeforeName
                case HTTPGrammar.sp, HTTPGrammar.htab: state = .extBeforeSemicolon
                default: return fail(400, "invalid chunk extension")
                }
            case .sizeLF:
                guard c == HTTPGrammar.lf else { return fail(400, "chunk size line not ended by CRLF") }
                if size == 0 {
                    state = .trailerLineStart
                    trailerBytes = 0
                    continue
                }
                let (total, overflow) = bodyLength.addingReportingOverflow(size)
                if overflow || (bodyLimit > 0 && total > bodyLimit) {
                    return fail(413, "request body too large")
                }
                bodyLength = total
                remaining = size
                state = .data
                continue
            case .data:
                continue  // handled above
            case .dataCR:
                guard c == HTTPGrammar.cr else { return fail(400, "chunk data not followed by CRLF") }
                state = .dataLF
                continue
            case .dataLF:
                guard c == HTTPGrammar.lf else { return fail(400, "chunk data not followed by CRLF") }
                state = .sizeStart
                continue
            case .trailerLineStart:
                if c == HTTPGrammar.cr {
                    state = .finalLF
                } else if HTTPGrammar.isTokenChar(c) {
                    state = .trailerName
                    trailerName = SIMD32()
                    trailerName[0] = HTTPGrammar.lowercased(c)
                    trailerNameLength = 1
                } else if HTTPGrammar.isWhitespace(c) {
                    return fail(400, "obsolete line folding in trailer")
                } else {
                    return fail(400, "invalid trailer field")
                }
            case .trailerName:
                if HTTPGrammar.isTokenChar(c) {
                    if trailerNameLength < 32 { trailerName[trailerNameLength] = HTTPGrammar.lowercased(c) }
                    trailerNameLength += 1
                } else if c == HTTPGrammar.colon {
                    if trailerNameLength <= 32 && Self.prohibitedTrailers.contains(trailerName) {
                        return fail(400, "field not allowed in a trailer")
                    }
                    state = .trailerValue
                } else if HTTPGrammar.isWhitespace(c) {
                    return fail(400, "whitespace before colon in trailer")
                } else {
                    return fail(400, "invalid trailer field name")
                }
            case .trailerValue:
                if c == HTTPGrammar.cr {
                    state = .trailerLF
                } else if !HTTPGrammar.isFieldValueByte(c) {
                    return fail(400, "invalid character in trailer field value")
                }
            case .trailerLF:
                guard c == HTTPGrammar.lf else { return fail(400, "trailer field not ended by CRLF") }
                state = .trailerLineStart
            case .finalLF:
                guard c == HTTPGrammar.lf else { return fail(400, "chunked body not ended by CRLF") }
                state = .done
                return .done(consumed: i)
            case .done:
                return .done(consumed: 0)
            case .failed:
                return .failed(error ?? HTTPError(400, "invalid chunked body"))
            }
            // Only size-line and trailer states fall through to here: bound their length.
            if state.rawValue <= State.sizeLF.rawValue {
                sizeLineLength += 1
                if sizeLineLength > Self.maximumSizeLineLength + 1 {  // + 1: the CR of the CRLF
                    return fail(400, "chunk size line too long")
                }
            } else {
                trailerBytes += 1
                if trailerBytes > Self.maximumTrailerSize { return fail(431, "trailer section too large") }
            }
        }
        switch state {
        case .done: return .done(consumed: 0)
        case .failed: return .failed(error ?? HTTPError(400, "invalid chunked body"))
        default: return .needMore(consumed: n)
        }
    }

    /// Fields a sender must not put in a trailer (RFC 9110 §6.5.1: framing, routing, request
    /// modifiers, authentication, response control and content metadata). A recipient that merged
    /// them into the head would let a body override what a proxy checked, so they are refused.
    static let prohibitedTrailers: [SIMD32<UInt8>] = [
        "content-length", "transfer-encoding", "host", "trailer", "te", "connection", "keep-alive", "upgrade",
        "cache-control", "expect", "max-forwards", "pragma", "range", "if-match", "if-none-match",
        "if-modified-since", "if-unmodified-since", "if-range", "authorization", "proxy-authorization",
        "cookie", "set-cookie", "www-authenticate", "proxy-authenticate", "age", "expires", "date",
        "location", "retry-after", "vary", "warning", "content-encoding", "content-type", "content-range",
    ].map { name in
        var lanes = SIMD32<UInt8>()
        for (index, byte) in name.utf8.enumerated() { lanes[index] = byte }
        return lanes
    }

    private mutating func fail(_ status: UInt16, _ reason: StaticString) -> Step {
        let e = HTTPError(status, reason)
        error = e
        state = .failed
        return .failed(e)
    }
}

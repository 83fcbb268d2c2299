/// A zero-copy, allocation-free HTTP/1.1 request head parser in the spirit of picohttpparser.
///
/// Parsing happens in two passes over the bytes of the head:
/// 1. a resumable scan for the blank line that ends the head, which only looks at bytes it has not
///    seen before (a client trickling its head one byte at a time costs O(n) in total) and enforces
///    the size limits while the head is still incomplete (414 / 431 without waiting for the rest);
/// 2. once the head is complete, a single full parse that validates the grammar and fills the
///    caller's field table with offsets into the buffer.
///
/// Line endings: CRLF, and bare LF as picohttpparser accepts it. A bare CR anywhere is rejected.

public enum HeadParseResult: Equatable, Sendable {
    case complete(RequestHead)
    case incomplete
    case failed(HTTPError)
}

public struct RequestParser: Sendable {
    public var limits: HTTPLimits

    /// Empty lines tolerated before the request line (RFC 9112 §2.2); more is a 400.
    public static let maximumLeadingEmptyLines = 8

    // MARK: Scan state (resumable)

    /// Bytes of the buffer already examined for the end of the head.
    private var scanned = 0
    /// Where the line being scanned starts.
    private var lineStart = 0
    /// Where the request line starts (after any leading empty lines).
    private var requestStart = 0
    /// Whether the request line has been terminated (we are scanning field lines).
    private var inFields = false
    private var leadingEmptyLines = 0
    /// Field lines (complete, non-empty) seen after the request line.
    private var fieldLines = 0
    /// A failure already reported for this request, returned again if the caller insists.
    private var failure: HTTPError?
    /// End of a head already found (0 = not yet): asking again re-parses instead of scanning on.
    private var headEnd = 0

    public init(limits: HTTPLimits) {
        self.limits = limits
    }

    /// Forgets the current request; call before parsing the next one (or a compacted buffer).
    public mutating func reset() {
        scanned = 0
        lineStart = 0
        requestStart = 0
        inFields = false
        leadingEmptyLines = 0
        fieldLines = 0
        failure = nil
        headEnd = 0
    }

    /// Parses the request head at the start of `buffer` (bytes received so far). Writes header fields
    /// into `fields` (capacity >= limits.fieldCount; a request with more fields than the table holds
    /// fails with 431). Resumable: only bytes not seen by the previous call are scanned for the end of
    /// the head, so `buffer` must start with the same bytes as before until `reset()` is called.
    public mutating func parseHead(_ buffer: UnsafeRawBufferPointer,
                                   fields: UnsafeMutableBufferPointer<HeaderField>) -> HeadParseResult {
        if let failure { return .failed(failure) }
        if buffer.count < scanned { reset() }  // not the same buffer: start over rather than misread
        if headEnd > 0 { return parseComplete(buffer, headEnd: headEnd, fields: fields) }
        switch scan(buffer) {
        case .incomplete:
            return .incomplete
        case .failed(let error):
            failure = error
            return .failed(error)
        case .complete(let end):
            headEnd = end
            let result = parseComplete(buffer, headEnd: end, fields: fields)
            if case .failed(let error) = result { failure = error }
            return result
        }
    }

    // MARK: Pass 1: find the end of the head

    private enum ScanResult {
        case incomplete
        case complete(headEnd: Int)
        case failed(HTTPError)
    }

    private mutating func scan(_ buffer: UnsafeRawBufferPointer) -> ScanResult {
        let n = buffer.count
        let requestLineLimit = limits.requestLine
        let fieldLimit = limits.longestFieldLine
        let resumedAt = scanned
        var i = scanned
        while true {
            i = Self.findLF(buffer, from: i)
            if i >= n { break }
            var lineEnd = i
            if lineEnd > lineStart && buffer[lineEnd - 1] == HTTPGrammar.cr { lineEnd -= 1 }
            let length = lineEnd - lineStart
            if !inFields {
                if length == 0 {
                    leadingEmptyLines += 1
                    if leadingEmptyLines > Self.maximumLeadingEmptyLines {
                        return .failed(HTTPError(400, "too many empty lines before the request line"))
                    }
                    requestStart = i + 1
                } else {
                    if length > requestLineLimit { return .failed(HTTPError(414, "request line too long")) }
                    inFields = true
                }
            } else {
                if length == 0 {
                    scanned = i + 1
                    return .complete(headEnd: i + 1)
                }
                fieldLines += 1
                if fieldLines > limits.fieldCount { return .failed(HTTPError(431, "too many header fields")) }
                if length > fieldLimit { return .failed(HTTPError(431, "header field too long")) }
            }
            i += 1
            lineStart = i
        }
        scanned = n

        // Still incomplete. A bare CR makes the head invalid however it goes on: refuse it now
        // rather than wait for the end of the head, as a lenient proxy takes it for a line end and
        // goes on to the next request. (A complete head is checked by the full parse instead, so
        // only heads that arrive in pieces pay for this look at the new bytes.)
        var k = Swift.max(resumedAt - 1, 0)
        while k < n - 1 {
            if buffer[k] == HTTPGrammar.cr && buffer[k + 1] != HTTPGrammar.lf {
                return .failed(HTTPError(400, "bare CR in the request head"))
            }
            k += 1
        }
        // Enforce the limits on what has arrived so far.
        let partial = n - lineStart
        if partial > 0 {
            let limit = inFields ? fieldLimit : requestLineLimit
            // The line's bytes may end with the CR of its CRLF, which does not count.
            if partial > limit + 1 || (partial == limit + 1 && buffer[n - 1] != HTTPGrammar.cr) {
                return inFields ? .failed(HTTPError(431, "header field too long"))
                                : .failed(HTTPError(414, "request line too long"))
            }
            // No room for another field: anything but the blank line is one too many.
            if inFields && fieldLines >= limits.fieldCount && buffer[lineStart] != HTTPGrammar.cr {
                return .failed(HTTPError(431, "too many header fields"))
            }
        }
        if n > limits.maximumHeadSize { return .failed(HTTPError(431, "request head too large")) }
        return .incomplete
    }

    /// The offset of the first LF at or after `start`, or `buffer.count`. Eight bytes at a time.
    @inline(__always)
    static func findLF(_ buffer: UnsafeRawBufferPointer, from start: Int) -> Int {
        let n = buffer.count
        var i = start
        while i &+ 8 <= n {
            let word = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            let x = word ^ 0x0A0A_0A0A_0A0A_0A0A
            // Exact for the lowest zero byte, which is the one we want (false positives only above it).
            let zeros = (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
            if zeros != 0 { return i &+ (zeros.trailingZeroBitCount >> 3) }
            i &+= 8
        }
        while i < n {
            if buffer[i] == HTTPGrammar.lf { return i }
            i &+= 1
        }
        return n
    }

    // MARK: Pass 2: parse the complete head

    private func parseComplete(_ buffer: UnsafeRawBufferPointer, headEnd: Int,
                               fields: UnsafeMutableBufferPointer<HeaderField>) -> HeadParseResult {
        // Request line.
        let requestLF = Self.findLF(buffer, from: requestStart)
        var requestEnd = requestLF
        if buffer[requestEnd - 1] == HTTPGrammar.cr { requestEnd -= 1 }
        let line: RequestLine
        switch Self.parseRequestLine(buffer, start: requestStart, end: requestEnd) {
        case .success(let parsed): line = parsed
        case .failure(let error): return .failed(error)
        }

        // Field lines.
        var framing = FramingState()
        var hostCount = 0
        var contentTypeCount = 0
        var connectionClose = false
        var connectionKeepAlive = false
        var expectsContinue = false
        var count = 0
        let capacity = Swift.min(fields.count, limits.fieldCount)
        var start = requestLF + 1
        while true {
            let lf = Self.findLF(buffer, from: start)
            var end = lf
            if end > start && buffer[end - 1] == HTTPGrammar.cr { end -= 1 }
            if end == start { break }  // the blank line (the scan guarantees it is at headEnd)

            let c0 = buffer[start]
            if c0 == HTTPGrammar.sp || c0 == HTTPGrammar.htab {
                return .failed(HTTPError(400, "obsolete line folding"))
            }
            // Name.
            var i = start
            while i < end && HTTPGrammar.isTokenChar(buffer[i]) { i += 1 }
            if i == end { return .failed(HTTPError(400, "header field without colon")) }
            let c = buffer[i]
            if c != HTTPGrammar.colon {
                if c == HTTPGrammar.sp || c == HTTPGrammar.htab {
                    return .failed(HTTPError(400, "whitespace before colon"))
                }
                return .failed(HTTPError(400, "invalid header field name"))
            }
            if i == start { return .failed(HTTPError(400, "empty header field name")) }
            let name = ByteRange(start: start, count: i - start)
            // Value: validate, then trim surrounding whitespace.
            i += 1
            var valueStart = i
            while valueStart < end && HTTPGrammar.isWhitespace(buffer[valueStart]) { valueStart += 1 }
            if !HTTPGrammar.isFieldValue(buffer, from: valueStart, to: end) {
                return .failed(HTTPError(400, "invalid character in header field value"))
            }
            var valueEnd = end
            while valueEnd > valueStart && HTTPGrammar.isWhitespace(buffer[valueEnd - 1]) { valueEnd -= 1 }
            let value = ByteRange(start: valueStart, count: valueEnd - valueStart)

            if count >= capacity { return .failed(HTTPError(431, "too many header fields")) }
            fields[count] = HeaderField(name: name, value: value)
            count += 1

            // The fields the parser itself interprets.
            let nameBytes = name.bytes(in: buffer)
            let valueBytes = value.bytes(in: buffer)
            switch nameBytes.count {
            case 4 where nameBytes.equalsLowercased("host"):
                hostCount += 1
            case 6 where nameBytes.equalsLowercased("expect"):
                if valueBytes.equalsLowercased("100-continue") { expectsContinue = true }
            case 10 where nameBytes.equalsLowercased("connection"):
                HTTPGrammar.forEachListElement(valueBytes) { token in
                    if token.equalsLowercased("close") {
                        connectionClose = true
                    } else if token.equalsLowercased("keep-alive") {
                        connectionKeepAlive = true
                    }
                    return true
                }
            case 12 where nameBytes.equalsLowercased("content-type"):
                contentTypeCount += 1
                if contentTypeCount > 1 { return .failed(HTTPError(400, "more than one Content-Type")) }
            case 14 where nameBytes.equalsLowercased("content-length"):
                if let error = framing.addContentLength(valueBytes) { return .failed(error) }
            case 17 where nameBytes.equalsLowercased("transfer-encoding"):
                if let error = framing.addTransferEncoding(valueBytes) { return .failed(error) }
            default:
                break
            }
            start = lf + 1
        }

        // Host (RFC 9112 §3.2).
        if hostCount > 1 { return .failed(HTTPError(400, "more than one Host header field")) }
        if hostCount == 0 && line.version == .http1_1 { return .failed(HTTPError(400, "missing Host header field")) }

        // Framing (RFC 9112 §6).
        let bodyFraming: BodyFraming
        switch framing.resolve(version: line.version, bodyLimit: limits.bodySize) {
        case .success(let resolved): bodyFraming = resolved
        case .failure(let error): return .failed(error)
        }

        let keepAlive = line.version == .http1_1 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        let head = RequestHead(method: line.method, methodBytes: line.methodBytes, target: line.target,
                               path: line.path, query: line.query, version: line.version,
                               fieldCount: count, framing: bodyFraming, keepAlive: keepAlive,
                               expectsContinue: expectsContinue && line.version == .http1_1,
                               headLength: headEnd)
        return .complete(head)
    }

    // MARK: Request line

    private struct RequestLine {
        var method: HTTPMethod
        var methodBytes: ByteRange
        var target: ByteRange
        var path: ByteRange
        var query: ByteRange?
        var version: HTTPVersion
    }

    private static func parseRequestLine(_ b: UnsafeRawBufferPointer, start: Int,
                                         end: Int) -> Result<RequestLine, HTTPError> {
        // method SP
        var i = start
        while i < end && HTTPGrammar.isTokenChar(b[i]) { i += 1 }
        if i == start || i == end || b[i] != HTTPGrammar.sp {
            return .failure(HTTPError(400, "invalid method"))
        }
        let methodBytes = ByteRange(start: start, count: i - start)
        let method = Self.method(methodBytes.bytes(in: b))
        i += 1

        // request-target SP
        let targetStart = i
        i = HTTPGrammar.firstSpaceOrControl(b, from: i, to: end)
        if i == targetStart || i == end || b[i] != HTTPGrammar.sp {
            return .failure(HTTPError(400, "invalid request target"))
        }
        let target = ByteRange(start: targetStart, count: i - targetStart)
        i += 1

        // HTTP-version, then the end of the line.
        let version: HTTPVersion
        switch Self.version(b, start: i, end: end) {
        case .success(let v): version = v
        case .failure(let error): return .failure(error)
        }

        // Target forms (RFC 9112 §3.2).
        let t = target.bytes(in: b)
        var path = target
        var query: ByteRange?
        if method == .connect {
            guard Self.isAuthorityForm(t) else {
                return .failure(HTTPError(400, "CONNECT needs an authority-form target"))
            }
        } else if t[0] == UInt8(ascii: "/") {
            (path, query) = Self.splitQuery(b, from: targetStart, to: target.end)
        } else if t.count == 1 && t[0] == UInt8(ascii: "*") {
            guard method == .options else { return .failure(HTTPError(400, "asterisk-form is for OPTIONS only")) }
        } else {
            guard let authorityEnd = Self.absoluteFormAuthorityEnd(t) else {
                return .failure(HTTPError(400, "invalid request target"))
            }
            let pathStart = targetStart + authorityEnd
            (path, query) = Self.splitQuery(b, from: pathStart, to: target.end)
        }
        return .success(RequestLine(method: method, methodBytes: methodBytes, target: target,
                                    path: path, query: query, version: version))
    }

    /// `path` up to the first `?`, `query` after it (nil without `?`).
    private static func splitQuery(_ b: UnsafeRawBufferPointer, from start: Int,
                                   to end: Int) -> (ByteRange, ByteRange?) {
        var i = start
        while i < end {
            if b[i] == UInt8(ascii: "?") {
                return (ByteRange(start: start, count: i - start), ByteRange(start: i + 1, count: end - i - 1))
            }
            i += 1
        }
        return (ByteRange(start: start, count: end - start), nil)
    }

    /// For `scheme "://" authority [path] ["?" query]`: the offset where the authority ends (the
    /// path, `?` or the end), or nil if `t` is not an absolute-form target.
    private static func absoluteFormAuthorityEnd(_ t: UnsafeRawBufferPointer) -> Int? {
        // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
        guard HTTPGrammar.isAlpha(t[0]) else { return nil }
        var i = 1
        while i < t.count {
            let c = t[i]
            if HTTPGrammar.isAlpha(c) || HTTPGrammar.isDigit(c) || c == UInt8(ascii: "+")
                || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") {
                i += 1
            } else {
                break
            }
        }
        guard i + 3 <= t.count, t[i] == UInt8(ascii: ":"), t[i + 1] == UInt8(ascii: "/"),
              t[i + 2] == UInt8(ascii: "/") else { return nil }
        i += 3
        let authorityStart = i
        while i < t.count {
            let c = t[i]
            if c == UInt8(ascii: "/") || c == UInt8(ascii: "?") || c == UInt8(ascii: "#") { break }
            i += 1
        }
        // An http(s) URI with an empty host is invalid (RFC 9110 §4.2.1).
        if i == authorityStart { return nil }
        return i
    }

    /// `uri-host ":" port`, as CONNECT requires (RFC 9112 §3.2.3).
    private static func isAuthorityForm(_ t: UnsafeRawBufferPointer) -> Bool {
        var colon = -1
        for i in 0..<t.count {
            let c = t[i]
            switch c {
            case UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "#"), UInt8(ascii: "@"):
                return false
            case UInt8(ascii: ":"):
                colon = i
            default:
                break
            }
        }
        guard colon > 0, colon + 1 < t.count else { return false }
        for i in (colon + 1)..<t.count where !HTTPGrammar.isDigit(t[i]) { return false }
        return true
    }

    private static func version(_ b: UnsafeRawBufferPointer, start: Int, end: Int) -> Result<HTTPVersion, HTTPError> {
        guard end - start == 8,
              b[start] == UInt8(ascii: "H"), b[start + 1] == UInt8(ascii: "T"),
              b[start + 2] == UInt8(ascii: "T"), b[start + 3] == UInt8(ascii: "P"),
              b[start + 4] == UInt8(ascii: "/"), HTTPGrammar.isDigit(b[start + 5]),
              b[start + 6] == UInt8(ascii: "."), HTTPGrammar.isDigit(b[start + 7])
        else { return .failure(HTTPError(400, "invalid HTTP version")) }
        let major = b[start + 5], minor = b[start + 7]
        if major == UInt8(ascii: "1") {
            if minor == UInt8(ascii: "1") { return .success(.http1_1) }
            if minor == UInt8(ascii: "0") { return .success(.http1_0) }
        }
        return .failure(HTTPError(505, "HTTP version not supported"))
    }

    private static func method(_ m: UnsafeRawBufferPointer) -> HTTPMethod {
        @inline(__always) func equals(_ literal: StaticString) -> Bool {
            m.count == literal.utf8CodeUnitCount
                && memcmpBytes(m.baseAddress!, literal.utf8Start, m.count)
        }
        switch m.count {
        case 3:
            if equals("GET") { return .get }
            if equals("PUT") { return .put }
        case 4:
            if equals("POST") { return .post }
            if equals("HEAD") { return .head }
        case 5:
            if equals("PATCH") { return .patch }
            if equals("TRACE") { return .trace }
        case 6:
            if equals("DELETE") { return .delete }
        case 7:
            if equals("OPTIONS") { return .options }
            if equals("CONNECT") { return .connect }
        default:
            break
        }
        return .other
    }
}

@inline(__always)
private func memcmpBytes(_ a: UnsafeRawPointer, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    for i in 0..<count where a.load(fromByteOffset: i, as: UInt8.self) != b[i] { return false }
    return true
}

// MARK: - Field lookup

/// The value of the first field named `lowercaseName` (compared case-insensitively), or nil.
public func headerValue(named lowercaseName: StaticString, in buffer: UnsafeRawBufferPointer,
                        fields: UnsafeBufferPointer<HeaderField>) -> ByteRange? {
    for field in fields where field.name.bytes(in: buffer).equalsLowercased(lowercaseName) {
        return field.value
    }
    return nil
}

/// Whether a field named `lowercaseName` lists `token` among its comma-separated items
/// (case-insensitive), as Connection lists "upgrade".
public func hasToken(_ token: StaticString, in lowercaseName: StaticString, buffer: UnsafeRawBufferPointer,
                     fields: UnsafeBufferPointer<HeaderField>) -> Bool {
    for field in fields where field.name.bytes(in: buffer).equalsLowercased(lowercaseName) {
        let value = field.value.bytes(in: buffer)
        var start = 0
        while start <= value.count {
            var end = start
            while end < value.count && value[end] != UInt8(ascii: ",") { end += 1 }
            var low = start, high = end
            while low < high && (value[low] == 0x20 || value[low] == 0x09) { low += 1 }
            while high > low && (value[high - 1] == 0x20 || value[high - 1] == 0x09) { high -= 1 }
            if UnsafeRawBufferPointer(rebasing: value[low..<high]).equalsLowercased(token) { return true }
            start = end + 1
        }
    }
    return false
}

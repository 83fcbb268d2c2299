import CorralHTTP
import Testing

// MARK: - Test helper: run the parser over a String's bytes

/// What one parse produced, with the bytes it ran over so ranges can be read back as text.
struct ParsedRequest: Sendable {
    let bytes: [UInt8]
    let result: HeadParseResult
    let fields: [HeaderField]

    var head: RequestHead? {
        if case .complete(let head) = result { return head }
        return nil
    }

    var error: HTTPError? {
        if case .failed(let error) = result { return error }
        return nil
    }

    var status: UInt16? { error?.status }

    func text(_ range: ByteRange?) -> String? {
        guard let range else { return nil }
        return String(decoding: bytes[Int(range.start)..<range.end], as: UTF8.self)
    }

    /// Field values by lowercase name through the library's own `headerValue`.
    func header(_ name: StaticString) -> String? {
        let range = bytes.withUnsafeBytes { raw in
            fields.withUnsafeBufferPointer { headerValue(named: name, in: raw, fields: $0) }
        }
        return text(range)
    }

    var fieldPairs: [(String, String)] {
        fields.map { (text($0.name)!, text($0.value)!) }
    }
}

enum ParserHarness {
    static func parse(_ raw: String, limits: HTTPLimits = HTTPLimits(), capacity: Int? = nil) -> ParsedRequest {
        parse(bytes: Array(raw.utf8), limits: limits, capacity: capacity)
    }

    /// One call with all the bytes.
    static func parse(bytes: [UInt8], limits: HTTPLimits = HTTPLimits(), capacity: Int? = nil) -> ParsedRequest {
        var parser = RequestParser(limits: limits)
        var table = [HeaderField](repeating: HeaderField(name: .empty, value: .empty),
                                  count: capacity ?? limits.fieldCount)
        let result = bytes.withUnsafeBytes { raw in
            table.withUnsafeMutableBufferPointer { parser.parseHead(raw, fields: $0) }
        }
        return ParsedRequest(bytes: bytes, result: result, fields: fieldsOf(result, table))
    }

    /// The same bytes arriving `step` bytes at a time into one growing buffer, like a trickling
    /// client; stops at the first answer that is not `.incomplete`.
    static func parseIncrementally(_ raw: String, limits: HTTPLimits = HTTPLimits(), step: Int = 1) -> ParsedRequest {
        let bytes = Array(raw.utf8)
        var parser = RequestParser(limits: limits)
        var table = [HeaderField](repeating: HeaderField(name: .empty, value: .empty), count: limits.fieldCount)
        var received = 0
        var result = HeadParseResult.incomplete
        repeat {
            received = Swift.min(bytes.count, received + step)
            result = bytes.withUnsafeBytes { raw in
                table.withUnsafeMutableBufferPointer {
                    parser.parseHead(UnsafeRawBufferPointer(rebasing: raw[0..<received]), fields: $0)
                }
            }
        } while result == .incomplete && received < bytes.count
        return ParsedRequest(bytes: bytes, result: result, fields: fieldsOf(result, table))
    }

    private static func fieldsOf(_ result: HeadParseResult, _ table: [HeaderField]) -> [HeaderField] {
        if case .complete(let head) = result { return Array(table[0..<head.fieldCount]) }
        return []
    }
}

// MARK: - Valid requests

@Suite("RequestParser")
struct RequestParserTests {
    @Test func simpleGet() throws {
        let raw = "GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test\r\n\r\n"
        let p = ParserHarness.parse(raw)
        let head = try #require(p.head)
        #expect(head.method == .get)
        #expect(p.text(head.methodBytes) == "GET")
        #expect(p.text(head.target) == "/index.html")
        #expect(p.text(head.path) == "/index.html")
        #expect(head.query == nil)
        #expect(head.version == .http1_1)
        #expect(head.fieldCount == 2)
        #expect(head.framing == BodyFraming.none)
        #expect(head.keepAlive)
        #expect(!head.expectsContinue)
        #expect(head.headLength == raw.utf8.count)
        #expect(p.fieldPairs.map(\.0) == ["Host", "User-Agent"])
        #expect(p.fieldPairs.map(\.1) == ["example.com", "test"])
    }

    static let methods: [(String, HTTPMethod)] = [
        ("GET", .get), ("HEAD", .head), ("POST", .post), ("PUT", .put), ("DELETE", .delete),
        ("PATCH", .patch), ("OPTIONS", .options), ("TRACE", .trace),
        ("get", .other), ("Get", .other), ("PROPFIND", .other), ("M-SEARCH", .other), ("X", .other),
        ("GETS", .other), ("PUTT", .other), ("!#$%&'*+-.^_`|~09az", .other),
    ]

    @Test(arguments: methods)
    func method(_ name: String, _ expected: HTTPMethod) throws {
        let p = ParserHarness.parse("\(name) / HTTP/1.1\r\nHost: h\r\n\r\n")
        let head = try #require(p.head)
        #expect(head.method == expected)
        #expect(p.text(head.methodBytes) == name)
    }

    @Test func connectMethod() throws {
        let p = ParserHarness.parse("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        let head = try #require(p.head)
        #expect(head.method == .connect)
        #expect(p.text(head.target) == "example.com:443")
        #expect(p.text(head.path) == "example.com:443")
        #expect(head.query == nil)
    }

    struct TargetCase: Sendable, CustomTestStringConvertible {
        let method: String
        let target: String
        let path: String
        let query: String?
        var testDescription: String { "\(method) \(target)" }
    }

    static let targets: [TargetCase] = [
        .init(method: "GET", target: "/", path: "/", query: nil),
        .init(method: "GET", target: "/a/b/c.txt", path: "/a/b/c.txt", query: nil),
        .init(method: "GET", target: "/search?q=swift&lang=en", path: "/search", query: "q=swift&lang=en"),
        .init(method: "GET", target: "/p?", path: "/p", query: ""),
        .init(method: "GET", target: "/?", path: "/", query: ""),
        .init(method: "GET", target: "/p?a?b", path: "/p", query: "a?b"),
        .init(method: "GET", target: "/%20x%2F?y=%41", path: "/%20x%2F", query: "y=%41"),
        .init(method: "GET", target: "//double//slash", path: "//double//slash", query: nil),
        .init(method: "GET", target: "http://example.com/p?q", path: "/p", query: "q"),
        .init(method: "GET", target: "http://example.com:8080/a/b", path: "/a/b", query: nil),
        .init(method: "GET", target: "https://user@example.com/x?", path: "/x", query: ""),
        .init(method: "GET", target: "http://example.com", path: "", query: nil),
        .init(method: "GET", target: "http://example.com?x=1", path: "", query: "x=1"),
        .init(method: "GET", target: "HTTP://EXAMPLE.COM/P", path: "/P", query: nil),
        .init(method: "OPTIONS", target: "*", path: "*", query: nil),
        .init(method: "OPTIONS", target: "/", path: "/", query: nil),
        .init(method: "CONNECT", target: "[::1]:8443", path: "[::1]:8443", query: nil),
    ]

    @Test(arguments: targets)
    func target(_ c: TargetCase) throws {
        let p = ParserHarness.parse("\(c.method) \(c.target) HTTP/1.1\r\nHost: example.com\r\n\r\n")
        let head = try #require(p.head)
        #expect(p.text(head.target) == c.target)
        #expect(p.text(head.path) == c.path)
        #expect(p.text(head.query) == c.query)
    }

    @Test func nonASCIITargetBytesAreKept() throws {
        let p = ParserHarness.parse("GET /caf\u{e9} HTTP/1.1\r\nHost: h\r\n\r\n")
        let head = try #require(p.head)
        #expect(p.text(head.path) == "/caf\u{e9}")
    }

    static let keepAliveMatrix: [(String, String?, Bool)] = [
        ("HTTP/1.1", nil, true),
        ("HTTP/1.1", "keep-alive", true),
        ("HTTP/1.1", "close", false),
        ("HTTP/1.1", "Close", false),
        ("HTTP/1.1", "CLOSE", false),
        ("HTTP/1.1", "Upgrade, close", false),
        ("HTTP/1.1", "keep-alive,close", false),
        ("HTTP/1.1", " , close , ", false),
        ("HTTP/1.1", "closed", true),
        ("HTTP/1.1", "Upgrade", true),
        ("HTTP/1.1", "", true),
        ("HTTP/1.0", nil, false),
        ("HTTP/1.0", "keep-alive", true),
        ("HTTP/1.0", "Keep-Alive", true),
        ("HTTP/1.0", "foo, KEEP-ALIVE", true),
        ("HTTP/1.0", "keep-alive, close", false),
        ("HTTP/1.0", "close", false),
        ("HTTP/1.0", "keepalive", false),
        ("HTTP/1.0", "", false),
    ]

    @Test(arguments: keepAliveMatrix)
    func keepAlive(_ version: String, _ connection: String?, _ expected: Bool) throws {
        var raw = "GET / \(version)\r\nHost: h\r\n"
        if let connection { raw += "Connection: \(connection)\r\n" }
        raw += "\r\n"
        let head = try #require(ParserHarness.parse(raw).head)
        #expect(head.keepAlive == expected)
        #expect(head.version == (version == "HTTP/1.0" ? .http1_0 : .http1_1))
    }

    @Test func keepAliveAcrossSeveralConnectionFields() throws {
        let raw = "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nConnection: close\r\n\r\n"
        #expect(try #require(ParserHarness.parse(raw).head).keepAlive == false)
        let raw10 = "GET / HTTP/1.0\r\nConnection: foo\r\nconnection: keep-alive\r\n\r\n"
        #expect(try #require(ParserHarness.parse(raw10).head).keepAlive == true)
    }

    static let expectCases: [(String, String?, Bool)] = [
        ("HTTP/1.1", "100-continue", true),
        ("HTTP/1.1", "100-Continue", true),
        ("HTTP/1.1", "  100-CONTINUE  ", true),
        ("HTTP/1.1", "200-ok", false),
        ("HTTP/1.1", "100-continue-please", false),
        ("HTTP/1.1", nil, false),
        ("HTTP/1.0", "100-continue", false),
    ]

    @Test(arguments: expectCases)
    func expectContinue(_ version: String, _ expect: String?, _ expected: Bool) throws {
        var raw = "POST /upload \(version)\r\nHost: h\r\nContent-Length: 3\r\n"
        if let expect { raw += "Expect: \(expect)\r\n" }
        raw += "\r\n"
        let head = try #require(ParserHarness.parse(raw).head)
        #expect(head.expectsContinue == expected)
    }

    static let framingCases: [(String, BodyFraming)] = [
        ("", .none),
        ("Content-Length: 0\r\n", .contentLength(0)),
        ("Content-Length: 42\r\n", .contentLength(42)),
        ("Content-Length:42\r\n", .contentLength(42)),
        ("Content-Length: \t42 \t\r\n", .contentLength(42)),
        ("content-length: 7\r\n", .contentLength(7)),
        ("Content-Length: 007\r\n", .contentLength(7)),
        ("Content-Length: 104857600\r\n", .contentLength(104_857_600)),
        ("Transfer-Encoding: chunked\r\n", .chunked),
        ("Transfer-Encoding: Chunked\r\n", .chunked),
        ("transfer-encoding: CHUNKED\r\n", .chunked),
        ("Transfer-Encoding:  chunked  \r\n", .chunked),
    ]

    @Test(arguments: framingCases)
    func framing(_ fields: String, _ expected: BodyFraming) throws {
        let p = ParserHarness.parse("POST / HTTP/1.1\r\nHost: h\r\n\(fields)\r\n")
        let head = try #require(p.head, "\(String(describing: p.error))")
        #expect(head.framing == expected)
    }

    @Test func unlimitedBodyAcceptsAnyContentLength() throws {
        let p = ParserHarness.parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n",
                                    limits: HTTPLimits(bodySize: 0))
        #expect(try #require(p.head).framing == .contentLength(Int.max))
    }

    @Test func headLengthStopsBeforePipelinedBytes() throws {
        let first = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"
        let rest = "helloGET /b HTTP/1.1\r\nHost: h\r\n\r\n"
        let p = ParserHarness.parse(first + rest)
        let head = try #require(p.head)
        #expect(head.headLength == first.utf8.count)
        #expect(head.framing == .contentLength(5))
        #expect(p.text(head.path) == "/a")
    }

    @Test func pipelinedRequestsParsedOneAfterAnotherWithReset() throws {
        let raw = Array("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b?x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n".utf8)
        var parser = RequestParser(limits: HTTPLimits())
        var table = [HeaderField](repeating: HeaderField(name: .empty, value: .empty), count: 100)
        var offset = 0
        var paths: [String] = []
        var keepAlives: [Bool] = []
        while offset < raw.count {
            let result = raw.withUnsafeBytes { all in
                table.withUnsafeMutableBufferPointer {
                    parser.parseHead(UnsafeRawBufferPointer(rebasing: all[offset...]), fields: $0)
                }
            }
            guard case .complete(let head) = result else {
                Issue.record("unexpected \(result)")
                return
            }
            let path = head.path
            paths.append(String(decoding: raw[(offset + Int(path.start))..<(offset + path.end)], as: UTF8.self))
            keepAlives.append(head.keepAlive)
            offset += head.headLength
            parser.reset()
        }
        #expect(paths == ["/a", "/b"])
        #expect(keepAlives == [true, false])
    }

    @Test(arguments: ["\r\n", "\r\n\r\n", "\n", "\r\n\n\r\n"])
    func leadingEmptyLinesAreSkipped(_ prefix: String) throws {
        let request = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"
        let p = ParserHarness.parse(prefix + request)
        let head = try #require(p.head)
        #expect(p.text(head.path) == "/x")
        #expect(p.text(head.methodBytes) == "GET")
        #expect(head.headLength == (prefix + request).utf8.count)
    }

    @Test func tooManyLeadingEmptyLines() {
        let raw = String(repeating: "\r\n", count: RequestParser.maximumLeadingEmptyLines + 1)
            + "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
        #expect(ParserHarness.parse(raw).status == 400)
        let ok = String(repeating: "\r\n", count: RequestParser.maximumLeadingEmptyLines)
            + "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
        #expect(ParserHarness.parse(ok).head != nil)
    }

    @Test func bareLFLineEndings() throws {
        let raw = "GET /lf HTTP/1.1\nHost: h\nX-A: 1\r\nX-B: 2\n\n"
        let p = ParserHarness.parse(raw)
        let head = try #require(p.head)
        #expect(p.text(head.path) == "/lf")
        #expect(head.fieldCount == 3)
        #expect(p.header("x-a") == "1")
        #expect(p.header("x-b") == "2")
        #expect(head.headLength == raw.utf8.count)
    }

    @Test func headerValuesAreTrimmedAndObsTextIsKept() throws {
        let raw = "GET / HTTP/1.1\r\nHost:   h  \r\nX-Empty:\r\nX-Blank:   \t \r\nX-Inner: a  b\tc\r\nX-Utf8: caf\u{e9}\r\n\r\n"
        let p = ParserHarness.parse(raw)
        #expect(p.head != nil)
        #expect(p.header("host") == "h")
        #expect(p.header("x-empty") == "")
        #expect(p.header("x-blank") == "")
        #expect(p.header("x-inner") == "a  b\tc")
        #expect(p.header("x-utf8") == "caf\u{e9}")
    }

    @Test func headerValueLookupIsCaseInsensitiveAndFirstMatch() {
        let raw = "GET / HTTP/1.1\r\nHOST: h\r\nX-Dup: one\r\nx-dup: two\r\n\r\n"
        let p = ParserHarness.parse(raw)
        #expect(p.header("host") == "h")
        #expect(p.header("x-dup") == "one")
        #expect(p.header("x-missing") == nil)
        #expect(p.header("x-du") == nil)
    }

    /// Lines of every length up to a few words, so line ends fall at every offset of the 8-byte scan.
    @Test func lineEndsAtEveryAlignment() throws {
        for length in 0...24 {
            let value = String(repeating: "v", count: length)
            for ending in ["\r\n", "\n"] {
                let raw = "GET /\(value) HTTP/1.1\(ending)Host: h\(ending)X: \(value)\(ending)Y: \(value)\(value)\(ending)\(ending)"
                for p in [ParserHarness.parse(raw), ParserHarness.parseIncrementally(raw, step: 5)] {
                    let head = try #require(p.head, "length \(length)")
                    #expect(p.text(head.path) == "/" + value)
                    #expect(p.header("x") == value)
                    #expect(p.header("y") == value + value)
                    #expect(head.headLength == raw.utf8.count)
                }
            }
        }
    }

    @Test func http10WithoutHost() throws {
        let head = try #require(ParserHarness.parse("GET / HTTP/1.0\r\n\r\n").head)
        #expect(head.version == .http1_0)
        #expect(head.fieldCount == 0)
        #expect(!head.keepAlive)
    }

    @Test func limitsAtTheBoundaryAreAccepted() throws {
        let limits = HTTPLimits()
        // Request line of exactly `requestLine` bytes.
        let fixed = "GET / HTTP/1.1".utf8.count
        let line = "GET /" + String(repeating: "a", count: limits.requestLine - fixed) + " HTTP/1.1"
        #expect(line.utf8.count == limits.requestLine)
        #expect(ParserHarness.parse(line + "\r\nHost: h\r\n\r\n").head != nil)
        #expect(ParserHarness.parseIncrementally(line + "\r\nHost: h\r\n\r\n").head != nil)
        // A field line of `fieldSize` bytes with its CRLF, as gunicorn counts it.
        let field = "X-Big: " + String(repeating: "v", count: limits.fieldSize - 2 - 7)
        #expect(field.utf8.count + 2 == limits.fieldSize)
        #expect(ParserHarness.parse("GET / HTTP/1.1\r\nHost: h\r\n\(field)\r\n\r\n").head != nil)
        #expect(ParserHarness.parseIncrementally("GET / HTTP/1.1\r\nHost: h\r\n\(field)\r\n\r\n").head != nil)
        // Exactly `fieldCount` fields.
        var raw = "GET / HTTP/1.1\r\nHost: h\r\n"
        for i in 1..<limits.fieldCount { raw += "X-\(i): v\r\n" }
        raw += "\r\n"
        #expect(try #require(ParserHarness.parse(raw).head).fieldCount == limits.fieldCount)
        #expect(ParserHarness.parseIncrementally(raw).head?.fieldCount == limits.fieldCount)
        // Content-Length equal to the body limit.
        let cl = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \(limits.bodySize)\r\n\r\n"
        #expect(ParserHarness.parse(cl).head?.framing == .contentLength(limits.bodySize))
    }

    @Test func zeroLimitsMeanWhatTheyMeanInGunicorn() throws {
        // limit_request_line = 0 is unlimited (bounded at 64 KiB); limit_request_field_size = 0 is 8190.
        let limits = HTTPLimits(requestLine: 0, fieldCount: 0, fieldSize: 0)
        #expect(limits.requestLine == HTTPLimits.unlimitedRequestLine)
        #expect(limits.fieldCount == 32768)
        let long = "GET /" + String(repeating: "a", count: 20000) + " HTTP/1.1\r\nHost: h\r\n\r\n"
        #expect(ParserHarness.parse(long, limits: limits).head != nil)
        let tooLong = "GET /" + String(repeating: "a", count: 65536) + " HTTP/1.1\r\nHost: h\r\n\r\n"
        #expect(ParserHarness.parse(tooLong, limits: limits).status == 414)
        let bigField = "GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "a", count: 8185) + "\r\n\r\n"
        #expect(ParserHarness.parse(bigField, limits: limits).head != nil)
        let tooBigField = "GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "a", count: 8186) + "\r\n\r\n"
        #expect(ParserHarness.parse(tooBigField, limits: limits).status == 431)
    }

    @Test func limitsAboveGunicornsMaximaAreClampedAndSaidSo() {
        let limits = HTTPLimits(requestLine: 20000, fieldCount: 100_000, fieldSize: 1 << 20)
        #expect(limits.requestLine == 8190)
        #expect(limits.fieldCount == 32768)
        #expect(limits.fieldSize == 1 << 20)  // no upper bound, as in gunicorn
        #expect(limits.maximumHeadSize == HTTPLimits.maximumHead)
        #expect(HTTPLimits.adjustments(requestLine: 20000, fieldCount: 100_000).map(\.message) == [
            "limit_request_line 20000 is clamped to 8190, gunicorn's maximum",
            "limit_request_fields 100000 is clamped to 32768, gunicorn's maximum",
        ])
        #expect(HTTPLimits.adjustments(requestLine: 8190, fieldCount: 32768).isEmpty)
        #expect(HTTPLimits.adjustments(requestLine: 0, fieldCount: 0).isEmpty)
        let line = "GET /" + String(repeating: "a", count: 8190 - 14) + " HTTP/1.1"
        #expect(ParserHarness.parse(line + "\r\nHost: h\r\n\r\n", limits: limits).head != nil)
        #expect(ParserHarness.parse("GET /a" + line.dropFirst(5) + "\r\nHost: h\r\n\r\n", limits: limits).status == 414)
        let field = "X: " + String(repeating: "b", count: 100_000)
        #expect(ParserHarness.parse("GET / HTTP/1.1\r\nHost: h\r\n\(field)\r\n\r\n", limits: limits).head != nil)
    }

    @Test func contentLengthMustBeOneValueInOneField() {
        for fields in ["Content-Length: 5, 5\r\n", "Content-Length: 5,5,5\r\n", "Content-Length: 5\r\nContent-Length: 5\r\n"] {
            #expect(ParserHarness.parse("POST / HTTP/1.1\r\nHost: h\r\n\(fields)\r\n").status == 400, "\(fields)")
        }
    }

    @Test func secondContentTypeIs400() {
        let one = "POST / HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n"
        #expect(ParserHarness.parse(one + "\r\n").head != nil)
        #expect(ParserHarness.parse(one + "content-type: text/html\r\n\r\n").status == 400)
    }

    @Test func smallFieldTableFailsWith431InsteadOfOverflowing() {
        let raw = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n"
        #expect(ParserHarness.parse(raw, capacity: 2).status == 431)
        #expect(ParserHarness.parse(raw, capacity: 3).head?.fieldCount == 3)
    }

    @Test func incompleteHeads() {
        for raw in ["", "G", "GET / HTTP/1.1", "GET / HTTP/1.1\r", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: h\r\n",
                    "GET / HTTP/1.1\r\nHost: h\r\n\r", "\r\n", "\r\n\r\n"] {
            #expect(ParserHarness.parse(raw).result == .incomplete, "\(raw.debugDescription)")
        }
    }

    // MARK: Incremental feeding

    static let incrementalSamples: [String] = [
        "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
        "\r\nPOST /submit?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\nhello world",
        "PUT /f HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "GET /lf HTTP/1.0\nConnection: keep-alive\n\n",
        "OPTIONS * HTTP/1.1\r\nHost: h\r\nX-Long: " + String(repeating: "z", count: 300) + "\r\n\r\n",
        // Invalid ones fail the same way however the bytes arrive.
        "GET / HTTP/2.0\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET /" + String(repeating: "a", count: 5000) + " HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "a", count: 9000) + "\r\n\r\n",
    ]

    @Test(arguments: incrementalSamples, [1, 2, 3, 7, 64])
    func incrementalFeedingMatchesOneShot(_ raw: String, _ step: Int) {
        let whole = ParserHarness.parse(raw)
        let trickled = ParserHarness.parseIncrementally(raw, step: step)
        #expect(trickled.result == whole.result)
        #expect(trickled.fields == whole.fields)
        #expect(whole.result != .incomplete)
    }

    /// A lenient proxy ends a line at a bare CR and goes on to the next request: corral refuses the
    /// bare CR as soon as the byte after it arrives, rather than wait for a line end.
    @Test(arguments: ["GET / HTTP/1.1\r\nHost: h\r\n\r;", "GET / HTTP/1.1\rX", "GET / HTTP/1.1\r\nX: a\rb"])
    func aBareCRIsRefusedBeforeItsLineEnds(_ raw: String) {
        #expect(ParserHarness.parse(raw).result.status == 400)
        #expect(ParserHarness.parseIncrementally(raw).result.status == 400)
    }

    @Test func aCRThatEndsWhatHasArrivedWaitsForItsLF() {
        #expect(ParserHarness.parse("GET / HTTP/1.1\r\nHost: h\r").result == .incomplete)
        #expect(ParserHarness.parseIncrementally("GET / HTTP/1.1\r\nHost: h\r\n\r\n").result.status == nil)
    }

    @Test func failureIsSticky() {
        var parser = RequestParser(limits: HTTPLimits())
        var table = [HeaderField](repeating: HeaderField(name: .empty, value: .empty), count: 100)
        let bad = Array("GET / HTTP/1.1\r\nHost : h\r\n\r\n".utf8)
        let good = Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8)
        func run(_ bytes: [UInt8]) -> HeadParseResult {
            bytes.withUnsafeBytes { raw in table.withUnsafeMutableBufferPointer { parser.parseHead(raw, fields: $0) } }
        }
        #expect(run(bad).status == 400)
        #expect(run(bad).status == 400)
        parser.reset()
        if case .complete = run(good) {} else { Issue.record("reset did not clear the failure") }
    }

    @Test func askingAgainAfterCompleteGivesTheSameHead() {
        var parser = RequestParser(limits: HTTPLimits())
        var table = [HeaderField](repeating: HeaderField(name: .empty, value: .empty), count: 100)
        let bytes = Array("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nA: b\r\n\r\n".utf8)
        func run() -> HeadParseResult {
            bytes.withUnsafeBytes { raw in table.withUnsafeMutableBufferPointer { parser.parseHead(raw, fields: $0) } }
        }
        let first = run()
        #expect(first.head?.headLength == bytes.count - 8)
        #expect(run() == first)
    }

    @Test func earlyLimitEnforcementWhileIncomplete() {
        let limits = HTTPLimits()
        // A request line with no newline yet, already past the limit.
        let partialLine = "GET /" + String(repeating: "a", count: limits.requestLine)
        #expect(ParserHarness.parse(partialLine).status == 414)
        // Exactly at the limit, plus the CR of its CRLF: still waiting.
        let atLimit = "GET /" + String(repeating: "a", count: limits.requestLine - 5)
        #expect(ParserHarness.parse(atLimit).result == .incomplete)
        #expect(ParserHarness.parse(atLimit + "\r").result == .incomplete)
        #expect(ParserHarness.parse(atLimit + "a").status == 414)
        // A field line with no newline yet, already past the limit.
        let partialField = "GET / HTTP/1.1\r\nX: " + String(repeating: "b", count: limits.fieldSize - 2)
        #expect(ParserHarness.parse(partialField).status == 431)
        // One field too many, before its line ends.
        var raw = "GET / HTTP/1.1\r\n"
        for i in 0..<limits.fieldCount { raw += "X-\(i): v\r\n" }
        #expect(ParserHarness.parse(raw).result == .incomplete)
        #expect(ParserHarness.parse(raw + "\r").result == .incomplete)
        #expect(ParserHarness.parse(raw + "Y").status == 431)
    }

    @Test func maximumHeadSizeIsEnforced() {
        // With tiny limits the head-size bound is reachable through leading empty lines.
        let limits = HTTPLimits(requestLine: 20, fieldCount: 1, fieldSize: 10)
        #expect(limits.maximumHeadSize == 34)
        let raw = String(repeating: "\r\n", count: 8) + "GET / HTTP/1.1\r\nHost: h"
        #expect(raw.utf8.count > limits.maximumHeadSize)
        #expect(ParserHarness.parse(raw, limits: limits).status == 431)
    }
}

extension HeadParseResult {
    var status: UInt16? {
        if case .failed(let error) = self { return error.status }
        return nil
    }

    var head: RequestHead? {
        if case .complete(let head) = self { return head }
        return nil
    }
}

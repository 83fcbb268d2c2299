@testable import CorralHTTP
import Glibc
import Testing

// MARK: - Test entry: a real request head parsed by RequestParser, bytes kept alive by a class

/// Owns the bytes every range points into: the request as parsed, the header field table (capacity
/// 100, as the server's), and any other byte views an entry hands out. Freed in deinit.
final class AccessLogRawRequest {
    let storage: UnsafeMutableRawBufferPointer
    let table: UnsafeMutableBufferPointer<HeaderField>
    let result: HeadParseResult
    private var owned: [UnsafeMutableRawBufferPointer] = []
    /// The names the renderer asked `responseHeader` for, as passed.
    var responseLookups: [String] = []

    init(_ bytes: [UInt8]) {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        bytes.withUnsafeBytes { storage.copyMemory(from: $0) }
        let table = UnsafeMutableBufferPointer<HeaderField>.allocate(capacity: 100)
        table.initialize(repeating: HeaderField(name: .empty, value: .empty))
        var parser = RequestParser(limits: HTTPLimits())
        result = parser.parseHead(UnsafeRawBufferPointer(storage), fields: table)
        self.storage = storage
        self.table = table
    }

    var head: RequestHead? {
        if case .complete(let head) = result { return head }
        return nil
    }

    /// A copy of `bytes` that lives as long as this object.
    func keep(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        bytes.withUnsafeBytes { copy.copyMemory(from: $0) }
        owned.append(copy)
        return UnsafeRawBufferPointer(copy)
    }

    deinit {
        storage.deallocate()
        table.deallocate()
        for buffer in owned { buffer.deallocate() }
    }
}

struct TestLogEntry: AccessLogEntry {
    let request: AccessLogRawRequest
    let head: RequestHead
    var remoteAddress: UnsafeRawBufferPointer
    var remotePort: Int32 = 54321
    var secure = false
    var status: UInt16
    var bodyBytesSent: Int
    var durationMicroseconds: Int
    var pid: Int32
    /// Keyed by lowercase name.
    var responseHeaders: [String: UnsafeRawBufferPointer]

    var requestBuffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(request.storage) }
    var fields: UnsafeBufferPointer<HeaderField> {
        UnsafeBufferPointer(rebasing: request.table[..<head.fieldCount])
    }

    func isSecure() -> Bool { secure }

    func responseHeader(_ lowercasedName: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        let name = String(decoding: lowercasedName, as: UTF8.self)
        request.responseLookups.append(name)
        return responseHeaders[name]
    }

    static func make(_ raw: String, remote: String = "127.0.0.1", status: UInt16 = 200, bodyBytes: Int = 0,
                     duration: Int = 0, pid: Int32 = 4242,
                     responseHeaders: [String: String] = [:]) throws -> TestLogEntry {
        try make(bytes: Array(raw.utf8), remote: remote, status: status, bodyBytes: bodyBytes,
                 duration: duration, pid: pid, responseHeaders: responseHeaders)
    }

    static func make(bytes: [UInt8], remote: String = "127.0.0.1", status: UInt16 = 200, bodyBytes: Int = 0,
                     duration: Int = 0, pid: Int32 = 4242,
                     responseHeaders: [String: String] = [:]) throws -> TestLogEntry {
        let request = AccessLogRawRequest(bytes)
        let head = try #require(request.head, "the test request must parse: \(request.result)")
        var headers: [String: UnsafeRawBufferPointer] = [:]
        for (name, value) in responseHeaders { headers[name] = request.keep(Array(value.utf8)) }
        return TestLogEntry(request: request, head: head, remoteAddress: request.keep(Array(remote.utf8)),
                            status: status, bodyBytesSent: bodyBytes, durationMicroseconds: duration,
                            pid: pid, responseHeaders: headers)
    }
}

/// 2026-11-28 15:20:08 UTC.
let accessLogNow = 1_795_879_208

func renderAccessLog(_ format: String, _ entry: TestLogEntry, now: Int = accessLogNow) throws -> String {
    var renderer = AccessLogRenderer(format: try AccessLogFormat(format))
    var out: [UInt8] = []
    renderer.render(entry, now: now, into: &out)
    return String(decoding: out, as: UTF8.self)
}

/// Runs `body` with TZ set to `zone`, then puts UTC back.
func withTimeZone<R>(_ zone: String, _ body: () throws -> R) rethrows -> R {
    setenv("TZ", zone, 1)
    tzset()
    defer {
        setenv("TZ", "UTC", 1)
        tzset()
    }
    return try body()
}

// MARK: - Tests

/// Serialized: the tests change TZ and the process environment.
@Suite(.serialized)
struct AccessLogTests {
    static let house = "%(h)s %(t)s %(U)s %(q)s"

    init() {
        setenv("TZ", "UTC", 1)
        tzset()
    }

    // MARK: Whole lines

    @Test func houseFormatWithQuery() throws {
        let entry = try TestLogEntry.make("GET /path?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", remote: "10.0.0.1")
        #expect(try renderAccessLog(Self.house, entry) == "10.0.0.1 [28/Nov/2026:15:20:08 +0000] /path x=1\n")
    }

    @Test func houseFormatWithoutQueryEndsWithASpace() throws {
        let entry = try TestLogEntry.make("GET /path HTTP/1.1\r\nHost: h\r\n\r\n", remote: "10.0.0.1")
        #expect(try renderAccessLog(Self.house, entry) == "10.0.0.1 [28/Nov/2026:15:20:08 +0000] /path \n")
    }

    @Test func houseFormatWithEmptyQueryEndsWithASpace() throws {
        let entry = try TestLogEntry.make("GET /path? HTTP/1.1\r\nHost: h\r\n\r\n", remote: "10.0.0.1")
        #expect(try renderAccessLog(Self.house, entry) == "10.0.0.1 [28/Nov/2026:15:20:08 +0000] /path \n")
    }

    @Test func gunicornDefaultFormat() throws {
        let entry = try TestLogEntry.make("GET /a%20b?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\n\r\n",
                                          bodyBytes: 13)
        #expect(try renderAccessLog(AccessLogFormat.gunicornDefault, entry)
            == "127.0.0.1 - - [28/Nov/2026:15:20:08 +0000] \"GET /a%20b?x=1 HTTP/1.1\" 200 13 \"-\" \"curl/8.0\"\n")
    }

    @Test func gunicornDefaultFormatWithUserRefererAndHTTP10() throws {
        let raw = "POST /submit HTTP/1.0\r\nReferer: http://ref.example/\r\nAuthorization: Basic dXNlcjpwYXNz\r\n"
            + "User-Agent: Mozilla/5.0 (X11)\r\n\r\n"
        let entry = try TestLogEntry.make(raw, remote: "10.1.2.3", status: 201)
        #expect(try renderAccessLog(AccessLogFormat.gunicornDefault, entry)
            == "10.1.2.3 - user [28/Nov/2026:15:20:08 +0000] \"POST /submit HTTP/1.0\" 201 0 \"http://ref.example/\" \"Mozilla/5.0 (X11)\"\n")
    }

    @Test func requestAtoms() throws {
        let entry = try TestLogEntry.make("HEAD /x/y?k=v&z HTTP/1.0\r\n\r\n", status: 404)
        #expect(try renderAccessLog("%(m)s|%(H)s|%(s)s|%(l)s|%(r)s|%(U)s|%(q)s", entry)
            == "HEAD|HTTP/1.0|404|-|HEAD /x/y?k=v&z HTTP/1.0|/x/y|k=v&z\n")
    }

    @Test func absoluteFormTarget() throws {
        let entry = try TestLogEntry.make("GET http://example.com/p%20q?z=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
        #expect(try renderAccessLog("%(r)s|%(U)s|%(q)s", entry)
            == "GET http://example.com/p%20q?z=1 HTTP/1.1|/p q|z=1\n")
    }

    @Test func renderAppendsToWhatIsAlreadyInTheBuffer() throws {
        let entry = try TestLogEntry.make("GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        var renderer = AccessLogRenderer(format: try AccessLogFormat("%(U)s %(s)s"))
        var out = Array("previous\n".utf8)
        renderer.render(entry, now: accessLogNow, into: &out)
        renderer.render(entry, now: accessLogNow, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "previous\n/a 200\n/a 200\n")
    }

    // MARK: U (decoded path)

    @Test(arguments: [
        ("/a%20b", "/a b"),
        ("/caf%C3%A9", "/café"),
        ("/caf%c3%a9", "/café"),
        ("/%7e/x", "/~/x"),
        ("/a%2Fb", "/a/b"),
        ("/a+b", "/a+b"),                 // unquote, not unquote_plus
        ("/bad%zz", "/bad%zz"),           // invalid escapes are kept as they are
        ("/end%2", "/end%2"),
        ("/end%", "/end%"),
        ("/q%22x", "/q\\\"x"),            // a decoded quote is escaped
        ("/nl%0Aforged", "/nl\\x0aforged"), // a decoded control byte cannot start a new line
        ("/cr%0d%0a", "/cr\\x0d\\x0a"),
        ("/del%7F", "/del\\x7f"),
        ("/nul%00", "/nul\\x00"),
    ])
    func decodedPath(_ target: String, _ expected: String) throws {
        let entry = try TestLogEntry.make("GET \(target)?q=%20 HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try renderAccessLog("%(U)s|%(q)s", entry) == "\(expected)|q=%20\n")
    }

    // MARK: b / B

    @Test(arguments: [(0, "0 0"), (1, "1 1"), (1_234_567, "1234567 1234567")])
    func bodyBytes(_ sent: Int, _ expected: String) throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n", bodyBytes: sent)
        #expect(try renderAccessLog("%(b)s %(B)s", entry) == expected + "\n")
    }

    // MARK: Escaping

    @Test func quoteInHeaderValueIsEscaped() throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: say \"hi\"\r\nReferer: \"r\"\r\n\r\n")
        #expect(try renderAccessLog("\"%(a)s\" \"%(f)s\"", entry) == "\"say \\\"hi\\\"\" \"\\\"r\\\"\"\n")
    }

    @Test func tabInHeaderValueIsEscapedAsHex() throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: a\tb\r\n\r\n")
        #expect(try renderAccessLog("%(a)s", entry) == "a\\x09b\n")
    }

    @Test func obsTextInHeaderValueIsKept() throws {
        let raw = Array("GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: caf".utf8) + [0xC3, 0xA9] + Array("\r\n\r\n".utf8)
        let entry = try TestLogEntry.make(bytes: raw)
        #expect(try renderAccessLog("%(a)s", entry) == "café\n")
    }

    @Test func quoteInTargetIsEscapedInRequestLineQueryAndPath() throws {
        let entry = try TestLogEntry.make("GET /x\"y?a=\"b\" HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try renderAccessLog("%(r)s|%(U)s|%(q)s|%({raw_uri}e)s|%({query_string}e)s", entry)
            == "GET /x\\\"y?a=\\\"b\\\" HTTP/1.1|/x\\\"y|a=\\\"b\\\"|/x\\\"y?a=\\\"b\\\"|a=\\\"b\\\"\n")
    }

    @Test func quoteInResponseHeaderIsEscaped() throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n",
                                          responseHeaders: ["etag": "\"abc\""])
        #expect(try renderAccessLog("%({etag}o)s", entry) == "\\\"abc\\\"\n")
    }

    // MARK: u (Basic auth user)

    @Test(arguments: [
        ("Basic dXNlcjpwYXNz", "user"),
        ("basic dXNlcjpwYXNz", "user"),   // the scheme is case-insensitive
        ("BASIC dXNlcjpwYXNz", "user"),
        ("Basic dXNlcg==", "user"),       // no colon: the whole thing is the user
        ("Basic Y2Fmw6k6eA==", "café"),
        ("Basic OnBhc3M=", "-"),          // empty user
        ("Basic ImV2aWwiOnB3", "\\\"evil\\\""),
        ("Basic YQpiOnB3", "a\\x0ab"),
        ("Basic !!!!", "-"),              // not base64
        ("Basic", "-"),
        ("Basic ", "-"),
        ("Bearer dXNlcjpwYXNz", "-"),
        // gunicorn only checks `lower().startswith("basic")`, then splits at the first space.
        ("Basicx dXNlcjpwYXNz", "user"),
        ("Basic\tdXNlcjpwYXNz", "-"),    // no space to split at
        ("Basic  dXNlcjpwYXNz", "user"),  // the rest is strip()ped
        // base64.b64decode without validate: non-alphabet bytes are skipped...
        ("Basic dXNl!cjpw YXNz", "user"),
        ("Basic dQ==", "u"),
        ("Basic dXNlcg==trailing", "user"), // ...the input ends once a quad is padded...
        ("Basic dXNlcg", "-"),           // ...and a short quad is "Incorrect padding"
        ("Basic dXNlcg=", "-"),
        ("Basic dXNlc", "-"),
        ("Basic /zpw", "-"),             // b"\xff:p": the user is not UTF-8
        ("Basic 7aCAOng=", "-"),         // a UTF-8-encoded surrogate is not UTF-8 either
    ])
    func basicAuthUser(_ authorization: String, _ expected: String) throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\nAuthorization: \(authorization)\r\n\r\n")
        #expect(try renderAccessLog("[%(u)s]", entry) == "[\(expected)]\n")
    }

    /// gunicorn reads HTTP_AUTHORIZATION, where repeated fields are joined with ",".
    @Test func repeatedAuthorizationFieldsAreJoined() throws {
        let split = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Basic dXNl\r\n"
            + "Authorization: cjpwYXNz\r\n\r\n")
        #expect(try renderAccessLog("%(u)s", split) == "user\n")
        let noSpace = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Basic\r\n"
            + "Authorization: dXNlcjpwYXNz\r\n\r\n")
        #expect(try renderAccessLog("%(u)s", noSpace) == "-\n")
        let short = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Bas\r\n"
            + "Authorization: ic dXNlcjpwYXNz\r\n\r\n")
        #expect(try renderAccessLog("%(u)s", short) == "-\n")
    }

    @Test func noAuthorizationMeansDash() throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try renderAccessLog("%(u)s", entry) == "-\n")
    }

    // MARK: T / M / D / L

    @Test(arguments: [
        (1_234_567, "1 1234 1234567 1.234567"),
        (0, "0 0 0 0.000000"),
        (5, "0 0 5 0.000005"),
        (999_999, "0 999 999999 0.999999"),
        (1_000_000, "1 1000 1000000 1.000000"),
        (61_000_001, "61 61000 61000001 61.000001"),
    ])
    func durations(_ micros: Int, _ expected: String) throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n", duration: micros)
        #expect(try renderAccessLog("%(T)s %(M)s %(D)s %(L)s", entry) == expected + "\n")
    }

    // MARK: p

    @Test func pid() throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n", pid: 4242)
        #expect(try renderAccessLog("%(p)s", entry) == "<4242>\n")
        let real = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n", pid: getpid())
        #expect(try renderAccessLog("%(p)s", real) == "<\(getpid())>\n")
    }

    // MARK: {name}i

    @Test(arguments: ["{x-forwarded-for}i", "{X-Forwarded-For}i", "{X-FORWARDED-FOR}i"])
    func requestHeaderIsCaseInsensitiveAndLastValueWins(_ atom: String) throws {
        let raw = "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\nx-forwarded-for: 2.2.2.2\r\n\r\n"
        let entry = try TestLogEntry.make(raw)
        #expect(try renderAccessLog("%(\(atom))s", entry) == "2.2.2.2\n")
    }

    /// gunicorn takes `a`, `f` and `{http_*}e` from the WSGI environ, where a repeated header is
    /// joined with "," (gunicorn/http/wsgi.py: `hdr_value = "%s,%s" % (environ[key], hdr_value)`);
    /// only `{name}i` reads the header list into a dict where the last value wins. corral renders
    /// the last value for all of them.
    @Test func repeatedRefererAndUserAgentAreJoinedAsInTheWSGIEnviron() throws {
        let raw = "GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: one\r\nREFERER: r1\r\nuser-agent: two\r\nreferer: r2\r\n\r\n"
        let entry = try TestLogEntry.make(raw)
        #expect(try renderAccessLog("%({user-agent}i)s %({referer}i)s", entry) == "two r2\n")
        let line = try renderAccessLog("%(a)s %(f)s %({http_user_agent}e)s", entry)
        #expect(line == "one,two r1,r2 one,two\n")
    }

    /// SafeAtoms lowercases the whole `{…}` key, the suffix included.
    @Test func atomSuffixIsCaseInsensitive() throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\n\r\n",
                                          responseHeaders: ["content-type": "text/plain"])
        #expect(try renderAccessLog("%({X-Forwarded-For}I)s %({CONTENT-TYPE}O)s %({REQUEST_METHOD}E)s", entry)
            == "1.1.1.1 text/plain GET\n")
    }

    @Test func missingRequestHeaderIsDash() throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try renderAccessLog("%({x-forwarded-for}i)s %({host}i)s %(f)s %(a)s", entry) == "- h - -\n")
    }

    @Test func emptyHeaderValueIsEmptyNotDash() throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n\r\n")
        #expect(try renderAccessLog("[%({x-empty}i)s]", entry) == "[]\n")
    }

    // MARK: {name}o

    @Test(arguments: ["{content-type}o", "{Content-Type}o"])
    func responseHeader(_ atom: String) throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n",
                                          responseHeaders: ["content-type": "text/plain"])
        #expect(try renderAccessLog("%(\(atom))s", entry) == "text/plain\n")
        #expect(entry.request.responseLookups == ["content-type"])
    }

    @Test func missingResponseHeaderIsDash() throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n",
                                          responseHeaders: ["content-type": "text/plain"])
        #expect(try renderAccessLog("%({x-none}o)s", entry) == "-\n")
    }

    // MARK: {name}e

    @Test(arguments: [
        ("{REQUEST_METHOD}e", "PUT"),
        ("{request_method}e", "PUT"),
        ("{path_info}e", "/caf\u{E9} x"),
        ("{PATH_INFO}e", "/caf\u{E9} x"),
        ("{QUERY_STRING}e", "a=%20"),
        ("{RAW_URI}e", "/caf%C3%A9%20x?a=%20"),
        ("{SERVER_PROTOCOL}e", "HTTP/1.1"),
        ("{REMOTE_ADDR}e", "192.168.0.9"),
        ("{REMOTE_PORT}e", "54321"),
        ("{wsgi.url_scheme}e", "http"),
        ("{http_user_agent}e", "curl/8.0"),
        ("{HTTP_USER_AGENT}e", "curl/8.0"),
        ("{HTTP_X_FORWARDED_FOR}e", "9.9.9.9"),
        ("{http_host}e", "example.com"),
        ("{http_missing}e", "-"),
    ])
    func cgiEnvironment(_ atom: String, _ expected: String) throws {
        let raw = "PUT /caf%C3%A9%20x?a=%20 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\n"
            + "X-Forwarded-For: 9.9.9.9\r\nContent-Length: 0\r\n\r\n"
        let entry = try TestLogEntry.make(raw, remote: "192.168.0.9")
        #expect(try renderAccessLog("%(\(atom))s", entry) == expected + "\n")
    }

    @Test func schemeAndPortAtoms() throws {
        var entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        entry.secure = true
        entry.remotePort = -1
        #expect(try renderAccessLog("%({wsgi.url_scheme}e)s://%({http_host}e)s %({remote_port}e)s", entry) == "https://h -\n")
    }

    /// gunicorn files Content-Type and Content-Length under CONTENT_*, never HTTP_CONTENT_*.
    @Test func contentTypeAndLengthEnvironment() throws {
        let raw = "POST / HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n"
        let entry = try TestLogEntry.make(raw)
        #expect(try renderAccessLog("%({CONTENT_TYPE}e)s %({content_length}e)s", entry) == "text/plain 0\n")
        #expect(try renderAccessLog("%({HTTP_CONTENT_TYPE}e)s %({http_content_length}e)s", entry) == "- -\n")
        let bare = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try renderAccessLog("%({CONTENT_TYPE}e)s %({CONTENT_LENGTH}e)s", bare) == "- -\n")
    }

    @Test func queryStringEnvironmentIsEmptyWithoutQuery() throws {
        let entry = try TestLogEntry.make("GET /p HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try renderAccessLog("[%({QUERY_STRING}e)s]", entry) == "[]\n")
    }

    @Test func processEnvironmentHome() throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        let home = getenv("HOME").map { String(cString: $0) } ?? "-"
        #expect(try renderAccessLog("%({HOME}e)s", entry) == home + "\n")
        #expect(try renderAccessLog("%({home}e)s", entry) == home + "\n")
    }

    @Test func processEnvironmentIsReadWhenTheFormatIsParsed() throws {
        let name = "CORRAL_ACCESS_LOG_TEST_VAR"
        setenv(name, "v\"al", 1)
        defer { unsetenv(name) }
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        var renderer = AccessLogRenderer(format: try AccessLogFormat("%({\(name)}e)s %({corral_access_log_test_var}e)s"))
        setenv(name, "changed", 1)
        var out: [UInt8] = []
        renderer.render(entry, now: accessLogNow, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "v\\\"al v\\\"al\n")
        unsetenv(name)
        #expect(try renderAccessLog("%({\(name)}e)s", entry) == "-\n")
    }

    @Test func unsetEnvironmentVariableIsDash() throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try renderAccessLog("%({CORRAL_SURELY_NOT_SET_1795879208}e)s", entry) == "-\n")
    }

    // MARK: Unknown atoms, %%, missing values

    @Test(arguments: ["%(zz)s", "%(x)s", "%()s", "%(hh)s", "%({foo}z)s", "%({}x)s", "%(h %(t)s)s", "%(a(b)c)s"])
    func unknownAtomsRenderDash(_ format: String) throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try renderAccessLog(format, entry) == "-\n")
    }

    @Test func percentPercentIsALiteralPercent() throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try renderAccessLog("100%% %(s)s %%(h)s %%%%", entry) == "100% 200 %(h)s %%\n")
    }

    @Test func literalOnlyFormat() throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try renderAccessLog("plain text", entry) == "plain text\n")
        #expect(try renderAccessLog("", entry) == "\n")
    }

    @Test func emptyRemoteAddressIsDash() throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n", remote: "")
        #expect(try renderAccessLog("%(h)s %({REMOTE_ADDR}e)s", entry) == "- -\n")
    }

    @Test func ipv6RemoteAddress() throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n", remote: "::1")
        #expect(try renderAccessLog("%(h)s", entry) == "::1\n")
    }

    @Test func emptyHeaderAndEnvironmentNames() throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try renderAccessLog("%({}i)s", entry) == "-\n")
        #expect(try renderAccessLog("%({}o)s", entry) == "-\n")
        #expect(try renderAccessLog("%({}e)s", entry) == "-\n")
    }

    // MARK: Format errors

    @Test(arguments: [
        ("%(h", 0),
        ("x %(h", 2),
        ("%(h)d", 4),
        ("%(h)", 4),
        ("abc%", 3),
        ("%", 0),
        ("%h", 1),
        ("%s", 1),
        ("ok %(h)s %(u)x", 13),
        ("%(h %(t)s", 0),               // Python counts nested parentheses in the key
        ("%(a(b)s", 0),
    ])
    func formatErrors(_ format: String, _ position: Int) {
        let error = #expect(throws: AccessLogFormatError.self) { try AccessLogFormat(format) }
        #expect(error?.position == position)
        #expect(error?.description.hasPrefix("access_log_format: at character \(position + 1): expected ") == true)
    }

    // MARK: Time

    @Test(arguments: [
        ("Asia/Shanghai", "[28/Nov/2026:23:20:08 +0800]"),
        ("Asia/Kolkata", "[28/Nov/2026:20:50:08 +0530]"),
        ("America/St_Johns", "[28/Nov/2026:11:50:08 -0330]"),
        ("UTC", "[28/Nov/2026:15:20:08 +0000]"),
    ])
    func localTimeZone(_ zone: String, _ expected: String) throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        let line = try withTimeZone(zone) { try renderAccessLog("%(t)s", entry) }
        #expect(line == expected + "\n")
    }

    @Test(arguments: [
        (0, "[01/Jan/1970:00:00:00 +0000]"),
        (951_782_400, "[29/Feb/2000:00:00:00 +0000]"),
        (1_795_879_208, "[28/Nov/2026:15:20:08 +0000]"),
        (1_798_761_599, "[31/Dec/2026:23:59:59 +0000]"),
    ])
    func timeFormatting(_ now: Int, _ expected: String) throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try renderAccessLog("%(t)s", entry, now: now) == expected + "\n")
    }

    @Test func timeFollowsNowAcrossLines() throws {
        let entry = try TestLogEntry.make("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        var renderer = AccessLogRenderer(format: try AccessLogFormat("%(t)s"))
        var out: [UInt8] = []
        for now in [accessLogNow, accessLogNow, accessLogNow + 1, accessLogNow + 60, accessLogNow] {
            renderer.render(entry, now: now, into: &out)
        }
        #expect(String(decoding: out, as: UTF8.self) == """
            [28/Nov/2026:15:20:08 +0000]
            [28/Nov/2026:15:20:08 +0000]
            [28/Nov/2026:15:20:09 +0000]
            [28/Nov/2026:15:21:08 +0000]
            [28/Nov/2026:15:20:08 +0000]

            """)
    }

    @Test func formatReportsWhatItUses() throws {
        #expect(try AccessLogFormat(AccessLogFormat.gunicornDefault).usesResponseHeaders == false)
        #expect(try AccessLogFormat(AccessLogFormat.gunicornDefault).usesTime)
        #expect(try AccessLogFormat("%(h)s %({Content-Type}o)s").usesResponseHeaders)
        #expect(try AccessLogFormat("%(h)s %({Content-Type}o)s").usesTime == false)
    }

    // MARK: No growth

    @Test func escapingDecodedValuesNeedsNoScratchBuffer() throws {
        let raw = "GET /%22q%22%0A%7F/x HTTP/1.1\r\nHost: h\r\nAuthorization: Basic ImEKYiI6cA==\r\n\r\n"
        let entry = try TestLogEntry.make(raw)
        let one = try renderAccessLog("%(U)s %(u)s %({PATH_INFO}e)s", entry)
        #expect(one == "/\\\"q\\\"\\x0a\\x7f/x \\\"a\\x0ab\\\" /\\\"q\\\"\\x0a\\x7f/x\n")
        var renderer = AccessLogRenderer(format: try AccessLogFormat("%(U)s %(u)s %({PATH_INFO}e)s"))
        var out: [UInt8] = []
        out.reserveCapacity(100 * one.utf8.count + 64)
        let capacity = out.capacity
        for _ in 0..<100 { renderer.render(entry, now: accessLogNow, into: &out) }
        #expect(out.capacity == capacity)
        #expect(out == Array(String(repeating: one, count: 100).utf8))
    }

    @Test func thousandLinesFitInReservedCapacity() throws {
        let raw = "GET /a%20b?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\n"
            + "Authorization: Basic dXNlcjpwYXNz\r\nReferer: http://r/\"q\"\r\n\r\n"
        let entry = try TestLogEntry.make(raw, bodyBytes: 13, duration: 1_234_567,
                                          responseHeaders: ["content-type": "text/plain"])
        let format = AccessLogFormat.gunicornDefault + " %(U)s %(q)s %(L)s %(p)s %({content-type}o)s %({path_info}e)s"
        let one = try renderAccessLog(format, entry)
        #expect(one == "127.0.0.1 - user [28/Nov/2026:15:20:08 +0000] \"GET /a%20b?x=1 HTTP/1.1\" 200 13 "
            + "\"http://r/\\\"q\\\"\" \"curl/8.0\" /a b x=1 1.234567 <4242> text/plain /a b\n")
        let lineLength = one.utf8.count

        var renderer = AccessLogRenderer(format: try AccessLogFormat(format))
        var out: [UInt8] = []
        // The user atom decodes "user:pass" before trimming it: leave that much slack at the end.
        out.reserveCapacity(1000 * lineLength + 64)
        let capacity = out.capacity
        for i in 0..<1000 { renderer.render(entry, now: accessLogNow + i / 100, into: &out) }
        #expect(out.capacity == capacity)
        #expect(out.count == 1000 * lineLength)
        #expect(out.filter { $0 == 0x0A }.count == 1000)
    }
}

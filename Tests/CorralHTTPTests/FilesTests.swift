@testable import CorralHTTP
import Testing

// MARK: - Helpers

private func bytesOf(_ text: String) -> [UInt8] { Array(text.utf8) }

private func resolveStaticPath(_ path: [UInt8], prefix: String = "") -> (path: String, isDirectory: Bool)? {
    var out = bytesOf(prefix)
    let resolved = path.withUnsafeBytes { StaticPath.relativePath(fromRequestPath: $0, into: &out) }
    guard let resolved else { return nil }
    return (String(decoding: out, as: UTF8.self), resolved.isDirectory)
}

private func parseRange(_ value: String, size: Int) -> RangeRequest {
    bytesOf(value).withUnsafeBytes { RangeRequest.parse($0, fileSize: size) }
}

private func contentRange(start: Int?, end: Int?, size: Int) -> String {
    var out: [UInt8] = []
    RangeRequest.appendContentRange(start: start, end: end, size: size, into: &out)
    return String(decoding: out, as: UTF8.self)
}

private func httpDate(_ epoch: Int) -> String {
    var out: [UInt8] = []
    HTTPDate.format(epochSeconds: epoch, into: &out)
    return String(decoding: out, as: UTF8.self)
}

private func parseHTTPDate(_ text: String) -> Int? {
    bytesOf(text).withUnsafeBytes { HTTPDate.parse($0) }
}

private func mimeType(_ path: String) -> String {
    bytesOf(path).withUnsafeBytes { MIMEType.forPath($0) }.description
}

private func etag(modified: Int, size: Int) -> String {
    var out: [UInt8] = []
    EntityTag.append(modified: modified, size: size, to: &out)
    return String(decoding: out, as: UTF8.self)
}

private func withOptionalBytes<R>(_ text: String?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let text else { return body(nil) }
    return bytesOf(text).withUnsafeBytes { body($0) }
}

private func isNotModified(ifNoneMatch: String?, ifModifiedSince: String?, etag: String, lastModified: Int) -> Bool {
    withOptionalBytes(ifNoneMatch) { inm in
        withOptionalBytes(ifModifiedSince) { ims in
            bytesOf(etag).withUnsafeBytes { tag in
                Conditional.isNotModified(ifNoneMatch: inm, ifModifiedSince: ims, etag: tag, lastModified: lastModified)
            }
        }
    }
}

private func ifRangeAllows(_ value: String?, etag: String, lastModified: Int) -> Bool {
    withOptionalBytes(value) { v in
        bytesOf(etag).withUnsafeBytes { Conditional.ifRangeAllows(v, etag: $0, lastModified: lastModified) }
    }
}

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// 2026-11-28 15:20:08 UTC and its IMF-fixdate.
private let filesNow = 1_795_879_208
private let filesNowText = "Sat, 28 Nov 2026 15:20:08 GMT"

// MARK: - StaticPath

@Suite struct StaticPathTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var path: String
        var expected: String?
        var isDirectory = false
        var testDescription: String { "\(path.debugDescription) → \(expected.map { $0.debugDescription } ?? "refused")" }
    }

    static let acceptedCases: [Case] = [
        Case(path: "/", expected: "", isDirectory: true),
        Case(path: "/a", expected: "a"),
        Case(path: "/a/b.txt", expected: "a/b.txt"),
        Case(path: "/a/b/", expected: "a/b", isDirectory: true),
        Case(path: "//a//b/", expected: "a/b", isDirectory: true),
        Case(path: "/./a", expected: "a"),
        Case(path: "/a/./b/.", expected: "a/b"),
        Case(path: "/a/./", expected: "a", isDirectory: true),
        Case(path: "/a%20b", expected: "a b"),
        Case(path: "/caf%C3%A9.txt", expected: "café.txt"),
        Case(path: "/%2e/a", expected: "a"),                 // an encoded "." is still skipped
        Case(path: "/...", expected: "..."),                 // only exactly ".." is refused
        Case(path: "/a..b/..c", expected: "a..b/..c"),
        Case(path: "/a/%2e%2e.txt", expected: "a/...txt"),
        Case(path: "/%252e%252e/x", expected: "%2e%2e/x"),  // decoded once only
    ]

    static let refusedPaths: [String] = [
        "",
        "a/b",
        "../etc/passwd",
        "/..",
        "/../etc/passwd",
        "/a/../../etc/passwd",
        "/a/..",
        "/a/../b",
        "/%2e%2e/x",
        "/%2E%2E/x",
        "/a/%2E%2e/b",
        "/.%2e/x",
        "/%2e./x",
        "/%2F",
        "/%2f",
        "/..%2Fetc/passwd",
        "/a%2Fb",
        "/a%00b",
        "/a%5Cb",
        "/a%5cb",
        "/a\\b",
        "/..\\x",
        "/%zz",
        "/%2",
        "/a%",
        "/a%g0",
        "/a%0g",
    ]

    @Test(arguments: acceptedCases)
    func accepted(_ c: Case) throws {
        let resolved = try #require(resolveStaticPath(bytesOf(c.path)))
        #expect(resolved.path == c.expected)
        #expect(resolved.isDirectory == c.isDirectory)
    }

    @Test(arguments: refusedPaths)
    func refused(_ path: String) {
        #expect(resolveStaticPath(bytesOf(path)) == nil)
    }

    @Test func rawNulIsRefused() {
        #expect(resolveStaticPath([UInt8(ascii: "/"), UInt8(ascii: "a"), 0, UInt8(ascii: "b")]) == nil)
    }

    @Test func appendsAfterExistingBytes() throws {
        let resolved = try #require(resolveStaticPath(bytesOf("/a//b"), prefix: "root:"))
        #expect(resolved.path == "root:a/b")
        let root = try #require(resolveStaticPath(bytesOf("/"), prefix: "root:"))
        #expect(root.path == "root:")
        #expect(root.isDirectory)
    }
}

// MARK: - MIMEType

@Suite struct MIMETypeTests {
    @Test(arguments: [
        ("index.html", "text/html; charset=utf-8"),
        ("a/b/INDEX.HTM", "text/html; charset=utf-8"),
        ("style.CSS", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("mod.mjs", "text/javascript; charset=utf-8"),
        ("data.json", "application/json"),
        ("data.Json", "application/json"),
        ("readme.txt", "text/plain; charset=utf-8"),
        ("logo.svg", "image/svg+xml"),
        ("photo.JPG", "image/jpeg"),
        ("photo.jpeg", "image/jpeg"),
        ("img.png", "image/png"),
        ("f.woff", "font/woff"),
        ("f.WOFF2", "font/woff2"),
        ("archive.tar.gz", "application/gzip"),
        ("archive.tar", "application/x-tar"),
        ("doc.pdf", "application/pdf"),
        ("mod.wasm", "application/wasm"),
        ("clip.mp4", "video/mp4"),
        ("song.mp3", "audio/mpeg"),
        ("noext", "application/octet-stream"),
        ("file.", "application/octet-stream"),
        ("file.unknown", "application/octet-stream"),
        ("file.htmlx", "application/octet-stream"),
        ("file.ht", "application/octet-stream"),
        ("dir.html/file", "application/octet-stream"),   // the dot is in a directory name
        ("", "application/octet-stream"),
    ])
    func byExtension(_ path: String, _ expected: String) {
        #expect(mimeType(path) == expected)
    }
}

// MARK: - RangeRequest

@Suite struct RangeRequestTests {
    @Test(arguments: [
        ("bytes=0-99", 1000, RangeRequest.satisfiable(start: 0, end: 99)),
        ("bytes=0-0", 1000, .satisfiable(start: 0, end: 0)),
        ("bytes=10-20", 1000, .satisfiable(start: 10, end: 20)),
        ("bytes=999-999", 1000, .satisfiable(start: 999, end: 999)),
        ("bytes=500-", 1000, .satisfiable(start: 500, end: 999)),
        ("bytes=0-", 1000, .satisfiable(start: 0, end: 999)),
        ("bytes=-200", 1000, .satisfiable(start: 800, end: 999)),
        ("bytes=-1", 1000, .satisfiable(start: 999, end: 999)),
        ("bytes= 0-9 ", 1000, .satisfiable(start: 0, end: 9)),
        // Clamping to the file.
        ("bytes=0-5000", 1000, .satisfiable(start: 0, end: 999)),
        ("bytes=900-5000", 1000, .satisfiable(start: 900, end: 999)),
        ("bytes=-5000", 1000, .satisfiable(start: 0, end: 999)),
        ("bytes=-1000", 1000, .satisfiable(start: 0, end: 999)),
        // Missing the file.
        ("bytes=1000-", 1000, .unsatisfiable),
        ("bytes=1000-2000", 1000, .unsatisfiable),
        ("bytes=5000-", 1000, .unsatisfiable),
        ("bytes=0-", 0, .unsatisfiable),
        ("bytes=-5", 0, .unsatisfiable),
        ("bytes=-0", 1000, .unsatisfiable),
        ("bytes=-00", 1000, .unsatisfiable),
        // Several ranges: the whole file.
        ("bytes=0-1,5-9", 1000, .none),
        ("bytes=0-1, 5-9", 1000, .none),
        ("bytes=-1,-2", 1000, .none),
        // Junk, other units, invalid ranges.
        ("", 1000, .none),
        ("bytes=", 1000, .none),
        ("bytes=-", 1000, .none),
        ("bytes=abc", 1000, .none),
        ("bytes=a-b", 1000, .none),
        ("bytes=1-a", 1000, .none),
        ("bytes=-a", 1000, .none),
        ("bytes=+1-2", 1000, .none),
        ("bytes=1--2", 1000, .none),
        ("bytes=5-3", 1000, .none),
        ("bytes=0x10-20", 1000, .none),
        ("bytes 0-9", 1000, .none),
        ("items=0-9", 1000, .none),
        ("0-9", 1000, .none),
        ("bytes=99999999999999999999999-", 1000, .none),
        ("bytes=0-99999999999999999999999", 1000, .none),
        ("bytes=-99999999999999999999999", 1000, .none),
    ] as [(String, Int, RangeRequest)])
    func parse(_ value: String, _ size: Int, _ expected: RangeRequest) {
        #expect(parseRange(value, size: size) == expected)
    }

    @Test(arguments: [
        (0 as Int?, 99 as Int?, 1234, "bytes 0-99/1234"),
        (0, 0, 1, "bytes 0-0/1"),
        (500, 999, 1000, "bytes 500-999/1000"),
        (nil, nil, 1234, "bytes */1234"),
        (nil, nil, 0, "bytes */0"),
    ] as [(Int?, Int?, Int, String)])
    func contentRangeHeader(_ start: Int?, _ end: Int?, _ size: Int, _ expected: String) {
        #expect(contentRange(start: start, end: end, size: size) == expected)
    }

    @Test func contentRangeAppends() {
        var out = bytesOf("Content-Range: ")
        RangeRequest.appendContentRange(start: 1, end: 2, size: 3, into: &out)
        #expect(text(out) == "Content-Range: bytes 1-2/3")
    }
}

// MARK: - EntityTag and Conditional

@Suite struct ConditionalTests {
    static let tag = "\"6b0af128-d\""       // etag(modified: 1795879208, size: 13)

    @Test func entityTagShape() {
        #expect(etag(modified: filesNow, size: 13) == Self.tag)
        #expect(etag(modified: 0, size: 0) == "\"0-0\"")
        #expect(etag(modified: 255, size: 4096) == "\"ff-1000\"")
        var out = bytesOf("ETag: ")
        EntityTag.append(modified: 1, size: 2, to: &out)
        #expect(text(out) == "ETag: \"1-2\"")
    }

    struct NotModifiedCase: Sendable, CustomTestStringConvertible {
        var name: String
        var ifNoneMatch: String?
        var ifModifiedSince: String?
        var expected: Bool
        var testDescription: String { name }
    }

    static let notModifiedCases: [NotModifiedCase] = [
        .init(name: "no validators", ifNoneMatch: nil, ifModifiedSince: nil, expected: false),
        .init(name: "INM exact", ifNoneMatch: tag, ifModifiedSince: nil, expected: true),
        .init(name: "INM other tag", ifNoneMatch: "\"other\"", ifModifiedSince: nil, expected: false),
        .init(name: "INM unquoted", ifNoneMatch: "6b0af128-d", ifModifiedSince: nil, expected: false),
        .init(name: "INM case differs", ifNoneMatch: "\"6B0AF128-D\"", ifModifiedSince: nil, expected: false),
        .init(name: "INM list, match last", ifNoneMatch: "\"a\", \"b\",\(tag)", ifModifiedSince: nil, expected: true),
        .init(name: "INM list, match first", ifNoneMatch: "\(tag) , \"b\"", ifModifiedSince: nil, expected: true),
        .init(name: "INM list, no match", ifNoneMatch: "\"a\", \"b\"", ifModifiedSince: nil, expected: false),
        .init(name: "INM star", ifNoneMatch: "*", ifModifiedSince: nil, expected: true),
        .init(name: "INM weak matches (weak comparison)", ifNoneMatch: "W/\(tag)", ifModifiedSince: nil, expected: true),
        .init(name: "INM weak in a list", ifNoneMatch: "W/\"x\", W/\(tag)", ifModifiedSince: nil, expected: true),
        .init(name: "INM wins over a matching IMS", ifNoneMatch: "\"other\"", ifModifiedSince: filesNowText, expected: false),
        .init(name: "INM wins over an old IMS", ifNoneMatch: tag, ifModifiedSince: "Thu, 01 Jan 1970 00:00:00 GMT", expected: true),
        .init(name: "IMS equal", ifNoneMatch: nil, ifModifiedSince: filesNowText, expected: true),
        .init(name: "IMS newer", ifNoneMatch: nil, ifModifiedSince: "Sun, 29 Nov 2026 00:00:00 GMT", expected: true),
        .init(name: "IMS older by a second", ifNoneMatch: nil, ifModifiedSince: "Sat, 28 Nov 2026 15:20:07 GMT", expected: false),
        .init(name: "IMS much older", ifNoneMatch: nil, ifModifiedSince: "Thu, 01 Jan 1970 00:00:00 GMT", expected: false),
        .init(name: "IMS RFC 850", ifNoneMatch: nil, ifModifiedSince: "Saturday, 28-Nov-26 15:20:08 GMT", expected: true),
        .init(name: "IMS asctime", ifNoneMatch: nil, ifModifiedSince: "Sat Nov 28 15:20:08 2026", expected: true),
        .init(name: "IMS junk is ignored", ifNoneMatch: nil, ifModifiedSince: "yesterday", expected: false),
    ]

    @Test(arguments: notModifiedCases)
    func notModified(_ c: NotModifiedCase) {
        #expect(isNotModified(ifNoneMatch: c.ifNoneMatch, ifModifiedSince: c.ifModifiedSince,
                              etag: Self.tag, lastModified: filesNow) == c.expected)
    }

    @Test(arguments: [
        (nil as String?, true),                             // no If-Range: the Range applies
        (tag, true),                                        // strong match
        (" \(tag)", false),                                 // not a tag, not a date
        ("W/\(tag)", false),                                // weak tags never match If-Range
        ("\"other\"", false),
        (filesNowText, true),                               // the exact date
        ("Sat, 28 Nov 2026 15:20:09 GMT", false),           // a later date is not exact
        ("Sat, 28 Nov 2026 15:20:07 GMT", false),
        ("Saturday, 28-Nov-26 15:20:08 GMT", true),
        ("junk", false),
        ("", false),
    ] as [(String?, Bool)])
    func ifRange(_ value: String?, _ expected: Bool) {
        #expect(ifRangeAllows(value, etag: Self.tag, lastModified: filesNow) == expected)
    }
}

// MARK: - HTTPDate

@Suite struct HTTPDateTests {
    @Test(arguments: [
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
        (1_795_879_208, "Sat, 28 Nov 2026 15:20:08 GMT"),
        (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
        (86_399, "Thu, 01 Jan 1970 23:59:59 GMT"),
        (951_868_799, "Tue, 29 Feb 2000 23:59:59 GMT"),
        (951_868_800, "Wed, 01 Mar 2000 00:00:00 GMT"),
        (1_798_761_599, "Thu, 31 Dec 2026 23:59:59 GMT"),
        (4_102_444_800, "Fri, 01 Jan 2100 00:00:00 GMT"),
        (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
        (-86_400, "Wed, 31 Dec 1969 00:00:00 GMT"),
    ])
    func format(_ epoch: Int, _ expected: String) {
        let formatted = httpDate(epoch)
        #expect(formatted == expected)
        #expect(formatted.utf8.count == 29)
    }

    @Test func formatAppends() {
        var out = bytesOf("Date: ")
        HTTPDate.format(epochSeconds: 0, into: &out)
        #expect(text(out) == "Date: Thu, 01 Jan 1970 00:00:00 GMT")
    }

    @Test(arguments: [
        // IMF-fixdate
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0),
        ("Tue, 29 Feb 2000 00:00:00 GMT", 951_782_400),
        ("Sat, 28 Nov 2026 15:20:08 GMT", 1_795_879_208),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777),
        // RFC 850
        ("Thursday, 01-Jan-70 00:00:00 GMT", 0),
        ("Tuesday, 29-Feb-00 00:00:00 GMT", 951_782_400),
        ("Saturday, 28-Nov-26 15:20:08 GMT", 1_795_879_208),
        ("Sunday, 06-Nov-94 08:49:37 GMT", 784_111_777),
        // asctime
        ("Thu Jan  1 00:00:00 1970", 0),
        ("Tue Feb 29 00:00:00 2000", 951_782_400),
        ("Sat Nov 28 15:20:08 2026", 1_795_879_208),
        ("Sun Nov  6 08:49:37 1994", 784_111_777),
    ])
    func parse(_ text: String, _ expected: Int) {
        #expect(parseHTTPDate(text) == expected)
    }

    @Test(arguments: [0, 951_782_400, 1_795_879_208, 784_111_777, 1_000_000_000, 4_102_444_800])
    func roundTrip(_ epoch: Int) {
        #expect(parseHTTPDate(httpDate(epoch)) == epoch)
    }

    @Test(arguments: [
        "",
        "junk",
        "yesterday at noon",
        "Sat, 28 Nov 2026 15:20:08",          // no GMT
        "Sat, 28 Nov 2026 15:20:08 UTC",
        "Sat, 28 Nov 2026 15:20:08 GMT extra",
        "Sat, 32 Nov 2026 15:20:08 GMT",      // day out of range
        "Sat, 00 Nov 2026 15:20:08 GMT",
        "Sat, 28 Foo 2026 15:20:08 GMT",      // unknown month
        "Sat, 28 nov 2026 15:20:08 GMT",      // month names are case-sensitive
        "Sat, 28 November 2026 15:20:08 GMT",
        "Sat, 28 Nov 2026 24:00:00 GMT",      // hour out of range
        "Sat, 28 Nov 2026 15:60:00 GMT",
        "Sat, 28 Nov 2026 15:20:61 GMT",
        "Sat, 28 Nov 2026 15:20 GMT",
        "Sat, 28 Nov 2026 15:20:08:00 GMT",
        "Sat, xx Nov 2026 15:20:08 GMT",
        "Sat, 28 Nov yyyy 15:20:08 GMT",
        "Sat Nov 28 15:20:08",                // asctime without a year
        "Sat Nov 28 15:20:08 2026 GMT",
        "1795879208",
    ])
    func parseJunk(_ text: String) {
        #expect(parseHTTPDate(text) == nil)
    }

    @Test func civilRoundTrip() {
        for days in stride(from: -800_000, through: 800_000, by: 997) {
            let (y, m, d) = HTTPDate.civil(fromDays: days)
            #expect(HTTPDate.days(fromCivil: y, m, d) == days)
        }
    }
}

// MARK: - HTTPStatus and ResponseHead

@Suite struct ResponseHeadTests {
    @Test(arguments: [
        (200 as UInt16, "OK"), (206, "Partial Content"), (301, "Moved Permanently"), (304, "Not Modified"),
        (404, "Not Found"), (413, "Content Too Large"), (416, "Range Not Satisfiable"),
        (429, "Too Many Requests"), (431, "Request Header Fields Too Large"), (500, "Internal Server Error"),
        (505, "HTTP Version Not Supported"), (299, "Unknown"), (999, "Unknown"), (0, "Unknown"),
    ] as [(UInt16, String)])
    func reasonPhrase(_ code: UInt16, _ expected: String) {
        #expect(HTTPStatus.reasonPhrase(code).description == expected)
    }

    private static func start(_ status: UInt16, _ version: HTTPVersion) -> String {
        var out: [UInt8] = []
        bytesOf(filesNowText).withUnsafeBytes { ResponseHead.appendStart(status: status, version: version, date: $0, to: &out) }
        return text(out)
    }

    private static func end(_ framing: ResponseHead.Framing, _ version: HTTPVersion, close: Bool) -> String {
        var out: [UInt8] = []
        ResponseHead.appendEnd(framing: framing, version: version, close: close, to: &out)
        return text(out)
    }

    @Test func okWithContentLength() {
        var out: [UInt8] = []
        bytesOf(filesNowText).withUnsafeBytes { ResponseHead.appendStart(status: 200, version: .http1_1, date: $0, to: &out) }
        ResponseHead.appendField(name: "Content-Type", value: "text/plain", to: &out)
        ResponseHead.appendEnd(framing: .contentLength(13), version: .http1_1, close: false, to: &out)
        #expect(text(out) == "HTTP/1.1 200 OK\r\nServer: corral\r\nDate: Sat, 28 Nov 2026 15:20:08 GMT\r\n"
            + "Content-Type: text/plain\r\nContent-Length: 13\r\n\r\n")
    }

    @Test func http10KeepAlive() {
        let head = Self.start(200, .http1_0) + Self.end(.contentLength(5), .http1_0, close: false)
        #expect(head == "HTTP/1.0 200 OK\r\nServer: corral\r\nDate: Sat, 28 Nov 2026 15:20:08 GMT\r\n"
            + "Content-Length: 5\r\nConnection: keep-alive\r\n\r\n")
    }

    @Test(arguments: [
        (ResponseHead.Framing.contentLength(0), HTTPVersion.http1_1, false, "Content-Length: 0\r\n\r\n"),
        (.contentLength(13), .http1_1, true, "Content-Length: 13\r\nConnection: close\r\n\r\n"),
        (.contentLength(13), .http1_0, true, "Content-Length: 13\r\nConnection: close\r\n\r\n"),
        (.chunked, .http1_1, false, "Transfer-Encoding: chunked\r\n\r\n"),
        (.chunked, .http1_1, true, "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"),
        (.untilClose, .http1_0, true, "Connection: close\r\n\r\n"),
        (.none, .http1_1, false, "\r\n"),
        (.none, .http1_0, false, "Connection: keep-alive\r\n\r\n"),
    ] as [(ResponseHead.Framing, HTTPVersion, Bool, String)])
    func endOfHead(_ framing: ResponseHead.Framing, _ version: HTTPVersion, _ close: Bool, _ expected: String) {
        #expect(Self.end(framing, version, close: close) == expected)
    }

    @Test(arguments: [
        (404 as UInt16, HTTPVersion.http1_1, "HTTP/1.1 404 Not Found\r\n"),
        (304, .http1_1, "HTTP/1.1 304 Not Modified\r\n"),
        (599, .http1_0, "HTTP/1.0 599 Unknown\r\n"),
    ] as [(UInt16, HTTPVersion, String)])
    func statusLine(_ status: UInt16, _ version: HTTPVersion, _ expected: String) {
        #expect(Self.start(status, version) == expected + "Server: corral\r\nDate: \(filesNowText)\r\n")
    }

    @Test(arguments: [
        (200 as UInt16, HTTPMethod.get, false), (200, .head, true), (404, .head, true), (100, .get, true),
        (101, .get, true), (199, .post, true), (204, .get, true), (304, .get, true), (205, .get, false),
        (206, .get, false), (500, .post, false),
    ] as [(UInt16, HTTPMethod, Bool)])
    func bodyless(_ status: UInt16, _ method: HTTPMethod, _ expected: Bool) {
        #expect(ResponseHead.isBodyless(status: status, method: method) == expected)
    }

    @Test(arguments: [
        (0, "0"), (7, "7"), (10, "10"), (1234567890, "1234567890"), (-1, "-1"), (-905, "-905"),
        (Int.max, "9223372036854775807"), (Int.min, "-9223372036854775808"),
    ])
    func decimal(_ value: Int, _ expected: String) {
        var out = bytesOf("x")
        ResponseHead.appendDecimal(value, to: &out)
        #expect(text(out) == "x" + expected)
    }

    @Test(arguments: [
        (0, "0"), (9, "9"), (10, "a"), (15, "f"), (16, "10"), (255, "ff"), (4096, "1000"),
        (0x6b0af128, "6b0af128"), (Int.max, "7fffffffffffffff"),
    ])
    func hex(_ value: Int, _ expected: String) {
        var out: [UInt8] = []
        ResponseHead.appendHex(value, to: &out)
        #expect(text(out) == expected)
    }
}

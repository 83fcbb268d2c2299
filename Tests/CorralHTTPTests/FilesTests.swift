@testable import CorralHTTP
import Testing

// Static-file helpers: StaticPath, MIMEType, RangeRequest, EntityTag and Conditional.
// All suites are nested in `FilesTests` so `--filter Files` selects them.

// MARK: - Helpers

private func bytesOf(_ text: String) -> [UInt8] { Array(text.utf8) }

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

private func resolveStaticPath(_ path: [UInt8], prefix: [UInt8] = []) -> (path: [UInt8], isDirectory: Bool)? {
    var out = prefix
    let resolved = path.withUnsafeBytes { StaticPath.relativePath(fromRequestPath: $0, into: &out) }
    guard let resolved else {
        #expect(out == prefix, "a refused path leaves the output as it was")
        return nil
    }
    return (out, resolved.isDirectory)
}

private func parseRange(_ value: String, size: Int) -> RangeRequest {
    bytesOf(value).withUnsafeBytes { RangeRequest.parse($0, fileSize: size) }
}

private func contentRange(start: Int?, end: Int?, size: Int) -> String {
    var out: [UInt8] = []
    RangeRequest.appendContentRange(start: start, end: end, size: size, into: &out)
    return text(out)
}

private func mimeType(_ path: [UInt8]) -> String {
    path.withUnsafeBytes { MIMEType.forPath($0) }.description
}

private func etag(modified: Int, size: Int) -> String {
    var out: [UInt8] = []
    EntityTag.append(modified: modified, size: size, to: &out)
    return text(out)
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

/// 2026-11-28 15:20:08 UTC and its three HTTP-date spellings.
private let filesNow = 1_795_879_208
private let filesNowText = "Sat, 28 Nov 2026 15:20:08 GMT"
private let filesNowRFC850 = "Saturday, 28-Nov-26 15:20:08 GMT"
private let filesNowAsctime = "Sat Nov 28 15:20:08 2026"

@Suite struct FilesTests {}

// MARK: - StaticPath

extension FilesTests {
    @Suite struct StaticPathTests {
        struct Case: Sendable, CustomTestStringConvertible {
            var path: String
            var expected: String
            var isDirectory = false
            var testDescription: String { "\(path.debugDescription) → \(expected.debugDescription)" }
        }

        static let acceptedCases: [Case] = [
            Case(path: "/", expected: "", isDirectory: true),
            Case(path: "//", expected: "", isDirectory: true),
            Case(path: "/.", expected: ""),
            Case(path: "/./", expected: "", isDirectory: true),
            Case(path: "/a", expected: "a"),
            Case(path: "/a/b.txt", expected: "a/b.txt"),
            Case(path: "/a/b/", expected: "a/b", isDirectory: true),
            Case(path: "//a//b/", expected: "a/b", isDirectory: true),
            Case(path: "///a///b///c", expected: "a/b/c"),
            Case(path: "/./a", expected: "a"),
            Case(path: "/a/./b/.", expected: "a/b"),
            Case(path: "/a/./", expected: "a", isDirectory: true),
            Case(path: "/./././a/./", expected: "a", isDirectory: true),
            Case(path: "/a%20b", expected: "a b"),
            Case(path: "/%41%7e%7E", expected: "A~~"),
            Case(path: "/caf%C3%A9.txt", expected: "café.txt"),
            Case(path: "/café.txt", expected: "café.txt"),          // raw UTF-8 passes through
            Case(path: "/%2e/a", expected: "a"),                     // an encoded "." is still dropped
            Case(path: "/%2E/a/%2e/", expected: "a", isDirectory: true),
            Case(path: "/...", expected: "..."),                     // only exactly ".." is refused
            Case(path: "/.../x", expected: ".../x"),
            Case(path: "/.a/a.", expected: ".a/a."),
            Case(path: "/..;/x", expected: "..;/x"),                 // a file name, not a parent
            Case(path: "/a..b/..c", expected: "a..b/..c"),
            Case(path: "/a/%2e%2e.txt", expected: "a/...txt"),
            Case(path: "/%252e%252e/x", expected: "%2e%2e/x"),      // decoded once only
            Case(path: "/a%2520b", expected: "a%20b"),
            Case(path: "/a+b", expected: "a+b"),                     // `+` is not a space in a path
        ]

        static let refusedPaths: [String] = [
            // Not origin-form.
            "", "a/b", "*", "http://example.com/a", "../etc/passwd", "%2fa",
            // `..`, raw and encoded in every mix of case.
            "/..", "/../", "/../etc/passwd", "/a/../../etc/passwd", "/a/..", "/a/../", "/a/../b",
            "/a/b/../c", "//..//x", "/./../x",
            "/%2e%2e/x", "/%2E%2E/x", "/%2e%2E/x", "/a/%2E%2e/b", "/.%2e/x", "/%2e./x", "/.%2E", "/%2e%2e",
            // Encoded separators and backslashes.
            "/%2F", "/%2f", "/a%2Fb", "/..%2Fetc/passwd", "/%2e%2e%2fetc", "/a%5Cb", "/a%5cb", "/..%5c..%5cx",
            "/a\\b", "/..\\x", "/\\",
            // NUL.
            "/a%00b", "/%00", "/a/%00/b",
            // Malformed escapes.
            "/%zz", "/%2", "/a%", "/a%g0", "/a%0g", "/%%32%65",
        ]

        @Test(arguments: acceptedCases)
        func accepted(_ c: Case) throws {
            let resolved = try #require(resolveStaticPath(bytesOf(c.path)))
            #expect(text(resolved.path) == c.expected)
            #expect(resolved.isDirectory == c.isDirectory)
        }

        @Test(arguments: refusedPaths)
        func refused(_ path: String) {
            #expect(resolveStaticPath(bytesOf(path)) == nil)
            #expect(resolveStaticPath(bytesOf(path), prefix: bytesOf("root:")) == nil)
        }

        @Test(arguments: [
            [UInt8(ascii: "/"), UInt8(ascii: "a"), 0, UInt8(ascii: "b")],
            [UInt8(ascii: "/"), 0],
            [UInt8(ascii: "/"), UInt8(ascii: "a"), UInt8(ascii: "/"), 0],
        ])
        func rawNulIsRefused(_ path: [UInt8]) {
            #expect(resolveStaticPath(path) == nil)
        }

        /// Overlong UTF-8 for "." (`%c0%ae`) is not a dot to the kernel, which does not decode
        /// UTF-8: the path names an odd four-byte file inside the root. Allowed, byte for byte.
        @Test func overlongDotsAreOrdinaryBytes() throws {
            let resolved = try #require(resolveStaticPath(bytesOf("/%c0%ae%c0%ae/x")))
            #expect(resolved.path == [0xC0, 0xAE, 0xC0, 0xAE, UInt8(ascii: "/"), UInt8(ascii: "x")])
            #expect(!resolved.isDirectory)
            let raw = try #require(resolveStaticPath([UInt8(ascii: "/"), 0xC0, 0xAE, 0xC0, 0xAE]))
            #expect(raw.path == [0xC0, 0xAE, 0xC0, 0xAE])
        }

        @Test func appendsAfterExistingBytes() throws {
            let resolved = try #require(resolveStaticPath(bytesOf("/a//b"), prefix: bytesOf("root:")))
            #expect(text(resolved.path) == "root:a/b")
            let dropped = try #require(resolveStaticPath(bytesOf("/./a/."), prefix: bytesOf("root:")))
            #expect(text(dropped.path) == "root:a")
            let root = try #require(resolveStaticPath(bytesOf("/"), prefix: bytesOf("root:")))
            #expect(text(root.path) == "root:")
            #expect(root.isDirectory)
        }

        @Test func refusalAfterSegmentsRestoresTheOutput() {
            var out = bytesOf("keep")
            let result = bytesOf("/a/b/c/../d").withUnsafeBytes { StaticPath.relativePath(fromRequestPath: $0, into: &out) }
            #expect(result == nil)
            #expect(text(out) == "keep")
        }

        /// Whatever the input, an accepted result never has a `..`, `.` or empty segment, NUL or
        /// backslash, and never starts with `/`.
        @Test func acceptedResultsAreAlwaysSafe() {
            let alphabet: [String] = ["/", ".", "a", "%2e", "%2E", "%2f", "%5c", "%00", "%", "\\", "%41"]
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            for _ in 0..<20_000 {
                var path = "/"
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                var bits = state
                for _ in 0..<Int(bits % 9) {
                    bits /= 11
                    path += alphabet[Int(bits % UInt64(alphabet.count))]
                }
                guard let resolved = resolveStaticPath(bytesOf(path)) else { continue }
                let segments = resolved.path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
                #expect(resolved.path.isEmpty || !segments.contains { $0.isEmpty }, "\(path)")
                #expect(!segments.contains { Array($0) == bytesOf("..") || Array($0) == bytesOf(".") }, "\(path)")
                #expect(!resolved.path.contains(0) && !resolved.path.contains(UInt8(ascii: "\\")), "\(path)")
            }
        }
    }
}

// MARK: - MIMEType

extension FilesTests {
    @Suite struct MIMETypeTests {
        @Test(arguments: [
            ("index.html", "text/html; charset=utf-8"),
            ("a/b/INDEX.HTM", "text/html; charset=utf-8"),
            ("page.HtMl", "text/html; charset=utf-8"),
            ("style.css", "text/css; charset=utf-8"),
            ("style.CSS", "text/css; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("mod.mjs", "text/javascript; charset=utf-8"),
            ("data.json", "application/json"),
            ("data.Json", "application/json"),
            ("app.js.map", "application/json"),
            ("readme.txt", "text/plain; charset=utf-8"),
            ("README.md", "text/markdown; charset=utf-8"),
            ("table.csv", "text/csv; charset=utf-8"),
            ("feed.xml", "application/xml"),
            ("logo.svg", "image/svg+xml"),
            ("img.png", "image/png"),
            ("photo.jpg", "image/jpeg"),
            ("photo.JPG", "image/jpeg"),
            ("photo.jpeg", "image/jpeg"),
            ("anim.gif", "image/gif"),
            ("pic.webp", "image/webp"),
            ("pic.avif", "image/avif"),
            ("favicon.ico", "image/x-icon"),
            ("f.woff", "font/woff"),
            ("f.WOFF2", "font/woff2"),
            ("f.ttf", "font/ttf"),
            ("f.otf", "font/otf"),
            ("doc.pdf", "application/pdf"),
            ("a.zip", "application/zip"),
            ("archive.tar.gz", "application/gzip"),
            ("archive.tar", "application/x-tar"),
            ("mod.wasm", "application/wasm"),
            ("clip.mp4", "video/mp4"),
            ("clip.webm", "video/webm"),
            ("song.mp3", "audio/mpeg"),
            ("song.ogg", "audio/ogg"),
            ("song.wav", "audio/wav"),
            ("dir.d/.css", "text/css; charset=utf-8"),       // a dot file whose name is an extension
            // The fallback.
            ("noext", "application/octet-stream"),
            ("file.", "application/octet-stream"),
            ("file.unknown", "application/octet-stream"),
            ("file.htmlx", "application/octet-stream"),
            ("file.xhtml", "application/octet-stream"),
            ("file.ht", "application/octet-stream"),
            ("file.j", "application/octet-stream"),
            ("file.jss", "application/octet-stream"),
            ("file.averyverylongextension", "application/octet-stream"),
            ("file.waaaaasm", "application/octet-stream"),   // 8 bytes, the longest key
            ("dir.html/file", "application/octet-stream"),   // the dot is in a directory name
            ("dir.html/", "application/octet-stream"),
            (".htaccess", "application/octet-stream"),
            ("file.c ss", "application/octet-stream"),
            ("", "application/octet-stream"),
            (".", "application/octet-stream"),
        ])
        func byExtension(_ path: String, _ expected: String) {
            #expect(mimeType(bytesOf(path)) == expected)
        }

        @Test func controlBytesNeverMatch() {
            #expect(mimeType([UInt8(ascii: "a"), UInt8(ascii: "."), 0, UInt8(ascii: "j"), UInt8(ascii: "s")])
                == "application/octet-stream")
            #expect(mimeType([UInt8(ascii: "a"), UInt8(ascii: "."), 0xE9, UInt8(ascii: "s")]) == "application/octet-stream")
        }
    }
}

// MARK: - RangeRequest

extension FilesTests {
    @Suite struct RangeRequestTests {
        @Test(arguments: [
            // Every form.
            ("bytes=0-99", 1000, RangeRequest.satisfiable(start: 0, end: 99)),
            ("bytes=0-0", 1000, .satisfiable(start: 0, end: 0)),
            ("bytes=10-20", 1000, .satisfiable(start: 10, end: 20)),
            ("bytes=999-999", 1000, .satisfiable(start: 999, end: 999)),
            ("bytes=500-", 1000, .satisfiable(start: 500, end: 999)),
            ("bytes=0-", 1000, .satisfiable(start: 0, end: 999)),
            ("bytes=999-", 1000, .satisfiable(start: 999, end: 999)),
            ("bytes=-200", 1000, .satisfiable(start: 800, end: 999)),
            ("bytes=-1", 1000, .satisfiable(start: 999, end: 999)),
            ("bytes=0-0", 1, .satisfiable(start: 0, end: 0)),
            ("bytes=007-010", 1000, .satisfiable(start: 7, end: 10)),
            // The unit is case-insensitive; OWS around list elements is allowed.
            ("BYTES=0-9", 1000, .satisfiable(start: 0, end: 9)),
            ("Bytes=0-9", 1000, .satisfiable(start: 0, end: 9)),
            ("bytes= 0-9 ", 1000, .satisfiable(start: 0, end: 9)),
            ("bytes=\t0-9", 1000, .satisfiable(start: 0, end: 9)),
            // Empty list elements are not ranges.
            ("bytes=0-9,", 1000, .satisfiable(start: 0, end: 9)),
            ("bytes=, ,0-9", 1000, .satisfiable(start: 0, end: 9)),
            // Clamping to the file.
            ("bytes=0-5000", 1000, .satisfiable(start: 0, end: 999)),
            ("bytes=900-5000", 1000, .satisfiable(start: 900, end: 999)),
            ("bytes=-5000", 1000, .satisfiable(start: 0, end: 999)),
            ("bytes=-1000", 1000, .satisfiable(start: 0, end: 999)),
            ("bytes=-5", 3, .satisfiable(start: 0, end: 2)),
            ("bytes=0-99999999999999999999999", 1000, .satisfiable(start: 0, end: 999)),   // saturates
            ("bytes=-99999999999999999999999", 1000, .satisfiable(start: 0, end: 999)),
            // Missing the file: 416.
            ("bytes=1000-", 1000, .unsatisfiable),
            ("bytes=1000-2000", 1000, .unsatisfiable),
            ("bytes=5000-", 1000, .unsatisfiable),
            ("bytes=1-", 1, .unsatisfiable),
            ("bytes=0-", 0, .unsatisfiable),
            ("bytes=-0", 1000, .unsatisfiable),
            ("bytes=-00", 1000, .unsatisfiable),
            ("bytes=99999999999999999999999-", 1000, .unsatisfiable),
            // An empty file: a suffix is answered with the (empty) whole.
            ("bytes=-5", 0, .none),
            // Several ranges: the whole file.
            ("bytes=0-1,5-9", 1000, .none),
            ("bytes=0-1, 5-9", 1000, .none),
            ("bytes=-1,-2", 1000, .none),
            ("bytes=0-1,0-1", 1000, .none),
            ("bytes=5000-,6000-", 1000, .none),
            // Junk, other units, invalid ranges: ignored.
            ("", 1000, .none),
            ("bytes", 1000, .none),
            ("bytes=", 1000, .none),
            ("bytes=,", 1000, .none),
            ("bytes=-", 1000, .none),
            ("bytes=abc", 1000, .none),
            ("bytes=a-b", 1000, .none),
            ("bytes=1-a", 1000, .none),
            ("bytes=-a", 1000, .none),
            ("bytes=+1-2", 1000, .none),
            ("bytes=1--2", 1000, .none),
            ("bytes=--2", 1000, .none),
            ("bytes=1-2-3", 1000, .none),
            ("bytes=5-3", 1000, .none),
            ("bytes=5000-1000", 1000, .none),               // invalid before it is unsatisfiable
            ("bytes=0x10-20", 1000, .none),
            ("bytes=1.5-2", 1000, .none),
            ("bytes=0 -9", 1000, .none),
            ("bytes=0- 9", 1000, .none),
            ("bytes=0-9;x", 1000, .none),
            ("bytes=0-1,junk", 1000, .none),
            ("bytes =0-9", 1000, .none),
            ("bytes 0-9", 1000, .none),
            ("bytesx=0-9", 1000, .none),
            ("items=0-9", 1000, .none),
            ("0-9", 1000, .none),
            ("=0-9", 1000, .none),
        ] as [(String, Int, RangeRequest)])
        func parse(_ value: String, _ size: Int, _ expected: RangeRequest) {
            #expect(parseRange(value, size: size) == expected)
        }

        /// Every satisfiable answer lies within the file.
        @Test(arguments: [0, 1, 2, 10, 1000])
        func satisfiableIsWithinTheFile(_ size: Int) {
            let numbers = ["", "0", "1", "2", "9", "10", "999", "1000", "5000"]
            for a in numbers {
                for b in numbers {
                    if case .satisfiable(let start, let end) = parseRange("bytes=\(a)-\(b)", size: size) {
                        #expect(0 <= start && start <= end && end < size, "bytes=\(a)-\(b) size \(size)")
                    }
                }
            }
        }

        @Test(arguments: [
            (0 as Int?, 99 as Int?, 1234, "bytes 0-99/1234"),
            (0, 0, 1, "bytes 0-0/1"),
            (500, 999, 1000, "bytes 500-999/1000"),
            (0, Int.max - 1, Int.max, "bytes 0-9223372036854775806/9223372036854775807"),
            (nil, nil, 1234, "bytes */1234"),
            (nil, nil, 0, "bytes */0"),
            (5, nil, 10, "bytes */10"),
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
}

// MARK: - EntityTag and Conditional

extension FilesTests {
    @Suite struct ConditionalTests {
        static let tag = "\"6b0af128-d\""       // etag(modified: 1795879208, size: 13)

        @Test func entityTagShape() {
            #expect(etag(modified: filesNow, size: 13) == Self.tag)
            #expect(etag(modified: 0, size: 0) == "\"0-0\"")
            #expect(etag(modified: 255, size: 4096) == "\"ff-1000\"")
            #expect(etag(modified: Int.max, size: Int.max).utf8.count == EntityTag.maximumLength)
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
            // If-None-Match
            .init(name: "INM exact", ifNoneMatch: tag, ifModifiedSince: nil, expected: true),
            .init(name: "INM padded", ifNoneMatch: " \(tag)\t", ifModifiedSince: nil, expected: true),
            .init(name: "INM other tag", ifNoneMatch: "\"other\"", ifModifiedSince: nil, expected: false),
            .init(name: "INM unquoted", ifNoneMatch: "6b0af128-d", ifModifiedSince: nil, expected: false),
            .init(name: "INM unterminated", ifNoneMatch: "\"6b0af128-d", ifModifiedSince: nil, expected: false),
            .init(name: "INM prefix only", ifNoneMatch: "\"6b0af128\"", ifModifiedSince: nil, expected: false),
            .init(name: "INM case differs", ifNoneMatch: "\"6B0AF128-D\"", ifModifiedSince: nil, expected: false),
            .init(name: "INM list, match last", ifNoneMatch: "\"a\", \"b\",\(tag)", ifModifiedSince: nil, expected: true),
            .init(name: "INM list, match first", ifNoneMatch: "\(tag) , \"b\"", ifModifiedSince: nil, expected: true),
            .init(name: "INM list, empty elements", ifNoneMatch: ", ,\(tag),", ifModifiedSince: nil, expected: true),
            .init(name: "INM list, comma inside a tag", ifNoneMatch: "\"a,b\", \(tag)", ifModifiedSince: nil, expected: true),
            .init(name: "INM list, no match", ifNoneMatch: "\"a\", \"b\"", ifModifiedSince: nil, expected: false),
            .init(name: "INM list, junk before the match", ifNoneMatch: "junk, \(tag)", ifModifiedSince: nil, expected: false),
            .init(name: "INM star", ifNoneMatch: "*", ifModifiedSince: nil, expected: true),
            .init(name: "INM star with junk", ifNoneMatch: "*x", ifModifiedSince: nil, expected: false),
            .init(name: "INM weak matches (weak comparison)", ifNoneMatch: "W/\(tag)", ifModifiedSince: nil, expected: true),
            .init(name: "INM weak in a list", ifNoneMatch: "W/\"x\", W/\(tag)", ifModifiedSince: nil, expected: true),
            .init(name: "INM lowercase w/ is not weak", ifNoneMatch: "w/\(tag)", ifModifiedSince: nil, expected: false),
            .init(name: "INM empty", ifNoneMatch: "", ifModifiedSince: nil, expected: false),
            // If-None-Match takes precedence.
            .init(name: "INM mismatch wins over a matching IMS", ifNoneMatch: "\"other\"", ifModifiedSince: filesNowText, expected: false),
            .init(name: "empty INM wins over a matching IMS", ifNoneMatch: "", ifModifiedSince: filesNowText, expected: false),
            .init(name: "INM match wins over an old IMS", ifNoneMatch: tag, ifModifiedSince: "Thu, 01 Jan 1970 00:00:00 GMT", expected: true),
            // If-Modified-Since
            .init(name: "IMS equal", ifNoneMatch: nil, ifModifiedSince: filesNowText, expected: true),
            .init(name: "IMS newer", ifNoneMatch: nil, ifModifiedSince: "Sun, 29 Nov 2026 00:00:00 GMT", expected: true),
            .init(name: "IMS older by a second", ifNoneMatch: nil, ifModifiedSince: "Sat, 28 Nov 2026 15:20:07 GMT", expected: false),
            .init(name: "IMS much older", ifNoneMatch: nil, ifModifiedSince: "Thu, 01 Jan 1970 00:00:00 GMT", expected: false),
            .init(name: "IMS RFC 850", ifNoneMatch: nil, ifModifiedSince: filesNowRFC850, expected: true),
            .init(name: "IMS asctime", ifNoneMatch: nil, ifModifiedSince: filesNowAsctime, expected: true),
            .init(name: "IMS junk is ignored", ifNoneMatch: nil, ifModifiedSince: "yesterday", expected: false),
            .init(name: "IMS two dates is junk", ifNoneMatch: nil, ifModifiedSince: "\(filesNowText), \(filesNowText)", expected: false),
        ]

        @Test(arguments: notModifiedCases)
        func notModified(_ c: NotModifiedCase) {
            #expect(isNotModified(ifNoneMatch: c.ifNoneMatch, ifModifiedSince: c.ifModifiedSince,
                                  etag: Self.tag, lastModified: filesNow) == c.expected)
        }

        @Test(arguments: [
            (nil as String?, true),                             // no If-Range: the Range applies
            (tag, true),                                        // strong match
            (" \(tag) ", true),
            ("W/\(tag)", false),                                // weak tags never match If-Range
            ("\"other\"", false),
            ("\(tag), \"other\"", false),                       // one tag, not a list
            ("\"6b0af128-d", false),
            (filesNowText, true),                               // the exact date
            (filesNowRFC850, true),
            (filesNowAsctime, true),
            ("Sat, 28 Nov 2026 15:20:09 GMT", false),           // a later date is not exact
            ("Sat, 28 Nov 2026 15:20:07 GMT", false),
            ("junk", false),
            ("", false),
            ("  ", false),
        ] as [(String?, Bool)])
        func ifRange(_ value: String?, _ expected: Bool) {
            #expect(ifRangeAllows(value, etag: Self.tag, lastModified: filesNow) == expected)
        }

        @Test func ifRangeNeedsAStrongOwnTag() {
            #expect(!ifRangeAllows(Self.tag, etag: "W/\(Self.tag)", lastModified: filesNow))
            #expect(isNotModified(ifNoneMatch: Self.tag, ifModifiedSince: nil, etag: "W/\(Self.tag)", lastModified: filesNow))
        }
    }
}

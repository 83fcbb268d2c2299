import CorralHTTP
import Testing

/// Malformed and ambiguous request heads (request smuggling, desync, resource exhaustion): each
/// must be refused with a precise status, whether the bytes arrive at once or one at a time.
@Suite("Smuggling")
struct SmugglingTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let raw: String
        let status: UInt16
        var limits = HTTPLimits()
        var testDescription: String { "\(name) → \(status)" }
    }

    static func post(_ fields: String, version: String = "HTTP/1.1") -> String {
        "POST /upload \(version)\r\nHost: example.com\r\n\(fields)\r\n"
    }

    static func get(_ fields: String) -> String {
        "GET / HTTP/1.1\r\nHost: example.com\r\n\(fields)\r\n"
    }

    static let framing: [Case] = [
        .init(name: "CL then TE", raw: post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"), status: 400),
        .init(name: "TE then CL", raw: post("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"), status: 400),
        .init(name: "CL 0 with TE", raw: post("Content-Length: 0\r\nTransfer-Encoding: chunked\r\n"), status: 400),
        .init(name: "duplicate differing CL", raw: post("Content-Length: 5\r\nContent-Length: 6\r\n"), status: 400),
        .init(name: "CL list differing", raw: post("Content-Length: 5, 6\r\n"), status: 400),
        .init(name: "CL list then field differing", raw: post("Content-Length: 5,5\r\nContent-Length: 50\r\n"), status: 400),
        .init(name: "CL list of equal values", raw: post("Content-Length: 5, 5\r\n"), status: 400),
        .init(name: "duplicate equal CL", raw: post("Content-Length: 5\r\nContent-Length: 5\r\n"), status: 400),
        .init(name: "second Content-Type", raw: post("Content-Type: a/b\r\nContent-Type: c/d\r\n"), status: 400),
        .init(name: "CL +5", raw: post("Content-Length: +5\r\n"), status: 400),
        .init(name: "CL 0x10", raw: post("Content-Length: 0x10\r\n"), status: 400),
        .init(name: "CL ' 5 5'", raw: post("Content-Length:  5 5\r\n"), status: 400),
        .init(name: "CL -1", raw: post("Content-Length: -1\r\n"), status: 400),
        .init(name: "CL empty", raw: post("Content-Length:\r\n"), status: 400),
        .init(name: "CL trailing comma", raw: post("Content-Length: 5,\r\n"), status: 400),
        .init(name: "CL empty element", raw: post("Content-Length: 5,,5\r\n"), status: 400),
        .init(name: "CL 5.0", raw: post("Content-Length: 5.0\r\n"), status: 400),
        .init(name: "CL 1e3", raw: post("Content-Length: 1e3\r\n"), status: 400),
        .init(name: "CL unicode digit", raw: post("Content-Length: \u{0665}\r\n"), status: 400),
        .init(name: "CL overflow", raw: post("Content-Length: 99999999999999999999999\r\n"), status: 400),
        .init(name: "CL Int.max+1", raw: post("Content-Length: 9223372036854775808\r\n"), status: 400),
        .init(name: "CL over body limit", raw: post("Content-Length: 104857601\r\n"), status: 413),
        .init(name: "CL huge but valid", raw: post("Content-Length: 9223372036854775807\r\n"), status: 413),
        .init(name: "CL over custom limit", raw: post("Content-Length: 11\r\n"), status: 413,
              limits: HTTPLimits(bodySize: 10)),
        .init(name: "TE gzip alone", raw: post("Transfer-Encoding: gzip\r\n"), status: 400),
        .init(name: "TE chunked, gzip", raw: post("Transfer-Encoding: chunked, gzip\r\n"), status: 400),
        .init(name: "TE chunked then gzip field", raw: post("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"), status: 400),
        .init(name: "TE identity", raw: post("Transfer-Encoding: identity\r\n"), status: 400),
        .init(name: "TE foo alone", raw: post("Transfer-Encoding: foo\r\n"), status: 400),
        .init(name: "TE foo, chunked", raw: post("Transfer-Encoding: foo, chunked\r\n"), status: 501),
        .init(name: "TE gzip, chunked", raw: post("Transfer-Encoding: gzip, chunked\r\n"), status: 501),
        .init(name: "TE gzip field then chunked field", raw: post("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"), status: 501),
        .init(name: "TE identity, chunked", raw: post("Transfer-Encoding: identity, chunked\r\n"), status: 501),
        .init(name: "TE chunked, chunked", raw: post("Transfer-Encoding: chunked, chunked\r\n"), status: 400),
        .init(name: "TE chunked twice in fields", raw: post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), status: 400),
        .init(name: "TE empty", raw: post("Transfer-Encoding:\r\n"), status: 400),
        // A lenient proxy (llhttp with --insecure-http-parser) reads `chunked,` as not chunked.
        .init(name: "TE trailing empty element", raw: post("Transfer-Encoding: chunked,\r\n"), status: 400),
        .init(name: "TE leading empty element", raw: post("Transfer-Encoding: , chunked\r\n"), status: 400),
        .init(name: "TE chunked with parameter", raw: post("Transfer-Encoding: chunked;q=1\r\n"), status: 400),
        .init(name: "TE chunked misspelt", raw: post("Transfer-Encoding: chunkedx\r\n"), status: 400),
        .init(name: "TE quoted chunked", raw: post("Transfer-Encoding: \"chunked\"\r\n"), status: 400),
        .init(name: "TE vertical tab", raw: post("Transfer-Encoding: \u{0B}chunked\r\n"), status: 400),
        .init(name: "TE in HTTP/1.0", raw: post("Transfer-Encoding: chunked\r\n", version: "HTTP/1.0"), status: 400),
        .init(name: "TE with space before colon", raw: post("Transfer-Encoding : chunked\r\n"), status: 400),
        .init(name: "CL with space before colon", raw: post("Content-Length : 5\r\n"), status: 400),
    ]

    static let fieldSyntax: [Case] = [
        .init(name: "obs-fold", raw: get("X-A: one\r\n two\r\n"), status: 400),
        .init(name: "obs-fold with tab", raw: get("X-A: one\r\n\ttwo\r\n"), status: 400),
        .init(name: "first field line starts with SP", raw: "GET / HTTP/1.1\r\n Host: h\r\n\r\n", status: 400),
        .init(name: "space before colon", raw: get("X-A : v\r\n"), status: 400),
        .init(name: "tab before colon", raw: get("X-A\t: v\r\n"), status: 400),
        .init(name: "no colon", raw: get("X-A v\r\n"), status: 400),
        .init(name: "no colon at all", raw: get("JustAName\r\n"), status: 400),
        .init(name: "empty name", raw: get(": v\r\n"), status: 400),
        .init(name: "invalid name char", raw: get("X(A): v\r\n"), status: 400),
        .init(name: "non-ASCII name", raw: get("X-\u{e9}: v\r\n"), status: 400),
        .init(name: "NUL in value", raw: get("X-A: a\u{0}b\r\n"), status: 400),
        .init(name: "bare CR in value", raw: get("X-A: a\rb\r\n"), status: 400),
        .init(name: "CR CR LF", raw: get("X-A: a\r\r\n"), status: 400),
        .init(name: "DEL in value", raw: get("X-A: a\u{7F}b\r\n"), status: 400),
        .init(name: "ESC in value", raw: get("X-A: a\u{1B}b\r\n"), status: 400),
        .init(name: "bare CR ending the request line", raw: "GET / HTTP/1.1\rHost: h\r\n\r\n", status: 400),
        .init(name: "missing Host on 1.1", raw: "GET / HTTP/1.1\r\nX-A: v\r\n\r\n", status: 400),
        .init(name: "two Hosts", raw: get("Host: other.example\r\n"), status: 400),
        .init(name: "two Hosts differing case", raw: get("host: example.com\r\n"), status: 400),
        .init(name: "two Hosts on 1.0", raw: "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", status: 400),
        .init(name: "too many leading empty lines", raw: String(repeating: "\r\n", count: 9) + get(""), status: 400),
    ]

    static let requestLine: [Case] = [
        .init(name: "HTTP/2.0", raw: "GET / HTTP/2.0\r\nHost: h\r\n\r\n", status: 505),
        .init(name: "HTTP/1.2", raw: "GET / HTTP/1.2\r\nHost: h\r\n\r\n", status: 505),
        .init(name: "HTTP/0.9", raw: "GET / HTTP/0.9\r\nHost: h\r\n\r\n", status: 505),
        .init(name: "HTTP/3.1", raw: "GET / HTTP/3.1\r\nHost: h\r\n\r\n", status: 505),
        .init(name: "HTTP/1.10", raw: "GET / HTTP/1.10\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "HTTP/1", raw: "GET / HTTP/1\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "lowercase version", raw: "GET / http/1.1\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "garbage version", raw: "GET / XTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "version with trailing SP", raw: "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", status: 400),
        .init(name: "no version", raw: "GET /\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "only method", raw: "GET\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "double SP after method", raw: "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "double SP before version", raw: "GET /  HTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "tab separator", raw: "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "leading SP", raw: " GET / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "invalid method char", raw: "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "NUL in target", raw: "GET /a\u{0}b HTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "DEL in target", raw: "GET /a\u{7F}b HTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "space in target", raw: "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "relative target", raw: "GET index.html HTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "asterisk for GET", raw: "GET * HTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "authority-form for GET", raw: "GET example.com:80 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "CONNECT origin-form", raw: "CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "CONNECT without port", raw: "CONNECT example.com HTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "CONNECT non-numeric port", raw: "CONNECT example.com:http HTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "CONNECT absolute-form", raw: "CONNECT http://example.com:80/ HTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "absolute-form empty host", raw: "GET http:///p HTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "absolute-form bad scheme", raw: "GET 1http://h/p HTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
        .init(name: "absolute-form missing slashes", raw: "GET http:h/p HTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
    ]

    static let limits: [Case] = {
        let l = HTTPLimits()
        let fixed = "GET / HTTP/1.1".utf8.count
        let longLine = "GET /" + String(repeating: "a", count: l.requestLine + 1 - fixed) + " HTTP/1.1"
        var manyFields = "GET / HTTP/1.1\r\nHost: h\r\n"
        for i in 1...l.fieldCount { manyFields += "X-\(i): v\r\n" }  // Host + 100 = 101 fields
        let bigField = "X-Big: " + String(repeating: "v", count: l.fieldSize - 1 - 7)  // 8189 bytes + CRLF
        return [
            .init(name: "request line 4095 bytes", raw: longLine + "\r\nHost: h\r\n\r\n", status: 414),
            .init(name: "request line 4095 bytes, bare LF", raw: longLine + "\nHost: h\n\n", status: 414),
            .init(name: "request line 64 KiB", raw: "GET /" + String(repeating: "a", count: 65536), status: 414),
            .init(name: "101 fields", raw: manyFields + "\r\n", status: 431),
            .init(name: "8189-byte field (8191 with CRLF)", raw: "GET / HTTP/1.1\r\nHost: h\r\n\(bigField)\r\n\r\n", status: 431),
            .init(name: "8189-byte field, no newline yet", raw: "GET / HTTP/1.1\r\nHost: h\r\n\(bigField)", status: 431),
            .init(name: "custom request line limit", raw: "GET /abcdef HTTP/1.1\r\nHost: h\r\n\r\n", status: 414,
                  limits: HTTPLimits(requestLine: 16)),
            .init(name: "custom field count", raw: "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", status: 431,
                  limits: HTTPLimits(fieldCount: 2)),
            .init(name: "custom field size", raw: "GET / HTTP/1.1\r\nHost: h\r\nX-Long: 12345\r\n\r\n", status: 431,
                  limits: HTTPLimits(fieldSize: 14)),  // "X-Long: 12345" is 13 bytes, 15 with CRLF
        ]
    }()

    static func check(_ c: Case) {
        let whole = ParserHarness.parse(c.raw, limits: c.limits)
        #expect(whole.status == c.status, "one shot: \(whole.result)")
        let trickled = ParserHarness.parseIncrementally(c.raw, limits: c.limits, step: 1)
        #expect(trickled.status == c.status, "byte by byte: \(trickled.result)")
    }

    @Test(arguments: framing) func framingIsUnambiguous(_ c: Case) { Self.check(c) }
    @Test(arguments: fieldSyntax) func fieldSyntaxIsStrict(_ c: Case) { Self.check(c) }
    @Test(arguments: requestLine) func requestLineIsStrict(_ c: Case) { Self.check(c) }
    @Test(arguments: limits) func limitsAreEnforced(_ c: Case) { Self.check(c) }

    /// The word-at-a-time scans must find a forbidden byte wherever it sits in a long value or target.
    @Test(arguments: [0x00, 0x01, 0x0A, 0x0D, 0x1F, 0x7F] as [UInt8])
    func forbiddenByteAtEveryPosition(_ bad: UInt8) {
        let value = Array(String(repeating: "abcdefgh", count: 5).utf8)
        for position in 0..<value.count {
            var v = value
            v[position] = bad
            let raw = Array("GET / HTTP/1.1\r\nHost: h\r\nX-V: ".utf8) + v + Array("\r\n\r\n".utf8)
            let result = ParserHarness.parse(bytes: raw).result
            if bad == 0x0A && position == value.count - 1 {
                #expect(result.head != nil, "a bare LF ending the line is a line ending")
            } else {
                #expect(result.status == 400, "value byte \(bad) at \(position): \(result)")
            }
            var t = value
            t[position] = bad
            let line = Array("GET /".utf8) + t + Array(" HTTP/1.1\r\nHost: h\r\n\r\n".utf8)
            let lineResult = ParserHarness.parse(bytes: line).result
            #expect(lineResult.status == 400, "target byte \(bad) at \(position): \(lineResult)")
        }
    }

    @Test func allowedValueBytesAtEveryPosition() throws {
        let value = Array(String(repeating: "abcdefgh", count: 5).utf8)
        for allowed in [0x09, 0x20, 0x7E, 0x80, 0xFF] as [UInt8] {
            for position in 1..<(value.count - 1) {
                var v = value
                v[position] = allowed
                let raw = Array("GET / HTTP/1.1\r\nHost: h\r\nX-V: ".utf8) + v + Array("\r\n\r\n".utf8)
                let p = ParserHarness.parse(bytes: raw)
                let head = try #require(p.head, "byte \(allowed) at \(position)")
                #expect(p.fields[1].value.count == Int32(v.count))
                #expect(head.fieldCount == 2)
            }
        }
    }

    /// Every prefix of a valid request is either incomplete or (at the end) the same request, and no
    /// prefix crashes; every single-byte corruption yields a definite answer without crashing.
    @Test func prefixesAndCorruptionsNeverCrash() {
        let raw = Array("POST /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nContent-Length: 10\r\nConnection: keep-alive\r\n\r\n".utf8)
        for k in 0..<raw.count {
            #expect(ParserHarness.parse(bytes: Array(raw[0..<k])).result == .incomplete)
        }
        let bytesToTry: [UInt8] = [0x00, 0x09, 0x0A, 0x0D, 0x20, 0x3A, 0x7F, 0xFF, UInt8(ascii: "a"), UInt8(ascii: ",")]
        for position in 0..<raw.count {
            for byte in bytesToTry {
                var corrupted = raw
                corrupted[position] = byte
                let result = ParserHarness.parse(bytes: corrupted).result
                if case .failed(let e) = result {
                    #expect([400, 414, 431, 413, 501, 505].contains(e.status))
                }
            }
        }
    }
}

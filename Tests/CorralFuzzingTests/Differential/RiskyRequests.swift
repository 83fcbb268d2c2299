/// Request streams around the edges where HTTP parsers are known to part ways: framing headers,
/// whitespace, obs-text, chunk sizes and extensions, line endings, pipelining and invalid bytes.
/// Each hand-made case is one change to a valid request, followed by a plain pipelined request
/// whose position shows where each parser thinks the first one ended. Then seeded random
/// combinations and byte mutations of those. Deterministic: the same list every run.
enum RiskyRequests {
    struct Case {
        let label: String
        let bytes: [UInt8]
    }

    /// Latin-1: each scalar below 256 is one byte, so "\u{80}" is the byte 0x80.
    static func bytes(_ text: String) -> [UInt8] { text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) } }

    static let host = "Host: example.com\r\n"
    static let next = "GET /next HTTP/1.1\r\nHost: example.com\r\n\r\n"
    static let chunkedHello = "5\r\nhello\r\n0\r\n\r\n"

    static func all() -> [Case] {
        var generator = SplitMix64(seed: 0x636f7272616c)
        let handMade = requestLines() + fieldLines() + framing() + chunkedBodies() + lineEndings()
        return handMade + pipelines(of: handMade, using: &generator) + mutations(using: &generator)
    }

    static func requestLines() -> [Case] {
        let lines = [
            "GET / HTTP/1.1", "GET  / HTTP/1.1", "GET /  HTTP/1.1", "GET\t/ HTTP/1.1", "GET /\tHTTP/1.1",
            "GET / HTTP/1.1 ", "GET / HTTP/1.1\t", " GET / HTTP/1.1", "get / HTTP/1.1", "GET / http/1.1",
            "GET / HTTP/1.0", "GET / HTTP/1.2", "GET / HTTP/2.0", "GET / HTTP/0.9", "GET / HTTP/1.10",
            "GET / HTTP/01.1", "GET / HTTP/1", "GET / HTTP/", "GET /", "GET", "/ HTTP/1.1", "GET  HTTP/1.1",
            "PURGE / HTTP/1.1", "FOO / HTTP/1.1", "M-SEARCH * HTTP/1.1", "G\u{7f}T / HTTP/1.1", "GE\u{80}T / HTTP/1.1",
            "GET http://example.com/ HTTP/1.1", "GET http://example.com HTTP/1.1", "GET http:// HTTP/1.1",
            "GET example.com HTTP/1.1", "GET * HTTP/1.1", "OPTIONS * HTTP/1.1", "CONNECT example.com:443 HTTP/1.1",
            "CONNECT example.com HTTP/1.1", "CONNECT / HTTP/1.1", "GET /a b HTTP/1.1", "GET /a\u{80} HTTP/1.1",
            "GET /a\u{ff} HTTP/1.1", "GET /a#frag HTTP/1.1", "GET /?q=1 HTTP/1.1", "GET /a?b?c HTTP/1.1",
            "GET /a\u{0}b HTTP/1.1", "GET /a\u{7f}b HTTP/1.1", "GET /a\u{1}b HTTP/1.1", "GET /a\u{b}b HTTP/1.1",
            "GET /a\u{c}b HTTP/1.1", "GET /a\rb HTTP/1.1", "GET /a\\b HTTP/1.1", "GET /a{}|^`\"<> HTTP/1.1",
            "GET /" + String(repeating: "a", count: 4200) + " HTTP/1.1",
        ]
        return lines.map { Case(label: "request line \(escaped($0))", bytes: bytes($0 + "\r\n" + host + "\r\n" + next)) }
    }

    static func fieldLines() -> [Case] {
        let fields = [
            "X: a b", "X:  a  ", "X:\ta\t", "X:", "X: ", "X:a", "X: \u{80}\u{ff}", "X: a\u{0}b", "X: a\u{7f}b",
            "X: a\u{1}b", "X: a\u{b}b", "X: a\rb", "X: a\u{c}", "X\u{80}: a", "X Y: a", ": a", "X : a", "X\t: a",
            " X: a", "\tX: a", "X: a\r\n b", "X: a\r\n\tb", "X a", "X;: a", "X\"@: a", "X{}: a", "X!#$%&'*+-.^_`|~: a",
            "Host: other.example", "Host: a b", "Host: \u{80}", "Host:", "Connection: close", "Connection: keep-alive",
            "Connection: close, keep-alive", "Connection: Close", "Connection: close\r\nConnection: keep-alive",
            "Connection: Upgrade\r\nUpgrade: websocket", "Upgrade: h2c", "Expect: 100-continue", "Expect: 100-Continue",
            "Content-Type: a\r\nContent-Type: b", "X: " + String(repeating: "v", count: 9000),
            (0..<101).map { "X\($0): v" }.joined(separator: "\r\n"), (0..<40).map { "X\($0): v" }.joined(separator: "\r\n"),
        ]
        var cases = fields.map {
            Case(label: "field line \(escaped($0))", bytes: bytes("GET / HTTP/1.1\r\n" + host + $0 + "\r\n\r\n" + next))
        }
        cases.append(Case(label: "no Host", bytes: bytes("GET / HTTP/1.1\r\nX: y\r\n\r\n" + next)))
        cases.append(Case(label: "two Host fields", bytes: bytes("GET / HTTP/1.1\r\n" + host + host + "\r\n" + next)))
        cases.append(Case(label: "HTTP/1.0 without Host", bytes: bytes("GET / HTTP/1.0\r\n\r\n" + next)))
        cases.append(Case(label: "HTTP/1.0 keep-alive", bytes: bytes("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + next)))
        return cases
    }

    /// The framing fields of a POST with the body each implies, then the pipelined request.
    static func framing() -> [Case] {
        let lengths = [
            "Content-Length: 5", "Content-Length:5", "Content-Length: 5 ", "Content-Length:\t5\t", "Content-Length: +5",
            "Content-Length: -5", "Content-Length: 05", "Content-Length: 0005", "Content-Length: 5,5", "Content-Length: 5, 5",
            "Content-Length: 5\u{b}", "Content-Length: 0x5", "Content-Length: 5.0", "Content-Length: 5a", "Content-Length: 5 5",
            "Content-Length: ", "Content-Length: 99999999999999999999", "Content-Length: 18446744073709551621",
            "Content-Length: 5\r\nContent-Length: 5", "Content-Length: 5\r\nContent-Length: 6", "Content-Length : 5",
            "Content-Length\t: 5", "Content-Length\u{0}: 5", "content-length: 5", "CONTENT-LENGTH: 5", "Content_Length: 5",
            "X: y\r\n Content-Length: 5", "Content-Length: 5\r\n 6", "Content-Length:\r\n 5", "Content-Length: \u{a0}5",
            "Content-Length: \u{660}", "Content-Length: 5\u{0}",
        ]
        let codings = [
            "Transfer-Encoding: chunked", "Transfer-Encoding: Chunked", "Transfer-Encoding: CHUNKED",
            "Transfer-Encoding:  chunked ", "Transfer-Encoding:\tchunked", "Transfer-Encoding: chunked, identity",
            "Transfer-Encoding: identity, chunked", "Transfer-Encoding: gzip, chunked", "Transfer-Encoding: chunked, chunked",
            "Transfer-Encoding: chunked,", "Transfer-Encoding: ,chunked", "Transfer-Encoding: , chunked", "Transfer-Encoding: xchunked",
            "Transfer-Encoding: chunkedx", "Transfer-Encoding: chunked\u{b}", "Transfer-Encoding: chunked;q=1",
            "Transfer-Encoding: \"chunked\"", "Transfer-Encoding : chunked", "Transfer-Encoding\t: chunked",
            "Transfer_Encoding: chunked", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
            "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked", "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip",
            "Transfer-Encoding: \u{80}chunked", "Transfer-Encoding:\r\n chunked", "Transfer-Encoding: chunked\r\n , identity",
            "Transfer-Encoding: identity", "Transfer-Encoding: ", "X: y\r\n Transfer-Encoding: chunked",
        ]
        var cases: [Case] = []
        for line in lengths { cases.append(post(line, body: "hello")) }
        for line in codings { cases.append(post(line, body: chunkedHello)) }
        // Both framings at once, in either order and with bodies that read as a second request
        // under one of them: the classic CL.TE and TE.CL shapes.
        let smuggled = "GET /smuggled HTTP/1.1\r\n" + host + "\r\n"
        let clte = "0\r\n\r\n" + smuggled
        let tecl = "\(String(smuggled.unicodeScalars.count + 2, radix: 16))\r\n" + smuggled + "\r\n0\r\n\r\n"
        for (cl, te) in [("Content-Length: \(clte.unicodeScalars.count)", "Transfer-Encoding: chunked"),
                         ("Content-Length: 4", "Transfer-Encoding: chunked"),
                         ("Content-Length: 4", "Transfer-Encoding: identity, chunked"),
                         ("Content-Length: \(clte.unicodeScalars.count)", "Transfer-Encoding: xchunked"),
                         ("Content-Length: 4", "Transfer-Encoding : chunked")] {
            cases.append(post(cl + "\r\n" + te, body: clte))
            cases.append(post(te + "\r\n" + cl, body: tecl))
        }
        cases.append(Case(label: "chunked in HTTP/1.0",
                          bytes: bytes("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" + chunkedHello + next)))
        cases.append(Case(label: "GET with a body", bytes: bytes("GET / HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nhello" + next)))
        cases.append(Case(label: "HEAD with a body", bytes: bytes("HEAD / HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nhello" + next)))
        return cases
    }

    static func post(_ fields: String, body: String) -> Case {
        Case(label: "framing \(escaped(fields))", bytes: bytes("POST /upload HTTP/1.1\r\n" + host + fields + "\r\n\r\n" + body + next))
    }

    static func chunkedBodies() -> [Case] {
        let bodies = [
            "5;ext\r\nhello\r\n0\r\n\r\n", "5;ext=val\r\nhello\r\n0\r\n\r\n", "5;ext=\"quoted\"\r\nhello\r\n0\r\n\r\n",
            "5;ext=\"a\\\"b\"\r\nhello\r\n0\r\n\r\n", "5;a=b;c=d\r\nhello\r\n0\r\n\r\n", "5 ;ext\r\nhello\r\n0\r\n\r\n",
            "5\t;ext\r\nhello\r\n0\r\n\r\n", "5; ext\r\nhello\r\n0\r\n\r\n", "5;ext =v\r\nhello\r\n0\r\n\r\n",
            "5;ext= v\r\nhello\r\n0\r\n\r\n", "5;\r\nhello\r\n0\r\n\r\n", "5;=v\r\nhello\r\n0\r\n\r\n",
            "5;ext=\"open\r\nhello\r\n0\r\n\r\n", "5;ext=\u{80}\r\nhello\r\n0\r\n\r\n", "5;ext\u{0}\r\nhello\r\n0\r\n\r\n",
            "5;ext=\"\u{80}\"\r\nhello\r\n0\r\n\r\n", "5;ext\nhello\r\n0\r\n\r\n",
            "5 \r\nhello\r\n0\r\n\r\n", "5\t\r\nhello\r\n0\r\n\r\n", "05\r\nhello\r\n0\r\n\r\n", "0005\r\nhello\r\n0\r\n\r\n",
            "+5\r\nhello\r\n0\r\n\r\n", "-5\r\nhello\r\n0\r\n\r\n", "0x5\r\nhello\r\n0\r\n\r\n", " 5\r\nhello\r\n0\r\n\r\n",
            "5\nhello\n0\n\n", "5\nhello\r\n0\r\n\r\n", "5\r\nhello\n0\r\n\r\n", "5\r\nhello\r\n0\n\n", "5\r\nhello\r\n0\r\n\n",
            "5\rhello\r\n0\r\n\r\n", "5\r\nhello0\r\n\r\n", "5\r\nhelloXX\r\n0\r\n\r\n", "5\r\nhell\r\n0\r\n\r\n",
            "5\r\nhello\r\r\n0\r\n\r\n", "fffffffffffffffff\r\nhello\r\n0\r\n\r\n", "10000000000000005\r\nhello\r\n0\r\n\r\n",
            "0000000000000000005\r\nhello\r\n0\r\n\r\n", "A\r\n0123456789\r\n0\r\n\r\n", "a\r\n0123456789\r\n0\r\n\r\n",
            "g\r\nhello\r\n0\r\n\r\n", "\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
            "5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n", "5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n",
            "5\r\nhello\r\n0\r\nHost: other\r\n\r\n", "5\r\nhello\r\n0\r\nbad trailer\r\n\r\n", "5\r\nhello\r\n0\r\n folded: x\r\n\r\n",
            "5\r\nhello\r\n0\r\nX: \u{80}\r\n\r\n", "5\r\nhello\r\n0\r\nX: a\u{0}\r\n\r\n", "5\r\nhello\r\n0\r\nX : a\r\n\r\n",
            "5\r\nhello\r\n0\r\n\r\n\r\n", "5\r\nhello\r\n0\r\n", "5\r\nhello\r\n0;ext\r\n\r\n", "5\r\nhello\r\n0 \r\n\r\n",
            "5\r\nhello\r\n00\r\n\r\n", "5\r\r\nhello\r\n0\r\n\r\n", "5\r\nhe\u{0}lo\r\n0\r\n\r\n", "5\r\nhello\r\n\r\n",
            "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", "0\r\n\r\n",
        ]
        return bodies.map {
            Case(label: "chunked body \(escaped($0))",
                 bytes: bytes("POST /upload HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n" + $0 + next))
        }
    }

    static func lineEndings() -> [Case] {
        let streams = [
            "GET / HTTP/1.1\nHost: example.com\n\n", "GET / HTTP/1.1\nHost: example.com\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: example.com\n\r\n", "GET / HTTP/1.1\r\nHost: example.com\r\n\n",
            "GET / HTTP/1.1\rHost: example.com\r\n\r\n", "GET / HTTP/1.1\r\nHost: example.com\r\r\n\r\n",
            "GET / HTTP/1.1\r\r\nHost: example.com\r\n\r\n", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\r\n",
            "\r\nGET / HTTP/1.1\r\nHost: example.com\r\n\r\n", "\nGET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
            String(repeating: "\r\n", count: 8) + "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
            String(repeating: "\r\n", count: 9) + "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
            " \r\nGET / HTTP/1.1\r\nHost: example.com\r\n\r\n", "\rGET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
            "POST / HTTP/1.1\nHost: example.com\nContent-Length: 5\n\nhello",
            "POST / HTTP/1.1\nHost: example.com\nTransfer-Encoding: chunked\n\n5\r\nhello\r\n0\r\n\r\n",
        ]
        return streams.map { Case(label: "line endings \(escaped($0))", bytes: bytes($0 + next)) }
    }

    /// Two to four hand-made cases back to back, as pipelined requests.
    static func pipelines(of cases: [Case], using generator: inout SplitMix64) -> [Case] {
        (0..<600).map { _ in
            let picks = (0..<(2 + generator.next(below: 3))).map { _ in cases[generator.next(below: cases.count)] }
            return Case(label: "pipeline of " + picks.map(\.label).joined(separator: " + "), bytes: picks.flatMap(\.bytes))
        }
    }

    static let riskyBytes = bytes("\u{0}\u{1}\t\n\u{b}\u{c}\r \"(),/:;<=>?@[\\]{}\u{7f}\u{80}\u{ff}0159aAfFgGxX-+.")
    static let validStreams = [
        "GET / HTTP/1.1\r\n" + host + "\r\n" + next,
        "POST /upload HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nhello" + next,
        "POST /upload HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n" + next,
        "GET /a?b=c HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n" + next,
    ].map(bytes)

    /// A valid stream with one to three bytes inserted, replaced or removed.
    static func mutations(using generator: inout SplitMix64) -> [Case] {
        (0..<3000).map { _ in
            var stream = validStreams[generator.next(below: validStreams.count)]
            for _ in 0..<(1 + generator.next(below: 3)) {
                let at = generator.next(below: stream.count)
                let byte = riskyBytes[generator.next(below: riskyBytes.count)]
                switch generator.next(below: 3) {
                case 0: stream.insert(byte, at: at)
                case 1: stream[at] = byte
                default: stream.remove(at: at)
                }
            }
            return Case(label: "mutation \(escaped(latin1(stream)))", bytes: stream)
        }
    }

    static func latin1(_ bytes: [UInt8]) -> String { String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) })) }

    /// A stream's bytes as a readable line: CR, LF, tab and bytes outside printable ASCII escaped.
    static func escaped(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\r": out += "\\r"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case " "..."~": out.unicodeScalars.append(scalar)
            default: out += "\\x" + String(scalar.value & 0xff, radix: 16)
            }
        }
        return out.count > 160 ? String(out.prefix(150)) + "…(\(out.count) chars)" : out
    }
}

/// A small seeded generator, so the same streams are made on every run and machine.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func next(below bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

import CorralHTTP
import Testing

/// Drives a `ChunkedDecoder` the way a connection does: bytes arrive in pieces and are appended to
/// a pending buffer; the decoder is called until it needs more, and consumed bytes are dropped.
struct ChunkedRun: Equatable, CustomStringConvertible {
    enum Outcome: Equatable {
        case done
        case needMore
        case failed(UInt16)
    }

    var body: [UInt8] = []
    var outcome: Outcome = .needMore
    /// Bytes after the end of the chunked body (the next pipelined request).
    var leftover: [UInt8] = []
    /// Number of `.data` steps returned.
    var dataSteps = 0

    var bodyText: String { String(decoding: body, as: UTF8.self) }
    var description: String { "\(outcome) body=\(bodyText.debugDescription) leftover=\(leftover.count)" }

    static func decode(_ pieces: [[UInt8]], bodyLimit: Int = 0) -> ChunkedRun {
        var decoder = ChunkedDecoder(bodyLimit: bodyLimit)
        var run = ChunkedRun()
        var pending: [UInt8] = []
        for piece in pieces {
            pending += piece
            while true {
                let step = pending.withUnsafeBytes { decoder.next($0) }
                switch step {
                case .data(let range, let consumed):
                    #expect(range.count > 0)
                    #expect(range.end == consumed)
                    run.body += pending[Int(range.start)..<range.end]
                    run.dataSteps += 1
                    pending.removeFirst(consumed)
                    continue
                case .needMore(let consumed):
                    #expect(consumed == pending.count)
                    pending.removeFirst(consumed)
                case .done(let consumed):
                    pending.removeFirst(consumed)
                    run.outcome = .done
                    run.leftover = pending
                    #expect(decoder.isDone)
                    return run
                case .failed(let error):
                    run.outcome = .failed(error.status)
                    return run
                }
                break
            }
        }
        return run
    }

    static func decode(_ text: String, bodyLimit: Int = 0) -> ChunkedRun {
        decode([Array(text.utf8)], bodyLimit: bodyLimit)
    }

    /// The input split into pieces of `size` bytes.
    static func decode(_ text: String, pieceSize size: Int, bodyLimit: Int = 0) -> ChunkedRun {
        let bytes = Array(text.utf8)
        let pieces = stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min($0 + size, bytes.count)]) }
        return decode(pieces, bodyLimit: bodyLimit)
    }
}

@Suite("ChunkedDecoder")
struct ChunkedDecoderTests {
    static let wiki = "4\r\nWiki\r\n7\r\npedia i\r\nB\r\nn \r\nchunks.\r\n0\r\n\r\n"

    @Test func decodesASimpleBody() {
        let run = ChunkedRun.decode(Self.wiki)
        #expect(run.outcome == .done)
        #expect(run.bodyText == "Wikipedia in \r\nchunks.")
        #expect(run.leftover.isEmpty)
        #expect(run.dataSteps == 3)
    }

    @Test func stepsReportOffsetsIntoTheInput() {
        let bytes = Array("5\r\nhello\r\n0\r\n\r\nNEXT".utf8)
        var decoder = ChunkedDecoder(bodyLimit: 0)
        bytes.withUnsafeBytes { raw in
            #expect(decoder.next(raw) == .data(ByteRange(start: 3, count: 5), consumed: 8))
            let rest = UnsafeRawBufferPointer(rebasing: raw[8...])
            #expect(decoder.next(rest) == .done(consumed: 7))
            #expect(decoder.isDone)
            #expect(decoder.bodyLength == 5)
            // Once done, it stays done and consumes nothing more.
            #expect(decoder.next(UnsafeRawBufferPointer(rebasing: raw[15...])) == .done(consumed: 0))
        }
    }

    @Test func emptyInputNeedsMore() {
        var decoder = ChunkedDecoder(bodyLimit: 0)
        #expect(decoder.next(UnsafeRawBufferPointer(start: nil, count: 0)) == .needMore(consumed: 0))
        let bytes: [UInt8] = Array("1".utf8)
        bytes.withUnsafeBytes { #expect(decoder.next($0) == .needMore(consumed: 1)) }
    }

    @Test func dataArrivesAsItComes() {
        var decoder = ChunkedDecoder(bodyLimit: 0)
        let first = Array("a\r\n0123".utf8)
        first.withUnsafeBytes { #expect(decoder.next($0) == .data(ByteRange(start: 3, count: 4), consumed: 7)) }
        let second = Array("456789\r\n0\r\n\r\n".utf8)
        second.withUnsafeBytes { raw in
            #expect(decoder.next(raw) == .data(ByteRange(start: 0, count: 6), consumed: 6))
            #expect(decoder.next(UnsafeRawBufferPointer(rebasing: raw[6...])) == .done(consumed: 7))
        }
    }

    static let validBodies: [(String, String)] = [
        (wiki, "Wikipedia in \r\nchunks."),
        ("0\r\n\r\n", ""),
        ("1\r\nx\r\n0\r\n\r\n", "x"),
        ("a\r\n0123456789\r\n0\r\n\r\n", "0123456789"),
        ("A\r\n0123456789\r\n0\r\n\r\n", "0123456789"),
        ("00000a\r\n0123456789\r\n000\r\n\r\n", "0123456789"),
        ("10\r\n0123456789abcdef\r\n0\r\n\r\n", "0123456789abcdef"),
        ("5;name=value\r\nhello\r\n0\r\n\r\n", "hello"),
        ("5;name\r\nhello\r\n0;last\r\n\r\n", "hello"),
        ("5;a;b=c;d=\"e f\"\r\nhello\r\n0\r\n\r\n", "hello"),
        ("5 ; a = b ; c = \"d\"\r\nhello\r\n0\r\n\r\n", "hello"),
        ("5;q=\"a\\\"b\\\\c;d\"\r\nhello\r\n0\r\n\r\n", "hello"),
        ("5;q=\"\"\r\nhello\r\n0\r\n\r\n", "hello"),
        ("5\r\nhello\r\n0\r\nChecksum: abc\r\n\r\n", "hello"),
        ("5\r\nhello\r\n0\r\nA: 1\r\nB:2\r\nEmpty:\r\nC: x\ty \u{e9}\r\n\r\n", "hello"),
        ("3\r\n\r\n\r\r\n0\r\n\r\n", "\r\n\r"),
        ("2\r\n\0\0\r\n0\r\n\r\n", "\0\0"),
    ]

    @Test(arguments: validBodies)
    func validBody(_ input: String, _ expected: String) {
        let run = ChunkedRun.decode(input)
        #expect(run.outcome == .done)
        #expect(run.bodyText == expected)
        #expect(run.leftover.isEmpty)
    }

    @Test(arguments: validBodies)
    func everySplitPointReassemblesTheSameBody(_ input: String, _ expected: String) {
        let bytes = Array(input.utf8)
        for cut in 0...bytes.count {
            let run = ChunkedRun.decode([Array(bytes[0..<cut]), Array(bytes[cut...])])
            #expect(run.outcome == .done, "cut at \(cut)")
            #expect(run.bodyText == expected, "cut at \(cut)")
        }
        for size in [1, 2, 3, 5, 8] {
            let run = ChunkedRun.decode(input, pieceSize: size)
            #expect(run.outcome == .done, "pieces of \(size)")
            #expect(run.bodyText == expected, "pieces of \(size)")
        }
    }

    @Test func everyThreeWaySplitOfALargerBody() {
        let input = "3;x=1\r\nabc\r\n10\r\n0123456789ABCDEF\r\n1\r\nZ\r\n0\r\nT: v\r\n\r\n"
        let bytes = Array(input.utf8)
        for a in 0...bytes.count {
            for b in a...bytes.count {
                let run = ChunkedRun.decode([Array(bytes[0..<a]), Array(bytes[a..<b]), Array(bytes[b...])])
                if run.outcome != .done || run.bodyText != "abc0123456789ABCDEFZ" {
                    Issue.record("split \(a), \(b): \(run)")
                    return
                }
            }
        }
    }

    @Test func pipelinedBytesAfterTheBodyAreLeftAlone() {
        let next = "GET /next HTTP/1.1\r\nHost: h\r\n\r\n"
        for size in [1, 4, 1000] {
            let run = ChunkedRun.decode("5\r\nhello\r\n0\r\nT: 1\r\n\r\n" + next, pieceSize: size)
            #expect(run.outcome == .done)
            #expect(run.bodyText == "hello")
            // Pieces after the one holding the end were never fed; what was fed and not consumed is left.
            let leftover = String(decoding: run.leftover, as: UTF8.self)
            #expect(next.hasPrefix(leftover))
        }
        let whole = ChunkedRun.decode("5\r\nhello\r\n0\r\n\r\n" + next)
        #expect(String(decoding: whole.leftover, as: UTF8.self) == next)
    }

    @Test func incompleteBodiesNeedMore() {
        for input in ["", "5", "5\r", "5\r\n", "5\r\nhel", "5\r\nhello", "5\r\nhello\r", "5\r\nhello\r\n",
                      "5\r\nhello\r\n0", "5\r\nhello\r\n0\r\n", "5\r\nhello\r\n0\r\nT: v", "5\r\nhello\r\n0\r\n\r",
                      "5;ext=\"quo", "7FFFFFFFFFFFFFFF\r\n"] {
            #expect(ChunkedRun.decode(input).outcome == .needMore, "\(input.debugDescription)")
        }
    }

    // MARK: Limits

    @Test func bodyLimit() {
        #expect(ChunkedRun.decode("a\r\n0123456789\r\n0\r\n\r\n", bodyLimit: 10).outcome == .done)
        #expect(ChunkedRun.decode("b\r\n0123456789a\r\n0\r\n\r\n", bodyLimit: 10).outcome == .failed(413))
        #expect(ChunkedRun.decode("5\r\n01234\r\n6\r\n012345\r\n0\r\n\r\n", bodyLimit: 10).outcome == .failed(413))
        // Refused as soon as the size line is read, before any of the data arrives.
        #expect(ChunkedRun.decode("100000\r\n", bodyLimit: 1000).outcome == .failed(413))
        // 0 = unlimited, up to Int.max in total.
        #expect(ChunkedRun.decode("7FFFFFFFFFFFFFFF\r\nabc", bodyLimit: 0).bodyText == "abc")
        #expect(ChunkedRun.decode("7FFFFFFFFFFFFFFF\r\nabc", bodyLimit: 100).outcome == .failed(413))
        #expect(ChunkedRun.decode("1\r\na\r\n7FFFFFFFFFFFFFFF\r\n", bodyLimit: 0).outcome == .failed(413))
    }

    @Test func sizeLineLengthIsBounded() {
        let ext = String(repeating: "a", count: ChunkedDecoder.maximumSizeLineLength - 2)
        #expect(ChunkedRun.decode("5;\(ext)\r\nhello\r\n0\r\n\r\n").outcome == .done)
        #expect(ChunkedRun.decode("5;\(ext)a\r\nhello\r\n0\r\n\r\n").outcome == .failed(400))
        #expect(ChunkedRun.decode("5;" + String(repeating: "a", count: 100_000)).outcome == .failed(400))
        let quoted = "5;q=\"" + String(repeating: " ", count: 100_000)
        #expect(ChunkedRun.decode(quoted, pieceSize: 1000).outcome == .failed(400))
    }

    @Test func trailerSectionIsBounded() {
        let value = String(repeating: "v", count: 1000)
        var trailers = ""
        while trailers.utf8.count + 1010 < ChunkedDecoder.maximumTrailerSize { trailers += "X: \(value)\r\n" }
        #expect(ChunkedRun.decode("0\r\n\(trailers)\r\n").outcome == .done)
        let huge = "0\r\n" + String(repeating: "X: \(value)\r\n", count: 20)
        #expect(ChunkedRun.decode(huge).outcome == .failed(431))
        let endless = "0\r\nX: " + String(repeating: "v", count: 20_000)
        #expect(ChunkedRun.decode(endless, pieceSize: 100).outcome == .failed(431))
    }

    // MARK: Bad framing

    static let badFraming: [(String, String, UInt16)] = [
        ("empty size", "\r\nhello\r\n0\r\n\r\n", 400),
        ("non-hex size", "g\r\nhello\r\n0\r\n\r\n", 400),
        ("0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", 400),
        ("negative size", "-5\r\nhello\r\n0\r\n\r\n", 400),
        ("plus sign", "+5\r\nhello\r\n0\r\n\r\n", 400),
        ("leading space", " 5\r\nhello\r\n0\r\n\r\n", 400),
        ("trailing space", "5 \r\nhello\r\n0\r\n\r\n", 400),
        ("trailing tab", "5\t\r\nhello\r\n0\r\n\r\n", 400),
        ("17 hex digits", "00000000000000005\r\nhello\r\n0\r\n\r\n", 400),
        ("overflowing size", "FFFFFFFFFFFFFFFF\r\n", 400),
        ("8000000000000000", "8000000000000000\r\n", 400),
        ("bare LF after size", "5\nhello\r\n0\r\n\r\n", 400),
        ("bare CR after size", "5\rhello\r\n0\r\n\r\n", 400),
        ("bare LF after data", "5\r\nhello\n0\r\n\r\n", 400),
        ("data longer than size", "5\r\nhelloX\r\n0\r\n\r\n", 400),
        ("data shorter than size", "5\r\nhell\r\n0\r\n\r\n", 400),
        ("CR without LF after data", "5\r\nhello\rX0\r\n\r\n", 400),
        ("bare LF after last chunk", "5\r\nhello\r\n0\n\r\n", 400),
        ("bare LF at the end", "5\r\nhello\r\n0\r\n\n", 400),
        ("CR CR at the end", "5\r\nhello\r\n0\r\n\r\r", 400),
        ("garbage after last chunk", "0\r\nX\r\n\r\n", 400),
        ("ext without name", "5;\r\nhello\r\n0\r\n\r\n", 400),
        ("ext with empty name", "5;=v\r\nhello\r\n0\r\n\r\n", 400),
        ("ext with empty value", "5;a=\r\nhello\r\n0\r\n\r\n", 400),
        ("ext name BWS then CRLF", "5;a \r\nhello\r\n0\r\n\r\n", 400),
        ("ext value with space", "5;a=b c\r\nhello\r\n0\r\n\r\n", 400),
        ("ext bad name char", "5;a(b=c\r\nhello\r\n0\r\n\r\n", 400),
        ("ext unterminated quote", "5;a=\"b\r\nhello\r\n0\r\n\r\n", 400),
        ("ext quote then garbage", "5;a=\"b\"c\r\nhello\r\n0\r\n\r\n", 400),
        ("ext LF in quote", "5;a=\"b\nc\"\r\nhello\r\n0\r\n\r\n", 400),
        ("ext NUL in quote", "5;a=\"b\0c\"\r\nhello\r\n0\r\n\r\n", 400),
        ("ext escaped LF", "5;a=\"b\\\nc\"\r\nhello\r\n0\r\n\r\n", 400),
        ("ext bare LF", "5;a=b\nhello\r\n0\r\n\r\n", 400),
        ("ext NUL", "5;a=b\0\r\nhello\r\n0\r\n\r\n", 400),
        ("trailer obs-fold", "0\r\nA: 1\r\n folded\r\n\r\n", 400),
        ("trailer starting with SP", "0\r\n A: 1\r\n\r\n", 400),
        ("trailer space before colon", "0\r\nA : 1\r\n\r\n", 400),
        ("trailer empty name", "0\r\n: 1\r\n\r\n", 400),
        ("trailer without colon", "0\r\nA\r\n\r\n", 400),
        ("trailer NUL in value", "0\r\nA: 1\02\r\n\r\n", 400),
        ("trailer bare CR in value", "0\r\nA: 1\r2\r\n\r\n", 400),
        ("trailer bare LF", "0\r\nA: 1\n\r\n", 400),
        ("trailer DEL in value", "0\r\nA: 1\u{7F}\r\n\r\n", 400),
        ("trailer non-ASCII name", "0\r\n\u{e9}: 1\r\n\r\n", 400),
        // RFC 9110 §6.5.1: framing, routing and content fields may not arrive in a trailer.
        ("Content-Length in trailer", "0\r\nContent-Length: 5\r\n\r\n", 400),
        ("Transfer-Encoding in trailer", "0\r\ntransfer-encoding: chunked\r\n\r\n", 400),
        ("Host in trailer", "0\r\nHOST: evil.example\r\n\r\n", 400),
        ("Authorization in trailer", "0\r\nX-Ok: 1\r\nAuthorization: Basic eA==\r\n\r\n", 400),
        ("Content-Type in trailer", "5\r\nhello\r\n0\r\nContent-Type: text/html\r\n\r\n", 400),
        ("Trailer in trailer", "0\r\nTrailer: X\r\n\r\n", 400),
    ]

    @Test func allowedTrailersPassEvenWhenTheirNamesResembleProhibitedOnes() {
        for trailer in ["X-Checksum: abc", "Content-Lengthy: 5", "Hosts: 2", "Server-Timing: db;dur=53",
                        "X-" + String(repeating: "content-length", count: 4) + ": 1"] {
            #expect(ChunkedRun.decode("0\r\n\(trailer)\r\n\r\n").outcome == .done, "\(trailer)")
            #expect(ChunkedRun.decode("0\r\n\(trailer)\r\n\r\n", pieceSize: 1).outcome == .done, "\(trailer)")
        }
    }

    @Test(arguments: badFraming)
    func badFramingIsRejected(_ name: String, _ input: String, _ status: UInt16) {
        #expect(ChunkedRun.decode(input).outcome == .failed(status), "\(name)")
        #expect(ChunkedRun.decode(input, pieceSize: 1).outcome == .failed(status), "\(name), byte by byte")
    }

    @Test func failureIsSticky() {
        var decoder = ChunkedDecoder(bodyLimit: 0)
        let bad = Array("zz\r\n".utf8)
        let good = Array("5\r\nhello\r\n0\r\n\r\n".utf8)
        bad.withUnsafeBytes { #expect(decoder.next($0) == .failed(HTTPError(400, "invalid chunk size"))) }
        good.withUnsafeBytes {
            if case .failed(let e) = decoder.next($0) {
                #expect(e.status == 400)
            } else {
                Issue.record("a failed decoder must stay failed")
            }
        }
        #expect(decoder.next(UnsafeRawBufferPointer(start: nil, count: 0)) != .needMore(consumed: 0))
    }
}

import CorralControl
import CorralHTTP
import CorralSupervisor

/// What the fuzzers exercise (`make fuzz`, tests/fuzz/run.sh), each with the property it must
/// keep for any input. A broken property traps, so libFuzzer keeps the input as a crash; the
/// same functions replay the committed corpus and every past crash in `swift test`.
public enum FuzzTarget: String, CaseIterable, Sendable {
    case requestParser = "request-parser"
    case chunkedDecoder = "chunked-decoder"
    case proxyHeader = "proxy-header"
    case accessLogFormat = "access-log-format"
    case xmlrpc = "xmlrpc"
    case tomlConfiguration = "toml-configuration"
    case staticPath = "static-path"

    public func run(_ input: UnsafeRawBufferPointer) {
        switch self {
        case .requestParser: Self.requestParser(input)
        case .chunkedDecoder: Self.chunkedDecoder(input)
        case .proxyHeader: Self.proxyHeader(input)
        case .accessLogFormat: _ = try? AccessLogFormat(String(decoding: input, as: UTF8.self))
        case .xmlrpc: Self.xmlrpc(input)
        case .tomlConfiguration:
            _ = try? ConfigurationLoader.assignments(fromTOML: String(decoding: input, as: UTF8.self), path: "fuzz.toml")
        case .staticPath: Self.staticPath(input)
        }
    }

    /// The first byte says how many split points follow (0–7), each a byte: where the rest is cut
    /// into the pieces a socket might deliver. Returns the cut points, ascending, and the data.
    static func splits(_ input: UnsafeRawBufferPointer) -> ([Int], UnsafeRawBufferPointer) {
        guard let first = input.first else { return ([], input) }
        let count = min(Int(first % 8), input.count - 1)
        let data = UnsafeRawBufferPointer(rebasing: input[(1 + count)...])
        let cuts = input[1..<(1 + count)].map { data.isEmpty ? 0 : Int($0) % data.count }.sorted()
        return (cuts, data)
    }

    /// Fed whole or in pieces (a resumable parser, growing buffer), a head parses the same.
    static func requestParser(_ input: UnsafeRawBufferPointer) {
        let (cuts, data) = splits(input)
        let limits = HTTPLimits()
        let fields = UnsafeMutableBufferPointer<HeaderField>.allocate(capacity: limits.fieldCount)
        defer { fields.deallocate() }
        var whole = RequestParser(limits: limits)
        let expected = whole.parseHead(data, fields: fields)
        var pieces = RequestParser(limits: limits)
        for cut in cuts + [data.count] {
            let result = pieces.parseHead(UnsafeRawBufferPointer(rebasing: data[..<cut]), fields: fields)
            if result == .incomplete { continue }
            precondition(sameOutcome(result, expected), "split at \(cuts): \(result), whole: \(expected)")
            return
        }
        precondition(expected == .incomplete, "whole: \(expected), in pieces: incomplete")
    }

    /// The same head, or a refusal both ways. The refusal's status may differ: a bare CR in a head
    /// still arriving is refused (400) at once, while the complete head may first break another
    /// rule (a 505 version, a 431 limit).
    static func sameOutcome(_ a: HeadParseResult, _ b: HeadParseResult) -> Bool {
        if case .failed = a, case .failed = b { return true }
        return a == b
    }

    /// Decoded whole or in pieces, a chunked body gives the same bytes and the same end.
    static func chunkedDecoder(_ input: UnsafeRawBufferPointer) {
        let (cuts, data) = splits(input)
        let whole = decodeChunked(data, arriving: [data.count])
        let pieces = decodeChunked(data, arriving: cuts + [data.count])
        precondition(whole == pieces, "split at \(cuts): \(pieces), whole: \(whole)")
    }

    struct Decoded: Equatable {
        enum End: Equatable {
            case incomplete
            /// The body's framing ended after this many bytes of the input.
            case done(after: Int)
            case failed(HTTPError)
        }
        var body: [UInt8] = []
        var end = End.incomplete
    }

    /// What a connection does: decodes what has arrived, keeps an unconsumed partial framing
    /// line, and waits for the next piece when the decoder needs more.
    static func decodeChunked(_ data: UnsafeRawBufferPointer, arriving ends: [Int]) -> Decoded {
        var decoder = ChunkedDecoder(bodyLimit: 1 << 20)
        var decoded = Decoded()
        var cursor = 0
        for available in ends where available > cursor {
            decoding: while cursor < available {
                let window = UnsafeRawBufferPointer(rebasing: data[cursor..<available])
                switch decoder.next(window) {
                case .data(let range, let consumed):
                    decoded.body += range.bytes(in: window)
                    cursor += consumed
                case .needMore(let consumed):
                    cursor += consumed
                    break decoding
                case .done(let consumed):
                    decoded.end = .done(after: cursor + consumed)
                    return decoded
                case .failed(let error):
                    decoded.end = .failed(error)
                    return decoded
                }
            }
        }
        return decoded
    }

    /// A complete header is complete whatever follows it, and every shorter prefix of it is
    /// incomplete, never a different header or a refusal.
    static func proxyHeader(_ input: UnsafeRawBufferPointer) {
        let result = ProxyHeader.parse(input)
        guard case .complete(_, let length) = result else { return }
        precondition(length > 0 && length <= input.count, "a header of \(length) bytes in \(input.count)")
        let exact = ProxyHeader.parse(UnsafeRawBufferPointer(rebasing: input[..<length]))
        precondition(exact == result, "the header alone: \(exact), with what follows: \(result)")
        for prefix in 1..<length {
            let partial = ProxyHeader.parse(UnsafeRawBufferPointer(rebasing: input[..<prefix]))
            precondition(partial == .incomplete, "a \(prefix)-byte prefix of a complete header: \(partial)")
        }
    }

    /// A call that parses is written back as the same call.
    static func xmlrpc(_ input: UnsafeRawBufferPointer) {
        guard let call = try? XMLRPC.parseCall(Array(input)) else { return }
        let written = XMLRPC.call(call.method, call.params)
        let again = try? XMLRPC.parseCall(Array(written.utf8))
        precondition(again == call, "\(call) written as \(written) reads back as \(String(describing: again))")
    }

    /// Never a path outside the root: no `..`, `.` or empty segment, no leading slash, no NUL or
    /// backslash; and a refused path leaves the output as it was.
    static func staticPath(_ input: UnsafeRawBufferPointer) {
        var out: [UInt8] = [0x41]
        guard let resolved = StaticPath.relativePath(fromRequestPath: input, into: &out) else {
            precondition(out == [0x41], "a refused path changed the output")
            return
        }
        let path = out.dropFirst()
        precondition(resolved.isDirectory == (input.last == UInt8(ascii: "/")))
        precondition(!path.contains(0) && !path.contains(UInt8(ascii: "\\")), "NUL or backslash in \(Array(path))")
        if path.isEmpty { return }
        for segment in path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            precondition(!segment.isEmpty && !segment.elementsEqual([0x2E]) && !segment.elementsEqual([0x2E, 0x2E]),
                         "segment \(Array(segment)) in \(Array(path))")
        }
    }
}

import Glibc

/// gunicorn's access-log format language (`%(h)s %(t)s "%(r)s" …`), parsed once into atoms.
public struct AccessLogFormat: Sendable {
    public static let gunicornDefault = #"%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s""#

    enum Atom: Equatable, Sendable {
        /// Byte ranges index into `storage`: the atoms stay trivial, so rendering retains nothing.
        case literal(ByteRange)
        case remoteAddress, dash, user, time, requestLine, method, path, query, `protocol`
        case status, bodyBytes, referer, userAgent
        case seconds, milliseconds, microseconds, decimalSeconds, pid
        /// `{name}i`, `{name}o`: lowercase header names.
        case requestHeader(ByteRange), responseHeader(ByteRange)
        /// `{name}e`: a CGI-style variable derived from the request, else the process
        /// environment's value read when the format was parsed (gunicorn reads the WSGI environ,
        /// whose extra keys corral has no equivalent for).
        case environment(name: ByteRange, processValue: ByteRange?)
        /// gunicorn's SafeAtoms renders unknown names as `-`.
        case unknown
    }

    let atoms: [Atom]
    /// Literal text, lowercase header names and environment values, back to back.
    let storage: [UInt8]

    /// Whether a `{name}o` atom needs the response headers kept until the line is written.
    public var usesResponseHeaders: Bool {
        atoms.contains { if case .responseHeader = $0 { true } else { false } }
    }

    /// Whether the line has a `%(t)s` (the renderer formats the time only then).
    public var usesTime: Bool { atoms.contains(.time) }

    public init(_ format: String) throws(AccessLogFormatError) {
        var atoms: [Atom] = []
        var storage: [UInt8] = []
        var literal: [UInt8] = []
        let bytes = Array(format.utf8)
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            guard c == UInt8(ascii: "%") else {
                literal.append(c)
                i += 1
                continue
            }
            guard i + 1 < bytes.count else {
                throw AccessLogFormatError(position: i, expected: "'(' or '%' after '%'")
            }
            if bytes[i + 1] == UInt8(ascii: "%") {
                literal.append(c)
                i += 2
                continue
            }
            guard bytes[i + 1] == UInt8(ascii: "(") else {
                throw AccessLogFormatError(position: i + 1, expected: "'(' after '%' (atoms are written %(name)s)")
            }
            // The key ends at the matching ')': Python's `%` counts nested parentheses.
            var close = i + 2
            var depth = 1
            while close < bytes.count {
                if bytes[close] == UInt8(ascii: "(") {
                    depth += 1
                } else if bytes[close] == UInt8(ascii: ")") {
                    depth -= 1
                    if depth == 0 { break }
                }
                close += 1
            }
            guard close < bytes.count else {
                throw AccessLogFormatError(position: i, expected: "')' closing '%('")
            }
            guard close + 1 < bytes.count, bytes[close + 1] == UInt8(ascii: "s") else {
                throw AccessLogFormatError(position: close + 1, expected: "'s' after ')' (only %(name)s is supported)")
            }
            if !literal.isEmpty {
                atoms.append(.literal(Self.store(literal, in: &storage)))
                literal = []
            }
            atoms.append(Self.atom(named: Array(bytes[(i + 2)..<close]), storage: &storage))
            i = close + 2
        }
        if !literal.isEmpty { atoms.append(.literal(Self.store(literal, in: &storage))) }
        self.atoms = atoms
        self.storage = storage
    }

    private static func store(_ bytes: [UInt8], in storage: inout [UInt8]) -> ByteRange {
        defer { storage.append(contentsOf: bytes) }
        return ByteRange(start: storage.count, count: bytes.count)
    }

    private static func atom(named name: [UInt8], storage: inout [UInt8]) -> Atom {
        // gunicorn's SafeAtoms lowercases a whole `{…}` key, the suffix included: `{Host}I` works.
        if name.count >= 3, name.first == UInt8(ascii: "{"), name[name.count - 2] == UInt8(ascii: "}") {
            let inner = name[1..<(name.count - 2)].map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
            switch name.last.map({ $0 | 0x20 }) {
            case UInt8(ascii: "i"): return .requestHeader(store(inner, in: &storage))
            case UInt8(ascii: "o"): return .responseHeader(store(inner, in: &storage))
            case UInt8(ascii: "e"):
                let upper = String(decoding: inner.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }, as: UTF8.self)
                let value = getenv(upper).map { store(Array(String(cString: $0).utf8), in: &storage) }
                return .environment(name: store(inner, in: &storage), processValue: value)
            default: return .unknown
            }
        }
        guard name.count == 1 else { return .unknown }
        switch name[0] {
        case UInt8(ascii: "h"): return .remoteAddress
        case UInt8(ascii: "l"): return .dash
        case UInt8(ascii: "u"): return .user
        case UInt8(ascii: "t"): return .time
        case UInt8(ascii: "r"): return .requestLine
        case UInt8(ascii: "m"): return .method
        case UInt8(ascii: "U"): return .path
        case UInt8(ascii: "q"): return .query
        case UInt8(ascii: "H"): return .protocol
        case UInt8(ascii: "s"): return .status
        case UInt8(ascii: "B"), UInt8(ascii: "b"): return .bodyBytes
        case UInt8(ascii: "f"): return .referer
        case UInt8(ascii: "a"): return .userAgent
        case UInt8(ascii: "T"): return .seconds
        case UInt8(ascii: "M"): return .milliseconds
        case UInt8(ascii: "D"): return .microseconds
        case UInt8(ascii: "L"): return .decimalSeconds
        case UInt8(ascii: "p"): return .pid
        default: return .unknown
        }
    }
}

public struct AccessLogFormatError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Byte offset in the format string.
    public let position: Int
    public let expected: String

    public var description: String { "access_log_format: at character \(position + 1): expected \(expected)" }
}

/// A slice of the connection's read buffer: offsets, not copies (picohttpparser's zero-copy idea).
public struct ByteRange: Equatable, Sendable {
    public var start: Int32
    public var count: Int32

    public init(start: Int, count: Int) {
        self.start = Int32(truncatingIfNeeded: start)
        self.count = Int32(truncatingIfNeeded: count)
    }

    public static let empty = ByteRange(start: 0, count: 0)
    public var isEmpty: Bool { count == 0 }
    public var end: Int { Int(start) + Int(count) }

    /// The bytes this range covers in `buffer` (the buffer the parser read).
    @inline(__always)
    public func bytes(in buffer: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[Int(start)..<end])
    }
}

/// One header line: name and value with surrounding whitespace already trimmed from the value.
public struct HeaderField: Equatable, Sendable {
    public var name: ByteRange
    public var value: ByteRange
    public init(name: ByteRange, value: ByteRange) {
        self.name = name
        self.value = value
    }
}

public enum HTTPVersion: Equatable, Sendable {
    /// `http2`: a request on an HTTP/2 stream, its head turned into HTTP/1.1's form for the parser.
    case http1_0, http1_1, http2

    public var text: StaticString {
        switch self {
        case .http1_0: "HTTP/1.0"
        case .http1_1: "HTTP/1.1"
        case .http2: "HTTP/2.0"
        }
    }
}

public enum HTTPMethod: Equatable, Sendable {
    case get, head, post, put, delete, patch, options, connect, trace, other
}

/// How the request body is delimited (RFC 9112 §6).
public enum BodyFraming: Equatable, Sendable {
    case none
    case contentLength(Int)
    case chunked
    /// HTTP/2 DATA frames until the stream ends, no length given.
    case untilEndOfStream
}

/// A request the engine refuses: the status to answer with and a short reason for the error log.
public struct HTTPError: Error, Equatable, Sendable {
    public var status: UInt16
    public var reason: StaticString

    public init(_ status: UInt16, _ reason: StaticString) {
        self.status = status
        self.reason = reason
    }

    public static func == (a: HTTPError, b: HTTPError) -> Bool {
        a.status == b.status && a.reason.description == b.reason.description
    }
}

/// A parsed request head. Every range points into the buffer that was parsed.
public struct RequestHead: Equatable, Sendable {
    public var method: HTTPMethod
    public var methodBytes: ByteRange
    /// The raw request target as sent (gunicorn's RAW_URI).
    public var target: ByteRange
    /// The target up to `?` (still percent-encoded).
    public var path: ByteRange
    /// What follows `?`, or nil when the target has no `?`.
    public var query: ByteRange?
    public var version: HTTPVersion
    /// Number of entries written to the field table.
    public var fieldCount: Int
    public var framing: BodyFraming
    /// Whether the connection may stay open after this request (version default + Connection).
    public var keepAlive: Bool
    /// `Expect: 100-continue` was sent.
    public var expectsContinue: Bool
    /// Bytes of the buffer that the head occupies, including the blank line.
    public var headLength: Int

    public init(method: HTTPMethod, methodBytes: ByteRange, target: ByteRange, path: ByteRange,
                query: ByteRange?, version: HTTPVersion, fieldCount: Int, framing: BodyFraming,
                keepAlive: Bool, expectsContinue: Bool, headLength: Int) {
        self.method = method
        self.methodBytes = methodBytes
        self.target = target
        self.path = path
        self.query = query
        self.version = version
        self.fieldCount = fieldCount
        self.framing = framing
        self.keepAlive = keepAlive
        self.expectsContinue = expectsContinue
        self.headLength = headLength
    }
}

extension UnsafeRawBufferPointer {
    /// ASCII case-insensitive comparison with a lowercase literal, without allocating.
    @inline(__always)
    public func equalsLowercased(_ literal: StaticString) -> Bool {
        guard count == literal.utf8CodeUnitCount else { return false }
        let other = literal.utf8Start
        for i in 0..<count {
            var c = self[i]
            if c >= 0x41 && c <= 0x5A { c |= 0x20 }
            if c != other[i] { return false }
        }
        return true
    }
}

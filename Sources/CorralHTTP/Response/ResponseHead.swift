/// Serialises a response head into the connection's output buffer (reused, so no allocation).
public enum ResponseHead {
    public enum Framing: Equatable, Sendable {
        case contentLength(Int)
        case chunked
        /// HTTP/1.0 streaming: the body ends when the connection closes.
        case untilClose
        /// 1xx, 204, 304: no body and no length.
        case none
    }

    /// Status line, Server, Date. `date` is the cached 29-byte IMF-fixdate.
    public static func appendStart(status: UInt16, version: HTTPVersion, date: UnsafeRawBufferPointer,
                                   to out: inout [UInt8]) {
        append(version.text, to: &out)
        out.append(0x20)
        appendDecimal(Int(status), to: &out)
        out.append(0x20)
        append(HTTPStatus.reasonPhrase(status), to: &out)
        append("\r\nServer: corral\r\nDate: ", to: &out)
        out.append(contentsOf: date)
        append("\r\n", to: &out)
    }

    public static func appendField(name: String, value: String, to out: inout [UInt8]) {
        out.append(contentsOf: name.utf8)
        append(": ", to: &out)
        out.append(contentsOf: value.utf8)
        append("\r\n", to: &out)
    }

    /// Framing and Connection, then the blank line that ends the head.
    public static func appendEnd(framing: Framing, version: HTTPVersion, close: Bool, to out: inout [UInt8]) {
        switch framing {
        case .contentLength(let n):
            append("Content-Length: ", to: &out)
            appendDecimal(n, to: &out)
            append("\r\n", to: &out)
        case .chunked:
            append("Transfer-Encoding: chunked\r\n", to: &out)
        case .untilClose, .none:
            break
        }
        if close {
            append("Connection: close\r\n", to: &out)
        } else if version == .http1_0 {
            append("Connection: keep-alive\r\n", to: &out)
        }
        append("\r\n", to: &out)
    }

    /// Whether a response with this status to this method carries no body (RFC 9110 §6.4.1).
    public static func isBodyless(status: UInt16, method: HTTPMethod) -> Bool {
        method == .head || status < 200 || status == 204 || status == 304
    }

    @inline(__always)
    public static func append(_ text: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    public static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        var n = value.magnitude
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)   // room for 20 digits, no allocation
        withUnsafeMutableBytes(of: &digits) { raw in
            var i = raw.count
            repeat {
                i -= 1
                raw[i] = UInt8(truncatingIfNeeded: n % 10) + 0x30
                n /= 10
            } while n > 0
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[i...]))
        }
    }

    public static func appendHex(_ value: Int, to out: inout [UInt8]) {
        let digits: StaticString = "0123456789abcdef"
        var shift = max(0, (Int.bitWidth - value.leadingZeroBitCount - 1) / 4 * 4)
        while shift >= 0 {
            out.append(digits.utf8Start[(value >> shift) & 0xF])
            shift -= 4
        }
    }
}

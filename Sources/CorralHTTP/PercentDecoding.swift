/// RFC 3986 percent-decoding, written straight into an output buffer (no intermediate String).
public enum PercentDecoding {
    /// Appends `input` to `output` with every valid `%XX` replaced by its byte. Invalid escapes are
    /// copied as they are, as Python's `urllib.parse.unquote` (gunicorn's `%(U)s`) does.
    public static func decode(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) {
        var i = 0
        let n = input.count
        while i < n {
            let c = input[i]
            if c == UInt8(ascii: "%"), i + 2 < n,
               let hi = hexValue(input[i + 1]), let lo = hexValue(input[i + 2]) {
                output.append(hi << 4 | lo)
                i += 3
            } else {
                output.append(c)
                i += 1
            }
        }
    }

    @inline(__always)
    public static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c &- UInt8(ascii: "A") &+ 10
        default: return nil
        }
    }
}

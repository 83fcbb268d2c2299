/// RFC 9110 character classes, without tables or allocation.
public enum HTTPGrammar {
    public static let cr: UInt8 = 0x0D
    public static let lf: UInt8 = 0x0A
    public static let sp: UInt8 = 0x20
    public static let htab: UInt8 = 0x09
    public static let colon: UInt8 = 0x3A

    /// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
    ///         / DIGIT / ALPHA
    @inline(__always)
    public static func isTokenChar(_ c: UInt8) -> Bool {
        // Bit masks of tchar for bytes 0-63 and 64-127.
        let low: UInt64 = 0x03FF_6CFA_0000_0000
        let high: UInt64 = 0x57FF_FFFF_C7FF_FFFE
        if c < 64 { return (low >> UInt64(c)) & 1 == 1 }
        if c < 128 { return (high >> UInt64(c &- 64)) & 1 == 1 }
        return false
    }

    /// field-vchar / SP / HTAB (obs-text allowed); rejects NUL, CR, LF, other CTLs and DEL.
    @inline(__always)
    public static func isFieldValueByte(_ c: UInt8) -> Bool {
        (c >= 0x20 && c != 0x7F) || c == htab
    }

    /// Whether every byte of `buffer[start..<end]` is a field value byte. Eight bytes at a time.
    @inline(__always)
    public static func isFieldValue(_ buffer: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Bool {
        var i = start
        while i &+ 8 <= end {
            let w = buffer.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            if swarHasLess(w, 0x20) | swarHasByte(w, 0x7F) != 0 {
                for k in i..<(i &+ 8) where !isFieldValueByte(buffer[k]) { return false }
            }
            i &+= 8
        }
        while i < end {
            if !isFieldValueByte(buffer[i]) { return false }
            i &+= 1
        }
        return true
    }

    /// The offset of the first byte in `buffer[start..<end]` that is SP, a CTL or DEL, or `end`.
    @inline(__always)
    static func firstSpaceOrControl(_ buffer: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int {
        var i = start
        while i &+ 8 <= end {
            let w = buffer.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            if swarHasLess(w, 0x21) | swarHasByte(w, 0x7F) != 0 { break }
            i &+= 8
        }
        while i < end {
            let c = buffer[i]
            if c <= 0x20 || c == 0x7F { return i }
            i &+= 1
        }
        return end
    }

    /// Non-zero iff some byte of `w` is below `n` (n <= 128). The answer "any" is exact.
    @inline(__always)
    static func swarHasLess(_ w: UInt64, _ n: UInt8) -> UInt64 {
        (w &- 0x0101_0101_0101_0101 &* UInt64(n)) & ~w & 0x8080_8080_8080_8080
    }

    /// Non-zero iff some byte of `w` equals `c`.
    @inline(__always)
    static func swarHasByte(_ w: UInt64, _ c: UInt8) -> UInt64 {
        let x = w ^ (0x0101_0101_0101_0101 &* UInt64(c))
        return (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
    }

    @inline(__always)
    public static func isWhitespace(_ c: UInt8) -> Bool { c == sp || c == htab }

    @inline(__always)
    public static func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }

    @inline(__always)
    public static func lowercased(_ c: UInt8) -> UInt8 { c &- 0x41 < 26 ? c | 0x20 : c }

    @inline(__always)
    public static func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) &- 0x61 < 26 }

    /// 1*DIGIT as a non-negative Int, or nil (empty, any other byte, or overflow).
    public static func parseDecimal(_ bytes: UnsafeRawBufferPointer) -> Int? {
        if bytes.isEmpty { return nil }
        var n = 0
        for c in bytes {
            guard isDigit(c) else { return nil }
            let (times10, o1) = n.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(c &- 0x30))
            if o1 || o2 { return nil }
            n = sum
        }
        return n
    }

    /// Calls `body` with each comma-separated element of `list`, trimmed of SP/HTAB; stops when
    /// `body` returns false. Empty elements are skipped (RFC 9110 §5.6.1).
    @inline(__always)
    public static func forEachListElement(_ list: UnsafeRawBufferPointer,
                                          _ body: (UnsafeRawBufferPointer) -> Bool) {
        let n = list.count
        var start = 0
        while start <= n {
            var end = start
            while end < n && list[end] != UInt8(ascii: ",") { end += 1 }
            var s = start, e = end
            while s < e && isWhitespace(list[s]) { s += 1 }
            while e > s && isWhitespace(list[e - 1]) { e -= 1 }
            if s < e {
                if !body(UnsafeRawBufferPointer(rebasing: list[s..<e])) { return }
            }
            start = end + 1
        }
    }
}

/// A `Range` request header (RFC 9110 §14.2) reduced to what a static-file server does with it:
/// one byte range, the whole file, or 416. Parsed in place, without allocating.
///
/// Policy:
/// - Another unit than `bytes` (compared case-insensitively), or a value that is not a valid
///   `ranges-specifier`, is ignored (`.none` → 200 with the whole file), as §14.2 requires.
///   Invalid includes `last-pos < first-pos`, signs, hex and spaces inside a range-spec.
/// - Several ranges (`bytes=0-1,5-6`) are also answered with the whole file (`.none`): a server
///   MAY ignore Range, and multipart/byteranges is not produced. Empty list elements
///   (`bytes=0-1,`) do not count as ranges (RFC 9110 §5.6.1).
/// - One range: `first-last` with `last` clamped to `fileSize - 1`; `first-`; `-suffix` (the
///   last `suffix` bytes, the whole file if it is shorter). Numbers too large for `Int` saturate,
///   so they clamp or miss the file like any other large number.
/// - `.unsatisfiable` (416) when the range misses the file: `first >= fileSize`, or a suffix of 0.
/// - An empty file has no satisfiable byte range to send: a non-zero suffix there is answered
///   with the whole (empty) representation, `.none`; `bytes=0-` is 416, as the RFC says.
public enum RangeRequest: Equatable, Sendable {
    /// No usable range (absent, another unit, malformed, or several): serve the whole file.
    case none
    /// Inclusive byte positions within the file: `0 <= start <= end < fileSize`.
    case satisfiable(start: Int, end: Int)
    /// A valid range that misses the file: 416 with `Content-Range: bytes */<size>`.
    case unsatisfiable

    public static func parse(_ value: UnsafeRawBufferPointer, fileSize: Int) -> RangeRequest {
        let n = value.count
        // range-unit "=" : the unit is a token, compared case-insensitively.
        guard n > 6, value[5] == UInt8(ascii: "="),
              UnsafeRawBufferPointer(rebasing: value[0..<5]).equalsLowercased("bytes") else { return .none }
        var i = 6
        var found: (first: Int?, last: Int?)? = nil
        // 1#range-spec, with OWS around commas and empty elements allowed.
        while true {
            while i < n, isOWS(value[i]) || value[i] == UInt8(ascii: ",") { i += 1 }
            if i == n { break }
            guard found == nil else { return .none }                 // a second range: whole file
            var first: Int? = nil
            if isDigit(value[i]) { first = number(value, &i) }
            guard i < n, value[i] == UInt8(ascii: "-") else { return .none }
            i += 1
            var last: Int? = nil
            if i < n, isDigit(value[i]) { last = number(value, &i) }
            guard first != nil || last != nil else { return .none }  // a lone "-"
            if let first, let last, last < first { return .none }
            // The element must end here: OWS, then a comma or the end.
            var j = i
            while j < n, isOWS(value[j]) { j += 1 }
            guard j == n || value[j] == UInt8(ascii: ",") else { return .none }
            found = (first, last)
        }
        guard let found else { return .none }                       // "bytes=" with no range
        guard let first = found.first else {
            // suffix-range
            let suffix = found.last ?? 0
            guard suffix > 0 else { return .unsatisfiable }
            guard fileSize > 0 else { return .none }
            return .satisfiable(start: fileSize - min(suffix, fileSize), end: fileSize - 1)
        }
        guard first < fileSize else { return .unsatisfiable }
        return .satisfiable(start: first, end: min(found.last ?? Int.max, fileSize - 1))
    }

    /// Appends the `Content-Range` value: `bytes 0-99/1234`, or `bytes */1234` when `start` or
    /// `end` is nil (for 416).
    public static func appendContentRange(start: Int?, end: Int?, size: Int, into out: inout [UInt8]) {
        ResponseHead.append("bytes ", to: &out)
        if let start, let end {
            ResponseHead.appendDecimal(start, to: &out)
            out.append(UInt8(ascii: "-"))
            ResponseHead.appendDecimal(end, to: &out)
        } else {
            out.append(UInt8(ascii: "*"))
        }
        out.append(UInt8(ascii: "/"))
        ResponseHead.appendDecimal(size, to: &out)
    }

    @inline(__always)
    private static func isOWS(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }

    @inline(__always)
    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    /// Reads `1*DIGIT` at `i` (known to be a digit), saturating at `Int.max`.
    private static func number(_ value: UnsafeRawBufferPointer, _ i: inout Int) -> Int {
        var result = 0
        while i < value.count, isDigit(value[i]) {
            let (times10, o1) = result.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(value[i] &- 0x30))
            result = o1 || o2 ? Int.max : sum
            i += 1
        }
        return result
    }
}

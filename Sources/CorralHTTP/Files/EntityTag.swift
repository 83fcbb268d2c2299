/// Validators for static files: a strong entity tag in nginx's shape, `"<mtime hex>-<size hex>"`
/// (e.g. `"6b0af128-d"`), built from what `fstat` says. Strong because a file's bytes at one
/// (mtime, size) are taken to be one representation, which also makes the tag usable for If-Range.
public enum EntityTag {
    /// The longest tag `append` writes: two quotes, a dash and two 16-digit hex numbers.
    public static let maximumLength = 35

    /// Appends `"<modified hex>-<size hex>"` (lowercase hex, no leading zeros).
    public static func append(modified: Int, size: Int, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        ResponseHead.appendHex(modified, to: &out)
        out.append(UInt8(ascii: "-"))
        ResponseHead.appendHex(size, to: &out)
        out.append(UInt8(ascii: "\""))
    }
}

/// The conditional-request rules of RFC 9110 §13 that a static-file GET/HEAD needs. Header values
/// are passed as the raw bytes (nil when the header is absent); nothing is allocated.
public enum Conditional {
    /// Whether a GET/HEAD should be answered 304 Not Modified (RFC 9110 §13.1.2, §13.1.3, §13.2.2):
    /// - If-None-Match, when present, decides alone: true if it is `*` or lists a tag that matches
    ///   `etag` by weak comparison (`W/"x"` matches `"x"`). A malformed list matches nothing.
    /// - Otherwise If-Modified-Since: true if it is a valid HTTP-date (any of the three forms) and
    ///   `lastModified` is at or before it, at second granularity. An invalid date is ignored.
    public static func isNotModified(ifNoneMatch: UnsafeRawBufferPointer?, ifModifiedSince: UnsafeRawBufferPointer?,
                                     etag: UnsafeRawBufferPointer, lastModified: Int) -> Bool {
        if let ifNoneMatch {
            return listMatches(ifNoneMatch, etag: etag)
        }
        if let ifModifiedSince, let since = HTTPDate.parse(ifModifiedSince) {
            return lastModified <= since
        }
        return false
    }

    /// Whether a Range may be honoured under If-Range (RFC 9110 §13.1.5): true when the header is
    /// absent, when it is one entity-tag that strongly matches `etag` (a weak tag never does), or
    /// when it is an HTTP-date exactly equal to `lastModified`. Anything else → serve the whole file.
    public static func ifRangeAllows(_ value: UnsafeRawBufferPointer?, etag: UnsafeRawBufferPointer,
                                     lastModified: Int) -> Bool {
        guard let value else { return true }
        let (lo, hi) = trimmed(value)
        guard lo < hi else { return false }
        // "A valid entity-tag can be distinguished from a valid HTTP-date by examining the first
        // three characters for a DQUOTE."
        if value[lo] == UInt8(ascii: "\"") || value[lo] == UInt8(ascii: "W") && lo + 1 < hi && value[lo + 1] == UInt8(ascii: "/") {
            var i = lo
            guard let tag = entityTag(value, &i, end: hi), i == hi, !tag.weak else { return false }
            guard let ours = ownTag(etag), !ours.weak else { return false }
            return equal(UnsafeRawBufferPointer(rebasing: value[tag.opaque]), ours.opaque)
        }
        return HTTPDate.parse(value) == lastModified
    }

    // MARK: Entity-tag lists

    /// `If-None-Match = "*" / #entity-tag`, weak comparison.
    private static func listMatches(_ list: UnsafeRawBufferPointer, etag: UnsafeRawBufferPointer) -> Bool {
        guard let ours = ownTag(etag) else { return false }
        let n = list.count
        var i = 0
        while true {
            while i < n, isOWS(list[i]) || list[i] == UInt8(ascii: ",") { i += 1 }
            if i == n { return false }
            if list[i] == UInt8(ascii: "*") {
                i += 1
                return endOfElement(list, i)
            }
            guard let tag = entityTag(list, &i, end: n), endOfElement(list, i) else { return false }
            if equal(UnsafeRawBufferPointer(rebasing: list[tag.opaque]), ours.opaque) { return true }
        }
    }

    /// Parses `[ W/ ] DQUOTE *etagc DQUOTE` at `i`, leaving `i` after it; `opaque` includes the quotes.
    @inline(__always)
    private static func entityTag(_ b: UnsafeRawBufferPointer, _ i: inout Int, end: Int) -> (weak: Bool, opaque: Range<Int>)? {
        var weak = false
        if i + 1 < end, b[i] == UInt8(ascii: "W"), b[i + 1] == UInt8(ascii: "/") {
            weak = true
            i += 2
        }
        guard i < end, b[i] == UInt8(ascii: "\"") else { return nil }
        let start = i
        i += 1
        // etagc = %x21 / %x23-7E / obs-text
        while i < end, b[i] != UInt8(ascii: "\"") {
            guard b[i] >= 0x21, b[i] != 0x7F else { return nil }
            i += 1
        }
        guard i < end else { return nil }
        i += 1
        return (weak, start..<i)
    }

    /// The server's own tag, normally strong; tolerated as weak too.
    @inline(__always)
    private static func ownTag(_ etag: UnsafeRawBufferPointer) -> (weak: Bool, opaque: UnsafeRawBufferPointer)? {
        var i = 0
        guard let tag = entityTag(etag, &i, end: etag.count), i == etag.count else { return nil }
        return (tag.weak, UnsafeRawBufferPointer(rebasing: etag[tag.opaque]))
    }

    /// After an element: OWS, then a comma or the end.
    @inline(__always)
    private static func endOfElement(_ b: UnsafeRawBufferPointer, _ i: Int) -> Bool {
        var j = i
        while j < b.count, isOWS(b[j]) { j += 1 }
        return j == b.count || b[j] == UInt8(ascii: ",")
    }

    @inline(__always)
    private static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        for k in 0..<a.count where a[k] != b[k] { return false }
        return true
    }

    @inline(__always)
    private static func isOWS(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }

    @inline(__always)
    private static func trimmed(_ b: UnsafeRawBufferPointer) -> (Int, Int) {
        var lo = 0, hi = b.count
        while lo < hi, isOWS(b[lo]) { lo += 1 }
        while hi > lo, isOWS(b[hi - 1]) { hi -= 1 }
        return (lo, hi)
    }
}

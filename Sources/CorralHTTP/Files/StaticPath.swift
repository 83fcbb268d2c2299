/// Turns a request path into a path relative to a document root, refusing anything that could
/// name a file outside it, in one pass and without allocating (the result is appended to a buffer
/// the caller reuses).
///
/// The path is percent-decoded first and the checks run on the decoded segments, so `%2e%2e` is
/// `..` here too. Refused (nil → the server answers 404):
/// - a path not starting with `/` (so `*` and absolute-form targets never reach the file system);
/// - a `..` segment, raw or encoded in any mix (`%2e%2e`, `.%2E`, …);
/// - NUL, raw or `%00`;
/// - a backslash, raw or `%5c`, and an encoded slash `%2f`: a decoded separator inside a segment
///   would smuggle a path component past the segment checks;
/// - a malformed escape (`%`, `%2`, `%zz`): a file name that needs a literal `%` is requested as `%25`.
///
/// Rewritten: duplicate slashes collapse and `.` segments are dropped. Bytes that only look like
/// dots in some non-UTF-8 reading (the overlong `%c0%ae`) are ordinary file-name bytes: the kernel
/// does not decode UTF-8, so `%c0%ae%c0%ae` names a four-byte file, never the parent directory.
/// Symlinks that point out of the root are not this function's concern: the caller opens the
/// result with `openat2(RESOLVE_BENEATH)`.
public enum StaticPath {
    public struct Resolved: Equatable, Sendable {
        /// The request path ended with `/` (e.g. `/docs/`): it asks for a directory, so the caller
        /// serves its index instead of redirecting to add the slash. Always true for `/`.
        public var isDirectory: Bool

        public init(isDirectory: Bool) {
            self.isDirectory = isDirectory
        }
    }

    /// Appends the safe relative path ("" for the root, "a/b.txt") to `out` and says whether the
    /// request path ended with a slash; nil when refused, with `out` left as it was.
    public static func relativePath(fromRequestPath path: UnsafeRawBufferPointer,
                                    into out: inout [UInt8]) -> Resolved? {
        let n = path.count
        guard n > 0, path[0] == UInt8(ascii: "/") else { return nil }
        let base = out.count
        // Where the current segment's bytes begin in `out`, and where it began before its separator.
        var segmentStart = base
        var separatorAt = base
        var inSegment = false
        var i = 1
        while true {
            let atEnd = i == n
            if atEnd || path[i] == UInt8(ascii: "/") {
                if inSegment {
                    let length = out.count - segmentStart
                    if length <= 2 && out[segmentStart] == UInt8(ascii: ".") {
                        if length == 1 {
                            out.removeLast(out.count - separatorAt)     // "." (and its separator)
                        } else if out[segmentStart + 1] == UInt8(ascii: ".") {
                            out.removeLast(out.count - base)            // ".." → refuse
                            return nil
                        }
                    }
                    inSegment = false
                }
                if atEnd { break }
                i += 1
                continue
            }
            var c = path[i]
            if c == UInt8(ascii: "%") {
                guard i + 2 < n, let hi = PercentDecoding.hexValue(path[i + 1]),
                      let lo = PercentDecoding.hexValue(path[i + 2]) else {
                    out.removeLast(out.count - base)
                    return nil
                }
                c = hi << 4 | lo
                if c == UInt8(ascii: "/") {
                    out.removeLast(out.count - base)
                    return nil
                }
                i += 3
            } else {
                i += 1
            }
            if c == 0 || c == UInt8(ascii: "\\") {
                out.removeLast(out.count - base)
                return nil
            }
            if !inSegment {
                inSegment = true
                separatorAt = out.count
                if out.count > base { out.append(UInt8(ascii: "/")) }
                segmentStart = out.count
            }
            out.append(c)
        }
        return Resolved(isDirectory: path[n - 1] == UInt8(ascii: "/"))
    }
}

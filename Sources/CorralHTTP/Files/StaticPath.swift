/// Turns a request path into a path relative to a document root, refusing anything that could
/// name a file outside it. Checks run on the decoded segments, so `%2e%2e` is `..` here too.
public enum StaticPath {
    public struct Resolved: Equatable, Sendable {
        /// The request path ended with `/`: it names a directory.
        public var isDirectory: Bool
    }

    /// Appends the safe relative path ("" for the root, "a/b.txt") to `out`; nil when refused:
    /// a path not starting with `/`, a `..` segment, NUL, a backslash, or an encoded `/` or `\`.
    public static func relativePath(fromRequestPath path: UnsafeRawBufferPointer,
                                    into out: inout [UInt8]) -> Resolved? {
        guard path.first == UInt8(ascii: "/") else { return nil }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(path.count)
        var i = 0
        while i < path.count {
            var c = path[i]
            if c == UInt8(ascii: "%") {
                guard i + 2 < path.count, let hi = PercentDecoding.hexValue(path[i + 1]),
                      let lo = PercentDecoding.hexValue(path[i + 2]) else { return nil }
                c = hi << 4 | lo
                // An encoded separator would let a segment smuggle a slash past the checks.
                if c == UInt8(ascii: "/") { return nil }
                i += 2
            }
            if c == 0 || c == UInt8(ascii: "\\") { return nil }
            decoded.append(c)
            i += 1
        }
        let isDirectory = decoded.last == UInt8(ascii: "/")
        let start = out.count
        for segment in decoded.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if segment.count == 1 && segment.first == UInt8(ascii: ".") { continue }
            if segment.count == 2 && segment.allSatisfy({ $0 == UInt8(ascii: ".") }) {
                out.removeSubrange(start...)
                return nil
            }
            if out.count > start { out.append(UInt8(ascii: "/")) }
            out.append(contentsOf: segment)
        }
        return Resolved(isDirectory: isDirectory)
    }
}

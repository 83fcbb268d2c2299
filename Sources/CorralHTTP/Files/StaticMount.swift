/// One `static_map` entry: a URL prefix ("/static") served from a directory, as uWSGI's
/// `static-map` and granian's `--static-path-mount`. Pure: the prefix match on a request path,
/// and the Cache-Control a file under it is sent with.
public struct StaticMount: Equatable, Sendable {
    /// "/static": starts with "/", no trailing slash.
    public let prefix: String
    public let directory: String

    public init(prefix: String, directory: String) throws(StaticMountError) {
        var prefix = prefix
        while prefix.count > 1 && prefix.hasSuffix("/") { prefix.removeLast() }
        guard prefix.hasPrefix("/"), prefix.count > 1 else {
            throw StaticMountError("a static_map prefix is a URL path such as \"/static\", not \"\(prefix)\"")
        }
        guard !prefix.contains("%") && !prefix.contains("?") && !prefix.contains("//") else {
            throw StaticMountError("a static_map prefix is a plain URL path (no %, ?, //): \"\(prefix)\"")
        }
        guard !directory.isEmpty else { throw StaticMountError("the static_map entry for \(prefix) names no directory") }
        self.prefix = prefix
        self.directory = directory
    }

    /// `--static-map /static=/srv/app/static`.
    public init(parsing text: String) throws(StaticMountError) {
        guard let equals = text.firstIndex(of: "=") else {
            throw StaticMountError("expected PREFIX=DIRECTORY (e.g. /static=/srv/app/static), got \"\(text)\"")
        }
        try self.init(prefix: String(text[..<equals]), directory: String(text[text.index(after: equals)...]))
    }

    /// `PREFIX=DIRECTORY`, as parsed.
    public var text: String { "\(prefix)=\(directory)" }

    /// Where the rest of `path` begins when this mount serves it ("/static/app.css" → 7, the "/"
    /// of "/app.css"; "/static" itself → 7, the rest empty), or nil ("/staticky").
    public func restStart(in path: UnsafeRawBufferPointer) -> Int? {
        let count = prefix.utf8.count
        guard path.count >= count, path.count == count || path[count] == UInt8(ascii: "/") else { return nil }
        var index = 0
        for byte in prefix.utf8 {
            guard path[index] == byte else { return nil }
            index += 1
        }
        return count
    }

    /// A year: what immutable files are cached for.
    public static let immutableMaxAge = 31_536_000

    /// The Cache-Control for a file at `path` (relative to the directory): immutable for a name
    /// with a content hash in it (Django's ManifestStaticFilesStorage `base.5af66c1b1797.css`,
    /// Flask-Assets' `packed.3d9f2a1c.js`, webpack's `[name].[contenthash]`), else `maxAge`
    /// seconds when it is above 0, else none (clients revalidate with the ETag).
    public static func cacheControl(forPath path: [UInt8], maxAge: Int) -> String? {
        if isHashedName(path) { return "public, max-age=\(immutableMaxAge), immutable" }
        return maxAge > 0 ? "public, max-age=\(maxAge)" : nil
    }

    /// A file name with a dot-separated part, neither its first nor its last, of 8 or more
    /// lowercase hex digits of which at least one is a digit (so no English word counts).
    public static func isHashedName(_ path: [UInt8]) -> Bool {
        let name = path.lastIndex(of: UInt8(ascii: "/")).map { path[($0 + 1)...] } ?? path[...]
        let parts = name.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return false }
        return parts.dropFirst().dropLast().contains { part in
            part.count >= 8 && part.contains { (0x30...0x39).contains($0) }
                && part.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
        }
    }
}

public struct StaticMountError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

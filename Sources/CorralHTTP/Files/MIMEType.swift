/// Content-Type by file extension (case-insensitive); application/octet-stream otherwise.
public enum MIMEType {
    private static let table: [(ext: StaticString, type: StaticString)] = [
        ("html", "text/html; charset=utf-8"), ("htm", "text/html; charset=utf-8"),
        ("css", "text/css; charset=utf-8"), ("js", "text/javascript; charset=utf-8"),
        ("mjs", "text/javascript; charset=utf-8"), ("json", "application/json"),
        ("map", "application/json"), ("txt", "text/plain; charset=utf-8"),
        ("md", "text/markdown; charset=utf-8"), ("csv", "text/csv; charset=utf-8"),
        ("xml", "application/xml"), ("svg", "image/svg+xml"), ("png", "image/png"),
        ("jpg", "image/jpeg"), ("jpeg", "image/jpeg"), ("gif", "image/gif"), ("webp", "image/webp"),
        ("avif", "image/avif"), ("ico", "image/x-icon"), ("woff", "font/woff"), ("woff2", "font/woff2"),
        ("ttf", "font/ttf"), ("otf", "font/otf"), ("pdf", "application/pdf"), ("zip", "application/zip"),
        ("gz", "application/gzip"), ("tar", "application/x-tar"), ("wasm", "application/wasm"),
        ("mp4", "video/mp4"), ("webm", "video/webm"), ("mp3", "audio/mpeg"), ("ogg", "audio/ogg"),
        ("wav", "audio/wav"),
    ]

    public static func forPath(_ path: UnsafeRawBufferPointer) -> StaticString {
        guard let dot = path.lastIndex(of: UInt8(ascii: ".")),
              !path[dot...].contains(UInt8(ascii: "/")) else { return "application/octet-stream" }
        let ext = UnsafeRawBufferPointer(rebasing: path[(dot + 1)...])
        for entry in table where ext.equalsLowercased(entry.ext) { return entry.type }
        return "application/octet-stream"
    }
}

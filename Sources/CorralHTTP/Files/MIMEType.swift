/// Content-Type by file extension, ASCII case-insensitive; `application/octet-stream` otherwise
/// (no extension, an unknown one, or a dot only in a directory name). Text types say UTF-8.
public enum MIMEType {
    public static let fallback: StaticString = "application/octet-stream"

    /// The type for the last path segment's extension (`a/b.tar.gz` → gzip). No allocation: the
    /// lowercased extension (at most 8 bytes) is packed big-endian into an integer and switched on.
    public static func forPath(_ path: UnsafeRawBufferPointer) -> StaticString {
        var i = path.count
        var key: UInt64 = 0
        var shift: UInt64 = 0
        while i > 0 {
            i -= 1
            var c = path[i]
            if c == UInt8(ascii: ".") { break }
            // A separator ends the last segment without a dot; control bytes and over-long
            // extensions are never in the table.
            guard c != UInt8(ascii: "/"), c > 0x20, shift < 64 else { return fallback }
            if c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") { c |= 0x20 }
            key |= UInt64(c) << shift
            shift += 8
        }
        guard i < path.count, path[i] == UInt8(ascii: "."), key != 0 else { return fallback }
        return forKey(key)
    }

    /// Extensions as big-endian ASCII: "css" is 0x63_73_73.
    private static func forKey(_ key: UInt64) -> StaticString {
        switch key {
        case 0x68746d6c, 0x68746d: "text/html; charset=utf-8"           // html, htm
        case 0x637373: "text/css; charset=utf-8"                        // css
        case 0x6a73, 0x6d6a73: "text/javascript; charset=utf-8"         // js, mjs
        case 0x6a736f6e, 0x6d6170: "application/json"                   // json, map
        case 0x747874: "text/plain; charset=utf-8"                      // txt
        case 0x6d64: "text/markdown; charset=utf-8"                     // md
        case 0x637376: "text/csv; charset=utf-8"                        // csv
        case 0x786d6c: "application/xml"                                // xml
        case 0x737667: "image/svg+xml"                                  // svg
        case 0x706e67: "image/png"                                      // png
        case 0x6a7067, 0x6a706567: "image/jpeg"                         // jpg, jpeg
        case 0x676966: "image/gif"                                      // gif
        case 0x77656270: "image/webp"                                   // webp
        case 0x61766966: "image/avif"                                   // avif
        case 0x69636f: "image/x-icon"                                   // ico
        case 0x776f6666: "font/woff"                                    // woff
        case 0x776f666632: "font/woff2"                                 // woff2
        case 0x747466: "font/ttf"                                       // ttf
        case 0x6f7466: "font/otf"                                       // otf
        case 0x706466: "application/pdf"                                // pdf
        case 0x7a6970: "application/zip"                                // zip
        case 0x677a: "application/gzip"                                 // gz
        case 0x746172: "application/x-tar"                              // tar
        case 0x7761736d: "application/wasm"                             // wasm
        case 0x6d7034: "video/mp4"                                      // mp4
        case 0x7765626d: "video/webm"                                   // webm
        case 0x6d7033: "audio/mpeg"                                     // mp3
        case 0x6f6767: "audio/ogg"                                      // ogg
        case 0x776176: "audio/wav"                                      // wav
        default: fallback
        }
    }
}

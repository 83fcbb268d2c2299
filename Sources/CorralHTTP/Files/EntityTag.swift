/// Validators for static files: a strong ETag `"<mtime hex>-<size hex>"` (nginx's shape) and
/// Last-Modified, and the conditional-request rules of RFC 9110 §13.
public enum EntityTag {
    public static func append(modified: Int, size: Int, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        ResponseHead.appendHex(modified, to: &out)
        out.append(UInt8(ascii: "-"))
        ResponseHead.appendHex(size, to: &out)
        out.append(UInt8(ascii: "\""))
    }
}

public enum Conditional {
    /// Whether a GET/HEAD should get 304. If-None-Match (weak comparison, `*`, lists) wins over
    /// If-Modified-Since, which is compared at second granularity.
    public static func isNotModified(ifNoneMatch: UnsafeRawBufferPointer?, ifModifiedSince: UnsafeRawBufferPointer?,
                                     etag: UnsafeRawBufferPointer, lastModified: Int) -> Bool {
        if let ifNoneMatch {
            return tagList(ifNoneMatch, matches: etag, weak: true)
        }
        if let ifModifiedSince, let since = HTTPDate.parse(ifModifiedSince) {
            return lastModified <= since
        }
        return false
    }

    /// Whether a Range may be honoured under If-Range: a strong ETag match or the exact date.
    public static func ifRangeAllows(_ value: UnsafeRawBufferPointer?, etag: UnsafeRawBufferPointer,
                                     lastModified: Int) -> Bool {
        guard let value else { return true }
        if value.first == UInt8(ascii: "\"") || value.starts(with: "W/".utf8) {
            return tagList(value, matches: etag, weak: false)
        }
        return HTTPDate.parse(value) == lastModified
    }

    private static func tagList(_ list: UnsafeRawBufferPointer, matches etag: UnsafeRawBufferPointer, weak: Bool) -> Bool {
        let text = String(decoding: list, as: UTF8.self)
        let ours = String(decoding: etag, as: UTF8.self)
        for item in text.split(separator: ",") {
            var tag = item.trimmingSpaces
            if tag == "*" { return true }
            if tag.hasPrefix("W/") {
                guard weak else { continue }
                tag = tag.dropFirst(2)
            }
            if tag == ours { return true }
        }
        return false
    }
}

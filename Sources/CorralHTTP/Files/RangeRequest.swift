/// A `Range` request header (RFC 9110 §14.2), for one byte range. Several ranges are answered with
/// the whole file (200), which the RFC allows; multipart/byteranges is not produced.
public enum RangeRequest: Equatable, Sendable {
    /// No usable range (absent, another unit, malformed, or several): serve the whole file.
    case none
    /// Inclusive byte positions within the file.
    case satisfiable(start: Int, end: Int)
    /// A valid range that misses the file: 416.
    case unsatisfiable

    public static func parse(_ value: UnsafeRawBufferPointer, fileSize: Int) -> RangeRequest {
        let text = String(decoding: value, as: UTF8.self)
        guard text.prefix(6).lowercased() == "bytes=" else { return .none }   // units are case-insensitive
        let spec = text.dropFirst(6).trimmingSpaces
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .none }
        let first = spec[..<dash].trimmingSpaces, last = spec[spec.index(after: dash)...].trimmingSpaces
        if first.isEmpty {
            guard let suffix = digits(last), suffix > 0 else { return suffixZero(last) }
            guard fileSize > 0 else { return .unsatisfiable }
            return .satisfiable(start: max(0, fileSize - suffix), end: fileSize - 1)
        }
        guard let start = digits(first) else { return .none }
        var end = fileSize - 1
        if !last.isEmpty {
            guard let value = digits(last), value >= start else { return .none }
            end = min(value, fileSize - 1)
        }
        return start < fileSize ? .satisfiable(start: start, end: end) : .unsatisfiable
    }

    private static func suffixZero(_ text: Substring) -> RangeRequest {
        digits(text) == 0 ? .unsatisfiable : .none
    }

    private static func digits(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(text)
    }

    /// `bytes 0-99/1234`, or `bytes */1234` when `start` is nil (for 416).
    public static func appendContentRange(start: Int?, end: Int?, size: Int, into out: inout [UInt8]) {
        out.append(contentsOf: "bytes ".utf8)
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
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return s
    }
}

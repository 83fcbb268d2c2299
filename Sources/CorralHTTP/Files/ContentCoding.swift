/// The precompressed codings a static file may have beside it (`file.br`, `file.gz`), and which
/// one a request's Accept-Encoding asks for (RFC 9110 §12.5.3, with q-values).
public enum ContentCoding: Sendable, CaseIterable {
    case brotli
    case gzip

    /// The Content-Encoding token.
    public var token: String {
        switch self {
        case .brotli: "br"
        case .gzip: "gzip"
        }
    }

    /// The sibling file's suffix, as gzip_static and brotli_static name them.
    public var suffix: String {
        switch self {
        case .brotli: ".br"
        case .gzip: ".gz"
        }
    }

    /// The coding to send: among `available` (in the server's order of preference), the one the
    /// client weights highest, if above zero and not below the weight it gives identity (or `*`);
    /// ties go to the server's order. No Accept-Encoding means identity. `*` weights every coding
    /// not named.
    public static func preferred(acceptEncoding: UnsafeRawBufferPointer?, available: [ContentCoding]) -> ContentCoding? {
        guard let acceptEncoding, !available.isEmpty else { return nil }
        var brotli: Int?, gzip: Int?, identity: Int?   // in thousandths
        var wildcard: Int?
        HTTPGrammar.forEachListElement(acceptEncoding) { item in
            if let (token, weight) = element(item) {
                if token.equalsLowercased("br") { brotli = weight }
                else if token.equalsLowercased("gzip") || token.equalsLowercased("x-gzip") { gzip = weight }
                else if token.equalsLowercased("identity") { identity = weight }
                else if token.equalsLowercased("*") { wildcard = weight }
            }
            return true
        }
        let identityWeight = identity ?? wildcard ?? 0   // unnamed, identity is acceptable but not preferred
        var best: (coding: ContentCoding, weight: Int)?
        for coding in available {
            let weight = (coding == .brotli ? brotli : gzip) ?? wildcard ?? 0
            if weight > 0 && weight >= identityWeight && weight > (best?.weight ?? 0) { best = (coding, weight) }
        }
        return best?.coding
    }

    /// `token[;q=W][;other=params]` with optional whitespace; the weight in thousandths, nil when
    /// the element is empty or its q is malformed.
    static func element(_ bytes: UnsafeRawBufferPointer) -> (UnsafeRawBufferPointer, Int)? {
        var cursor = 0
        func nextParameter() -> Slice<UnsafeRawBufferPointer> {
            let start = cursor
            while cursor < bytes.count && bytes[cursor] != UInt8(ascii: ";") { cursor += 1 }
            defer { cursor += 1 }
            return bytes[start..<cursor]
        }
        let token = trimmed(nextParameter())
        guard !token.isEmpty else { return nil }
        var weight = 1000
        while cursor < bytes.count {
            let text = trimmed(nextParameter())
            guard text.count >= 2, text[text.startIndex] | 0x20 == UInt8(ascii: "q"),
                  text[text.startIndex + 1] == UInt8(ascii: "=") else { continue }
            guard let value = qvalue(text.dropFirst(2)) else { return nil }
            weight = value
        }
        return (UnsafeRawBufferPointer(rebasing: token), weight)
    }

    /// `0`, `0.5`, `1.000`… as thousandths (RFC 9110's qvalue: at most three decimals, ≤ 1).
    static func qvalue(_ text: Slice<UnsafeRawBufferPointer>) -> Int? {
        guard let first = text.first, first == UInt8(ascii: "0") || first == UInt8(ascii: "1") else { return nil }
        var value = Int(first - UInt8(ascii: "0")) * 1000
        let rest = text.dropFirst()
        if rest.isEmpty { return value }
        guard rest.first == UInt8(ascii: "."), rest.count <= 4 else { return nil }
        var scale = 100
        for digit in rest.dropFirst() {
            guard HTTPGrammar.isDigit(digit) else { return nil }
            value += Int(digit - UInt8(ascii: "0")) * scale
            scale /= 10
        }
        return value <= 1000 ? value : nil
    }

    private static func trimmed(_ bytes: Slice<UnsafeRawBufferPointer>) -> Slice<UnsafeRawBufferPointer> {
        var slice = bytes
        while let first = slice.first, first == 0x20 || first == 0x09 { slice = slice.dropFirst() }
        while let last = slice.last, last == 0x20 || last == 0x09 { slice = slice.dropLast() }
        return slice
    }
}

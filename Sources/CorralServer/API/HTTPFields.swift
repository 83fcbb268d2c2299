/// Response header fields in order. Build them once (e.g. `static let`) and reuse them, and a
/// response costs no allocation: the array is shared, not copied.
public struct HTTPFields: ExpressibleByDictionaryLiteral, Sendable {
    public var fields: [(name: String, value: String)]

    public init() { fields = [] }

    public init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { (name: $0.0, value: $0.1) }
    }

    public mutating func add(_ name: String, _ value: String) {
        fields.append((name, value))
    }

    public var isEmpty: Bool { fields.isEmpty }

    /// The first value of `name`, compared case-insensitively.
    public subscript(_ name: String) -> String? {
        for field in fields where asciiCaseInsensitiveEqual(field.name, name) { return field.value }
        return nil
    }

    /// Copies the value of the first field whose name equals the lowercase bytes `name` into
    /// `scratch` (truncated to fit) and returns the copied bytes. A copy, because a small String
    /// keeps its bytes inline and has no storage a pointer could outlive.
    func copyValue(lowercased name: UnsafeRawBufferPointer,
                   into scratch: UnsafeMutableRawBufferPointer) -> UnsafeRawBufferPointer? {
        for field in fields {
            var fieldName = field.name
            let matches = fieldName.withUTF8 { bytes -> Bool in
                guard bytes.count == name.count else { return false }
                for i in 0..<bytes.count where bytes[i] | (bytes[i] &- 0x41 < 26 ? 0x20 : 0) != name[i] {
                    return false
                }
                return true
            }
            if matches {
                var value = field.value
                return value.withUTF8 { bytes in
                    let n = min(bytes.count, scratch.count)
                    scratch.copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[..<n]))
                    return UnsafeRawBufferPointer(rebasing: scratch[..<n])
                }
            }
        }
        return nil
    }
}

func asciiCaseInsensitiveEqual(_ a: String, _ b: String) -> Bool {
    var a = a, b = b
    return a.withUTF8 { x in
        b.withUTF8 { y in
            x.count == y.count && (0..<x.count).allSatisfy { i in
                x[i] | (x[i] &- 0x41 < 26 ? 0x20 : 0) == y[i] | (y[i] &- 0x41 < 26 ? 0x20 : 0)
            }
        }
    }
}

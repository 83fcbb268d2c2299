import CNGHTTP2

/// A response head on its way to nghttp2: the `:status` and the fields as bytes in one reused
/// buffer (names lowercased as they are added), then the `nghttp2_nv` list pointing into it.
/// The session keeps one and reuses it for every response: nothing is allocated per response
/// once its storage has grown to fit.
public struct HTTP2ResponseFields {
    private var text: [UInt8] = []
    /// Each field's name and value as (start, count) spans of `text`.
    private var spans: [(name: Int, nameCount: Int, value: Int, valueCount: Int)] = []
    private var list: [nghttp2_nv] = []

    init() {
        text.reserveCapacity(1024)
        spans.reserveCapacity(16)
        list.reserveCapacity(17)
    }

    /// Whether `:status` leads (a response head; trailers have none).
    private var hasStatus = false

    mutating func start(status: UInt16?) {
        text.removeAll(keepingCapacity: true)
        spans.removeAll(keepingCapacity: true)
        hasStatus = status != nil
        if let status { appendDecimal(Int(status)) }
    }

    /// A field; the name's ASCII capitals are lowered (HTTP/2 requires lowercase names).
    public mutating func add<Name: Collection<UInt8>, Value: Collection<UInt8>>(name: Name, value: Value) {
        let nameStart = text.count
        for byte in name { text.append(byte &- 0x41 < 26 ? byte | 0x20 : byte) }
        let valueStart = text.count
        text.append(contentsOf: value)
        spans.append((nameStart, valueStart - nameStart, valueStart, text.count - valueStart))
    }

    /// A field whose value is a number (content-length).
    public mutating func add<Name: Collection<UInt8>>(name: Name, decimal: Int) {
        let nameStart = text.count
        text.append(contentsOf: name)
        let valueStart = text.count
        appendDecimal(decimal)
        spans.append((nameStart, valueStart - nameStart, valueStart, text.count - valueStart))
    }

    private mutating func appendDecimal(_ number: Int) {
        var digits = 1
        var rest = number / 10
        while rest > 0 { digits += 1; rest /= 10 }
        text.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        var index = text.count
        rest = number
        repeat {
            index -= 1
            text[index] += UInt8(rest % 10)
            rest /= 10
        } while rest > 0
    }

    var isEmpty: Bool { !hasStatus && spans.isEmpty }

    /// The nv list for nghttp2 (valid during `body`): `:status` first, then the fields.
    mutating func withList<Result>(_ body: (UnsafePointer<nghttp2_nv>, Int) -> Result) -> Result {
        let statusName: StaticString = ":status"
        let statusLength = spans.first?.name ?? text.count
        list.removeAll(keepingCapacity: true)
        return text.withUnsafeMutableBufferPointer { bytes in
            let base = bytes.baseAddress!   // never empty: a status, or a trailer at least
            if hasStatus {
                list.append(nghttp2_nv(name: UnsafeMutablePointer(mutating: statusName.utf8Start), value: base,
                                       namelen: statusName.utf8CodeUnitCount, valuelen: statusLength,
                                       flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
            }
            for span in spans {
                list.append(nghttp2_nv(name: base + span.name, value: base + span.value, namelen: span.nameCount,
                                       valuelen: span.valueCount, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
            }
            return list.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
        }
    }
}

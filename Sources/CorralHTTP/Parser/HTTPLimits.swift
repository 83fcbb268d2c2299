/// gunicorn's limits, with gunicorn's names, defaults and ranges; `bodySize` is corral's own (413).
/// The initializer normalizes written values the way gunicorn's parser does, so a gunicorn config
/// means the same here; `adjustments` says what was changed, for a warning.
public struct HTTPLimits: Equatable, Sendable {
    /// gunicorn's MAX_REQUEST_LINE: a larger `limit_request_line` is clamped to it.
    public static let maximumRequestLine = 8190
    /// What `limit_request_line = 0` ("unlimited" in gunicorn) is bounded by here.
    public static let unlimitedRequestLine = 65536
    /// gunicorn's MAX_HEADERS: a larger `limit_request_fields`, or 0, means this.
    public static let maximumFieldCount = 32768
    /// gunicorn's DEFAULT_MAX_HEADERFIELD_SIZE, also what `limit_request_field_size = 0` means.
    public static let defaultFieldSize = 8190
    /// However large the field limits, a request head is never buffered past this (431).
    public static let maximumHead = 16 << 20

    /// Longest request line in bytes, without its CRLF. Over → 414.
    public let requestLine: Int
    /// Most header fields. Over → 431.
    public let fieldCount: Int
    /// Longest header field line in bytes counted with its CRLF, as gunicorn counts it. Over → 431.
    public let fieldSize: Int
    /// Largest body in bytes (0 = unlimited). Over → 413.
    public let bodySize: Int

    public init(requestLine: Int = 4094, fieldCount: Int = 100, fieldSize: Int = 8190,
                bodySize: Int = 100 << 20) {
        self.requestLine = requestLine <= 0 ? Self.unlimitedRequestLine : min(requestLine, Self.maximumRequestLine)
        self.fieldCount = fieldCount <= 0 ? Self.maximumFieldCount : min(fieldCount, Self.maximumFieldCount)
        self.fieldSize = fieldSize <= 0 ? Self.defaultFieldSize : fieldSize
        self.bodySize = bodySize
    }

    /// A written value these limits change (other than 0's documented meanings), for a warning.
    public struct Adjustment: Equatable, Sendable {
        public let setting: String
        public let message: String
    }

    public static func adjustments(requestLine: Int, fieldCount: Int) -> [Adjustment] {
        var notes: [Adjustment] = []
        if requestLine > maximumRequestLine {
            notes.append(Adjustment(setting: "limit_request_line",
                                    message: "limit_request_line \(requestLine) is clamped to \(maximumRequestLine), gunicorn's maximum"))
        }
        if fieldCount > maximumFieldCount {
            notes.append(Adjustment(setting: "limit_request_fields",
                                    message: "limit_request_fields \(fieldCount) is clamped to \(maximumFieldCount), gunicorn's maximum"))
        }
        return notes
    }

    /// The longest field line accepted, before its CRLF.
    public var longestFieldLine: Int { fieldSize - 2 }

    /// The largest request head these limits allow: the read buffer never needs more.
    public var maximumHeadSize: Int {
        let fields = fieldCount.multipliedReportingOverflow(by: fieldSize)
        guard !fields.overflow else { return Self.maximumHead }
        return min(requestLine + 2 + fields.partialValue + 2, Self.maximumHead)
    }
}

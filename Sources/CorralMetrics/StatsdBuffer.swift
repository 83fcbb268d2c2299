/// gunicorn's statsd metrics, batched: a request adds to counters and one duration line; a flush
/// turns them into as few UDP packets as fit, newline-separated metrics as statsd and DogStatsD
/// read them (gunicorn sends three packets per request). Nothing is allocated in the steady state.
public struct StatsdBuffer {
    /// A packet this size fits an Ethernet MTU with room for IP and UDP headers.
    public static let packetLimit = 1432

    private let prefix: [UInt8]
    private let tags: [UInt8]
    private var requests = 0
    private var statusCounts = [Int](repeating: 0, count: 600)
    private var statusesSeen: [Int] = []
    private var lines: [UInt8] = []

    /// `prefix`: gunicorn's statsd_prefix (a dot is added); `tags`: dogstatsd_tags, "k:v,k2:v2".
    public init(prefix: String, tags: String) {
        var prefix = Array(prefix.utf8)
        while prefix.last == UInt8(ascii: ".") { prefix.removeLast() }
        if !prefix.isEmpty { prefix.append(UInt8(ascii: ".")) }
        self.prefix = prefix
        self.tags = tags.isEmpty ? [] : Array("|#\(tags)".utf8)
        statusesSeen.reserveCapacity(32)
        lines.reserveCapacity(Self.packetLimit * 4)
    }

    public var isEmpty: Bool { requests == 0 && lines.isEmpty }
    /// The lines waiting fill a packet: time to flush.
    public var isFull: Bool { lines.count >= Self.packetLimit - 128 }

    /// `gunicorn.requests`, `gunicorn.request.status.NNN` (counters) and `gunicorn.request.duration` (ms).
    public mutating func request(status: Int, microseconds: Int) {
        requests += 1
        if (100..<600).contains(status) {
            if statusCounts[status] == 0 { statusesSeen.append(status) }
            statusCounts[status] += 1
        }
        begin("gunicorn.request.duration")
        appendDecimal(microseconds / 1000)
        lines.append(UInt8(ascii: "."))
        let fraction = microseconds % 1000
        lines.append(UInt8(ascii: "0") + UInt8(fraction / 100))
        lines.append(UInt8(ascii: "0") + UInt8(fraction / 10 % 10))
        lines.append(UInt8(ascii: "0") + UInt8(fraction % 10))
        end("ms")
    }

    /// A counter (`c`): `gunicorn.log.error`…
    public mutating func count(_ name: String, _ value: Int) {
        begin(name)
        appendDecimal(value)
        end("c")
    }

    /// A gauge (`g`): `gunicorn.workers`.
    public mutating func gauge(_ name: String, _ value: Int) {
        begin(name)
        appendDecimal(value)
        end("g")
    }

    /// Hands the metrics to `send` as packets of whole lines, then forgets them.
    public mutating func flush(_ send: (UnsafeRawBufferPointer) -> Void) {
        if requests > 0 {
            count("gunicorn.requests", requests)
            requests = 0
        }
        for status in statusesSeen {
            begin("gunicorn.request.status.")
            lines.removeLast()  // the name continues with the code
            appendDecimal(status)
            lines.append(UInt8(ascii: ":"))
            appendDecimal(statusCounts[status])
            end("c")
            statusCounts[status] = 0
        }
        statusesSeen.removeAll(keepingCapacity: true)
        lines.withUnsafeBytes { bytes in
            var start = 0
            while start < bytes.count {
                // Whole lines up to the limit (a single longer line goes alone).
                var end = start
                var next = start
                while next < bytes.count {
                    var lineEnd = next
                    while bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
                    if lineEnd - start > Self.packetLimit && end > start { break }
                    end = lineEnd
                    next = lineEnd + 1
                }
                send(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
                start = next
            }
        }
        lines.removeAll(keepingCapacity: true)
    }

    private mutating func begin(_ name: String) {
        lines.append(contentsOf: prefix)
        lines.append(contentsOf: name.utf8)
        lines.append(UInt8(ascii: ":"))
    }

    private mutating func end(_ type: StaticString) {
        lines.append(UInt8(ascii: "|"))
        lines.append(contentsOf: UnsafeBufferPointer(start: type.utf8Start, count: type.utf8CodeUnitCount))
        lines.append(contentsOf: tags)
        lines.append(UInt8(ascii: "\n"))
    }

    private mutating func appendDecimal(_ value: Int) {
        if value >= 10 { appendDecimal(value / 10) }
        lines.append(UInt8(ascii: "0") + UInt8(value % 10))
    }
}

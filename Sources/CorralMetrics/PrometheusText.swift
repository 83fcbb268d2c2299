/// The Prometheus text exposition format (version 0.0.4): `# HELP` and `# TYPE` per family, then
/// its samples with escaped label values.
public struct PrometheusText {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
    public private(set) var text = ""

    public init() {}

    public mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    public mutating func sample(_ name: String, _ value: Double, labels: KeyValuePairs<String, String> = [:]) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.key)=\"\(Self.escaped($0.value))\"" }.joined(separator: ",") + "}"
        }
        text += " " + (value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)) + "\n"
    }

    public mutating func sample(_ name: String, _ value: Int, labels: KeyValuePairs<String, String> = [:]) {
        sample(name, Double(value), labels: labels)
    }

    /// `name_bucket{le=…}` (cumulative), `name_sum` in seconds and `name_count`.
    public mutating func histogram(_ name: String, _ histogram: DurationHistogram) {
        var cumulative = 0
        for (index, bound) in DurationHistogram.bounds.enumerated() {
            cumulative += histogram.counts[index]
            sample(name + "_bucket", cumulative, labels: ["le": String(bound)])
        }
        sample(name + "_bucket", histogram.count, labels: ["le": "+Inf"])
        sample(name + "_sum", Double(histogram.sumMicroseconds) / 1_000_000)
        sample(name + "_count", histogram.count)
    }

    static func escaped(_ value: String) -> String {
        var result = ""
        for character in value {
            switch character {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            default: result.append(character)
            }
        }
        return result
    }
}

/// Request durations in fixed buckets (the Prometheus client libraries' default bounds), counted
/// by each worker and summed by corrald. Recording costs an index and two additions.
public struct DurationHistogram: Equatable, Sendable {
    /// Upper bounds in seconds; a last, implicit bucket is +Inf.
    public static let bounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    private static let boundsMicroseconds: [Int] = bounds.map { Int($0 * 1_000_000) }

    /// Observations per bucket (not cumulative); `bounds.count + 1` entries.
    public private(set) var counts: [Int]
    public private(set) var sumMicroseconds = 0

    public init() {
        counts = [Int](repeating: 0, count: Self.bounds.count + 1)
    }

    public var count: Int { counts.reduce(0, +) }

    public mutating func record(microseconds: Int) {
        var index = 0
        while index < Self.boundsMicroseconds.count && microseconds > Self.boundsMicroseconds[index] { index += 1 }
        counts[index] += 1
        sumMicroseconds += microseconds
    }

    public static func + (a: DurationHistogram, b: DurationHistogram) -> DurationHistogram {
        var sum = a
        for index in sum.counts.indices { sum.counts[index] += b.counts[index] }
        sum.sumMicroseconds += b.sumMicroseconds
        return sum
    }

    /// `c0,c1,…,cN,sum` as a worker sends it to corrald (CORRAL_DURATIONS= in its notification).
    public var encoded: String {
        (counts + [sumMicroseconds]).map(String.init).joined(separator: ",")
    }

    public init?(encoded text: Substring) {
        let numbers = text.split(separator: ",").map { Int($0) }
        guard numbers.count == Self.bounds.count + 2, numbers.allSatisfy({ ($0 ?? -1) >= 0 }) else { return nil }
        counts = numbers.dropLast().map { $0! }
        sumMicroseconds = numbers.last!!
    }
}

import CorralMetrics

/// What corrald's Prometheus endpoint reports beyond the supervisor's state: each worker's last
/// report (from its STATUS= and CORRAL_DURATIONS= notifications), and what must survive a
/// worker's exit so counters never go backwards (its requests and durations, restarts, reloads).
public struct MetricsLedger: Equatable, Sendable {
    public struct Report: Equatable, Sendable {
        public var requests = 0
        public var connections = 0
        /// Requests in flight (corral-python reports them; corral-worker's finish within a loop turn).
        public var inFlight: Int?
        public var durations = DurationHistogram()
    }

    public private(set) var reports: [Int32: Report] = [:]
    /// Requests of workers that exited, by slot.
    public private(set) var retiredRequests: [Int: Int] = [:]
    public private(set) var retiredDurations = DurationHistogram()
    /// Workers that died without being asked to (crashes, heartbeat timeouts), by slot.
    public private(set) var restarts: [Int: Int] = [:]
    public private(set) var reloadsSucceeded = 0
    public private(set) var reloadsFailed = 0

    public init() {}

    /// A STATUS= text: `requests=N connections=M in_flight=K` (other words are ignored).
    public mutating func status(pid: Int32, text: String) {
        var report = reports[pid] ?? Report()
        for word in text.split(separator: " ") {
            let parts = word.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let value = Int(parts[1]) else { continue }
            switch parts[0] {
            case "requests": report.requests = value
            case "connections": report.connections = value
            case "in_flight": report.inFlight = value
            default: break
            }
        }
        reports[pid] = report
    }

    public mutating func durations(pid: Int32, encoded: String) {
        guard let histogram = DurationHistogram(encoded: Substring(encoded)) else { return }
        reports[pid, default: Report()].durations = histogram
    }

    /// A worker was reaped; `unexpected` when nobody asked it to stop.
    public mutating func exited(pid: Int32, slot: Int, unexpected: Bool) {
        if let report = reports.removeValue(forKey: pid) {
            retiredRequests[slot, default: 0] += report.requests
            retiredDurations = retiredDurations + report.durations
        }
        if unexpected { restarts[slot, default: 0] += 1 }
    }

    public mutating func reloaded(succeeded: Bool) {
        if succeeded { reloadsSucceeded += 1 } else { reloadsFailed += 1 }
    }

    /// Requests served in a slot since corrald started: its retired workers' and its live ones'.
    public func requests(slot: Int, livePids: [Int32]) -> Int {
        retiredRequests[slot, default: 0] + livePids.reduce(0) { $0 + (reports[$1]?.requests ?? 0) }
    }

    /// Every request's duration since corrald started.
    public var allDurations: DurationHistogram {
        reports.values.reduce(retiredDurations) { $0 + $1.durations }
    }

    // MARK: Across a re-exec upgrade

    /// The ledger as text lines (`reloads S F`, `slot N REQUESTS RESTARTS`, `retired HISTOGRAM`,
    /// `report PID REQUESTS CONNECTIONS HISTOGRAM`), for the upgrade state.
    public var lines: [String] {
        var lines = ["reloads \(reloadsSucceeded) \(reloadsFailed)", "retired \(retiredDurations.encoded)"]
        for slot in Set(retiredRequests.keys).union(restarts.keys).sorted() {
            lines.append("slot \(slot) \(retiredRequests[slot, default: 0]) \(restarts[slot, default: 0])")
        }
        for (pid, report) in reports.sorted(by: { $0.key < $1.key }) {
            lines.append("report \(pid) \(report.requests) \(report.connections) \(report.durations.encoded)")
        }
        return lines
    }

    /// The ledger `lines` wrote; nil if a line is not one of those.
    public init?(lines: [String]) {
        for line in lines {
            let words = line.split(separator: " ")
            switch (words.first, words.count) {
            case ("reloads", 3):
                guard let succeeded = Int(words[1]), let failed = Int(words[2]) else { return nil }
                (reloadsSucceeded, reloadsFailed) = (succeeded, failed)
            case ("retired", 2):
                guard let histogram = DurationHistogram(encoded: words[1]) else { return nil }
                retiredDurations = histogram
            case ("slot", 4):
                guard let slot = Int(words[1]), let requests = Int(words[2]), let restarted = Int(words[3]) else { return nil }
                if requests > 0 { retiredRequests[slot] = requests }
                if restarted > 0 { restarts[slot] = restarted }
            case ("report", 5):
                guard let pid = Int32(words[1]), let requests = Int(words[2]), let connections = Int(words[3]),
                      let histogram = DurationHistogram(encoded: words[4]) else { return nil }
                reports[pid] = Report(requests: requests, connections: connections, durations: histogram)
            default:
                return nil
            }
        }
    }
}

import CorralEventLoop
import CorralMetrics

/// gunicorn's `statsd_host`, `statsd_prefix` and `dogstatsd_tags`, with the socket opened.
public struct StatsdTarget: Sendable {
    public let socket: StatsdSocket
    public let prefix: String
    public let tags: String

    public init(host: String, prefix: String, tags: String) throws(StatsdSocket.Failure) {
        socket = try StatsdSocket(host)
        self.prefix = prefix
        self.tags = tags
    }
}

/// What a worker measures of its requests: the duration histogram it reports to corrald (for
/// Prometheus), and gunicorn's statsd metrics, sent once per loop iteration when configured.
public final class RequestMetrics: @unchecked Sendable {
    public private(set) var durations = DurationHistogram()
    private var statsd: StatsdBuffer?
    private let target: StatsdTarget?
    private let log: ErrorLog
    private var logCountsSent = ErrorLog.LevelCounts.Snapshot()

    init(statsd target: StatsdTarget?, log: ErrorLog, loop: EventLoop) {
        self.target = target
        self.log = log
        statsd = target.map { StatsdBuffer(prefix: $0.prefix, tags: $0.tags) }
        if target != nil { loop.onEachIteration { [unowned self] in flush() } }
    }

    func record(status: Int, microseconds: Int) {
        durations.record(microseconds: microseconds)
        statsd?.request(status: status, microseconds: microseconds)
    }

    /// `gunicorn.log.*` for the lines logged since the last flush, then one packet or a few.
    private func flush() {
        guard var buffer = statsd, let target else { return }
        let counts = log.counts.snapshot
        if counts != logCountsSent {
            for (name, now, before) in [("gunicorn.log.warning", counts.warning, logCountsSent.warning),
                                        ("gunicorn.log.error", counts.error, logCountsSent.error),
                                        ("gunicorn.log.critical", counts.critical, logCountsSent.critical)] where now > before {
                buffer.count(name, now - before)
            }
            logCountsSent = counts
        }
        guard !buffer.isEmpty else { return }
        statsd = nil  // the buffer is moved out and back so its storage is not copied
        buffer.flush { target.socket.send($0) }
        statsd = buffer
    }
}

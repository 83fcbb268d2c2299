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
/// Prometheus), and gunicorn's statsd metrics when configured, sent when a packet is full or
/// 50 ms after the last one (statsd servers aggregate over seconds), so a busy worker sends one
/// datagram per ~40 requests, not three per request as gunicorn does.
public final class RequestMetrics: @unchecked Sendable {
    public private(set) var durations = DurationHistogram()
    private var statsd: StatsdBuffer?
    private let target: StatsdTarget?
    private let log: ErrorLog
    private var logCountsSent = ErrorLog.LevelCounts.Snapshot()
    private let loop: EventLoop
    private var lastFlush: Int64 = 0
    static let flushInterval: Int64 = 50_000_000

    init(statsd target: StatsdTarget?, log: ErrorLog, loop: EventLoop) {
        self.target = target
        self.log = log
        self.loop = loop
        statsd = target.map { StatsdBuffer(prefix: $0.prefix, tags: $0.tags) }
        if target != nil {
            loop.onEachIteration { [unowned self] in
                if loop.now - lastFlush >= Self.flushInterval || statsd?.isFull == true { flush() }
            }
        }
    }

    func record(status: Int, microseconds: Int) {
        durations.record(microseconds: microseconds)
        statsd?.request(status: status, microseconds: microseconds)
    }

    /// `gunicorn.log.*` for the lines logged since the last flush, then one packet or a few.
    /// The worker calls it once more before it exits.
    public func flush() {
        lastFlush = loop.now
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

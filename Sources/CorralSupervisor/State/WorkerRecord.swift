/// What the supervisor knows about one worker process (supervisorctl's names for the states).
public struct WorkerRecord: Equatable, Sendable {
    public enum State: Equatable, Sendable {
        /// Spawned, READY=1 not yet received.
        case starting
        case running
        /// Told to stop (TERM), waiting for it to exit.
        case stopping
    }

    public let slot: Int
    public let generation: Int
    public let pid: Int32
    public var state: State
    public let spawnedAt: Int64
    public var readyAt: Int64?
    /// The last WATCHDOG=1 (or READY=1) ping.
    public var lastPing: Int64
    /// The last STATUS= line the worker sent.
    public var status = ""
    /// When SIGABRT was sent for a missed heartbeat (SIGKILL follows a second later).
    public var abortedAt: Int64?
    /// When TERM was sent (SIGKILL follows after graceful_timeout).
    public var stopRequestedAt: Int64?
    /// It announced STOPPING=1 itself (max_requests): its exit is planned.
    public var retiring = false
    /// Over max_worker_rss: a replacement boots in its slot, and it drains once that is ready.
    public var recycling = false

    public init(slot: Int, generation: Int, pid: Int32, now: Int64) {
        self.slot = slot
        self.generation = generation
        self.pid = pid
        state = .starting
        spawnedAt = now
        lastPing = now
    }
}

/// supervisord's process states, with its codes (what supervisorctl prints and scripts test).
public enum ProcessState: Int, Sendable {
    case stopped = 0, starting = 10, running = 20, backoff = 30, stopping = 40, exited = 100, fatal = 200, unknown = 1000

    public var name: String {
        switch self {
        case .stopped: "STOPPED"
        case .starting: "STARTING"
        case .running: "RUNNING"
        case .backoff: "BACKOFF"
        case .stopping: "STOPPING"
        case .exited: "EXITED"
        case .fatal: "FATAL"
        case .unknown: "UNKNOWN"
        }
    }
}

/// One worker slot as the control socket shows it (`corral:0`, `corral:1`, …).
public struct ProcessSnapshot: Equatable, Sendable {
    public var slot: Int
    public var pid: Int32
    public var state: ProcessState
    public var generation: Int
    /// Epoch seconds; 0 when never.
    public var startedAt: Int
    public var stoppedAt: Int
    public var exitStatus: Int
    /// How the slot's last worker ended, or why it cannot start.
    public var lastExit: String
    /// The worker's last STATUS= line.
    public var status: String
    /// Seconds since its last WATCHDOG=1 (or READY=1); nil when it has none.
    public var heartbeatAge: Double?

    public init(slot: Int, pid: Int32, state: ProcessState, generation: Int, startedAt: Int, stoppedAt: Int = 0,
                exitStatus: Int = 0, lastExit: String = "", status: String = "", heartbeatAge: Double? = nil) {
        self.slot = slot
        self.pid = pid
        self.state = state
        self.generation = generation
        self.startedAt = startedAt
        self.stoppedAt = stoppedAt
        self.exitStatus = exitStatus
        self.lastExit = lastExit
        self.status = status
        self.heartbeatAge = heartbeatAge
    }
}

public enum OutputChannel: String, Sendable {
    case stdout, stderr
}

/// What the control socket can see and do in the supervisor (corrald implements it; every call
/// comes from its loop thread).
public protocol ControlTarget: AnyObject, Sendable {
    /// proc_name, or "corral": the one process group.
    var groupName: String { get }
    var supervisorPid: Int32 { get }
    var isShuttingDown: Bool { get }
    /// Wall-clock seconds.
    var now: Int { get }
    /// One entry per slot, in slot order.
    func snapshot() -> [ProcessSnapshot]
    /// Whether the config file now says something else than what runs (supervisorctl reread).
    func configurationChanged() -> Bool
    /// SIGHUP's reload.
    func requestReload()
    /// The same reload, answered when it has finished: whether it succeeded, and why not.
    func reloadAndWait() async -> (succeeded: Bool, detail: String)
    /// TTIN/TTOU: `delta` workers more or fewer (never below one); returns the new count.
    func changeWorkers(by delta: Int) -> Int
    /// Checks the binary on disk and, if it passes, re-executes it in place (after the answer):
    /// `id` identifies this upgrade in `upgradeStatus`.
    func upgrade() async -> (succeeded: Bool, detail: String, id: Int)
    /// The last upgrade: done or still in progress, and how it went.
    func upgradeStatus() -> (id: Int, done: Bool, succeeded: Bool, detail: String)?
    /// SIGTERM's graceful stop.
    func requestShutdown()
    func stop(slots: [Int])
    func start(slots: [Int])
    /// Signals the slots' workers; returns the slots that had one.
    func signal(slots: [Int], _ signal: Int32) -> [Int]
    /// The recent output of a slot's workers, oldest first, and how many bytes were ever written
    /// (so a follower knows what is new).
    func output(slot: Int, channel: OutputChannel) -> (bytes: [UInt8], total: Int)
    /// corrald's own recent log, the same way.
    func mainLog() -> (bytes: [UInt8], total: Int)
    /// Waits (without blocking the loop) for `seconds`.
    func pause(seconds: Double) async
}

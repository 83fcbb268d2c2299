import Glibc

/// The supervisor's bookkeeping as a plain state machine (no I/O, unit-tested without processes):
/// events go in (a worker was spawned, said READY=1, pinged, exited; a reload was asked for; time
/// passed) and the actions to perform come out (spawn this slot, signal that pid, report how a
/// reload ended, exit). corrald's loop performs them.
public struct SupervisorState {
    public struct Settings: Equatable, Sendable {
        public var workers: Int
        /// How long a new worker may take to send READY=1. Nanoseconds, as all times here.
        public var bootTimeout: Int64
        /// `timeout`: a running worker silent (no WATCHDOG=1) for longer gets SIGABRT. 0 = off.
        public var heartbeatTimeout: Int64
        /// `graceful_timeout`: a stopping worker still alive after this gets SIGKILL.
        public var gracefulTimeout: Int64
        /// From SIGABRT to SIGKILL for a hung worker.
        public var killDelay: Int64 = 1_000_000_000
        public var backoff = RestartBackoff()
        /// `max_worker_rss` in bytes: a serving worker past it is recycled. 0 = never.
        public var maxWorkerRSS: Int64 = 0
        /// Which loaded configuration these settings came from (corrald spawns each generation
        /// with its own configuration's command, environment and sockets).
        public var revision = 0

        public init(workers: Int, bootTimeout: Int64 = 30_000_000_000, heartbeatTimeout: Int64 = 30_000_000_000,
                    gracefulTimeout: Int64 = 30_000_000_000) {
            self.workers = workers
            self.bootTimeout = bootTimeout
            self.heartbeatTimeout = heartbeatTimeout
            self.gracefulTimeout = gracefulTimeout
        }
    }

    public enum ReloadOutcome: Equatable, Sendable {
        case succeeded(generation: Int, workers: Int)
        case failed(generation: Int, reason: String)
    }

    public enum Action: Equatable, Sendable {
        case spawn(slot: Int, generation: Int)
        case signal(pid: Int32, signal: Int32)
        /// Every slot of `generation` is running for the first time (systemd's READY=1).
        case generationReady(generation: Int)
        case reloadFinished(ReloadOutcome)
        case exit(code: Int32, reason: String)
    }

    public private(set) var settings: Settings
    public private(set) var workers: [Int32: WorkerRecord] = [:]
    /// The generation serving (0 before the first one starts).
    public private(set) var generation = 0
    /// A reload in progress: the generation booting beside the serving one.
    public private(set) var pendingGeneration: Int?
    /// Settings of the reload in progress, and of one asked for meanwhile (signals that arrive
    /// during a reload are queued, never interleaved).
    private var pendingSettings: Settings?
    public private(set) var queuedSettings: Settings?
    public var reloadQueued: Bool { queuedSettings != nil }
    /// TTIN/TTOU received during a reload, applied to the generation that serves after it.
    private var queuedCountChange = 0
    private var backoffs: [Int: RestartBackoff] = [:]
    /// Slots waiting to be respawned, and when.
    public private(set) var restarts: [Int: Int64] = [:]
    private var firstGenerationReady = false
    private var failedFirstSlots: Set<Int> = []
    public private(set) var shuttingDown = false
    /// Slots an operator stopped (supervisorctl stop): not restarted until started again.
    public private(set) var stoppedSlots: Set<Int> = []
    /// How each slot's last worker ended, for status (BACKOFF, EXITED).
    public private(set) var lastExit: [Int: (description: String, at: Int64)] = [:]

    public init(settings: Settings) {
        self.settings = settings
    }

    /// The settings a generation was started with: the pending reload's for the generation booting.
    public func settings(ofGeneration generation: Int) -> Settings {
        generation == pendingGeneration ? pendingSettings ?? settings : settings
    }

    public var serving: [WorkerRecord] {
        workers.values.filter { $0.generation == generation }.sorted { $0.slot < $1.slot }
    }

    // MARK: Events

    /// The first generation: 1, or the one after the predecessor's after a re-exec upgrade (so
    /// generations keep counting across it).
    public mutating func start(now: Int64, generation first: Int = 1) -> [Action] {
        generation = first
        return (0..<settings.workers).map { .spawn(slot: $0, generation: first) }
    }

    public mutating func spawned(slot: Int, generation: Int, pid: Int32, now: Int64) {
        workers[pid] = WorkerRecord(slot: slot, generation: generation, pid: pid, now: now)
    }

    /// The generation of workers a re-executed corrald found running (its predecessor's): in no
    /// generation of its own, never restarted, retired once its own first generation is ready.
    public static let adoptedGeneration = -1

    /// A live worker of the image before a re-exec upgrade, still this process's child. Its
    /// spawn time and last heartbeat carry on, so a worker that hung before the exec is still
    /// caught by `timeout` on time.
    public mutating func adopt(_ adopted: UpgradeHandover.Worker, now: Int64) {
        var worker = WorkerRecord(slot: adopted.slot, generation: Self.adoptedGeneration, pid: adopted.pid, now: adopted.spawnedAt)
        worker.state = .running
        worker.readyAt = now
        worker.lastPing = adopted.lastPing
        worker.status = adopted.status
        workers[adopted.pid] = worker
    }

    /// TERM to the adopted workers (SIGKILL after graceful_timeout, as for any stopping worker).
    public mutating func retireAdopted(now: Int64) -> [Action] {
        workers.values.filter { $0.generation == Self.adoptedGeneration }.map(\.pid).sorted().flatMap { stop($0, now: now) }
    }

    /// fork/exec failed for this slot: treated like a worker that died at once.
    public mutating func spawnFailed(slot: Int, generation: Int, reason: String, now: Int64) -> [Action] {
        died(slot: slot, generation: generation, wasStopping: false, wasStarting: true, uptime: 0,
             description: reason, now: now)
    }

    public mutating func ready(pid: Int32, now: Int64) -> [Action] {
        guard var worker = workers[pid], worker.state == .starting else { return [] }
        worker.state = .running
        worker.readyAt = now
        worker.lastPing = now
        workers[pid] = worker
        var actions: [Action] = []
        if worker.generation == pendingGeneration, isComplete(worker.generation) {
            actions += finishReload(now: now)
        } else if worker.generation == generation {
            for heavy in serving where heavy.slot == worker.slot && heavy.recycling && heavy.state == .running {
                actions += stop(heavy.pid, now: now)
            }
            if !firstGenerationReady {
                firstGenerationReady = true
                // Slots that failed while the first generation booted get their restart now.
                for slot in failedFirstSlots { restarts[slot] = now }
                failedFirstSlots = []
            }
            if isComplete(generation) && !announcedFirst {
                announcedFirst = true
                actions.append(.generationReady(generation: generation))
            }
        }
        return actions
    }

    private var announcedFirst = false

    public mutating func ping(pid: Int32, now: Int64) {
        workers[pid]?.lastPing = now
    }

    /// A worker just booted is not recycled yet: over the limit that soon, it would be again.
    public static let recycleAfterUptime: Int64 = 2_000_000_000

    /// A worker's resident memory, in bytes. A serving worker past `maxWorkerRSS` is recycled,
    /// before the kernel's OOM killer would kill it mid-request: a replacement boots in its slot
    /// while it goes on serving, and it is asked to drain (TERM) once the replacement is ready.
    /// One at a time, so the replacements and the heavy ones never all hold memory together.
    public mutating func memoryMeasured(pid: Int32, residentBytes: Int64, now: Int64) -> [Action] {
        guard settings.maxWorkerRSS > 0, residentBytes > settings.maxWorkerRSS, !shuttingDown, pendingGeneration == nil,
              let worker = workers[pid], worker.state == .running, worker.generation == generation,
              now - (worker.readyAt ?? now) >= Self.recycleAfterUptime, !stoppedSlots.contains(worker.slot),
              !serving.contains(where: { $0.state == .starting }) else { return [] }
        workers[pid]?.recycling = true
        return [.spawn(slot: worker.slot, generation: generation)]
    }

    /// The worker said STOPPING=1 on its own (max_requests reached): a clean exit that follows
    /// is a planned one, replaced at once rather than backed off.
    public mutating func retiring(pid: Int32) {
        workers[pid]?.retiring = true
    }

    public mutating func status(pid: Int32, text: String) {
        workers[pid]?.status = text
    }

    /// A child was reaped; `description` says how it ended ("exit status 3", "signal 9"), `cleanly`
    /// whether it exited with status 0.
    /// `killedFromOutside`: SIGKILL that corrald did not send (the OOM killer, an operator, chaos).
    /// A serving worker killed so did not crash: its slot is refilled at once, without backing
    /// off, which would let a storm of kills leave the port with no worker at all. One killed
    /// while it boots still counts as a crash (an OOM kill at every boot must not spin), except
    /// in a reload, where it boots again up to `rebootsInAReload` times before the reload fails.
    public mutating func exited(pid: Int32, description: String, cleanly: Bool = false, killedFromOutside: Bool = false,
                                now: Int64) -> [Action] {
        guard let worker = workers.removeValue(forKey: pid) else { return [] }
        return died(slot: worker.slot, generation: worker.generation, wasStopping: worker.state == .stopping,
                    wasStarting: worker.state == .starting, retiring: worker.retiring && cleanly,
                    killedFromOutside: killedFromOutside,
                    uptime: now - worker.spawnedAt, description: description, now: now)
    }

    /// How many times a reload's new workers killed from outside while they boot are booted again.
    public static let rebootsInAReload = 3
    private var pendingReboots = 0

    private mutating func died(slot: Int, generation: Int, wasStopping: Bool, wasStarting: Bool, retiring: Bool = false,
                               killedFromOutside: Bool = false, uptime: Int64, description: String, now: Int64) -> [Action] {
        if shuttingDown {
            return workers.isEmpty ? [.exit(code: 0, reason: "all workers stopped")] : []
        }
        // A worker a failed reload stopped may share the number of the reload now booting.
        if generation == pendingGeneration && !wasStopping {
            if killedFromOutside && pendingReboots < Self.rebootsInAReload {
                pendingReboots += 1
                return [.spawn(slot: slot, generation: generation)]
            }
            return failReload(reason: "worker \(slot) of generation \(generation) \(description) during boot", now: now)
        }
        if generation == self.generation { lastExit[slot] = (description, now) }
        if wasStopping || generation != self.generation || slot >= settings.workers || stoppedSlots.contains(slot) { return [] }
        // Its slot already has a worker (the replacement of a recycled one): nothing to restart.
        if serving.contains(where: { $0.slot == slot && $0.state != .stopping }) { return [] }
        if !firstGenerationReady {
            failedFirstSlots.insert(slot)
            if failedFirstSlots.count == settings.workers {
                return stopAll(signal: SIGKILL, now: now)
                    + [.exit(code: 1, reason: "no worker of the first generation became ready; the last \(description)")]
            }
            return []
        }
        if retiring || (killedFromOutside && !wasStarting) { return [.spawn(slot: slot, generation: generation)] }
        var backoff = backoffs[slot] ?? settings.backoff
        let delay = backoff.delay(afterUptime: wasStarting ? 0 : uptime)
        backoffs[slot] = backoff
        if delay > 0 { restarts[slot] = now + delay }
        // The last serving worker gone: every waiting restart comes due within the cap, so a storm
        // of deaths (chaos, an OOM killer) cannot leave the port without a worker for 30 s.
        if !serving.contains(where: { $0.state == .running }) {
            let latest = now + min(settings.backoff.capWhileNoneServes, settings.backoff.cap)
            for (waiting, due) in restarts where due > latest { restarts[waiting] = latest }
        }
        return delay == 0 ? [.spawn(slot: slot, generation: generation)] : []
    }

    /// Time passed: scheduled restarts, boot timeouts, missed heartbeats, overdue stops.
    public mutating func tick(now: Int64) -> [Action] {
        var actions: [Action] = []
        for (slot, due) in restarts where due <= now {
            restarts[slot] = nil
            if !shuttingDown { actions.append(.spawn(slot: slot, generation: generation)) }
        }
        for pid in workers.keys.sorted() {
            // Read afresh: an action below may have changed a sibling (a failed reload stops them).
            guard let worker = workers[pid] else { continue }
            switch worker.state {
            case .starting where now - worker.spawnedAt > settings.bootTimeout:
                if worker.generation == pendingGeneration {
                    // This one is hung: KILL it; the rest of its generation gets TERM.
                    workers[pid]?.state = .stopping
                    workers[pid]?.stopRequestedAt = now
                    actions.append(.signal(pid: pid, signal: SIGKILL))
                    actions += failReload(reason: "worker \(worker.slot) of generation \(worker.generation) did not send READY=1 within the boot timeout", now: now)
                } else if worker.abortedAt == nil {
                    workers[pid]?.abortedAt = now
                    actions.append(.signal(pid: pid, signal: SIGKILL))
                }
            // A draining worker that stops pinging is hung as much as a serving one (gunicorn
            // times out both): it is aborted at `timeout`, not left until graceful_timeout.
            case .running, .stopping:
                if let aborted = worker.abortedAt {
                    if now - aborted >= settings.killDelay && aborted > 0 {
                        workers[pid]?.abortedAt = -1   // SIGKILL sent once
                        actions.append(.signal(pid: pid, signal: SIGKILL))
                    }
                } else if settings.heartbeatTimeout > 0 && worker.readyAt != nil && now - worker.lastPing > settings.heartbeatTimeout {
                    workers[pid]?.abortedAt = now
                    actions.append(.signal(pid: pid, signal: SIGABRT))
                } else if worker.state == .stopping, let asked = worker.stopRequestedAt, now - asked >= settings.gracefulTimeout {
                    workers[pid]?.abortedAt = -1
                    actions.append(.signal(pid: pid, signal: SIGKILL))
                }
            default:
                break
            }
        }
        return actions
    }

    /// The earliest time `tick` has something to do, or nil (the loop may sleep).
    public var nextDeadline: Int64? {
        var next = restarts.values.min()
        func consider(_ t: Int64) { next = min(next ?? t, t) }
        for worker in workers.values {
            switch worker.state {
            case .starting: consider(worker.spawnedAt + settings.bootTimeout + 1)
            case .running, .stopping:
                if let aborted = worker.abortedAt {
                    if aborted > 0 { consider(aborted + settings.killDelay) }
                } else {
                    if settings.heartbeatTimeout > 0 && worker.readyAt != nil { consider(worker.lastPing + settings.heartbeatTimeout + 1) }
                    if worker.state == .stopping, let asked = worker.stopRequestedAt { consider(asked + settings.gracefulTimeout) }
                }
            }
        }
        return next
    }

    // MARK: Commands

    /// SIGHUP: boot a new generation with `newSettings` beside the serving one; the old one is
    /// retired only once every new worker is ready. A reload asked for during one is queued.
    public mutating func reload(with newSettings: Settings, now: Int64) -> [Action] {
        guard !shuttingDown else { return [] }
        if pendingGeneration != nil {
            queuedSettings = newSettings
            return []
        }
        pendingSettings = newSettings
        pendingReboots = 0
        let next = generation + 1
        pendingGeneration = next
        return (0..<newSettings.workers).map { .spawn(slot: $0, generation: next) }
    }

    /// TTIN/TTOU: one worker more or less (never below one); TTOU retires the oldest.
    public mutating func changeWorkerCount(by delta: Int, now: Int64) -> [Action] {
        guard !shuttingDown else { return [] }
        if pendingGeneration != nil {
            queuedCountChange += delta
            return []
        }
        if delta > 1 || delta < -1 {
            return (0..<abs(delta)).flatMap { _ in changeWorkerCount(by: delta.signum(), now: now) }
        }
        if delta > 0 {
            let first = settings.workers
            settings.workers += delta
            return (first..<settings.workers).map { .spawn(slot: $0, generation: generation) }
        }
        guard settings.workers > 1 else { return [] }
        settings.workers -= 1
        // The highest slot waiting for its restart (or stopped): not restarting it is the one less.
        let highestIsDown = !serving.contains { $0.slot == settings.workers && $0.state != .stopping }
        restarts[settings.workers] = nil
        stoppedSlots.remove(settings.workers)
        if highestIsDown { return [] }
        let candidates = serving.filter { $0.state != .stopping }
        guard let oldest = candidates.min(by: { $0.spawnedAt < $1.spawnedAt }) else { return [] }
        let actions = stop(oldest.pid, now: now)
        // The retired worker's slot is taken over by the highest one, so slots stay 0..<n.
        if oldest.slot < settings.workers, let highest = candidates.first(where: { $0.slot == settings.workers }) {
            workers[highest.pid] = WorkerRecord(moving: highest, toSlot: oldest.slot)
        }
        return actions
    }

    /// An operator stops these slots (their workers drain; corrald keeps the sockets).
    public mutating func stopSlots(_ slots: [Int], now: Int64) -> [Action] {
        guard !shuttingDown else { return [] }
        var actions: [Action] = []
        for slot in slots where slot < settings.workers {
            stoppedSlots.insert(slot)
            restarts[slot] = nil
            for worker in serving where worker.slot == slot { actions += stop(worker.pid, now: now) }
        }
        return actions
    }

    /// An operator starts stopped slots again.
    public mutating func startSlots(_ slots: [Int], now: Int64) -> [Action] {
        guard !shuttingDown else { return [] }
        var actions: [Action] = []
        for slot in slots where slot < settings.workers && stoppedSlots.contains(slot) {
            stoppedSlots.remove(slot)
            backoffs[slot] = nil
            if !serving.contains(where: { $0.slot == slot && $0.state != .stopping }) {
                actions.append(.spawn(slot: slot, generation: generation))
            }
        }
        return actions
    }

    /// TERM (graceful) or INT/QUIT (fast): stop everything, then exit 0.
    public mutating func shutdown(graceful: Bool, now: Int64) -> [Action] {
        shuttingDown = true
        restarts = [:]
        pendingGeneration = nil
        queuedSettings = nil
        if workers.isEmpty { return [.exit(code: 0, reason: "no workers running")] }
        return stopAll(signal: graceful ? SIGTERM : SIGQUIT, now: now)
    }

    // MARK: Helpers

    private func isComplete(_ generation: Int) -> Bool {
        let count = generation == pendingGeneration ? (pendingSettings?.workers ?? settings.workers) : settings.workers
        let running = Set(workers.values.filter { $0.generation == generation && $0.state == .running }.map(\.slot))
        return running.count >= count
    }

    private mutating func stop(_ pid: Int32, now: Int64) -> [Action] {
        guard var worker = workers[pid], worker.state != .stopping else { return [] }
        worker.state = .stopping
        worker.stopRequestedAt = now
        workers[pid] = worker
        return [.signal(pid: pid, signal: SIGTERM)]
    }

    private mutating func stopAll(signal: Int32, now: Int64) -> [Action] {
        var actions: [Action] = []
        for pid in workers.keys.sorted() {
            workers[pid]?.state = .stopping
            if workers[pid]?.stopRequestedAt == nil { workers[pid]?.stopRequestedAt = now }
            actions.append(.signal(pid: pid, signal: signal))
        }
        return actions
    }

    private mutating func finishReload(now: Int64) -> [Action] {
        guard let next = pendingGeneration else { return [] }
        var actions: [Action] = []
        for worker in workers.values.sorted(by: { $0.pid < $1.pid }) where worker.generation < next {
            actions += stop(worker.pid, now: now)
        }
        generation = next
        pendingGeneration = nil
        stoppedSlots = []
        if let pendingSettings { settings = pendingSettings }
        pendingSettings = nil
        backoffs = [:]
        restarts = [:]
        actions.append(.reloadFinished(.succeeded(generation: next, workers: settings.workers)))
        return actions + startQueuedReload(now: now)
    }

    private mutating func failReload(reason: String, now: Int64) -> [Action] {
        guard let failed = pendingGeneration else { return [] }
        var actions: [Action] = []
        // TERM, not KILL: a new worker may already have accepted connections (it serves from its
        // first loop turn, before corrald reads its READY=1), and they end gracefully.
        for worker in workers.values.sorted(by: { $0.pid < $1.pid }) where worker.generation == failed {
            actions += stop(worker.pid, now: now)
        }
        pendingGeneration = nil
        pendingSettings = nil
        actions.append(.reloadFinished(.failed(generation: failed, reason: "\(reason); generation \(generation) still serving")))
        return actions + startQueuedReload(now: now)
    }

    /// After a reload ended: the queued reload starts, else the queued count changes apply.
    private mutating func startQueuedReload(now: Int64) -> [Action] {
        guard let queued = queuedSettings else {
            let delta = queuedCountChange
            queuedCountChange = 0
            return delta == 0 ? [] : changeWorkerCount(by: delta, now: now)
        }
        queuedSettings = nil
        return reload(with: queued, now: now)
    }
}

extension WorkerRecord {
    init(moving worker: WorkerRecord, toSlot slot: Int) {
        self.init(slot: slot, generation: worker.generation, pid: worker.pid, now: worker.spawnedAt)
        state = worker.state
        readyAt = worker.readyAt
        lastPing = worker.lastPing
        status = worker.status
        abortedAt = worker.abortedAt
        stopRequestedAt = worker.stopRequestedAt
        retiring = worker.retiring
        recycling = worker.recycling
    }
}

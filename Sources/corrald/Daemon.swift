import CCorral
import CorralControl
import CorralEventLoop
import CorralServer
import CorralSupervisor
import CorralSystemd
import CorralTLS
import Glibc
import Logging

/// corrald's process: performs what the SupervisorState decides. It owns the listening sockets,
/// the pidfile and the notify socket; signals, child exits, worker notifications and worker
/// output arrive through the one event loop, so corrald is single-threaded and sleeps when
/// nothing happens.
final class Daemon: @unchecked Sendable {
    /// How one loaded configuration's workers are started.
    struct Plan {
        let configuration: Configuration
        let spawner: WorkerSpawner
        let sockets: [ListenFD]
        /// The session-ticket keys its workers share (with a certfile).
        let ticketKeys: TicketKeys?
        /// preload_app with corral-python: workers are forked by the revision's preloading process.
        var preloads: Bool { configuration.preloadApp && configuration.wsgiApp != nil && configuration.workerCommand == configuration.wsgiWorkerCommand }
    }

    /// How a reload ended, kept for corralctl and systemd to report.
    struct ReloadRecord {
        let succeeded: Bool
        let detail: String
    }

    let loop: EventLoop
    /// The error log itself (its file or stderr; reopened on USR1; where worker stderr goes).
    private(set) var log: ErrorLog
    /// What corrald says: native journal entries with CORRAL_* fields when its log is the
    /// journal, else gunicorn's text lines through `log`.
    var logger: Logger
    let loader: ConfigurationLoader
    var state: SupervisorState
    var plans: [Int: Plan] = [:]
    /// preload_app's preloading processes, by revision (Daemon+Preload).
    var preloaders: [Int: Preloader] = [:]
    private var latestRevision = 0
    var workerRevisions: [Int32: Int] = [:]
    let sockets: ListeningSockets
    let notify: NotifyListener
    let output: WorkerOutput
    var mainLogRecent = RecentOutput(capacity: 64 * 1024)
    var control: ControlServer?
    /// Prometheus (metrics_bind) and statsd's gunicorn.workers: Daemon+Metrics.swift.
    var metricsLedger = MetricsLedger()
    var metricsEndpoint: MetricsEndpoint?
    /// Daemon+TLS.swift.
    var sharedTicketKeys: TicketKeys?
    /// When corrald started (carried across re-exec upgrades: the process is the same).
    let startedAt: Int64
    /// Re-exec upgrades (Daemon+Upgrade.swift): the one this image came from, and the last outcome.
    var handover: UpgradeHandover?
    /// Why a newer binary handed the state back (this image is the old one again).
    var upgradeRejection: String?
    var upgradeOutcome: UpgradeOutcome?
    private let pidfile: Pidfile?
    let systemd = Notifier()
    /// The last reload's outcome, and how many have ended (corralctl waits for that to move).
    var lastReload: ReloadRecord?
    var reloadCount = 0
    /// Reloads asked for (numbered in STATUS=, as systemctl status shows them).
    var reloadsStarted = 0
    /// What the last worker that died during boot wrote, for corrald's last words.
    private var lastBootOutput = ""
    private var wakeToken = 0
    /// The supervisor's server hooks (Daemon+Hooks), and the worker count they last heard of.
    var hooks: HookRunner?
    var reportedWorkerCount = 0
    /// Workers started so far: each one's `worker.age` for the server hooks.
    var workersSpawned = 0
    /// A reload for changed sources is about to start (`reload`).
    private var sourceReloadScheduled = false
    private var scheduledWake: Int64?

    var configuration: Configuration { plans[state.settings.revision]!.configuration }

    init(loader: ConfigurationLoader, loaded: ConfigurationLoader.Loaded) throws {
        let configuration = loaded.configuration
        self.loader = loader
        log = try Self.errorLog(for: configuration)
        loop = try EventLoop()
        output = WorkerOutput(loop: loop)
        if let name = configuration.procName { corral_set_process_name(name) }
        if let path = configuration.pidfile {
            let pidfile = Pidfile(path: path)
            try pidfile.claim()
            self.pidfile = pidfile
        } else {
            pidfile = nil
        }
        // A start that fails after this point (a port in use…) leaves no pidfile behind.
        var started = false
        let claimed = pidfile
        defer { if !started { claimed?.release() } }
        let taken = Self.takeHandover()
        let handover = taken?.0
        self.handover = handover
        upgradeRejection = taken?.rejectedBy
        startedAt = handover.flatMap { $0.daemonStartedAt > 0 ? $0.daemonStartedAt : nil } ?? loop.now
        reloadsStarted = handover?.reloadsStarted ?? 0
        reloadCount = handover?.reloadsEnded ?? 0
        metricsLedger = handover?.ledger ?? MetricsLedger()
        sockets = ListeningSockets(inherited: handover.map { $0.sockets.map { ListenFD(fd: $0.fd, name: $0.name) } } ?? ListenFDs.take(),
                                   systemd: Notifier())
        // Abstract: nothing to clean up after a crash, reachable by workers of any user. Senders
        // are known by their credentials, so a stranger's datagram is ignored.
        let notifyPath = "@corrald-\(getpid())-notify"
        notify = try handover?.endpoint(.notify, at: notifyPath).map { NotifyListener(adopting: $0, path: notifyPath) }
            ?? NotifyListener(path: notifyPath)
        state = SupervisorState(settings: configuration.supervisorSettings)
        for worker in handover?.workers ?? [] {
            state.adopt(worker, now: loop.now)
            output.watch(stdout: worker.stdout, stderr: worker.stderr, of: worker.pid, slot: worker.slot)
        }
        logger = Logger(label: "corrald")
        log.observer = { [unowned self] line in mainLogRecent.append(Array(line.utf8)[...]) }
        logger = makeLogger(configuration)
        output.relayLine = { [unowned self] line, pid, slot in log.relay(line, from: pid, slot: slot) }
        for warning in loaded.warnings { logger.warning("\(warning)") }
        plans[0] = try plan(for: configuration)
        if let handover {
            let pids = handover.workers.map { String($0.pid) }.joined(separator: ", ")
            logger.info("upgrade: took over from \(handover.fromVersion): \(handover.sockets.count) sockets, \(handover.workers.count) workers adopted (pids \(pids))",
                        metadata: ["event": "upgrade-adopt"])
        } else if !sockets.adopted.isEmpty {
            logger.info("taken back from systemd's fd store: \(sockets.adopted.joined(separator: ", "))")
        }
        for name in sockets.closeUnclaimed() {
            logger.info("closed \(name) from systemd's fd store: no bind uses it any more")
        }
        try loop.watchSignals([SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2, SIGCHLD, SIGPIPE]) { [unowned self] signal, _ in
            received(signal)
        }
        try loop.register(notify.fd, events: EventLoop.readable, watcher: ReadinessHandler { [unowned self] in
            heard()
        })
        try openControlSocket(configuration)
        try startMetrics(configuration)
        let kept = [notify.fd, control?.fd, metricsEndpoint?.fd, handover?.endpoints.first { $0.role == .ticketKeys && sharedTicketKeys != nil }?.fd]
        for endpoint in handover?.endpoints ?? [] where !kept.contains(endpoint.fd) {
            logger.info("upgrade: \(endpoint.role.rawValue) socket \(endpoint.address) is no longer configured; closed")
            close(endpoint.fd)
        }
        let listening = sockets.isInherited ? plans[0]!.sockets.map(\.name).joined(separator: ", ") + " (inherited from systemd)"
                                            : configuration.listeningSummary + " (backlog \(configuration.backlog))"
        started = true
        let command = configuration.workerCommand.joined(separator: " ")
        logger.info("corrald \(getpid()) listening at \(listening); \(configuration.workers) workers: \(command)")
        checkMemoryBudget(configuration)
    }

    func run() -> Never {
        startHooks(for: configuration)
        if let failure = hook("on_starting", waiting: true) {
            perform([.exit(code: 1, reason: "the on_starting hook failed (\(failure)); gunicorn would not start either")])
        }
        loop.spawn { [self] in perform(state.start(now: loop.now, generation: (handover?.generation ?? 0) + 1)) }
        watchWorkerMemory()
        loop.run()
        exit(0)
    }

    private func makeLogger(_ configuration: Configuration) -> Logger {
        let journal = configuration.errorlog == "journal" || (configuration.errorlog == "-" && JournalWriter.stderrIsJournal)
        let level: Logger.Level = switch ErrorLog.Level(name: configuration.loglevel) ?? .info {
        case .debug: .debug
        case .info: .info
        case .warning: .warning
        case .error: .error
        case .critical: .critical
        }
        let log = self.log
        return Logger(label: "corrald") { _ in
            journal ? JournalLogHandler(identifier: "corrald", level: level, mirror: { [unowned self] line in
                          mainLogRecent.append(Array(line.utf8)[...])
                      }) as any LogHandler
                    : ErrorLogHandler(log)
        }
    }

    private static func errorLog(for configuration: Configuration) throws -> ErrorLog {
        try ErrorLog(destination: configuration.errorlog, level: ErrorLog.Level(name: configuration.loglevel) ?? .info,
                     identifier: "corrald")
    }

    /// corrald's own environment without what is corrald's alone (systemd's LISTEN_*, WATCHDOG_*,
    /// NOTIFY_SOCKET, CORRAL_CMD_ARGS), with the configuration's settings for the workers.
    static func workerEnvironment(for configuration: Configuration) -> [String: String] {
        var environment: [String: String] = [:]
        for (key, value) in ProcessEnvironment.current
        where !key.hasPrefix("LISTEN_") && !key.hasPrefix("WATCHDOG_") && key != "NOTIFY_SOCKET" && key != "CORRAL_CMD_ARGS" {
            environment[key] = value
        }
        environment.merge(configuration.workerEnvironment) { $1 }
        return environment
    }

    /// Sockets, command, environment and credentials for a configuration's workers.
    private func plan(for configuration: Configuration) throws -> Plan {
        var spawner = WorkerSpawner(executable: configuration.workerCommand[0],
                                    arguments: Array(configuration.workerCommand.dropFirst()))
        var environment = Self.workerEnvironment(for: configuration)
        environment["NOTIFY_SOCKET"] = notify.path
        if configuration.timeout > 0 { environment["WATCHDOG_USEC"] = String(Int64(configuration.timeout * 1_000_000)) }
        spawner.environment = environment
        spawner.umask = mode_t(configuration.umask)
        var primaryGroup: gid_t?
        if let user = configuration.user {
            if let uid = uid_t(user) {
                spawner.uid = uid
            } else if let entry = getpwnam(user) {
                spawner.uid = entry.pointee.pw_uid
                primaryGroup = entry.pointee.pw_gid
            } else {
                throw ValidationFailure("no such user \"\(user)\"")
            }
        }
        if let group = configuration.group {
            if let gid = gid_t(group) { spawner.gid = gid } else if let entry = getgrnam(group) { spawner.gid = entry.pointee.gr_gid } else {
                throw ValidationFailure("no such group \"\(group)\"")
            }
        } else {
            spawner.gid = primaryGroup
        }
        let listening = try sockets.sockets(for: configuration, owner: (spawner.uid, spawner.gid))
        return Plan(configuration: configuration, spawner: spawner, sockets: listening, ticketKeys: try ticketKeys(for: configuration))
    }

    // MARK: Events

    private func received(_ signal: Int32) {
        switch signal {
        case SIGCHLD: reap()
        case SIGHUP: reload()
        case SIGTERM: shutdown(graceful: true, reason: "SIGTERM")
        case SIGINT, SIGQUIT: shutdown(graceful: false, reason: "signal \(signal)")
        case SIGTTIN: changeWorkerCount(by: 1)
        case SIGTTOU: changeWorkerCount(by: -1)
        case SIGUSR1:
            do { try log.reopen() } catch { logger.error("cannot reopen the error log: \(error)") }
            for pid in state.workers.keys { kill(pid, SIGUSR1) }
        case SIGUSR2:
            loop.spawn { [self] in _ = await beginUpgrade() }
        default: break
        }
    }

    /// A log entry's fields for an event about one worker (journald: CORRAL_EVENT, CORRAL_WORKER_PID…).
    func event(_ name: String, _ worker: WorkerRecord, _ more: Logger.Metadata = [:]) -> Logger.Metadata {
        var fields: Logger.Metadata = ["event": "\(name)", "worker_pid": "\(worker.pid)", "worker_slot": "\(worker.slot)",
                                       "generation": "\(worker.generation)"]
        fields.merge(more) { $1 }
        return fields
    }

    /// Stops every worker (TERM, or QUIT when not graceful), telling systemd how long it may take.
    func shutdown(graceful: Bool, reason: String) {
        logger.info("\(graceful ? "graceful" : "fast") shutdown (\(reason))", metadata: ["event": "stop"])
        let allowance = Int64(configuration.gracefulTimeout * 1_000_000) + 5_000_000
        systemd.send("STOPPING=1\nEXTEND_TIMEOUT_USEC=\(allowance)\nSTATUS=stopping: \(state.workers.count) workers draining")
        perform(state.shutdown(graceful: graceful, now: loop.now))
    }

    /// SIGHUP: re-read the configuration; if it is valid, boot a new generation with it beside
    /// the serving one, which is retired once every new worker is ready.
    func reload() {
        logger.info("reload requested", metadata: ["event": "reload-start"])
        hook("on_reload")
        reloadsStarted += 1
        systemd.send("RELOADING=1\nMONOTONIC_USEC=\(corral_monotonic_ns() / 1000)\nSTATUS=reload \(reloadsStarted) in progress")
        let loaded: ConfigurationLoader.Loaded
        do {
            loaded = try loader.load()
        } catch {
            recordReload(succeeded: false, "the configuration is invalid, still running the previous one:\n\(error)")
            return
        }
        for warning in loaded.warnings { logger.warning("\(warning)") }
        if loaded.configuration.pidfile != configuration.pidfile {
            logger.warning("pidfile: a new path takes effect at the next start; still using \(configuration.pidfile ?? "none")")
        }
        latestRevision += 1
        do {
            plans[latestRevision] = try plan(for: loaded.configuration)
        } catch {
            recordReload(succeeded: false, "\(error); still running the previous configuration")
            releaseUnused()
            return
        }
        checkMemoryBudget(loaded.configuration)
        var settings = loaded.configuration.supervisorSettings
        settings.revision = latestRevision
        perform(state.reload(with: settings, now: loop.now))
    }

    private func reap() {
        // What a worker said before it died comes first: a READY=1 still queued on the notify
        // socket means it booted (else a short-lived worker would count as a boot failure).
        heard()
        var status: Int32 = 0
        while true {
            let pid = waitpid(-1, &status, WNOHANG)
            guard pid > 0 else { break }
            let description = WaitStatus(raw: status).description
            let lastOutput = output.finish(pid)
            if preloaderExited(pid: pid, description: description) {
                lastBootOutput = lastOutput
                continue
            }
            workerRevisions[pid] = nil
            if let worker = state.workers[pid] {
                metricsLedger.exited(pid: pid, slot: worker.slot, unexpected: !(worker.state == .stopping || worker.retiring))
                let exitStatus = WaitStatus(raw: status).field
                logger.log(level: worker.state == .stopping || worker.retiring ? .info : .error,
                           "worker \(worker.slot) (pid \(pid), \(worker.generation == SupervisorState.adoptedGeneration ? "adopted" : "generation \(worker.generation)")) \(description)\(worker.status.isEmpty ? "" : "; last status: \(worker.status)")",
                           metadata: event("exit", worker, ["exit_status": "\(exitStatus)"]))
                if worker.state == .starting { lastBootOutput = lastOutput }
                hook("child_exit", ["pid": Int(pid)])
            }
            // SIGKILL that corrald did not send: the OOM killer, an operator, chaos. Not a crash.
            let killedFromOutside = WaitStatus(raw: status).signal == SIGKILL && state.workers[pid]?.abortedAt == nil
                && state.workers[pid]?.state != .stopping
            perform(state.exited(pid: pid, description: description, cleanly: status == 0,
                                 killedFromOutside: killedFromOutside, now: loop.now))
        }
        releaseUnused()
    }

    /// `reload`: a worker saw the app's sources change. Every worker of the generation sees the
    /// same change, so what they report within a moment is one reload.
    private func sourcesChanged(pid: Int32, reason: String) {
        guard configuration.reload, let worker = state.workers[pid], worker.generation == state.generation,
              !sourceReloadScheduled else { return }
        sourceReloadScheduled = true
        logger.info("\(reason) (seen by worker \(worker.slot), pid \(pid)): reloading", metadata: event("source-changed", worker))
        loop.spawn { [self] in
            await loop.sleep(for: .milliseconds(250))
            sourceReloadScheduled = false
            reload()
        }
    }

    private func heard() {
        while let message = notify.receive() {
            for (name, value) in message.assignments {
                switch name {
                case "READY" where value == "1":
                    logger.debug("worker pid \(message.pid) ready",
                                 metadata: state.workers[message.pid].map { event("ready", $0) } ?? ["event": "ready"])
                    perform(state.ready(pid: message.pid, now: loop.now))
                case "WATCHDOG" where value == "1": state.ping(pid: message.pid, now: loop.now)
                case "STOPPING" where value == "1": state.retiring(pid: message.pid)
                case "STATUS":
                    state.status(pid: message.pid, text: value)
                    metricsLedger.status(pid: message.pid, text: value)
                case "CORRAL_DURATIONS": metricsLedger.durations(pid: message.pid, encoded: value)
                case "CORRAL_RELOAD": sourcesChanged(pid: message.pid, reason: value)
                default: break
                }
            }
        }
    }

    // MARK: Actions

    func perform(_ actions: [SupervisorState.Action]) {
        for action in actions {
            switch action {
            case .spawn(let slot, let generation):
                spawn(slot: slot, generation: generation)
            case .signal(let pid, let signal):
                if signal == SIGABRT, let worker = state.workers[pid] {
                    logger.critical("worker \(worker.slot) (pid \(pid)) sent no heartbeat for \((loop.now - worker.lastPing) / 1_000_000) ms; last status: \(worker.status.isEmpty ? "none" : worker.status); aborting it",
                                    metadata: event("heartbeat-timeout", worker))
                }
                if signal == SIGKILL, let worker = state.workers[pid], worker.readyAt == nil,
                   loop.now - worker.spawnedAt > state.settings.bootTimeout {
                    logger.error("worker \(worker.slot) (pid \(pid), generation \(worker.generation)) did not send READY=1 within boot_timeout (\(Double(state.settings.bootTimeout) / 1e9) s); killing it\(worker.status.isEmpty ? "" : "; last status: \(worker.status)")",
                                 metadata: event("boot-timeout", worker))
                }
                if signal == SIGTERM && !state.shuttingDown {
                    // Replaced (a reload, fewer workers, a recycle), not stopped: the worker closes
                    // its WebSockets with 1012 (service restart) rather than 1001, so clients reconnect.
                    corral_sigqueue(pid, signal, WorkerSignal.replaced)
                } else {
                    kill(pid, signal)
                }
            case .generationReady(let generation):
                logger.info("all \(state.settings.workers) workers of generation \(generation) ready",
                            metadata: ["event": "generation-ready", "generation": "\(generation)"])
                if handover != nil {
                    finishUpgrade()
                } else {
                    hook("when_ready")
                    systemd.send("READY=1\nMAINPID=\(getpid())\nSTATUS=\(state.settings.workers) workers of generation \(generation) ready")
                }
                reportPeriodically()
            case .reloadFinished(let outcome):
                switch outcome {
                case .succeeded(let generation, let workers):
                    recordReload(succeeded: true, "\(workers) workers of generation \(generation) ready")
                    adopt(configuration)
                    let counted = reportedWorkerCount
                    startHooks(for: configuration)
                    reportedWorkerCount = counted
                    reportWorkerCount()
                case .failed(_, let reason):
                    recordReload(succeeded: false, reason)
                }
                releaseUnused()
            case .exit(let code, let reason):
                hook("on_exit", waiting: true)
                let output = code != 0 && !lastBootOutput.isEmpty ? "; its output:\n\(lastBootOutput)" : ""
                logger.log(level: code == 0 ? .info : .critical, "exiting: \(reason)\(output)",
                           metadata: ["event": "supervisor-exit", "exit_status": "\(code)"])
                pidfile?.release()
                control = nil
                metricsEndpoint = nil
                sockets.close(allBut: [], forget: false)
                exit(code)
            }
        }
        scheduleTick()
    }

    private func spawn(slot: Int, generation: Int) {
        let revision = state.settings(ofGeneration: generation).revision
        guard let plan = plans[revision] else {
            logger.critical("no configuration for generation \(generation) (revision \(revision)); cannot spawn worker \(slot)")
            return
        }
        workersSpawned += 1
        hook("pre_fork", ["age": workersSpawned], waiting: true)
        if plan.preloads { return forkPreloaded(slot: slot, generation: generation, revision: revision, plan: plan) }
        do {
            let pipes = try output.makePipes()
            let pid: pid_t
            do {
                var spawner = plan.spawner
                spawner.environment["CORRAL_WORKER_AGE"] = String(workersSpawned)   // gunicorn's worker.age
                let extras = workerExtras(plan)
                spawner.environment.merge(extras.environment) { $1 }
                pid = try spawner.spawn(sockets: plan.sockets, extraFDs: extras.fds, stdout: pipes.stdout.write, stderr: pipes.stderr.write)
            } catch {
                output.discard(pipes)
                throw error
            }
            output.attach(pipes, to: pid, slot: slot)
            workerRevisions[pid] = revision
            state.spawned(slot: slot, generation: generation, pid: pid, now: loop.now)
            logger.info("spawned worker \(slot) of generation \(generation): pid \(pid)",
                        metadata: ["event": "spawn", "worker_pid": "\(pid)", "worker_slot": "\(slot)", "generation": "\(generation)"])
        } catch {
            logger.error("cannot spawn worker \(slot): \(error)")
            perform(state.spawnFailed(slot: slot, generation: generation, reason: "\(error)", now: loop.now))
        }
    }

    /// The reloaded configuration is now the serving one: corrald's own log and name follow it.
    private func adopt(_ configuration: Configuration) {
        if configuration.errorlog != log.destination {
            do {
                let observer = log.observer
                log = try Self.errorLog(for: configuration)
                log.observer = observer
            } catch {
                logger.error("errorlog: \(error); keeping \(log.destination)")
            }
        }
        log.level = ErrorLog.Level(name: configuration.loglevel) ?? .info
        logger = makeLogger(configuration)
        if let name = configuration.procName { corral_set_process_name(name) }
    }

    private func recordReload(succeeded: Bool, _ detail: String) {
        reloadCount += 1
        metricsLedger.reloaded(succeeded: succeeded)
        lastReload = ReloadRecord(succeeded: succeeded, detail: detail)
        systemd.send("READY=1\nSTATUS=reload \(reloadCount) \(succeeded ? "done" : "failed"): \(detail)")
        logger.log(level: succeeded ? .info : .error, "reload \(succeeded ? "done" : "failed"): \(detail)",
                   metadata: ["event": "\(succeeded ? "reload-done" : "reload-failed")", "generation": "\(state.generation)"])
    }

    /// Forgets the configurations no worker runs any more and closes the sockets only they used.
    private func releaseUnused() {
        var live = Set(workerRevisions.values)
        live.insert(state.settings.revision)
        if let pending = state.pendingGeneration { live.insert(state.settings(ofGeneration: pending).revision) }
        if let queued = state.queuedSettings { live.insert(queued.revision) }
        for revision in plans.keys where !live.contains(revision) {
            plans[revision] = nil
        }
        retireUnusedPreloaders()
        for address in sockets.close(allBut: plans.values.flatMap(\.sockets)) {
            logger.info("closed \(address): no longer in bind")
        }
    }

    /// Under systemd: WATCHDOG=1 at half WATCHDOG_USEC (from this loop, so a stuck corrald stops
    /// pinging), and STATUS= kept current with the serving generation and requests served.
    private func reportPeriodically() {
        guard systemd.isEnabled else { return }
        let interval = systemd.watchdogInterval ?? .seconds(10)
        loop.spawn { [self] in
            while !state.shuttingDown {
                await loop.sleep(for: interval)
                var message = systemd.watchdogInterval == nil ? "" : "WATCHDOG=1\n"
                if state.pendingGeneration == nil {
                    let serving = state.serving
                    let requests = serving.reduce(0) { total, worker in
                        total + (worker.status.split(separator: " ").first { $0.hasPrefix("requests=") }.flatMap { Int($0.dropFirst(9)) } ?? 0)
                    }
                    message += "STATUS=\(serving.count { $0.state == .running }) workers of generation \(state.generation) ready; "
                        + "\(requests) requests served"
                }
                systemd.send(message)
            }
        }
    }

    /// Wakes the loop at the state's next deadline (a restart, a timeout); nothing when none.
    private func scheduleTick() {
        guard let deadline = state.nextDeadline, deadline != scheduledWake else { return }
        scheduledWake = deadline
        wakeToken += 1
        let token = wakeToken
        loop.spawn { [self] in
            await loop.sleep(for: .nanoseconds(max(0, deadline - loop.now)))
            guard token == wakeToken else { return }
            scheduledWake = nil
            perform(state.tick(now: loop.now))
        }
    }
}

struct ValidationFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The process environment as a dictionary (without Foundation).
enum ProcessEnvironment {
    static var current: [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        return result
    }
}

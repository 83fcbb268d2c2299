import CCorral
import CorralEventLoop
import CorralServer
import CorralSupervisor
import CorralSystemd
import Glibc

/// corrald's process: performs what the SupervisorState decides. It owns the listening sockets,
/// the pidfile and the notify socket; signals, child exits and worker notifications arrive
/// through the one event loop, so corrald is single-threaded and sleeps when nothing happens.
final class Daemon: @unchecked Sendable {
    let loop: EventLoop
    let log: ErrorLog
    private var state: SupervisorState
    private let sockets: [ListenFD]
    private let notify: NotifyListener
    private var spawner: WorkerSpawner
    private let pidfile: Pidfile?
    private let systemd = Notifier()
    private var wakeToken = 0
    private var scheduledWake: Int64?

    init(options: DaemonOptions) throws {
        log = try ErrorLog(destination: options.errorLog,
                           level: ErrorLog.Level(name: options.logLevel) ?? .info, identifier: "corrald")
        loop = try EventLoop()
        let settings = SupervisorState.Settings(
            workers: try options.workerCount,
            bootTimeout: Int64(max(options.timeout, 30) * 1e9),
            heartbeatTimeout: Int64(options.timeout * 1e9),
            gracefulTimeout: Int64(options.gracefulTimeout * 1e9))
        state = SupervisorState(settings: settings)
        if let path = options.pidfile {
            let pidfile = Pidfile(path: path)
            try pidfile.claim()
            self.pidfile = pidfile
        } else {
            pidfile = nil
        }
        let inherited = ListenFDs.take()
        if inherited.isEmpty {
            let binds = options.bind.isEmpty ? ["127.0.0.1:8000"] : options.bind
            sockets = try binds.map { text in
                // LISTEN_FDNAMES is colon-separated: a name cannot contain ':'.
                ListenFD(fd: try BindAddress(parsing: text).listen(backlog: options.backlog),
                         name: String(text.map { $0 == ":" ? "_" : $0 }))
            }
        } else {
            sockets = inherited
        }
        notify = try NotifyListener(path: "/tmp/corrald-\(getpid()).notify")
        let (executable, arguments) = options.command
        spawner = WorkerSpawner(executable: executable, arguments: arguments)
        var environment: [String: String] = [:]
        for entry in ProcessInfoEnvironment.current where !entry.key.hasPrefix("LISTEN_") { environment[entry.key] = entry.value }
        for (key, value) in options.workerEnvironment { environment[key] = value }
        environment["NOTIFY_SOCKET"] = notify.path
        if settings.heartbeatTimeout > 0 { environment["WATCHDOG_USEC"] = String(settings.heartbeatTimeout / 1000) }
        spawner.environment = environment
        try loop.watchSignals([SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGTTIN, SIGTTOU, SIGUSR1, SIGCHLD, SIGPIPE]) { [unowned self] in
            received($0)
        }
        try loop.register(notify.fd, events: EventLoop.readable, watcher: ReadinessHandler { [unowned self] in
            heard()
        })
        log.info("corrald \(getpid()) listening at \(sockets.map(\.name).joined(separator: ", ")); workers: \(executable)")
    }

    func run() -> Never {
        loop.spawn { [self] in perform(state.start(now: loop.now)) }
        loop.run()
        exit(0)
    }

    // MARK: Events

    private func received(_ signal: Int32) {
        let now = loop.now
        switch signal {
        case SIGCHLD: reap()
        case SIGHUP:
            log.info("reload requested (SIGHUP)")
            perform(state.reload(with: state.settings, now: now))
        case SIGTERM:
            log.info("graceful shutdown (SIGTERM)")
            perform(state.shutdown(graceful: true, now: now))
        case SIGINT, SIGQUIT:
            log.info("fast shutdown (signal \(signal))")
            perform(state.shutdown(graceful: false, now: now))
        case SIGTTIN: perform(state.changeWorkerCount(by: 1, now: now))
        case SIGTTOU: perform(state.changeWorkerCount(by: -1, now: now))
        case SIGUSR1:
            try? log.reopen()
            for pid in state.workers.keys { kill(pid, SIGUSR1) }
        default: break
        }
    }

    private func reap() {
        var status: Int32 = 0
        while true {
            let pid = waitpid(-1, &status, WNOHANG)
            guard pid > 0 else { return }
            let description = (status & 0x7f) == 0 ? "exited with status \((status >> 8) & 0xff)"
                                                   : "was killed by signal \(status & 0x7f)"
            if let worker = state.workers[pid] {
                let level: ErrorLog.Level = worker.state == .stopping ? .info : .error
                log.log(level, "worker \(worker.slot) (pid \(pid), generation \(worker.generation)) \(description)"
                        + (worker.status.isEmpty ? "" : "; last status: \(worker.status)"))
            }
            perform(state.exited(pid: pid, description: description, now: loop.now))
        }
    }

    private func heard() {
        while let message = notify.receive() {
            for (name, value) in message.assignments {
                switch name {
                case "READY" where value == "1":
                    log.debug("worker pid \(message.pid) ready")
                    perform(state.ready(pid: message.pid, now: loop.now))
                case "WATCHDOG" where value == "1": state.ping(pid: message.pid, now: loop.now)
                case "STATUS": state.status(pid: message.pid, text: value)
                default: break
                }
            }
        }
    }

    // MARK: Actions

    private func perform(_ actions: [SupervisorState.Action]) {
        for action in actions {
            switch action {
            case .spawn(let slot, let generation):
                do {
                    let pid = try spawner.spawn(sockets: sockets)
                    state.spawned(slot: slot, generation: generation, pid: pid, now: loop.now)
                    log.info("spawned worker \(slot) of generation \(generation): pid \(pid)")
                } catch {
                    log.error("cannot spawn worker \(slot): \(error)")
                    perform(state.spawnFailed(slot: slot, generation: generation, reason: "\(error)", now: loop.now))
                }
            case .signal(let pid, let signal):
                if signal == SIGABRT, let worker = state.workers[pid] {
                    log.critical("worker \(worker.slot) (pid \(pid)) sent no heartbeat for \((loop.now - worker.lastPing) / 1_000_000) ms; last status: \(worker.status.isEmpty ? "none" : worker.status); aborting it")
                }
                kill(pid, signal)
            case .generationReady(let generation):
                log.info("all \(state.settings.workers) workers of generation \(generation) ready")
                systemd.send("READY=1\nSTATUS=\(state.settings.workers) workers of generation \(generation) ready")
            case .reloadFinished(let outcome):
                switch outcome {
                case .succeeded(let generation, let workers):
                    log.info("reload done: \(workers) workers of generation \(generation) ready")
                case .failed(_, let reason):
                    log.error("reload failed: \(reason)")
                }
            case .exit(let code, let reason):
                log.log(code == 0 ? .info : .critical, "exiting: \(reason)")
                pidfile?.release()
                unlink(notify.path)
                exit(code)
            }
        }
        scheduleTick()
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

/// The process environment as a dictionary (without Foundation).
enum ProcessInfoEnvironment {
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

import CorralControl
import CorralSupervisor
import Glibc

/// What the control socket (supervisorctl, corralctl) sees of corrald and asks of it.
extension Daemon: ControlTarget {
    func openControlSocket(_ configuration: Configuration) throws {
        let underSystemd = getenv("INVOCATION_ID") != nil
        guard let path = configuration.controlSocketPath(underSystemd: underSystemd) else {
            logger.info("no control socket (set control_socket, or a pidfile to have one beside it)")
            return
        }
        if path == "/run/corral/corral.sock" { mkdir("/run/corral", 0o755) }
        var group: gid_t?
        if let name = configuration.controlGroup { group = gid_t(name) ?? getgrnam(name)?.pointee.gr_gid }
        let credentials = configuration.controlUsername.map { "\($0):\(configuration.controlPassword ?? "")" }
        control = try ControlServer(path: path, group: group, credentials: credentials,
                                    service: ControlService(target: self), target: self, loop: loop, log: log,
                                    adopting: handover?.endpoint(.control, at: path))
        logger.info("control socket at \(path)")
    }

    var groupName: String { configuration.procName ?? "corral" }
    var supervisorPid: Int32 { getpid() }
    var isShuttingDown: Bool { state.shuttingDown }
    var now: Int { time(nil) }

    func snapshot() -> [ProcessSnapshot] {
        let wallOffset = Int64(time(nil)) * 1_000_000_000 - loop.now
        func epoch(_ monotonic: Int64) -> Int { Int((monotonic + wallOffset) / 1_000_000_000) }
        let serving = state.serving
        // Until its successor runs, a slot is shown by the worker serving it: after a re-exec
        // upgrade, the adopted one (as during a reload, the old generation's).
        let adopted = state.workers.values.filter { $0.generation == SupervisorState.adoptedGeneration && $0.state == .running }
        return (0..<state.settings.workers).map { slot in
            let exit = state.lastExit[slot]
            let stoppedAt = exit.map { epoch($0.at) } ?? 0
            if let worker = serving.first(where: { $0.slot == slot && $0.state == .running })
                ?? adopted.first(where: { $0.slot == slot })
                ?? serving.first(where: { $0.slot == slot && $0.state != .stopping })
                ?? serving.first(where: { $0.slot == slot }) {
                let processState: ProcessState = switch worker.state {
                case .starting: .starting
                case .running: .running
                case .stopping: .stopping
                }
                return ProcessSnapshot(slot: slot, pid: worker.pid, state: processState, generation: generation(shownFor: worker),
                                       startedAt: epoch(worker.spawnedAt), stoppedAt: stoppedAt,
                                       lastExit: exit?.description ?? "", status: worker.status,
                                       heartbeatAge: Double(loop.now - worker.lastPing) / 1e9)
            }
            let processState: ProcessState = state.stoppedSlots.contains(slot) ? .stopped
                : state.restarts[slot] != nil ? .backoff : .exited
            return ProcessSnapshot(slot: slot, pid: 0, state: processState, generation: state.generation, startedAt: 0,
                                   stoppedAt: stoppedAt, lastExit: exit?.description ?? "")
        }
    }

    /// Reload and shutdown start after the answer has gone out.
    func requestReload() {
        loop.spawn { [self] in
            await loop.sleep(for: .milliseconds(10))
            reload()
        }
    }

    func configurationChanged() -> Bool {
        (try? loader.load())?.configuration != configuration
    }

    func reloadAndWait() async -> (succeeded: Bool, detail: String) {
        let before = reloadCount
        reload()
        let deadline = loop.now + state.settings.bootTimeout * 2 + 10_000_000_000
        while reloadCount == before && loop.now < deadline && !state.shuttingDown {
            await loop.sleep(for: .milliseconds(20))
        }
        guard reloadCount > before, let last = lastReload else { return (false, "no outcome: corrald is stopping") }
        return (last.succeeded, last.detail)
    }

    func upgrade() async -> (succeeded: Bool, detail: String, id: Int) {
        let outcome = await beginUpgrade()
        return (outcome.succeeded || !outcome.done, outcome.detail, Int(outcome.id))
    }

    func upgradeStatus() -> (id: Int, done: Bool, succeeded: Bool, detail: String)? {
        upgradeOutcome.map { (Int($0.id), $0.done, $0.succeeded, $0.detail) }
    }

    func changeWorkers(by delta: Int) -> Int {
        changeWorkerCount(by: delta)
        return state.settings.workers
    }

    func requestShutdown() {
        loop.spawn { [self] in
            await loop.sleep(for: .milliseconds(10))
            shutdown(graceful: true, reason: "requested on the control socket")
        }
    }

    func stop(slots: [Int]) { perform(state.stopSlots(slots, now: loop.now)) }
    func start(slots: [Int]) { perform(state.startSlots(slots, now: loop.now)) }

    func signal(slots: [Int], _ signal: Int32) -> [Int] {
        state.serving.filter { slots.contains($0.slot) && $0.state != .stopping }.compactMap { worker in
            kill(worker.pid, signal) == 0 ? worker.slot : nil
        }
    }

    func output(slot: Int, channel: OutputChannel) -> (bytes: [UInt8], total: Int) {
        let recent = output.output(slot: slot, channel: channel)
        return (recent.bytes, recent.total)
    }

    func mainLog() -> (bytes: [UInt8], total: Int) { (mainLogRecent.bytes, mainLogRecent.total) }

    func pause(seconds: Double) async { await loop.sleep(for: .milliseconds(Int(seconds * 1000))) }
}

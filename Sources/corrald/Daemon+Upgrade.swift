import CCorral
import CorralControl
import CorralSupervisor
import CorralSystemd
import Glibc

/// How the last re-exec upgrade went, for `corralctl upgrade` (which waits for it) and the log.
struct UpgradeOutcome {
    /// When it began (monotonic ns): corralctl waits for the outcome of the one it started.
    let id: Int64
    var done: Bool
    var succeeded: Bool
    var detail: String
}

/// Re-exec in place (`corralctl upgrade`, SIGUSR2): the binary now at corrald's own path is run
/// with --check-upgrade first; then the sockets and the live workers (with their output pipes) are
/// handed to it across execve, with the same pid, so systemd's MAINPID and the workers' parent
/// do not change. The new image adopts the workers, boots its own generation, and retires the
/// adopted ones once that is ready: a reload without a new master.
extension Daemon {
    /// Resolved at start, before a package upgrade can replace the file behind /proc/self/exe.
    static let executablePath: String = {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return n > 0 ? String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    }()

    /// Where the state is (`fd:N`, a sealed memfd), and the way back: `EXE:STATE`, an O_PATH fd of
    /// the binary that handed over and the state's fd, for a new image that cannot read it.
    static let stateVariable = UpgradeHandover.environmentName
    static let backVariable = "CORRAL_UPGRADE_BACK"
    static let rejectedVariable = "CORRAL_UPGRADE_REJECTED"

    /// The state a predecessor handed over, if this image is the result of a re-exec, and why a
    /// newer binary sent it back, if it did. A state this image cannot read sends it back to the
    /// binary that wrote it (same pid, same state); without a way back that is fatal, as its
    /// sockets and workers are fds and children it cannot account for.
    static func takeHandover() -> (UpgradeHandover, rejectedBy: String?)? {
        _ = executablePath
        guard let location = environment(stateVariable) else { return nil }
        let back = environment(backVariable)?.split(separator: ":").compactMap { Int32($0) }
        let rejectedBy = environment(rejectedVariable)
        for name in [stateVariable, backVariable, rejectedVariable] { unsetenv(name) }
        do {
            let handover = try UpgradeHandover(text: try readState(location))
            for fd in handover.fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }   // handed over; not for the next children
            for fd in back ?? [] { close(fd) }
            if location.hasPrefix("fd:"), let fd = Int32(location.dropFirst(3)) { close(fd) }
            return (handover, rejectedBy)
        } catch {
            guard let back, back.count == 2 else { fail("cannot take over from the previous corrald: \(error)") }
            setenv(stateVariable, "fd:\(back[1])", 1)
            setenv(rejectedVariable, "\(error)", 1)
            var arguments = CommandLine.arguments.map { strdup($0) } + [nil]
            _ = corral_exec_fd(back[0], &arguments, environ)
            fail("cannot take over from the previous corrald (\(error)), nor go back to it: \(String(cString: strerror(errno)))")
        }
    }

    private static func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

    private static func readState(_ location: String) throws(UpgradeHandover.Rejected) -> String {
        guard location.hasPrefix("fd:"), let fd = Int32(location.dropFirst(3)) else {
            throw UpgradeHandover.Rejected(description: "\(stateVariable) is not fd:N")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var offset: off_t = 0
        while true {
            let n = pread(fd, &chunk, chunk.count, offset)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw UpgradeHandover.Rejected(description: "cannot read the state: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            bytes += chunk[..<n]
            offset += off_t(n)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Checks the new binary, then re-executes it (after the caller's answer has gone out).
    func beginUpgrade() async -> UpgradeOutcome {
        let id = loop.now
        var outcome = UpgradeOutcome(id: id, done: true, succeeded: false, detail: "")
        if let refusal = upgradeRefusal() {
            outcome.detail = refusal
        } else {
            logger.info("upgrade: checking \(Self.executablePath)", metadata: ["event": "upgrade-start"])
            if let problem = checkNewBinary() {
                outcome.detail = problem
            } else {
                outcome = UpgradeOutcome(id: id, done: false, succeeded: false, detail: "re-executing \(Self.executablePath)")
                upgradeOutcome = outcome
                loop.spawn { [self] in
                    await loop.sleep(for: .milliseconds(20))
                    reexecute(id: id)
                }
                return outcome
            }
        }
        logger.error("upgrade failed: \(outcome.detail)", metadata: ["event": "upgrade-failed"])
        upgradeOutcome = outcome
        return outcome
    }

    private func upgradeRefusal() -> String? {
        if state.shuttingDown { return "corrald is stopping" }
        if state.pendingGeneration != nil { return "a reload is in progress; upgrade once it has ended" }
        if upgradeOutcome?.done == false { return "an upgrade is in progress" }
        return nil
    }

    /// The new binary must start, read the running configuration and the state format.
    private func checkNewBinary() -> String? {
        let finished: ChildProcess.Finished
        do {
            finished = try ChildProcess.run([Self.executablePath] + Array(CommandLine.arguments.dropFirst()) + ["--check-upgrade"],
                                            captureStderr: true)
        } catch {
            return "\(error)"
        }
        let output = finished.output.split(separator: "\n").last.map(String.init) ?? ""
        guard finished.status.shellCode == 0 else {
            return "the new binary \(Self.executablePath) \(finished.status.description) on --check-upgrade: \(output.isEmpty ? "no output" : output)"
        }
        guard output == "upgrade state format \(UpgradeHandover.format)" else {
            return "the new binary \(Self.executablePath) does not read this corrald's upgrade state (format \(UpgradeHandover.format)): \(output)"
        }
        return nil
    }

    private func reexecute(id: Int64) {
        hook("pre_exec", waiting: true)
        let handover = UpgradeHandover(
            sockets: sockets.handover.map { UpgradeHandover.Socket(fd: $0.fd, name: $0.name) },
            endpoints: handedEndpoints,
            workers: state.workers.values.sorted { $0.pid < $1.pid }.compactMap { worker in
                output.readEnds(of: worker.pid).map {
                    UpgradeHandover.Worker(pid: worker.pid, slot: worker.slot, stdout: $0.stdout, stderr: $0.stderr,
                                           generation: generation(shownFor: worker), spawnedAt: worker.spawnedAt,
                                           lastPing: worker.lastPing, status: worker.status)
                }
            },
            fromVersion: "corral \(ControlService.version)", startedAt: id, daemonStartedAt: startedAt,
            generation: state.generation, reloadsStarted: reloadsStarted, reloadsEnded: reloadCount, ledger: metricsLedger)
        let text = Array(handover.text.utf8)
        let stateFD = corral_sealed_memfd("corral-upgrade", text, text.count)
        let previousFD = corral_open_own_binary()
        guard stateFD >= 0, previousFD >= 0 else {
            let reason = String(cString: strerror(errno))
            for fd in [stateFD, previousFD] where fd >= 0 { close(fd) }
            upgradeOutcome = UpgradeOutcome(id: id, done: true, succeeded: false, detail: "cannot write the upgrade state: \(reason)")
            logger.error("upgrade failed: cannot write the upgrade state: \(reason)", metadata: ["event": "upgrade-failed"])
            return
        }
        let handed = handover.fds
        for fd in handed { _ = fcntl(fd, F_SETFD, 0) }
        logger.info("upgrade: re-executing \(Self.executablePath) with \(handover.sockets.count) sockets and \(handover.workers.count) workers",
                    metadata: ["event": "upgrade-exec"])
        systemd.send("RELOADING=1\nMONOTONIC_USEC=\(corral_monotonic_ns() / 1000)\nSTATUS=upgrading: re-executing \(Self.executablePath)")
        var environment = ProcessEnvironment.current
        environment[Self.stateVariable] = "fd:\(stateFD)"
        environment[Self.backVariable] = "\(previousFD):\(stateFD)"
        let entries = environment.map { "\($0.key)=\($0.value)" }
        var cEnvironment = entries.map { strdup($0) } + [nil]
        var cArguments = ([Self.executablePath] + CommandLine.arguments.dropFirst()).map { strdup($0) } + [nil]
        // Nothing may be delivered between here and the new image's own signal handling.
        var all = sigset_t(), previous = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_SETMASK, &all, &previous)
        execve(Self.executablePath, &cArguments, &cEnvironment)
        let reason = String(cString: strerror(errno))
        pthread_sigmask(SIG_SETMASK, &previous, nil)
        cEnvironment.forEach { free($0) }
        cArguments.forEach { free($0) }
        for fd in handed { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        close(stateFD)
        close(previousFD)
        upgradeOutcome = UpgradeOutcome(id: id, done: true, succeeded: false, detail: "execve \(Self.executablePath): \(reason); still running the old image")
        logger.error("upgrade failed: execve \(Self.executablePath): \(reason); the old image carries on", metadata: ["event": "upgrade-failed"])
        systemd.send("READY=1\nSTATUS=upgrade failed: execve: \(reason)")
    }

    private var handedEndpoints: [UpgradeHandover.Endpoint] {
        var endpoints = [UpgradeHandover.Endpoint(role: .notify, fd: notify.fd, address: notify.path)]
        if let control { endpoints.append(.init(role: .control, fd: control.fd, address: control.path)) }
        if let metricsEndpoint { endpoints.append(.init(role: .metrics, fd: metricsEndpoint.fd, address: metricsEndpoint.bind)) }
        // Only with TLS: a corrald from before TLS reads no such line.
        if let sharedTicketKeys { endpoints.append(.init(role: .ticketKeys, fd: sharedTicketKeys.fd, address: "memfd")) }
        return endpoints
    }

    /// The generation status shows for a worker: an adopted one's is the predecessor's.
    func generation(shownFor worker: WorkerRecord) -> Int {
        worker.generation == SupervisorState.adoptedGeneration ? handover?.workers.first { $0.pid == worker.pid }?.generation ?? 0 : worker.generation
    }

    /// The new image's first generation is ready: the adopted workers drain and exit.
    func finishUpgrade() {
        guard let handover else { return }
        perform(state.retireAdopted(now: loop.now))
        let milliseconds = (loop.now - handover.startedAt) / 1_000_000
        let workers = "\(state.settings.workers) workers of generation \(state.generation) ready, \(handover.workers.count) adopted ones retiring"
        if let rejectedBy = upgradeRejection {
            let detail = "the new binary could not read the upgrade state (\(rejectedBy)) and handed back to corral \(ControlService.version) after \(milliseconds) ms; \(workers)"
            upgradeOutcome = UpgradeOutcome(id: handover.startedAt, done: true, succeeded: false, detail: detail)
            logger.error("upgrade failed: \(detail)", metadata: ["event": "upgrade-failed"])
            systemd.send("READY=1\nMAINPID=\(getpid())\nSTATUS=upgrade failed, still corral \(ControlService.version): \(state.settings.workers) workers ready")
            return
        }
        let detail = "\(handover.fromVersion) → corral \(ControlService.version) in \(milliseconds) ms; \(workers)"
        upgradeOutcome = UpgradeOutcome(id: handover.startedAt, done: true, succeeded: true, detail: detail)
        logger.info("upgrade done: \(detail)", metadata: ["event": "upgrade-done"])
        systemd.send("READY=1\nMAINPID=\(getpid())\nSTATUS=upgraded to corral \(ControlService.version): \(state.settings.workers) workers ready")
    }
}

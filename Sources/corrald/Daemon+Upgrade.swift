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

    /// The state a predecessor handed over, if this image is the result of a re-exec. A state it
    /// cannot read is fatal: its sockets and workers are fds and children it cannot account for.
    static func takeHandover() -> UpgradeHandover? {
        _ = executablePath
        guard let text = getenv(UpgradeHandover.environmentName).map({ String(cString: $0) }) else { return nil }
        unsetenv(UpgradeHandover.environmentName)
        do {
            let handover = try UpgradeHandover(text: text)
            for fd in handover.sockets.map(\.fd) + handover.workers.flatMap({ [$0.stdout, $0.stderr] }) {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)   // handed over; not for the next children
            }
            return handover
        } catch {
            fail("cannot take over from the previous corrald: \(error)")
        }
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
        let handover = UpgradeHandover(
            sockets: sockets.handover.map { UpgradeHandover.Socket(fd: $0.fd, name: $0.name) },
            workers: state.workers.values.sorted { $0.pid < $1.pid }.compactMap { worker in
                output.readEnds(of: worker.pid).map { UpgradeHandover.Worker(pid: worker.pid, slot: worker.slot, stdout: $0.stdout, stderr: $0.stderr) }
            },
            fromVersion: "corral \(ControlService.version)", startedAt: id,
            generation: state.generation, reloadsStarted: reloadsStarted, reloadsEnded: reloadCount)
        let handed = handover.sockets.map(\.fd) + handover.workers.flatMap { [$0.stdout, $0.stderr] }
        for fd in handed { _ = fcntl(fd, F_SETFD, 0) }
        logger.info("upgrade: re-executing \(Self.executablePath) with \(handover.sockets.count) sockets and \(handover.workers.count) workers",
                    metadata: ["event": "upgrade-exec"])
        systemd.send("RELOADING=1\nMONOTONIC_USEC=\(corral_monotonic_ns() / 1000)\nSTATUS=upgrading: re-executing \(Self.executablePath)")
        var environment = ProcessEnvironment.current
        environment[UpgradeHandover.environmentName] = handover.text
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
        upgradeOutcome = UpgradeOutcome(id: id, done: true, succeeded: false, detail: "execve \(Self.executablePath): \(reason); still running the old image")
        logger.error("upgrade failed: execve \(Self.executablePath): \(reason); the old image carries on", metadata: ["event": "upgrade-failed"])
        systemd.send("READY=1\nSTATUS=upgrade failed: execve: \(reason)")
    }

    /// The new image's first generation is ready: the adopted workers drain and exit.
    func finishUpgrade() {
        guard let handover else { return }
        perform(state.retireAdopted(now: loop.now))
        let milliseconds = (loop.now - handover.startedAt) / 1_000_000
        let detail = "\(handover.fromVersion) → corral \(ControlService.version) in \(milliseconds) ms; \(state.settings.workers) workers of generation \(state.generation) ready, \(handover.workers.count) adopted ones retiring"
        upgradeOutcome = UpgradeOutcome(id: handover.startedAt, done: true, succeeded: true, detail: detail)
        logger.info("upgrade done: \(detail)", metadata: ["event": "upgrade-done"])
        systemd.send("READY=1\nMAINPID=\(getpid())\nSTATUS=upgraded to corral \(ControlService.version): \(state.settings.workers) workers ready")
    }
}

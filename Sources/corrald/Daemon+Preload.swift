import CCorral
import CorralEventLoop
import CorralSupervisor
import Glibc

/// One revision's preloading process (preload_app): corral-python started with the workers' plan
/// and CORRAL_PRELOAD_FD, which imports the app once and then forks each worker corrald asks for,
/// twice, so that corrald (a child subreaper) adopts it. Over a SOCK_SEQPACKET pair it says
/// `ready` once the app is imported, hears `fork SLOT` (with the worker's stdout and stderr as
/// SCM_RIGHTS) and answers `forked SLOT PID` or `failed SLOT REASON`. Used on corrald's loop only.
final class Preloader: FDWatcher, @unchecked Sendable {
    struct Request {
        let slot: Int
        let generation: Int
        /// gunicorn's worker.age: the count of workers corrald had started, this one included.
        let age: Int
        let pipes: WorkerOutput.Pipes
    }

    let pid: pid_t
    let revision: Int
    let control: Int32
    private(set) var isReady = false
    /// Asked for before the app was imported.
    var waiting: [Request] = []
    /// Sent, not yet answered, by slot.
    var forking: [Int: Request] = [:]
    /// No generation uses its revision any more: its socket is closed once nothing is pending.
    var retiring = false
    var heard: (Preloader, [Substring]) -> Void = { _, _ in }
    private var buffer = [UInt8](repeating: 0, count: 256)

    init(pid: pid_t, revision: Int, control: Int32) {
        self.pid = pid
        self.revision = revision
        self.control = control
    }

    func becameReady() { isReady = true }

    var pending: [Request] { waiting + forking.values.sorted { $0.slot < $1.slot } }

    override func ready(fd: Int32, events: UInt32) { drain() }

    /// Reads every message waiting on the socket.
    func drain() {
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(control, $0.baseAddress!, $0.count, Int32(MSG_DONTWAIT)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            heard(self, String(decoding: buffer[..<n], as: UTF8.self).split(separator: " "))
        }
    }
}

extension Daemon {
    /// `spawn` for a preload_app revision: a fork of its preloading process (started on first need).
    func forkPreloaded(slot: Int, generation: Int, revision: Int, plan: Plan) {
        do {
            let preloader = try preloaders[revision] ?? startPreloader(revision: revision, plan: plan)
            let request = Preloader.Request(slot: slot, generation: generation, age: workersSpawned, pipes: try output.makePipes())
            if preloader.isReady {
                send(request, to: preloader)
            } else {
                preloader.waiting.append(request)
            }
        } catch {
            logger.error("cannot fork worker \(slot): \(error)")
            perform(state.spawnFailed(slot: slot, generation: generation, reason: "\(error)", now: loop.now))
        }
    }

    private func startPreloader(revision: Int, plan: Plan) throws -> Preloader {
        var pair: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw SystemError("socketpair")
        }
        defer { close(pair[1]) }
        // The preloader's forks orphan themselves at once; they must become corrald's children.
        guard corral_become_subreaper() == 0 else { throw SystemError("prctl(PR_SET_CHILD_SUBREAPER)") }
        var spawner = plan.spawner
        spawner.environment["CORRAL_PRELOAD_FD"] = String(3 + plan.sockets.count)
        let extras = workerExtras(plan, preceding: 1)
        spawner.environment.merge(extras.environment) { $1 }
        let pipes = try output.makePipes()
        let pid: pid_t
        do {
            pid = try spawner.spawn(sockets: plan.sockets, extraFDs: [pair[1]] + extras.fds, stdout: pipes.stdout.write, stderr: pipes.stderr.write)
        } catch {
            output.discard(pipes)
            close(pair[0])
            throw error
        }
        output.attach(pipes, to: pid, slot: -1)
        _ = corral_set_nonblocking(pair[0])
        let preloader = Preloader(pid: pid, revision: revision, control: pair[0])
        preloader.heard = { [unowned self] preloader, words in heard(words, from: preloader) }
        try loop.register(pair[0], events: EventLoop.readable, watcher: preloader)
        preloaders[revision] = preloader
        logger.info("started the preloading process of revision \(revision): pid \(pid) (imports the app once, then forks the workers)",
                    metadata: ["event": "preload-start", "preloader_pid": "\(pid)"])
        let bootTimeout = plan.configuration.bootTimeout
        loop.spawn { [self] in
            await loop.sleep(for: .milliseconds(Int64(bootTimeout * 1000)))
            if !preloader.isReady && preloaders[revision] === preloader {
                logger.error("the preloading process (pid \(pid)) did not import the app within boot_timeout (\(bootTimeout) s); killing it")
                kill(pid, SIGKILL)
            }
        }
        return preloader
    }

    private func send(_ request: Preloader.Request, to preloader: Preloader) {
        let message = Array("fork \(request.slot) \(request.age)".utf8)
        let fds = [request.pipes.stdout.write, request.pipes.stderr.write]
        let result = corral_send_with_fds(preloader.control, message, message.count, fds, Int32(fds.count))
        guard result == 0 else {
            output.discard(request.pipes)
            let reason = "cannot ask the preloading process for a fork: \(String(cString: strerror(-result)))"
            logger.error("worker \(request.slot): \(reason)")
            return perform(state.spawnFailed(slot: request.slot, generation: request.generation, reason: reason, now: loop.now))
        }
        preloader.forking[request.slot] = request
    }

    private func heard(_ words: [Substring], from preloader: Preloader) {
        switch words.first {
        case "ready":
            preloader.becameReady()
            logger.info("the preloading process of revision \(preloader.revision) (pid \(preloader.pid)) imported the app")
            let waiting = preloader.waiting
            preloader.waiting = []
            for request in waiting { send(request, to: preloader) }
        case "forked":
            guard words.count == 3, let slot = Int(words[1]), let pid = pid_t(words[2]),
                  let request = preloader.forking.removeValue(forKey: slot) else { return }
            output.attach(request.pipes, to: pid, slot: slot)
            workerRevisions[pid] = preloader.revision
            state.spawned(slot: slot, generation: request.generation, pid: pid, now: loop.now)
            logger.info("forked worker \(slot) of generation \(request.generation) from the preloading process (pid \(preloader.pid)): pid \(pid)",
                        metadata: ["event": "spawn", "worker_pid": "\(pid)", "worker_slot": "\(slot)", "generation": "\(request.generation)"])
        case "failed":
            guard words.count >= 2, let slot = Int(words[1]), let request = preloader.forking.removeValue(forKey: slot) else { return }
            output.discard(request.pipes)
            let reason = "the preloading process could not fork it: \(words.dropFirst(2).joined(separator: " "))"
            logger.error("worker \(slot): \(reason)")
            perform(state.spawnFailed(slot: slot, generation: request.generation, reason: reason, now: loop.now))
        default:
            break
        }
        if preloader.retiring { retire(preloader) }
    }

    /// Reaped `pid`: when it was a preloading process, what it had not forked yet fails. True
    /// when it was one.
    func preloaderExited(pid: pid_t, description: String) -> Bool {
        guard let preloader = preloaders.values.first(where: { $0.pid == pid }) else { return false }
        preloader.drain()   // its last answers come first
        preloaders[preloader.revision] = nil
        loop.unregister(preloader.control)
        close(preloader.control)
        let pending = preloader.pending
        guard !pending.isEmpty || !preloader.isReady else {
            logger.info("the preloading process of revision \(preloader.revision) (pid \(pid)) \(description)")
            return true
        }
        let reason = preloader.isReady ? "the preloading process \(description) before forking it"
            : "the preloading process \(description) before the app was imported (its output is above)"
        logger.error("the preloading process of revision \(preloader.revision) (pid \(pid)) \(description)\(preloader.isReady ? "" : " while importing the app")")
        for request in pending {
            output.discard(request.pipes)
            perform(state.spawnFailed(slot: request.slot, generation: request.generation, reason: reason, now: loop.now))
        }
        return true
    }

    /// Preloading processes whose revision no generation uses: their socket is closed (they exit)
    /// once nothing they were asked for is pending.
    func retireUnusedPreloaders() {
        for preloader in preloaders.values where plans[preloader.revision] == nil {
            preloader.retiring = true
            retire(preloader)
        }
    }

    private func retire(_ preloader: Preloader) {
        guard preloader.pending.isEmpty, preloaders[preloader.revision] === preloader else { return }
        preloaders[preloader.revision] = nil
        loop.unregister(preloader.control)
        close(preloader.control)
        if !preloader.isReady { kill(preloader.pid, SIGTERM) }   // still importing: nothing to wait for
    }
}

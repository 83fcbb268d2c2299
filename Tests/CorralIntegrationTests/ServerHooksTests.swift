import Foundation
import Testing

/// gunicorn's server hooks from a gunicorn config file (tests/gunicorn/hooks_config.py records
/// each call): the workers' run in the workers, the supervisor's in corrald's hooks process, each
/// with gunicorn's arguments, at its moment.
@Suite(.serialized) struct ServerHooksTests {
    /// The hooks' record, removed when the test is done.
    private final class Recorded {
        let path: String
        init(_ path: String) { self.path = path }
        deinit { unlink(path) }
        var lines: [String] { ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
        func count(_ hook: String) -> Int { lines.count { $0.hasPrefix(hook + " ") } }
        func has(_ line: String) -> Bool { lines.contains(line) }
        func index(_ prefix: String) -> Int? { lines.firstIndex { $0.hasPrefix(prefix) } }
    }

    private func start(preload: Bool, timeout: Int = 30) throws -> (CorraldProcess, Recorded) {
        try WSGIApps.requireVirtualenv()
        let config = try String(contentsOf: WSGIApps.repository.appendingPathComponent("tests/gunicorn/hooks_config.py"), encoding: .utf8)
            + "\npreload_app = \(preload ? "True" : "False")\ntimeout = \(timeout)\n"
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("corral-hooks-\(UUID().uuidString).log").path
        let daemon = try CorraldProcess(["-c", "gunicorn_config.py", "--chdir", WSGIApps.directory, "--virtualenv", WSGIApps.virtualenv,
                                         "flask_app:app"], environment: ["HOOKS_LOG": log]) { $0.write("gunicorn_config.py", config) }
        return (daemon, Recorded(log))
    }

    @Test(arguments: [false, true])
    func everyHookRunsOnceAtItsMoment(preload: Bool) throws {
        let (daemon, recorded) = try start(preload: preload)
        #expect(daemon.waitUntilServing(workers: 2), "\(daemon.log)")
        let supervisor = daemon.pid
        #expect(eventually { recorded.count("when_ready") == 1 }, "\(recorded.lines)")
        let workers = daemon.workers.sorted()
        // Start: on_starting first, a pre_fork before each worker, post_fork and post_worker_init
        // in each worker, when_ready once all serve.
        #expect(recorded.lines.first == "on_starting \(supervisor) 2 2", "\(recorded.lines)")
        #expect(recorded.count("pre_fork") == 2 && recorded.has("pre_fork 1") && recorded.has("pre_fork 2"), "\(recorded.lines)")
        for pid in workers {
            #expect(recorded.lines.contains { $0.hasPrefix("post_fork \(pid) ") && $0.hasSuffix(" \(supervisor)") }, "\(pid): \(recorded.lines)")
            #expect(recorded.has("post_worker_init \(pid)"), "\(recorded.lines)")
        }
        #expect(try #require(recorded.index("when_ready")) > recorded.lines.lastIndex { $0.hasPrefix("post_worker_init") }!)
        #expect(daemon.log.contains("post_worker_init ran in"), "worker.log reaches the error log")

        // Requests: pre_request and post_request in the worker that serves, with req and resp.
        let served = try #require(try request(port: daemon.port, "GET", "/teapot"))
        #expect(eventually { recorded.lines.contains { $0.hasPrefix("post_request ") && $0.hasSuffix(" /teapot \(served.status)") } },
                "\(recorded.lines)")
        #expect(recorded.lines.contains { $0.hasPrefix("pre_request ") && $0.hasSuffix(" GET /teapot") })
        // A hook that raises is logged with its traceback; the request is still served.
        #expect(try request(port: daemon.port, "GET", "/hook-raises")?.status == 404)
        #expect(eventually { daemon.log.contains("the pre_request hook raised:") && daemon.log.contains("RuntimeError: pre_request raised on purpose") },
                "\(daemon.log)")
        #expect(try request(port: daemon.port, "GET", "/hook-reaches")?.status == 404)
        #expect(eventually { daemon.log.contains("AttributeError: Worker has no attribute 'tmp' under corral (it offers pid, ppid, age, log") },
                "\(daemon.log)")

        // A worker killed: child_exit in the supervisor's hooks, a pre_fork for its replacement.
        let victim = try #require(workers.first)
        kill(victim, SIGKILL)
        #expect(eventually { recorded.has("child_exit \(victim)") && recorded.count("pre_fork") == 3 }, "\(recorded.lines)")
        #expect(eventually { daemon.workers.count == 2 })
        // TTIN: nworkers_changed(new, old). HUP: on_reload.
        daemon.signal(SIGTTIN)
        #expect(eventually { recorded.has("nworkers_changed 3 2") }, "\(recorded.lines)")
        #expect(eventually { daemon.workers.count == 3 })
        let beforeReload = daemon.workers
        daemon.signal(SIGHUP)
        #expect(eventually { recorded.count("on_reload") == 1 && daemon.log.contains("reload done") }, "\(recorded.lines)")
        // The file says 2 workers again, as gunicorn's HUP would: nworkers_changed(2, 3).
        #expect(eventually { daemon.workers.count == 2 && daemon.workers.isDisjoint(with: beforeReload) }, "the old generation is gone")
        #expect(eventually { recorded.has("nworkers_changed 2 3") }, "\(recorded.lines)")
        // INT to a worker: worker_int, then worker_exit, in that worker.
        let interrupted = try #require(daemon.workers.sorted().first)
        kill(interrupted, SIGINT)
        #expect(eventually { recorded.has("worker_exit \(interrupted)") }, "\(recorded.lines)\n\(daemon.log)")
        #expect(try #require(recorded.index("worker_int \(interrupted)")) < recorded.index("worker_exit \(interrupted)")!)

        // Stop, once its replacement serves: worker_exit in each worker (no worker_int: they
        // drain), on_exit last.
        #expect(eventually {
            let workers = daemon.workers
            return workers.count == 2 && !workers.contains(interrupted) && workers.allSatisfy { recorded.has("post_worker_init \($0)") }
        }, "\(recorded.lines)")
        let last = daemon.workers
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0, "\(daemon.log)")
        for pid in last { #expect(recorded.has("worker_exit \(pid)") && !recorded.has("worker_int \(pid)"), "\(pid): \(recorded.lines)") }
        #expect(recorded.lines.last == "on_exit \(supervisor)", "\(recorded.lines)")
        for hook in ["on_starting", "when_ready", "on_reload", "on_exit"] {
            #expect(recorded.count(hook) == 1, "\(hook): \(recorded.lines)")
        }
    }

    /// worker_class asgi: the request hooks get gunicorn's req and resp from the ASGI scope.
    @Test func requestHooksUnderASGI() throws {
        try WSGIApps.requireVirtualenv()
        let config = try String(contentsOf: WSGIApps.repository.appendingPathComponent("tests/gunicorn/hooks_config.py"), encoding: .utf8)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("corral-hooks-\(UUID().uuidString).log").path
        let recorded = Recorded(log)
        let daemon = try CorraldProcess(["-c", "gunicorn_config.py", "-k", "asgi", "--chdir", WSGIApps.repository.appendingPathComponent("tests/asgi").path,
                                         "--virtualenv", WSGIApps.virtualenv, "raw_apps:hello"], environment: ["HOOKS_LOG": log]) {
            $0.write("gunicorn_config.py", config)
        }
        #expect(daemon.waitUntilServing(workers: 2), "\(daemon.log)")
        #expect(try request(port: daemon.port, "GET", "/asgi?x=1")?.status == 200)
        #expect(eventually { recorded.lines.contains { $0.hasPrefix("post_request ") && $0.hasSuffix(" /asgi 200") } }, "\(recorded.lines)")
        #expect(recorded.lines.contains { $0.hasPrefix("pre_request ") && $0.hasSuffix(" GET /asgi") }, "\(recorded.lines)")
        #expect(try request(port: daemon.port, "GET", "/hook-raises")?.status == 200)
        #expect(eventually { daemon.log.contains("RuntimeError: pre_request raised on purpose") }, "\(daemon.log)")
    }

    /// worker_abort: a request past `timeout` (corral's stack dump), in the worker; pre_exec
    /// before a re-exec upgrade, and on_starting again in the new image.
    @Test func workerAbortAndPreExec() throws {
        let (daemon, recorded) = try start(preload: false, timeout: 1)
        #expect(daemon.waitUntilServing(workers: 2), "\(daemon.log)")
        Thread.detachNewThread { _ = try? request(port: daemon.port, "GET", "/sleep?s=3") }
        #expect(eventually { recorded.count("worker_abort") == 1 }, "\(recorded.lines)\n\(daemon.log)")
        daemon.signal(SIGUSR2)
        #expect(eventually { recorded.count("pre_exec") == 1 && recorded.count("on_starting") == 2 }, "\(recorded.lines)\n\(daemon.log)")
        #expect(try #require(recorded.index("pre_exec")) < recorded.lines.lastIndex { $0.hasPrefix("on_starting") }!)
    }
}

import Foundation
import Testing

/// corrald serving a Flask app the gunicorn way (`corrald … flask_app:app`, or wsgi_app in the
/// config): corral-python is the default worker, a broken deploy fails only its reload.
@Suite(.serialized) struct WSGICorraldTests {
    func config(_ app: String, workers: Int = 2, controlSocket: String = "") -> String {
        """
        control_socket = "\(controlSocket)"
        wsgi_app = "\(app)"
        chdir = "\(WSGIApps.directory)"
        virtualenv = "\(WSGIApps.virtualenv)"
        workers = \(workers)
        threads = 4
        boot_timeout = 20
        """
    }

    @Test func aBrokenDeployFailsTheReloadWhileTheOldWorkersServe() throws {
        try WSGIApps.requireVirtualenv()
        let scratch = TemporaryDirectory()
        let socket = scratch.file("control.sock")
        let daemon = try CorraldProcess(config: config("flask_app:app", controlSocket: socket))
        #expect(daemon.waitUntilServing(workers: 2), "\(daemon.log)")
        #expect(daemon.log.contains("corral-python"), "corral-python is the default worker when an app is given")
        let before = daemon.workers
        let load = LoadClients(port: daemon.port, clients: 4)
        daemon.directory.write("corral.toml", config("broken_import:app", controlSocket: socket))
        daemon.signal(SIGHUP)
        #expect(eventually { daemon.log.contains("reload failed") }, "\(daemon.log)")
        #expect(daemon.log.contains("ImportError: this deploy is broken on purpose"), "the traceback reaches corrald's log")
        #expect(eventually { daemon.workers == before }, "the old generation kept serving (the failed one is reaped)")
        // Fixed: the next reload, as systemd's ExecReload= does it (corralctl reads the config
        // to find the socket), replaces the workers.
        daemon.directory.write("corral.toml", config("flask_app:app", controlSocket: socket))
        let reload = shell("\(Binaries.path("corralctl")) reload -c \(daemon.configPath)")
        #expect(reload.status == 0, "\(reload.output)")
        #expect(eventually { daemon.workers.count == 2 && daemon.workers.isDisjoint(with: before) }, "\(daemon.log)")
        let result = load.stop()
        #expect(result.failures == 0, "no request failed: \(result)")
        #expect(result.responses > 0)
    }

    /// max_worker_rss: a worker that grows past it is replaced, a new one first, the heavy one
    /// draining, so not one request fails, however many workers (here one).
    @Test func aWorkerPastMaxWorkerRSSIsRecycledWithoutAFailedRequest() throws {
        try WSGIApps.requireVirtualenv()
        let daemon = try CorraldProcess(config: config("hog:app", workers: 1) + "\nmax_worker_rss = \"100M\"\n")
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        let heavy = try #require(daemon.workers.first)
        let load = LoadClients(port: daemon.port, clients: 4)
        for _ in 0..<5 { #expect(try request(port: daemon.port, "GET", "/grow")?.status == 200) }
        #expect(eventually { daemon.log.contains("(pid \(heavy)) uses") && daemon.log.contains("over max_worker_rss 100 MiB; recycling it") },
                "\(daemon.log)")
        #expect(eventually { isGone(heavy) && daemon.workers.count == 1 }, "replaced: \(daemon.workers)")
        let result = load.stop()
        #expect(result.failures == 0, "\(result)")
        #expect(try request(port: daemon.port, "GET", "/")?.text == "0 MB held\n", "the new worker starts light")
        #expect(!daemon.log.contains("BACKOFF") && !daemon.log.contains("killed by signal"), "\(daemon.log)")
    }

    @Test func aBrokenFirstGenerationShowsTheTracebackAndExits1() throws {
        try WSGIApps.requireVirtualenv()
        let daemon = try CorraldProcess(["--chdir", WSGIApps.directory, "--virtualenv", WSGIApps.virtualenv, "broken_import:app"])
        #expect(daemon.waitForExit() == 1)
        #expect(daemon.log.contains("ImportError: this deploy is broken on purpose"), "\(daemon.log)")
        #expect(daemon.log.contains("Traceback (most recent call last)"))
    }

    @Test func positionalAppAndGunicornFlags() throws {
        try WSGIApps.requireVirtualenv()
        let daemon = try CorraldProcess(["--chdir", WSGIApps.directory, "--virtualenv", WSGIApps.virtualenv, "-w", "1",
                                         "-k", "gevent", "flask_app:app"])
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        #expect(try request(port: daemon.port, "GET", "/")?.text == "Hello, World!")
        #expect(daemon.log.contains("worker_class gevent: gevent monkey-patches"))
        // The requests in flight reach corralctl status (from the workers' STATUS=): one slow
        // request is in flight while it sleeps.
        func inFlight() -> String? {
            let lines = shell("\(Binaries.path("corralctl")) status -s unix://\(daemon.directory.file("corrald.sock"))")
                .output.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            // One word per column up to INFLIGHT (the uptime is "0:00:03" for less than a day).
            guard let column = lines.first?.firstIndex(of: "INFLIGHT"), lines.count == 2, lines[1].count > column else { return nil }
            return lines[1][column]
        }
        Thread.detachNewThread { _ = try? request(port: daemon.port, "GET", "/sleep?s=4") }
        #expect(eventually { inFlight() == "1" }, "\(inFlight() ?? "no status")")
        #expect(eventually { inFlight() == "0" }, "\(inFlight() ?? "no status")")
    }

    /// corral-wsgi, the worker's old name (a link the build and the package keep), still serves
    /// a config that names it, and --check-config still loads the app through it.
    @Test(.enabled(if: Binaries.python == nil, "the default worker's names (the pass with Debian's Python)"))
    func theWorkersOldNameStillServes() throws {
        try WSGIApps.requireVirtualenv()
        let old = Binaries.path("corral-wsgi")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: old)) == "corral-python",
                "\(old) should link to corral-python: make build and make test make it")
        let config = """
            wsgi_app = "flask_app:app"
            worker_cmd = "\(old)"
            chdir = "\(WSGIApps.directory)"
            virtualenv = "\(WSGIApps.virtualenv)"
            workers = 1
            """
        let daemon = try CorraldProcess(config: config)
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        #expect(try request(port: daemon.port, "GET", "/")?.text == "Hello, World!")
        let check = shell("\(Binaries.path("corrald")) -c \(daemon.configPath) --check-config 2>&1")
        #expect(check.status == 0 && check.output.contains("application flask_app:app loaded"), "\(check.output)")
    }

    @Test func theFlaskExampleConfigLoads() throws {
        let flask = WSGIApps.repository.appendingPathComponent("config/flask").path
        let check = shell("cd \(flask) && \(Binaries.path("corrald")) -c corral.toml --virtualenv \(WSGIApps.virtualenv) --check-config flask_server:app 2>&1")
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("application flask_server:app loaded (worker_class gevent"), "\(check.output)")
        let printed = shell("cd \(flask) && \(Binaries.path("corrald")) -c corral.toml --print-config flask_server:app 2>/dev/null").output
        for line in ["wsgi_app = 'flask_server:app'", "worker_class = 'gevent'", "worker_connections = 1200", "errorlog = 'debug.log'",
                     "access_log_format = '%(h)s %(t)s %(U)s %(q)s'", "backlog = 2048"] {
            #expect(printed.contains(line), "\(line)")
        }
    }

    /// As gunicorn's --check-config, corrald's loads the app (with the worker that would serve it).
    @Test func checkConfigLoadsTheApp() throws {
        try WSGIApps.requireVirtualenv()
        let corrald = "\(Binaries.path("corrald")) -c /dev/null --chdir \(WSGIApps.directory) --virtualenv \(WSGIApps.virtualenv)"
        let broken = shell("\(corrald) --check-config broken_import:app 2>&1")
        #expect(broken.status == 1)
        #expect(broken.output.contains("ImportError: this deploy is broken on purpose"), "\(broken.output)")
        #expect(broken.output.contains("the application broken_import:app failed to load (the worker exited with status 4)"))
        let good = shell("\(corrald) --check-config flask_app:app 2>&1")
        #expect(good.status == 0, "\(good.output)")
        #expect(good.output.contains("application flask_app:app loaded"))
    }

    /// A venv made by another Python than the embedded one (pyenv's, a newer one) is refused with
    /// the way out, instead of failing later on a missing symbol or missing packages.
    @Test(.enabled(if: Binaries.python == nil, "the default worker's Python (the pass with Debian's Python)"))
    func aVenvOfAnotherInterpreterIsRefused() throws {
        let directory = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory.file("venv/bin"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: directory.file("venv/bin/python3"), withDestinationPath: "/usr/bin/python3")
        directory.write("venv/pyvenv.cfg", "home = /opt/python-3.12.1/bin\nversion = 3.12.1\nexecutable = /opt/python-3.12.1/bin/python3.12\n")
        let check = shell("\(Binaries.path("corral-python")) --virtualenv \(directory.file("venv")) --check-config flask_app:app 2>&1")
        #expect(check.status == 3, "\(check.output)")
        #expect(check.output.contains("was made by /opt/python-3.12.1/bin/python3.12 (Python 3.12.1, says its pyvenv.cfg), but corral-python embeds Python 3.11."),
                "\(check.output)")
        #expect(check.output.contains("/usr/bin/python3.11 -m venv --clear \(directory.file("venv"))"), "\(check.output)")
    }

    @Test func settingsAreChecked() throws {
        let directory = TemporaryDirectory()
        directory.write("bad.toml", "wsgi_app = \"x:app\"\nworker_class = \"tornado\"\n")
        let check = shell("\(Binaries.path("corrald")) -c \(directory.file("bad.toml")) --check-config 2>&1")
        #expect(check.status == 1)
        #expect(check.output.contains("unknown worker_class \"tornado\"; expected one of: sync, gthread"), "\(check.output)")
        directory.write("good.toml", "wsgi_app = \"x:app\"\nworker_class = \"egg:meinheld#gunicorn_worker\"\npreload_app = true\nsecure_scheme_headers = { \"X-PROTO\" = \"https\" }\n")
        let printed = shell("\(Binaries.path("corrald")) -c \(directory.file("good.toml")) --print-config 2>&1")
        #expect(printed.status == 0, "\(printed.output)")
        #expect(printed.output.contains("corral-python"))
        #expect(printed.output.contains("X-PROTO = 'https'"), "\(printed.output)")
        #expect(printed.output.contains("preload_app = true"), "\(printed.output)")
    }
}

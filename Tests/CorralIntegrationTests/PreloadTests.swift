import Foundation
import Testing

/// preload_app: each generation's app is imported once, in a preloading process that forks the
/// workers; corrald adopts and supervises each as any other, replaces a crashed one by a fork,
/// and reloads by importing the new code in a new preloading process.
@Suite(.serialized) struct PreloadTests {
    private func config(workers: Int, version: String = "1", broken: Bool = false, threads: Bool = false,
                        imports: String, workerClass: String = "sync", preloadInFile: Bool = true) -> String {
        """
        wsgi_app = "preloaded:app"
        chdir = "\(WSGIApps.directory)"
        virtualenv = "\(WSGIApps.virtualenv)"
        workers = \(workers)
        worker_class = "\(workerClass)"
        preload_app = \(preloadInFile)
        boot_timeout = 20
        raw_env = ["PRELOAD_IMPORTS=\(imports)", "PRELOAD_VERSION=\(version)", "PRELOAD_BROKEN=\(broken ? 1 : 0)", "PRELOAD_THREAD=\(threads ? 1 : 0)"]
        """
    }

    private func answer(_ port: UInt16) -> [String: Any] { jsonObject(try? request(port: port, "GET", "/")) }

    private func importCount(_ path: String) -> Int {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    @Test(arguments: ["sync", "gevent"])
    func oneImportForkedWorkersAdoptedAndReplacedByAFork(_ workerClass: String) throws {
        try WSGIApps.requireVirtualenv()
        let scratch = TemporaryDirectory()
        let imports = scratch.file("imports")
        let daemon = try CorraldProcess(config: config(workers: 3, imports: imports, workerClass: workerClass))
        #expect(daemon.waitUntilServing(workers: 3), "\(daemon.log)")
        #expect(importCount(imports) == 1, "imported once for 3 workers")
        let preloader = try #require(daemon.preloaders.first, "\(daemon.log)")
        let served = answer(daemon.port)
        #expect(served["imported_by"] as? Int == Int(preloader), "the app's module globals come from the preloader: \(served)")
        #expect(daemon.workers.contains(pid_t(served["pid"] as? Int ?? 0)), "served by a worker that is corrald's own child")

        // A crash is repaired by a fork: no import.
        let victim = try #require(daemon.workers.first)
        kill(victim, SIGKILL)
        #expect(eventually { daemon.workers.count == 3 && !daemon.workers.contains(victim) }, "\(daemon.log)")
        #expect(try request(port: daemon.port, "GET", "/")?.status == 200)
        #expect(importCount(imports) == 1, "the replacement was forked, not imported")
        // A fork bears the preloader's name until it names itself.
        #expect(eventually { daemon.preloaders == [preloader] }, "\(daemon.preloaders)")

        // corralctl sees workers, not the preloader.
        let status = shell("\(Binaries.path("corralctl")) status -s unix://\(daemon.directory.file("corrald.sock"))")
        #expect(status.output.split(separator: "\n").count == 4 && !status.output.contains(" \(preloader) "), "\(status.output)")

        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0, "\(daemon.log)")
        #expect(eventually { isGone(preloader) }, "the preloader goes with corrald")
    }

    @Test func aReloadImportsTheNewCodeOnceAndABrokenOneKeepsTheOld() throws {
        try WSGIApps.requireVirtualenv()
        let scratch = TemporaryDirectory()
        let imports = scratch.file("imports")
        let daemon = try CorraldProcess(config: config(workers: 2, imports: imports))
        #expect(daemon.waitUntilServing(workers: 2), "\(daemon.log)")
        let firstPreloader = daemon.preloaders
        let load = LoadClients(port: daemon.port, clients: 4)
        daemon.directory.write("corral.toml", config(workers: 2, version: "2", imports: imports))
        daemon.signal(SIGHUP)
        #expect(eventually { answer(daemon.port)["version"] as? String == "2" && daemon.workers.count == 2 }, "\(daemon.log)")
        #expect(eventually { daemon.preloaders.count == 1 && daemon.preloaders.isDisjoint(with: firstPreloader) },
                "the old generation's preloader is retired with it")
        #expect(importCount(imports) == 2, "one import per generation")

        // A broken deploy fails in its preloader; the old workers serve on.
        let serving = daemon.workers
        daemon.directory.write("corral.toml", config(workers: 2, version: "3", broken: true, imports: imports))
        daemon.signal(SIGHUP)
        #expect(eventually { daemon.log.contains("reload failed") }, "\(daemon.log)")
        #expect(daemon.log.contains("ImportError: this deploy is broken on purpose"), "the traceback reaches the log")
        #expect(daemon.log.contains("the preloading process"), "\(daemon.log)")
        #expect(daemon.workers == serving)
        #expect(answer(daemon.port)["version"] as? String == "2")
        let result = load.stop()
        #expect(result.failures == 0, "\(result)")
        #expect(result.responses > 0)
    }

    @Test func threadsStartedAtImportAreWarnedAbout() throws {
        try WSGIApps.requireVirtualenv()
        let scratch = TemporaryDirectory()
        // gunicorn's --preload flag, the file saying nothing of it.
        let daemon = try CorraldProcess(["--preload"], config: config(workers: 1, threads: true, imports: scratch.file("imports"), preloadInFile: false))
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        #expect(daemon.log.contains("preload_app: the app started 1 thread(s) while it was imported (cache-warmer)"), "\(daemon.log)")
        #expect(daemon.log.contains("start them in a post_fork hook instead"))
    }

    @Test func aBrokenFirstGenerationShowsTheTracebackAndExits1() throws {
        try WSGIApps.requireVirtualenv()
        let scratch = TemporaryDirectory()
        let daemon = try CorraldProcess(config: config(workers: 2, broken: true, imports: scratch.file("imports")))
        #expect(daemon.waitForExit() == 1, "\(daemon.log)")
        #expect(daemon.log.contains("ImportError: this deploy is broken on purpose"), "\(daemon.log)")
        #expect(daemon.log.contains("no worker of the first generation became ready"), "\(daemon.log)")
    }
}

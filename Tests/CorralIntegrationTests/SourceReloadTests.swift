import Foundation
import Testing

/// `reload = true` (gunicorn's, for development): a saved change to the app's source reloads the
/// workers gracefully, once per change, and a change that breaks the import keeps the old ones.
@Suite(.serialized) struct SourceReloadTests {
    private func app(_ answer: String) -> String {
        "from flask import Flask\napp = Flask(__name__)\n\n@app.route('/')\ndef index():\n    return \(String(reflecting: answer))\n"
    }

    /// Saves as editors do: a new file renamed over the old one.
    private func save(_ directory: TemporaryDirectory, _ name: String, _ text: String) {
        directory.write(name + ".swp", text)
        rename(directory.file(name + ".swp"), directory.file(name))
    }

    @Test func aSavedChangeReloadsTheWorkersWithoutAFailedRequest() throws {
        try WSGIApps.requireVirtualenv()
        let site = TemporaryDirectory()
        site.write("site_app.py", app("v1"))
        site.write("settings.ini", "colour = blue\n")
        let daemon = try CorraldProcess(config: """
            wsgi_app = "site_app:app"
            chdir = "\(site.path)"
            virtualenv = "\(WSGIApps.virtualenv)"
            workers = 2
            boot_timeout = 20
            reload = true
            reload_extra_files = ["\(site.file("settings.ini"))"]
            """)
        #expect(daemon.waitUntilServing(workers: 2), "\(daemon.log)")
        #expect(eventually { daemon.count("reload: watching") == 2 }, "\(daemon.log)")
        func answer() -> String? { try? request(port: daemon.port, "GET", "/")?.text }
        #expect(answer() == "v1")

        let load = LoadClients(port: daemon.port, clients: 4)
        let first = daemon.workers
        save(site, "site_app.py", app("v2"))
        #expect(eventually { answer() == "v2" && daemon.workers.count == 2 && daemon.workers.isDisjoint(with: first) }, "\(daemon.log)")
        #expect(daemon.log.contains("site_app.py changed (seen by worker"), "\(daemon.log)")
        #expect(daemon.count("reload requested") == 1, "both workers saw the change; one reload: \(daemon.log)")

        // A change that breaks the import: the reload fails, the old workers serve on.
        let second = daemon.workers
        save(site, "site_app.py", app("v3") + "def broken(:\n")
        #expect(eventually { daemon.log.contains("reload failed") }, "\(daemon.log)")
        #expect(daemon.log.contains("SyntaxError"), "the traceback says why: \(daemon.log)")
        #expect(eventually { daemon.workers == second }, "the broken generation is gone, the old one serves")
        #expect(answer() == "v2")

        // Fixed, and an extra file: each reloads.
        save(site, "site_app.py", app("v3"))
        #expect(eventually { answer() == "v3" && daemon.workers.isDisjoint(with: second) }, "\(daemon.log)")
        let third = daemon.workers
        site.write("settings.ini", "colour = green\n")
        #expect(eventually { daemon.workers.count == 2 && daemon.workers.isDisjoint(with: third) }, "\(daemon.log)")
        #expect(daemon.log.contains("settings.ini changed"), "\(daemon.log)")

        let result = load.stop()
        #expect(result.failures == 0, "\(result)")
        #expect(result.responses > 0)
    }

    @Test func withoutReloadNothingIsWatched() throws {
        try WSGIApps.requireVirtualenv()
        let site = TemporaryDirectory()
        site.write("site_app.py", app("v1"))
        let daemon = try CorraldProcess(["--chdir", site.path, "--virtualenv", WSGIApps.virtualenv, "-w", "1", "site_app:app"])
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        // The watcher says so before the worker serves; without reload it never starts.
        #expect(daemon.log.contains("application site_app:app loaded") && !daemon.log.contains("reload: watching"), "\(daemon.log)")
    }
}

import Foundation
import Testing

/// corral-python built for other CPythons (`make python-worker PYTHON=…`): `make test` builds it
/// for the pyenv builds of 3.10, 3.12 and 3.13 this machine kind carries, each with a venv of
/// Flask, gevent and FastAPI made by that Python, and names them in CORRAL_TEST_PYTHONS.
@Suite struct PythonVersionsTests {
    static let versions = (ProcessInfo.processInfo.environment["CORRAL_TEST_PYTHONS"] ?? "").split(separator: " ").map(String.init)

    /// The venv `make python-versions` made with pyenv's Python `version` (X.Y).
    static func venv(_ version: String) -> String { WSGIApps.repository.appendingPathComponent(".build/venv-\(version)").path }

    /// The X.Y.Z the venv's python3 reports.
    static func release(of venv: String) -> String {
        shell("\(venv)/bin/python3 -c 'import sys; print(sys.version.split()[0])'").output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The X.Y.Z the default worker embeds.
    static var embedded: String {
        shell("\(Binaries.path("corral-python")) --embedded-python").output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Each build serves with the venv's own interpreter (the version its python3 reports, the
    /// venv as sys.prefix) in threads, gevent and asgi modes, with the venv's compiled extensions.
    @Test(arguments: versions) func servesWithTheVenvsInterpreter(version: String) throws {
        let venv = Self.venv(version)
        let reported = Self.release(of: venv)
        #expect(reported.hasPrefix(version + "."), "\(reported)")
        for (mode, app) in [(["-k", "gthread", "--threads", "2"], "versions:app"), (["-k", "gevent"], "versions:app"),
                            (["-k", "asgi"], "versions:asgi")] {
            let worker = try WorkerProcess("corral-python\(version)",
                                           arguments: ["--chdir", WSGIApps.directory, "--virtualenv", venv] + mode + [app])
            #expect(eventually(timeout: 30) { worker.log.contains("application \(app) loaded") }, "\(mode): \(worker.log)")
            let answer = try request(port: worker.port, "GET", "/")
            #expect(answer?.text == "CPython \(reported) \(venv)", "\(mode): \(answer?.text ?? "no answer")\n\(worker.log)")
        }
    }

    /// corrald serves a venv with the worker built for its Python, found beside the default one:
    /// no worker_cmd to set, and --check-config loads the app with that worker too.
    @Test(arguments: versions) func corraldPicksTheWorkerForTheVenv(version: String) throws {
        let venv = Self.venv(version)
        let arguments = ["-w", "1", "--chdir", WSGIApps.directory, "--virtualenv", venv, "versions:app"]
        let check = shell("\(Binaries.path("corrald")) \(arguments.map(shellQuoted).joined(separator: " ")) --check-config")
        #expect(check.status == 0 && check.output.contains("configuration OK"), "\(check.output)")
        let daemon = try CorraldProcess(arguments)
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        let answer = try request(port: daemon.port, "GET", "/")
        #expect(answer?.text.hasPrefix("CPython \(version).") == true && answer?.text.hasSuffix(" \(venv)") == true,
                "\(answer?.text ?? "no answer")\n\(daemon.log)")
    }

    /// The build asks the interpreter what it is and refuses what corral-python cannot embed,
    /// saying why and what to do (interpreters that report those facts stand in for them).
    @Test(arguments: [("3 9 3.9.18 1 0", "is Python 3.9.18; corral-python needs CPython 3.10 or later"),
                      ("3 13 3.13.0 0 0", "has no shared libpython (built without --enable-shared)"),
                      ("3 13 3.13.0 1 1", "is a free-threaded build (Python 3.13.0t)")])
    func theBuildRefusesWhatItCannotEmbed(facts: String, reason: String) throws {
        let scratch = TemporaryDirectory()
        let python = scratch.file("python3")
        scratch.write("python3", "#!/bin/sh\ncat > /dev/null\necho '\(facts) - /nowhere libpython3.so'\n")
        chmod(python, 0o755)
        let refused = shell("\(WSGIApps.repository.path)/tools/python-worker.sh \(python) 2>&1")
        #expect(refused.status != 0 && refused.output.contains(reason), "\(refused.output)")
    }

    /// A venv of the X.Y the default worker embeds, made by another build of it (pyenv's 3.11.7, not
    /// Debian's 3.11.2): corrald serves it on that build's own libpython, in gevent mode too (on
    /// Debian's, gevent's extension fails on `undefined symbol: _PyModule_Add`), and the app's
    /// environment keeps nothing of how the worker found it.
    @Test func corraldServesAnotherBuildOfTheSamePython() throws {
        let venv = Self.venv("3.11")
        let reported = Self.release(of: venv), embedded = Self.embedded
        try #require(reported.hasPrefix("3.11.") && reported != embedded,
                     "make python-versions makes .build/venv-3.11 with pyenv's 3.11 (\(reported)), another build than the worker's (\(embedded))")
        let daemon = try CorraldProcess(["-w", "1", "-k", "gevent", "--chdir", WSGIApps.directory, "--virtualenv", venv, "versions:app"])
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        #expect(try request(port: daemon.port, "GET", "/")?.text == "CPython \(reported) \(venv)", "\(daemon.log)")
        #expect(try request(port: daemon.port, "GET", "/environ")?.text
                    == "LD_LIBRARY_PATH=None CORRAL_PYTHON_LIBDIR=None CORRAL_PYTHON_VERSION=None", "\(daemon.log)")
    }

    /// corrald refuses a venv no installed worker can serve, at --check-config and at start, saying
    /// which Python the venv has, which workers are installed, and what to do (venvs whose python3
    /// reports those facts stand in for such interpreters).
    @Test(arguments: [("3.14.0\t3.14\t1\t0", ["no corral-python for Python 3.14 is installed (installed: ", "corral-python3.13 (Python 3.13)",
                                                   "make python-worker PYTHON=/stand-in/bin/python3.14"]),
                      ("3.13.0\t3.13\t0\t0", ["which has no shared libpython (built without --enable-shared)", "--enable-shared pyenv install 3.13.0"]),
                      ("3.13.0\t3.13\t1\t1", ["a free-threaded build: corral-python's bridge relies on the GIL"])])
    func corraldRefusesAVenvNoWorkerServes(facts: String, reasons: [String]) throws {
        let venv = TemporaryDirectory()
        mkdir(venv.file("bin"), 0o755)
        venv.write("libpython.so.1.0", "")
        venv.write("bin/python3", "#!/bin/sh\nprintf 'interpreter\\t\(facts)\\t\(venv.path)\\tlibpython.so.1.0\\t/stand-in/bin/python\(facts.split(separator: "\t")[1])\\n'\n")
        chmod(venv.file("bin/python3"), 0o755)
        let arguments = ["--chdir", WSGIApps.directory, "--virtualenv", venv.path, "versions:app"].map(shellQuoted).joined(separator: " ")
        let check = shell("\(Binaries.path("corrald")) \(arguments) --check-config")
        let start = shell("\(Binaries.path("corrald")) -b 127.0.0.1:0 \(arguments)")
        for (what, outcome) in [("--check-config", check), ("start", start)] {
            #expect(outcome.status == 1 && outcome.output.contains("virtualenv: the virtualenv \(venv.path) was made with /stand-in/bin/python"),
                    "\(what): \(outcome.output)")
            for reason in reasons { #expect(outcome.output.contains(reason), "\(what): \(outcome.output)") }
        }
    }

    /// A worker whose libpython is not the venv's interpreter's (corrald read another) refuses to
    /// start, naming both.
    @Test func theWorkerChecksItLoadedTheVenvsLibpython() throws {
        try WSGIApps.requireVirtualenv()
        let refused = shell("CORRAL_PYTHON_VERSION='3.11.99 (stand-in)' \(Binaries.path("corral-python")) --check-config --chdir \(WSGIApps.directory) --virtualenv \(WSGIApps.virtualenv) versions:app")
        #expect(refused.status == 3 && refused.output.contains("python3 is Python 3.11.99 (stand-in), but the libpython this worker loaded is Python \(Self.embedded)"),
                "\(refused.output)")
    }

    /// One corrald moves an app from one Python to another with a reload (the config names the new
    /// venv; both generations serve during the hand-over, each with its own worker build, on its
    /// own libpython), and no request fails; a reload back works too. Two apps at once are two
    /// corralds (corral@.service), each choosing its worker the same way.
    @Test func aReloadMovesTheAppToAnotherPython() throws {
        let pythons = Self.versions.suffix(2)
        try #require(pythons.count == 2, "CORRAL_TEST_PYTHONS names two versions with their venvs (make python-versions)")
        func config(_ version: String) -> String {
            """
            wsgi_app = "versions:app"
            chdir = "\(WSGIApps.directory)"
            virtualenv = "\(PythonVersionsTests.venv(version))"
            workers = 2
            threads = 2
            boot_timeout = 30
            """
        }
        let daemon = try CorraldProcess(config: config(pythons.first!))
        #expect(daemon.waitUntilServing(workers: 2), "\(daemon.log)")
        let load = LoadClients(port: daemon.port, clients: 4)
        for version in [pythons.last!, pythons.first!] {
            let before = daemon.workers
            daemon.directory.write("corral.toml", config(version))
            daemon.signal(SIGHUP)
            #expect(eventually(timeout: 30) { daemon.workers.count == 2 && daemon.workers.isDisjoint(with: before) }, "\(daemon.log)")
            #expect(try request(port: daemon.port, "GET", "/")?.text.hasPrefix("CPython \(version).") == true, "\(daemon.log)")
            let executables = daemon.workers.map { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/exe")) ?? "?" }
            #expect(executables.allSatisfy { $0.contains("/python\(version)/") && $0.hasSuffix("/corral-python") },
                    "the generation's workers are corral-python\(version) (make python-worker's build): \(executables)")
        }
        let result = load.stop()
        #expect(result.failures == 0 && result.responses > 100, "\(result)")
    }
}

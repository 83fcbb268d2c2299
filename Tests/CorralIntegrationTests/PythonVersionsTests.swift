import Foundation
import Testing

/// corral-python built for other CPythons (`make python-worker PYTHON=…`): `make test` builds it
/// for the pyenv builds of 3.10, 3.12 and 3.13 this machine kind carries, each with a venv of
/// Flask, gevent and FastAPI made by that Python, and names them in CORRAL_TEST_PYTHONS.
@Suite struct PythonVersionsTests {
    static let versions = (ProcessInfo.processInfo.environment["CORRAL_TEST_PYTHONS"] ?? "").split(separator: " ").map(String.init)

    /// Each build serves with the venv's own interpreter (the version its python3 reports, the
    /// venv as sys.prefix) in threads, gevent and asgi modes, with the venv's compiled extensions.
    @Test(arguments: versions) func servesWithTheVenvsInterpreter(version: String) throws {
        let venv = WSGIApps.repository.appendingPathComponent(".build/venv-\(version)").path
        let reported = shell("\(venv)/bin/python3 -c 'import sys; print(sys.version.split()[0])'").output
            .trimmingCharacters(in: .whitespacesAndNewlines)
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
        let venv = WSGIApps.repository.appendingPathComponent(".build/venv-\(version)").path
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
}

import Foundation
import Testing

/// corrald from the command line: workers come up and serve, a killed worker is replaced, HUP
/// replaces every worker, TERM stops everything and removes the pidfile.
@Suite(.serialized) struct CorraldTests {
    @Test func superviseReloadAndStop() throws {
        let daemon = try CorraldProcess(["-w", "3"])
        #expect(daemon.waitUntilServing(workers: 3))
        #expect((try? String(contentsOfFile: daemon.pidfile, encoding: .utf8)) == "\(daemon.pid)\n")

        let victim = try #require(daemon.workers.first)
        kill(victim, SIGKILL)
        #expect(eventually { let now = daemon.workers; return now.count == 3 && !now.contains(victim) },
                "a killed worker is replaced")

        let beforeReload = daemon.workers
        daemon.signal(SIGHUP)
        #expect(eventually { let now = daemon.workers; return now.count == 3 && now.isDisjoint(with: beforeReload) },
                "HUP replaces every worker")
        #expect(try RawClient.get(port: daemon.port, "/")?.status == 200)

        let last = daemon.workers
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
        #expect(!FileManager.default.fileExists(atPath: daemon.pidfile), "the pidfile is removed")
        #expect(last.allSatisfy(isGone), "no worker is left")
    }
}

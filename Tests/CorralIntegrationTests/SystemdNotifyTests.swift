import CorralSystemd
import Foundation
import Testing

/// What corrald tells systemd, heard through a NOTIFY_SOCKET of the test's own (as systemd's
/// would be): READY=1 only once the workers are, RELOADING=1 and the outcome of each reload,
/// WATCHDOG=1 from its loop, STOPPING=1.
@Suite(.serialized) struct SystemdNotifyTests {
    @Test func corraldReportsItsLifeToSystemd() throws {
        let directory = TemporaryDirectory()
        let listener = try NotifyListener(path: directory.file("notify"))
        var heard: [NotifyListener.Message] = []
        func collect() { while let message = listener.receive() { heard.append(message) } }
        func values(_ name: String) -> [String] { heard.compactMap { $0.value(name) } }

        let daemon = try CorraldProcess(config: "workers = 2\nboot_timeout = 5\n",
                                        environment: ["NOTIFY_SOCKET": directory.file("notify"), "WATCHDOG_USEC": "1000000"])
        #expect(eventually { collect(); return values("READY").count == 1 })
        let ready = try #require(heard.first { $0.value("READY") == "1" })
        #expect(ready.pid == daemon.pid, "sent by corrald itself")
        #expect(ready.value("MAINPID") == "\(daemon.pid)")
        #expect(ready.value("STATUS") == "2 workers of generation 1 ready")
        #expect(daemon.log.contains("all 2 workers of generation 1 ready"), "READY=1 only after the workers")
        #expect(eventually { collect(); return values("WATCHDOG").count >= 2 }, "WATCHDOG=1 every half second")
        #expect(values("STATUS").contains { $0.hasPrefix("2 workers of generation 1 ready; ") && $0.hasSuffix("requests served") })

        heard = []
        daemon.signal(SIGHUP)
        #expect(eventually { collect(); return values("READY").count == 1 })
        let reloading = try #require(heard.first { $0.value("RELOADING") == "1" })
        #expect(Int(reloading.value("MONOTONIC_USEC") ?? "") ?? 0 > 0)
        #expect(values("STATUS").contains("reload 1 done: 2 workers of generation 2 ready"), "\(values("STATUS"))")

        heard = []
        let broken = script("broken-app", in: daemon.directory, "#!/bin/sh\nexit 3\n")
        daemon.directory.write("corral.toml", "workers = 2\nboot_timeout = 5\nworker_cmd = \"\(broken)\"\n")
        daemon.signal(SIGHUP)
        #expect(eventually { collect(); return values("READY").count == 1 })
        #expect(values("STATUS").contains { $0.hasPrefix("reload 2 failed: worker") && $0.contains("exited with status 3 during boot; generation 2 still serving") },
                "\(values("STATUS"))")

        heard = []
        daemon.signal(SIGTERM)
        #expect(eventually { collect(); return values("STOPPING") == ["1"] })
        #expect(heard.contains { $0.value("EXTEND_TIMEOUT_USEC") == "35000000" }, "graceful_timeout + 5 s")
        #expect(daemon.waitForExit() == 0)
    }
}

@Suite struct JournalFieldNameTests {
    @Test func namesFollowJournaldsRules() {
        #expect(JournalLogHandler.fieldName("CORRAL_worker-pid") == "CORRAL_WORKER_PID")
        #expect(JournalLogHandler.fieldName("_trusted") == "TRUSTED", "a leading underscore is journald's own")
        #expect(JournalLogHandler.fieldName("9lives") == "LIVES")
        #expect(JournalLogHandler.fieldName("__") == nil)
        #expect(JournalLogHandler.fieldName(String(repeating: "A", count: 100))?.count == 64)
        #expect(JournalLogHandler.priority(.critical) == 2 && JournalLogHandler.priority(.info) == 6)
    }
}

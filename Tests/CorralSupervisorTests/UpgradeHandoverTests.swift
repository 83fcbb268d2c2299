import CorralMetrics
import CorralSupervisor
import Testing

@Suite struct UpgradeHandoverTests {
    @Test func roundTripsAndRefusesWhatItCannotRead() throws {
        var ledger = MetricsLedger()
        ledger.status(pid: 4242, text: "requests=17 connections=2")
        ledger.exited(pid: 4000, slot: 0, unexpected: true)
        ledger.reloaded(succeeded: true)
        ledger.reloaded(succeeded: false)
        let handover = UpgradeHandover(sockets: [.init(fd: 5, name: "bind-127.0.0.1_8000"), .init(fd: 3, name: "corral.socket")],
                                       endpoints: [.init(role: .notify, fd: 6, address: "@corrald-77-notify"),
                                                   .init(role: .control, fd: 7, address: "/run/corral dir/corral.sock")],
                                       workers: [.init(pid: 4242, slot: 1, stdout: 12, stderr: 13, generation: 4,
                                                       spawnedAt: 99, lastPing: 120, status: "requests=17 connections=2"),
                                                 .init(pid: 4243, slot: 0, stdout: 14, stderr: 15)],
                                       fromVersion: "corral 0.4.0", startedAt: 123_456, daemonStartedAt: 42,
                                       generation: 4, reloadsStarted: 3, reloadsEnded: 3, ledger: ledger)
        let read = try UpgradeHandover(text: handover.text)
        #expect(read == handover)
        #expect(read.endpoint(.control, at: "/run/corral dir/corral.sock") == 7)
        #expect(read.endpoint(.control, at: "/elsewhere.sock") == nil, "a moved control socket is bound anew")
        #expect(read.fds.sorted() == [3, 5, 6, 7, 12, 13, 14, 15])
        #expect(read.ledger.requests(slot: 1, livePids: [4242]) == 17 && read.ledger.restarts[0] == 1)
        #expect(read.ledger.reloadsSucceeded == 1 && read.ledger.reloadsFailed == 1)
        #expect(throws: UpgradeHandover.Rejected.self) { try UpgradeHandover(text: "corral-upgrade 99\n") }
        #expect(throws: UpgradeHandover.Rejected.self) { try UpgradeHandover(text: "something else") }
        #expect(throws: UpgradeHandover.Rejected.self) { try UpgradeHandover(text: "corral-upgrade 1\nworker x 1 2 3 4 5 6 7 ") }
        #expect(throws: UpgradeHandover.Rejected.self) { try UpgradeHandover(text: "corral-upgrade 1\nendpoint pidfile 3 /x") }
        #expect(throws: UpgradeHandover.Rejected.self) { try UpgradeHandover(text: "corral-upgrade 1\nledger slot x") }
        #expect(throws: UpgradeHandover.Rejected.self) { try UpgradeHandover(text: "corral-upgrade 1\nfrobnicate 1") }
    }

    @Test func theStateA040CorralWroteIsStillRead() throws {
        // 0.4.0's layout: no corrald start time, workers without generation, times and status.
        let old = "corral-upgrade 1\nfrom corral 0.4.0\nstarted 5000\ncounts 3 2 2\nsocket 5 bind-127.0.0.1_8000\nworker 4242 0 12 13"
        let read = try UpgradeHandover(text: old)
        #expect(read.fromVersion == "corral 0.4.0" && read.startedAt == 5000 && read.daemonStartedAt == 0 && read.generation == 3)
        #expect(read.workers == [.init(pid: 4242, slot: 0, stdout: 12, stderr: 13, generation: 3, spawnedAt: 5000, lastPing: 5000)])
        #expect(read.ledger == MetricsLedger())
    }
}

import Foundation
import Testing

/// `corralctl upgrade`: corrald re-executes its binary in place under load. Same pid, no failed
/// request, the workers adopted then replaced; a new binary that fails its check changes nothing.
@Suite(.serialized) struct UpgradeTests {
    private func corralctl(_ daemon: CorraldProcess, _ arguments: String) -> (output: String, status: Int32) {
        shell("\(Binaries.path("corralctl")) \(arguments) -s unix://\(daemon.directory.file("corrald.sock"))")
    }

    private func openFDs(_ pid: pid_t) -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1 }

    @Test func underLoadTheSamePidAdoptsThenReplacesTheWorkersAndNoRequestFails() throws {
        let daemon = try CorraldProcess(["-w", "2"])
        #expect(daemon.waitUntilServing(workers: 2), "\(daemon.log)")
        let pid = daemon.pid
        let fdsBefore = openFDs(pid)
        let load = LoadClients(port: daemon.port, clients: 3)
        for round in 1...20 {
            let before = daemon.workers
            let upgraded = corralctl(daemon, "upgrade")
            #expect(upgraded.status == 0, "round \(round): \(upgraded.output)\n\(daemon.log)")
            #expect(upgraded.output.hasPrefix("upgraded: corral "), "\(upgraded.output)")
            #expect(upgraded.output.contains("workers of generation \(round + 1) ready"), "generations go on counting: \(upgraded.output)")
            #expect(daemon.pid == pid, "the same corrald, re-executed")
            #expect(eventually { daemon.workers.count == 2 && daemon.workers.isDisjoint(with: before) }, "round \(round): old workers retired")
        }
        let result = load.stop()
        #expect(result.failures == 0, "\(result)")
        #expect(result.responses > 100, "\(result)")
        #expect(daemon.count("upgrade: took over from corral ") == 20 && daemon.count("2 workers adopted") == 20, "\(daemon.log)")
        #expect(daemon.count("(pid ") >= 40 && daemon.log.contains(", adopted) exited with status 0"), "adopted workers drained and exited")
        #expect(eventually { openFDs(pid) == fdsBefore }, "no fd leaked across 20 upgrades: \(fdsBefore) → \(openFDs(pid))")
        #expect(!daemon.workers.contains { isGone($0) }, "no zombie among corrald's children")
        #expect(try RawClient.get(port: daemon.port, "/")?.status == 200)
        #expect(corralctl(daemon, "reload").output.contains("reloaded: 2 workers"), "an upgraded corrald still reloads")
    }

    @Test func sigusr2UpgradesTooAsInGunicornButKeepsThePid() throws {
        let daemon = try CorraldProcess(["-w", "1"])
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        let pid = daemon.pid, before = daemon.workers
        daemon.signal(SIGUSR2)
        #expect(eventually { daemon.log.contains("upgrade done: corral ") }, "\(daemon.log)")
        #expect(daemon.pid == pid)
        #expect(eventually { daemon.workers.count == 1 && daemon.workers.isDisjoint(with: before) })
        #expect(corralctl(daemon, "upgrade").status == 0, "a second one, through corralctl, after the first")
    }

    @Test(arguments: [
        ("echo broken on purpose >&2; exit 3", "exited with status 3 on --check-upgrade: broken on purpose"),
        ("echo upgrade state format 99", "does not read this corrald's upgrade state (format 1): upgrade state format 99"),
    ])
    func aNewBinaryThatFailsItsCheckChangesNothing(_ body: String, _ reason: String) throws {
        // corrald runs from a copy, so the file at its path can be replaced as a package would.
        // Written by cp and sh, not in this process: a child another test spawns meanwhile would
        // inherit a write fd to the file, and exec'ing it would fail with ETXTBSY.
        let directory = TemporaryDirectory()
        let copy = directory.file("corrald")
        #expect(shell("cp \(Binaries.path("corrald")) \(copy)").status == 0)
        let daemon = try CorraldProcess(["-w", "2", "--worker-cmd", Binaries.path("corral-worker")], executable: copy)
        #expect(daemon.waitUntilServing(workers: 2), "\(daemon.log)")
        let pid = daemon.pid, before = daemon.workers
        #expect(shell("rm \(copy) && printf '#!/bin/sh\\n%s\\n' \(shellQuoted(body)) > \(copy) && chmod 755 \(copy)").status == 0)
        let load = LoadClients(port: daemon.port, clients: 3)
        let upgraded = corralctl(daemon, "upgrade")
        let result = load.stop()
        #expect(upgraded.status == 1, "\(upgraded.output)")
        #expect(upgraded.output.contains("upgrade failed: the new binary \(copy)"), "\(upgraded.output)")
        #expect(upgraded.output.contains(reason), "\(upgraded.output)")
        #expect(daemon.pid == pid && daemon.workers == before, "nothing happened")
        #expect(result.failures == 0, "\(result)")
        #expect(try RawClient.get(port: daemon.port, "/")?.status == 200)
    }

    @Test func aNewBinaryThatCannotReadTheStateHandsBackToTheOldOneUnderLoad() throws {
        // The "new binary" passes the check, then gives the real corrald a state it cannot read
        // (format 99) in place of the one handed over; corrald execs back into the old binary (the
        // replaced, deleted copy, kept open) with the original state.
        let directory = TemporaryDirectory()
        let copy = directory.file("corrald")
        #expect(shell("cp \(Binaries.path("corrald")) \(copy)").status == 0)
        let daemon = try CorraldProcess(["-w", "2", "--worker-cmd", Binaries.path("corral-worker")], executable: copy)
        #expect(daemon.waitUntilServing(workers: 2), "\(daemon.log)")
        let pid = daemon.pid
        let wrapper = """
            #!/bin/sh
            case " $* " in *" --check-upgrade "*) echo "upgrade state format 1"; exit 0;; esac
            printf 'corral-upgrade 99\\n' > \(directory.file("bad-state"))
            exec 9< \(directory.file("bad-state"))
            CORRAL_UPGRADE_STATE=fd:9 exec \(Binaries.path("corrald")) "$@"
            """
        directory.write("wrapper.txt", wrapper)
        #expect(shell("rm \(copy) && cp \(directory.file("wrapper.txt")) \(copy) && chmod 755 \(copy)").status == 0)
        let load = LoadClients(port: daemon.port, clients: 3)
        let upgraded = corralctl(daemon, "upgrade")
        let result = load.stop()
        #expect(upgraded.status == 1, "\(upgraded.output)\n\(daemon.log)")
        #expect(upgraded.output.contains("upgrade failed: the new binary could not read the upgrade state (upgrade state format 99, this corrald reads format 1) and handed back to corral"),
                "\(upgraded.output)")
        #expect(daemon.pid == pid, "the same pid throughout")
        #expect(result.failures == 0, "\(result)")
        #expect(try RawClient.get(port: daemon.port, "/")?.status == 200)
        #expect(corralctl(daemon, "reload").output.contains("reloaded: 2 workers"), "the old binary, back, still reloads")
    }
}

import Foundation
import Testing

/// `corralctl upgrade`: corrald re-executes its binary in place under load. Same pid, no failed
/// request, the workers adopted then replaced; a new binary that fails its check changes nothing.
@Suite(.serialized) struct UpgradeTests {
    private func corralctl(_ daemon: CorraldProcess, _ arguments: String) -> (output: String, status: Int32) {
        shell("\(Binaries.path("corralctl")) \(arguments) -s unix://\(daemon.directory.file("corrald.sock"))")
    }

    /// The sockets corrald holds, by inode: the same ones after an upgrade means none was re-made.
    private func sockets(_ pid: pid_t) -> Set<String> {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        return Set(names.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)") }
            .filter { $0.hasPrefix("socket:") })
    }

    /// pid → (generation, state) from `corralctl status --json`.
    private func status(_ daemon: CorraldProcess) -> [Int: (generation: Int, state: String)] {
        let output = corralctl(daemon, "status --json").output
        let processes = (try? JSONSerialization.jsonObject(with: Data(output.utf8))) as? [[String: Any]] ?? []
        return Dictionary(processes.compactMap { process in
            guard let pid = process["pid"] as? Int, let generation = process["generation"] as? Int,
                  let state = process["statename"] as? String else { return nil }
            return (pid, (generation, state))
        }, uniquingKeysWith: { first, _ in first })
    }

    /// corrald with 2 workers, run from a copy so the file at its path can be replaced as a package
    /// would. Files are written by cp and sh, not in this process: a child another test spawns
    /// meanwhile would inherit a write fd to the file, and exec'ing it would fail with ETXTBSY.
    private func daemonFromACopy(in directory: TemporaryDirectory, workerCommand: String = Binaries.path("corral-worker")) throws
        -> (copy: String, daemon: CorraldProcess) {
        let copy = directory.file("corrald")
        #expect(shell("cp \(Binaries.path("corrald")) \(copy)").status == 0)
        let daemon = try CorraldProcess(["-w", "2", "--worker-cmd", workerCommand], executable: copy)
        #expect(daemon.waitUntilServing(workers: 2), "\(daemon.log)")
        return (copy, daemon)
    }

    /// Puts a shell script with `body` where corrald's binary was.
    private func replace(_ copy: String, in directory: TemporaryDirectory, withScript body: String) {
        directory.write("script.txt", "#!/bin/sh\n" + body + "\n")
        #expect(shell("rm \(copy) && cp \(directory.file("script.txt")) \(copy) && chmod 755 \(copy)").status == 0)
    }

    @Test func underLoadTheSamePidAdoptsThenReplacesTheWorkersAndNoRequestFails() throws {
        let daemon = try CorraldProcess(["-w", "2"])
        #expect(daemon.waitUntilServing(workers: 2), "\(daemon.log)")
        let pid = daemon.pid
        let fdsBefore = openDescriptorCount(pid), socketsBefore = sockets(pid)
        #expect(socketsBefore.count >= 3, "the bind, the notify and the control socket: \(socketsBefore)")
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
        #expect(eventually { openDescriptorCount(pid) == fdsBefore }, "no fd leaked across 20 upgrades: \(fdsBefore) → \(openDescriptorCount(pid))")
        #expect(sockets(pid) == socketsBefore, "the listening, notify and control sockets are the same ones, handed over")
        #expect(!daemon.workers.contains { isGone($0) }, "no zombie among corrald's children")
        #expect(try RawClient.get(port: daemon.port, "/")?.status == 200)
        #expect(corralctl(daemon, "reload").output.contains("reloaded: 2 workers"), "an upgraded corrald still reloads")
    }

    @Test func fromOneBuildToAnotherAndBackTheWorkersAreAdoptedThenReplacedAndNoRequestFails() throws {
        let buildB = try #require(ProcessInfo.processInfo.environment["CORRAL_UPGRADE_B"],
                                  "CORRAL_UPGRADE_B names a second corrald build (`make test` builds it)")
        let versionA = shell("\(Binaries.path("corrald")) --version").output.trimmingCharacters(in: .whitespacesAndNewlines)
        let versionB = shell("\(buildB) --version").output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!versionA.isEmpty && !versionB.isEmpty && versionA != versionB, "\(versionA) / \(versionB)")
        // Workers boot slowly once `slow` exists, so the adopted ones can be seen serving the
        // slots while the new generation starts.
        let directory = TemporaryDirectory()
        let slow = directory.file("slow")
        let worker = script("worker", in: directory, "#!/bin/sh\n[ -e \(slow) ] && sleep 2\nexec \(Binaries.path("corral-worker")) \"$@\"")
        let (copy, daemon) = try daemonFromACopy(in: directory, workerCommand: worker)
        let pid = daemon.pid, first = daemon.workers
        let load = LoadClients(port: daemon.port, clients: 3)

        #expect(shell("touch \(slow) && rm \(copy) && cp \(buildB) \(copy)").status == 0)
        daemon.signal(SIGUSR2)
        let adoptedPids = first.sorted().map(String.init).joined(separator: ", ")
        #expect(eventually { daemon.log.contains("took over from corral \(versionA)") }, "\(daemon.log)")
        #expect(daemon.log.contains("2 workers adopted (pids \(adoptedPids))"), "\(daemon.log)")
        #expect(corralctl(daemon, "version").output.contains("corral \(versionB)"), "build B runs, in the same process")
        let adopted = status(daemon)
        #expect(Set(adopted.keys.map { pid_t($0) }) == first && adopted.values.allSatisfy { $0 == (1, "RUNNING") },
                "the adopted workers serve their slots, shown in their own generation: \(adopted)")
        #expect(eventually { daemon.log.contains("upgrade done: corral \(versionA) → corral \(versionB)") }, "\(daemon.log)")
        #expect(eventually { daemon.workers.count == 2 && daemon.workers.isDisjoint(with: first) }, "then replaced")
        #expect(status(daemon).values.allSatisfy { $0 == (2, "RUNNING") })

        // And back from B to A, through corralctl, which waits for the outcome.
        #expect(shell("rm \(slow) \(copy) && cp \(Binaries.path("corrald")) \(copy)").status == 0)
        let second = daemon.workers
        let back = corralctl(daemon, "upgrade")
        #expect(back.status == 0 && back.output.contains("corral \(versionB) → corral \(versionA)"), "\(back.output)\n\(daemon.log)")
        #expect(eventually { daemon.workers.count == 2 && daemon.workers.isDisjoint(with: second) })
        let result = load.stop()
        #expect(daemon.pid == pid, "one corrald throughout")
        #expect(result.failures == 0 && result.responses > 100, "\(result)")
        #expect(corralctl(daemon, "version").output.contains("corral \(versionA)"))
    }

    @Test func anExecveThatFailsLeavesTheOldImageServing() throws {
        // The "new binary" passes its check, then makes itself non-executable, so the execve
        // that follows fails (EACCES): the old image restores what it changed and carries on.
        let directory = TemporaryDirectory()
        let (copy, daemon) = try daemonFromACopy(in: directory)
        let pid = daemon.pid, before = daemon.workers, fdsBefore = openDescriptorCount(pid)
        replace(copy, in: directory, withScript: "chmod 644 \"$0\"\necho upgrade state format 1")
        let load = LoadClients(port: daemon.port, clients: 3)
        let upgraded = corralctl(daemon, "upgrade")
        let result = load.stop()
        #expect(upgraded.status == 1, "\(upgraded.output)\n\(daemon.log)")
        #expect(upgraded.output.contains("execve \(copy): Permission denied; still running the old image"), "\(upgraded.output)")
        #expect(daemon.pid == pid && daemon.workers == before, "the same corrald and the same workers")
        #expect(result.failures == 0, "\(result)")
        #expect(openDescriptorCount(pid) == fdsBefore, "the state's memfd and the binary's fd are closed again")
        #expect(corralctl(daemon, "reload").output.contains("reloaded: 2 workers"), "the old image still reloads")
        #expect(try RawClient.get(port: daemon.port, "/")?.status == 200)
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
        let directory = TemporaryDirectory()
        let (copy, daemon) = try daemonFromACopy(in: directory)
        let pid = daemon.pid, before = daemon.workers
        replace(copy, in: directory, withScript: body)
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
        let (copy, daemon) = try daemonFromACopy(in: directory)
        let pid = daemon.pid
        replace(copy, in: directory, withScript: """
            case " $* " in *" --check-upgrade "*) echo "upgrade state format 1"; exit 0;; esac
            printf 'corral-upgrade 99\\n' > \(directory.file("bad-state"))
            exec 9< \(directory.file("bad-state"))
            CORRAL_UPGRADE_STATE=fd:9 exec \(Binaries.path("corrald")) "$@"
            """)
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

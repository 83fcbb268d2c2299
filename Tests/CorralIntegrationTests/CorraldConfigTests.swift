import Foundation
import Testing

/// corrald's configuration as an operator meets it: the file and flags, --check-config and
/// --print-config, reloads that re-read the file, and workers started with what it says.
@Suite(.serialized) struct CorraldConfigTests {
    private let corrald = Binaries.path("corrald")

    @Test func checkConfigAndPrintConfigFollowThePrecedence() throws {
        let directory = TemporaryDirectory()
        directory.write("good.toml", "workers = 2\nkeepalive = 4\nspew = true\n")
        let good = directory.file("good.toml")
        let checked = shell("\(corrald) -c \(good) --check-config")
        #expect(checked.status == 0)
        #expect(checked.output.contains("spew is ignored: Python tracing does not apply"), "\(checked.output)")

        func printed(_ arguments: String, environment: String = "") -> [String] {
            shell("\(environment) \(corrald) -c \(good) \(arguments) --print-config").output.split(separator: "\n").map(String.init)
        }
        #expect(printed("").contains("workers = 2"), "the file over the defaults")
        #expect(printed("", environment: "CORRAL_CMD_ARGS='-w 5'").contains("workers = 5"), "CORRAL_CMD_ARGS over the file")
        #expect(printed("-w 6", environment: "CORRAL_CMD_ARGS='-w 5'").contains("workers = 6"), "the command line over all")
        let all = printed("")
        #expect(all.contains("keepalive = 4.0") && all.contains("backlog = 2048") && all.contains("bind = [ '127.0.0.1:8000' ]"))
        let names = all.filter { !$0.hasPrefix("warning:") }.map { String($0.prefix { $0 != " " }) }
        #expect(names == names.sorted() && names.count >= 30, "every setting, sorted: \(names)")

        directory.write("bad.toml", "workers = 2\nworkerz = 3\nbind = [\"127.0.0.1:99999\"]\n")
        let bad = shell("\(corrald) -c \(directory.file("bad.toml")) --check-config")
        #expect(bad.status == 1)
        #expect(bad.output.contains("bad.toml:2: unknown setting \"workerz\"; did you mean workers?"), "\(bad.output)")
        #expect(bad.output.contains("bad.toml:3: bind:"), "\(bad.output)")

        let missingWorker = shell("\(corrald) -c \(good) --worker-cmd /nonexistent/app --check-config")
        #expect(missingWorker.status == 1)
        #expect(missingWorker.output.contains("worker_cmd: \"/nonexistent/app\" is not an executable file"), "\(missingWorker.output)")
        let badEnvironment = shell("CORRAL_CMD_ARGS='--workers' \(corrald) --check-config")
        #expect(badEnvironment.status == 1 && badEnvironment.output.contains("CORRAL_CMD_ARGS"), "\(badEnvironment.output)")
    }

    /// Files the bundled toml++ aborts on: a reload reading one must be refused with its line,
    /// not kill corrald. The first is found by TOMLGuard (fuzzing found it:
    /// Tests/Fuzz/toml-configuration/crash-datetime-t-without-time); the second, a `}` inside an
    /// array that a mutation search found, by the parse in a child process (TOMLSandbox).
    @Test(arguments: [
        ("workers = 1\nnote = \"1979-05-27T:32 in a string is fine\"\nwhen = 1979-05-27T:32\n", 3,
         "a date-time needs a time after its 'T'"),
        ("workers = 1\nbind = [\"127.0.0.1:8000\", }unix:/run/a.sock\"]\ntimeout = 30.5\n", 2,
         "the TOML parser (toml++) crashes on this file (signal 6)"),
    ])
    func aFileTheTOMLParserWouldAbortOnIsRefusedWithItsLine(_ text: String, _ line: Int, _ message: String) throws {
        let directory = TemporaryDirectory()
        directory.write("typo.toml", text)
        let checked = shell("\(corrald) -c \(directory.file("typo.toml")) --check-config")
        #expect(checked.status == 1, "\(checked.output)")
        #expect(checked.output.contains("typo.toml:\(line): \(message)"), "\(checked.output)")

        directory.write("corral.toml", "workers = 1\n")
        let daemon = try CorraldProcess(["-c", directory.file("corral.toml")])
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        directory.write("corral.toml", text)
        daemon.signal(SIGHUP)
        #expect(eventually { daemon.log.contains("corral.toml:\(line): \(message)") }, "\(daemon.log)")
        #expect(daemon.isRunning, "corrald carries on")
        #expect(try RawClient.get(port: daemon.port, "/")?.status == 200)
    }

    @Test func theListenBacklogIsTheConfiguredOne() throws {
        let daemon = try CorraldProcess(config: "workers = 2\nbacklog = 77\n")
        #expect(daemon.waitUntilServing(workers: 2))
        let listening = shell("ss -Hltn sport = :\(daemon.port)").output
        #expect(listening.split(separator: " ", omittingEmptySubsequences: true).dropFirst(2).first == "77",
                "ss shows the backlog as Send-Q: \(listening)")
        #expect((try? String(contentsOfFile: daemon.pidfile, encoding: .utf8)) == "\(daemon.pid)\n")
    }

    @Test func reusePortLetsAnotherListenerShareThePort() throws {
        /// Whether a SO_REUSEPORT socket of ours can bind the port too.
        func canShare(_ port: UInt16) -> Bool {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            defer { close(fd) }
            var on: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = port.bigEndian
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
        }
        let sharing = try CorraldProcess(["-w", "1", "--reuse-port"])
        let exclusive = try CorraldProcess(["-w", "1"])
        #expect(sharing.waitUntilServing(workers: 1) && exclusive.waitUntilServing(workers: 1))
        #expect(canShare(sharing.port))
        #expect(!canShare(exclusive.port))
    }

    @Test func socketsFromSystemdAreUsedAsTheyAre() throws {
        let directory = TemporaryDirectory()
        let port = freePort()
        let daemon = try TestProcess(["/usr/bin/systemd-socket-activate", "-l", "127.0.0.1:\(port)", "--fdname=web",
                                      Binaries.path("corrald"), "-w", "2", "--backlog", "77"],
                                     logPath: directory.file("corrald.log"))
        #expect(eventually { daemon.log.contains("Listening on") })
        _ = try RawClient(port: port)   // systemd-socket-activate execs corrald on the first connection
        #expect(eventually { CorraldProcess.children(of: daemon.pid).count == 2 && (try? RawClient.get(port: port, "/"))??.status == 200 })
        #expect(daemon.log.contains("listening at web (inherited from systemd)"), "\(daemon.log)")
        #expect(!shell("ss -Hltn sport = :\(port)").output.contains(" 77 "), "not listen()ed again with corrald's backlog")
        let worker = try #require(CorraldProcess.children(of: daemon.pid).first)
        let environment = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(worker)/environ"))
            .split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        #expect(environment.contains("LISTEN_FDNAMES=web") && environment.contains("LISTEN_FDS=1"))
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }

    @Test func aReloadAppliesTheNewBindsAndCountAndClosesRemovedSockets() throws {
        let first = freePort()
        let daemon = try CorraldProcess(config: "workers = 2\nbind = [\"127.0.0.1:\(first)\"]\n", port: first, bindFlag: false)
        #expect(daemon.waitUntilServing(workers: 2))
        let before = daemon.workers

        let second = freePort()
        let socket = daemon.directory.file("app.sock")
        daemon.directory.write("corral.toml", """
            workers = 3
            bind = ["127.0.0.1:\(second)", "unix:\(socket)"]
            backlog = 55
            """)
        daemon.signal(SIGHUP)
        #expect(eventually { daemon.workers.count == 3 && daemon.workers.isDisjoint(with: before) })
        #expect(try RawClient.get(port: second, "/")?.status == 200, "the added TCP socket serves")
        #expect(shell("curl -s -o /dev/null -w '%{http_code}' --unix-socket \(socket) http://corral/").output == "200",
                "the added unix socket serves")
        #expect(eventually { (try? RawClient.get(port: first, "/")) == nil }, "the removed socket is closed")
        #expect(daemon.log.contains("closed 127.0.0.1:\(first): no longer in bind"))
        #expect(shell("ss -Hltn sport = :\(second)").output.contains(" 55 "), "the new backlog")
    }

    @Test func anInvalidConfigOnHUPKeepsTheOldOneRunning() throws {
        let daemon = try CorraldProcess(config: "workers = 2\n")
        #expect(daemon.waitUntilServing(workers: 2))
        let before = daemon.workers
        daemon.directory.write("corral.toml", "workers = 2\nkeepalive = [1\ntimeout = 5\n")
        daemon.signal(SIGHUP)
        #expect(eventually { daemon.log.contains("reload failed: the configuration is invalid") })
        #expect(daemon.log.contains("corral.toml:3:") || daemon.log.contains("corral.toml:2:"), "the error names the line: \(daemon.log)")
        #expect(daemon.workers == before, "the workers were not touched")
        #expect(try RawClient.get(port: daemon.port, "/")?.status == 200)

        daemon.directory.write("corral.toml", "workers = 2\nthreads = 4\nworkres = 3\n")
        daemon.signal(SIGHUP)
        #expect(eventually { daemon.log.contains("corral.toml:3: unknown setting \"workres\"; did you mean workers?") })
        #expect(daemon.workers == before)

        daemon.directory.write("corral.toml", "workers = 3\n")
        daemon.signal(SIGHUP)
        #expect(eventually { daemon.workers.count == 3 && daemon.workers.isDisjoint(with: before) }, "a fixed file reloads")
    }

    @Test func aBrokenDeployKeepsTheOldGenerationServing() throws {
        let daemon = try CorraldProcess(config: "workers = 2\nboot_timeout = 5\n")
        #expect(daemon.waitUntilServing(workers: 2))
        let before = daemon.workers
        let load = LoadClients(port: daemon.port, clients: 3)
        let broken = script("broken-app", in: daemon.directory, "#!/bin/sh\necho 'ImportError: no module named app' >&2\nexit 3\n")
        daemon.directory.write("corral.toml", "workers = 2\nboot_timeout = 5\nworker_cmd = \"\(broken)\"\n")
        daemon.signal(SIGHUP)
        #expect(eventually { daemon.log.contains("reload failed") })
        let hung = script("hung-app", in: daemon.directory, "#!/bin/sh\nexec sleep 60\n")
        daemon.directory.write("corral.toml", "workers = 2\nboot_timeout = 1\nworker_cmd = \"\(hung)\"\n")
        daemon.signal(SIGHUP)
        #expect(eventually { daemon.count("reload failed") == 2 }, "a generation that never sends READY=1 is given up")
        #expect(daemon.log.contains("did not send READY=1 within the boot timeout"))
        usleep(300_000)
        let result = load.stop()
        #expect(result.failures == 0, "no request failed: \(result)")
        #expect(result.responses > 0)
        #expect(daemon.workers == before, "the old generation kept serving")
        #expect(daemon.log.contains("ImportError: no module named app"), "the broken worker's output reaches the log")
    }

    /// A first-generation worker that never sends READY=1 is killed at boot_timeout, and the log
    /// says so before it says "killed by signal 9".
    @Test func aFirstWorkerPastBootTimeoutIsReportedAsSuch() throws {
        let directory = TemporaryDirectory()
        let hung = script("hung-app", in: directory, "#!/bin/sh\nexec sleep 60\n")
        let daemon = try CorraldProcess(config: "workers = 1\nboot_timeout = 0.5\nworker_cmd = \"\(hung)\"\n")
        #expect(eventually { daemon.log.contains("was killed by signal 9") }, "\(daemon.log)")
        let log = daemon.log
        let reason = try #require(log.range(of: "worker 0 (pid "), "\(log)")
        #expect(log.contains("generation 1) did not send READY=1 within boot_timeout (0.5 s); killing it"), "\(log)")
        #expect(reason.lowerBound < log.range(of: "was killed by signal 9")!.lowerBound, "the reason comes first: \(log)")
    }

    @Test func workersStderrGoesToCorraldsErrorLogFile() throws {
        let directory = TemporaryDirectory()
        let noisy = script("noisy", in: directory, "#!/bin/sh\necho 'warning from the app' >&2\nexec \(Binaries.path("corral-worker"))\n")
        let errorLog = directory.file("error.log")
        let daemon = try CorraldProcess(["-w", "1", "--worker-cmd", noisy, "--error-logfile", errorLog])
        #expect(daemon.waitUntilServing(workers: 1))
        let text = { (try? String(contentsOfFile: errorLog, encoding: .utf8)) ?? "" }
        #expect(eventually { text().contains("\nwarning from the app\n") }, "\(text())")
        #expect(text().contains("spawned worker 0"), "beside corrald's own lines")
    }

    @Test func whenNoWorkerBootsCorraldExitsWithTheirOutput() throws {
        let directory = TemporaryDirectory()
        let broken = script("broken-app", in: directory, "#!/bin/sh\necho 'cannot load app: SyntaxError line 3' >&2\nexit 4\n")
        let daemon = try CorraldProcess(["-w", "2", "--worker-cmd", broken])
        #expect(daemon.waitForExit() == 1)
        let last = daemon.log.split(separator: "\n").drop { !$0.contains("exiting:") }.joined(separator: "\n")
        #expect(last.contains("no worker of the first generation became ready"), "\(daemon.log)")
        #expect(last.contains("cannot load app: SyntaxError line 3"), "corrald's last words carry the worker's output: \(last)")
        #expect(!FileManager.default.fileExists(atPath: daemon.pidfile))
    }

    @Test func workersRunWithTheConfiguredUserUmaskEnvironmentAndName() throws {
        try #require(getuid() == 0, "dropping privileges needs root (CI runs as root)")
        let socketDirectory = TemporaryDirectory()
        let socket = socketDirectory.file("app.sock")
        let daemon = try CorraldProcess(["-b", "unix:\(socket)"], config: """
            workers = 1
            user = "nobody"
            umask = "027"
            raw_env = ["GREETING=hello world"]
            proc_name = "corral-test"
            """)
        #expect(daemon.waitUntilServing(workers: 1))
        #expect(eventually { daemon.log.contains("all 1 workers of generation 1 ready") }, "READY=1 reaches corrald from another user")
        let worker = try #require(daemon.workers.first)
        let status = try String(contentsOfFile: "/proc/\(worker)/status", encoding: .utf8)
        let nobody = try #require(getpwnam("nobody")).pointee
        #expect(status.contains("Uid:\t\(nobody.pw_uid)\t"), "\(status)")
        #expect(status.contains("Gid:\t\(nobody.pw_gid)\t"), "the user's primary group")
        let groups = status.split(separator: "\n").first { $0.hasPrefix("Groups:") }?.dropFirst(7)
        #expect(groups?.allSatisfy(\.isWhitespace) == true, "no supplementary groups left from root: \(groups ?? "")")
        #expect(status.contains("Umask:\t0027"))
        var info = stat()
        #expect(stat(socket, &info) == 0 && info.st_uid == nobody.pw_uid && info.st_gid == nobody.pw_gid,
                "the unix socket belongs to the workers' user")
        let environment = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(worker)/environ"))
            .split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        #expect(environment.contains("GREETING=hello world"))
        #expect(environment.contains { $0.hasPrefix("NOTIFY_SOCKET=") } && environment.contains("LISTEN_FDS=2"))
        let comm = { (pid: pid_t) in (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "" }
        #expect(comm(daemon.pid) == "corral-test\n" && comm(worker) == "corral-test\n")
        kill(daemon.pid, SIGKILL)
        #expect(eventually { isGone(worker) }, "a worker that dropped privileges still dies with corrald")
    }

    @Test func asPID1InAContainerItReapsOrphansAndStopsCleanly() throws {
        let directory = TemporaryDirectory()
        // A worker that leaves an orphan behind, which the kernel hands to the namespace's PID 1.
        let orphaning = script("orphaning-worker", in: directory,
                               "#!/bin/sh\n(sleep 0.5 &)\nexec \(Binaries.path("corral-worker"))\n")
        let daemon = try CorraldProcess(["-w", "1", "--worker-cmd", orphaning],
                                        wrapper: ["/usr/bin/unshare", "--pid", "--fork", "--mount-proc"])
        let status = try String(contentsOfFile: "/proc/\(daemon.pid)/status", encoding: .utf8)
        #expect(status.split(separator: "\n").contains { $0.hasPrefix("NSpid:") && $0.hasSuffix("\t1") }, "corrald is PID 1 there")
        #expect(eventually(timeout: 5) { daemon.workers.count == 2 }, "the orphan is handed to corrald")
        #expect(daemon.waitUntilServing(workers: 1), "the orphan was reaped, not left a zombie: \(daemon.workers)")
        let zombies = daemon.workers.filter(isZombie)
        #expect(zombies.isEmpty)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }
}

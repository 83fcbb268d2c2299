import Foundation
import Testing

/// corrald keeping workers alive and replacing them: crash loops back off, hung workers are
/// killed, reloads under load fail no request, TTIN/TTOU, graceful stop, pidfiles, no leaks.
@Suite(.serialized) struct CorraldSupervisionTests {
    /// A worker in Python that speaks sd_notify from its own process: READY=1, then pings every
    /// `ping` seconds (never if nil), then exits with `exitCode` after `lifetime` seconds.
    private func notifyingWorker(in directory: TemporaryDirectory, ping: Double?, lifetime: Double,
                                 exitCode: Int = 1) -> String {
        script("worker.py", in: directory, """
            #!/usr/bin/env python3
            import os, socket, sys, time
            address = os.environ["NOTIFY_SOCKET"]
            if address.startswith("@"): address = "\\0" + address[1:]
            notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            notify.sendto(b"READY=1\\nSTATUS=serving nothing", address)
            deadline = time.monotonic() + \(lifetime)
            while time.monotonic() < deadline:
                time.sleep(\(ping ?? 0.2))
                if \(ping == nil ? "False" : "True"): notify.sendto(b"WATCHDOG=1", address)
            print("worker.py giving up", file=sys.stderr)
            sys.exit(\(exitCode))
            """)
    }

    /// When worker 0 of generation 1 was spawned, each time, in seconds of the day (log timestamps).
    private func spawnTimes(in log: String) -> [Int] {
        log.split(separator: "\n").filter { $0.contains("spawned worker 0 of generation 1") }.compactMap { line in
            let clock = line.dropFirst(12).prefix(8).split(separator: ":").compactMap { Int($0) }
            return clock.count == 3 ? clock[0] * 3600 + clock[1] * 60 + clock[2] : nil
        }
    }

    @Test func aCrashLoopBacksOff() throws {
        let directory = TemporaryDirectory()
        let worker = notifyingWorker(in: directory, ping: 0.1, lifetime: 0.1)
        let daemon = try CorraldProcess(["-w", "1", "--worker-cmd", worker])
        usleep(6_500_000)   // what is measured is how many restarts fit in a span of time
        let spawns = daemon.count("spawned worker 0")
        // Its only worker down, nothing serves: the delays double from 0.5 s but stop at 1 s.
        #expect(spawns >= 5 && spawns <= 10, "0, 0.5, then 1 s apart: about 8 in 6.5 s, not hundreds: \(spawns)")
        #expect(daemon.count("exited with status 1") >= spawns - 1, "each death is logged with its cause")
        let times = spawnTimes(in: daemon.log)
        if let first = times.first, let last = times.last { #expect(last - first >= 3, "restarts are spread out: \(times)") }
        #expect(daemon.isRunning, "a crash-looping worker does not take corrald down")
    }

    @Test func aHungWorkerIsAbortedAndReplaced() throws {
        let directory = TemporaryDirectory()
        let silent = notifyingWorker(in: directory, ping: nil, lifetime: 60)
        let daemon = try CorraldProcess(["-w", "1", "-t", "1", "--worker-cmd", silent])
        let first = try #require(eventually { daemon.workers.count == 1 } ? daemon.workers.first : nil)
        #expect(eventually { daemon.log.contains("pid \(first)) sent no heartbeat for") }, "\(daemon.log)")
        #expect(daemon.log.contains("last status: serving nothing; aborting it"))
        #expect(eventually { isGone(first) && daemon.workers.count == 1 }, "replaced by a new worker")
    }

    @Test func aWorkerThatPingsIsLeftAlone() throws {
        let directory = TemporaryDirectory()
        let pinging = notifyingWorker(in: directory, ping: 0.3, lifetime: 60)
        let daemon = try CorraldProcess(["-w", "1", "-t", "1", "--worker-cmd", pinging])
        let first = try #require(eventually { daemon.workers.count == 1 } ? daemon.workers.first : nil)
        usleep(3_000_000)   // three heartbeat timeouts
        #expect(daemon.workers == [first])
        #expect(!daemon.log.contains("no heartbeat"))
    }

    @Test func twentyReloadsUnderKeepAliveLoadFailNoRequest() throws {
        let daemon = try CorraldProcess(["-w", "3"])
        #expect(daemon.waitUntilServing(workers: 3))
        let load = LoadClients(port: daemon.port, clients: 4)
        for reload in 1...20 {
            let before = daemon.workers
            daemon.signal(SIGHUP)
            #expect(eventually { daemon.count("reload done") == reload }, "reload \(reload)")
            #expect(eventually { let now = daemon.workers; return now.count == 3 && now.isDisjoint(with: before) },
                    "reload \(reload) replaced every worker")
        }
        let result = load.stop()
        #expect(result.failures == 0, "\(result)")
        #expect(result.reconnects >= 20, "the load really crossed the reloads: \(result)")
    }

    @Test func ttinAndTtouChangeTheWorkerCount() throws {
        let daemon = try CorraldProcess(["-w", "2"])
        #expect(daemon.waitUntilServing(workers: 2))
        let original = daemon.workers
        daemon.signal(SIGTTIN)
        #expect(eventually { daemon.workers.count == 3 })
        daemon.signal(SIGTTOU)
        #expect(eventually { daemon.workers.count == 2 })
        #expect(daemon.workers.count(where: { original.contains($0) }) == 1, "TTOU retired the oldest")
        daemon.signal(SIGTTOU)
        #expect(eventually { daemon.workers.count == 1 })
        daemon.signal(SIGTTOU)
        usleep(500_000)
        #expect(daemon.workers.count == 1, "never below one")
        #expect(try RawClient.get(port: daemon.port, "/")?.status == 200)
    }

    @Test func termLetsTheSlowRequestFinish() throws {
        let daemon = try CorraldProcess(["-w", "2", "--worker-cmd", Binaries.path("corral-example-json")])
        #expect(eventually { daemon.workers.count == 2 && (try? RawClient.get(port: daemon.port, "/notes"))??.status == 200 })
        let workers = daemon.workers
        let slow = try RawClient(port: daemon.port)
        slow.send("GET /slow?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n")
        usleep(300_000)
        daemon.signal(SIGTERM)
        let response = try #require(slow.readResponse(), "the request in flight completes")
        #expect(response.status == 200 && response.text == "{\"slept_ms\":1500}")
        #expect(daemon.waitForExit() == 0)
        #expect(!FileManager.default.fileExists(atPath: daemon.pidfile))
        #expect(workers.allSatisfy(isGone), "no worker left")
    }

    @Test func aStalePidfileDoesNotBlockButALiveCorraldDoes() throws {
        let other = try TestProcess(["/bin/sleep", "60"], logPath: "/dev/null")
        let stale = TemporaryDirectory()
        stale.write("corrald.pid", "\(other.pid)\n")
        let daemon = try CorraldProcess(["-w", "1", "-p", stale.file("corrald.pid")])
        #expect(daemon.waitUntilServing(workers: 1), "a reused pid is not a running corrald: \(daemon.log)")
        #expect((try? String(contentsOfFile: stale.file("corrald.pid"), encoding: .utf8)) == "\(daemon.pid)\n")

        let second = try CorraldProcess(["-w", "1", "-p", stale.file("corrald.pid")])
        #expect(second.waitForExit() == 1)
        #expect(second.log.contains("already running as pid \(daemon.pid)"), "\(second.log)")
        #expect(daemon.isRunning)
    }

    @Test func fiftyReloadsLeaveNoFdAndNoZombie() throws {
        let daemon = try CorraldProcess(["-w", "2"])
        #expect(daemon.waitUntilServing(workers: 2))
        let fds = openDescriptorCount(daemon.pid)
        for reload in 1...50 {
            let before = daemon.workers
            daemon.signal(SIGHUP)
            #expect(eventually { daemon.count("reload done") == reload && daemon.workers.isDisjoint(with: before) && daemon.workers.count == 2 })
        }
        #expect(eventually { openDescriptorCount(daemon.pid) == fds }, "fds before: \(fds), after: \(openDescriptorCount(daemon.pid))")
        #expect(!daemon.workers.contains { isGone($0) }, "no zombie among corrald's children")
        #expect(try RawClient.get(port: daemon.port, "/")?.status == 200)
    }

    @Test func workersRecycledByMaxRequestsAreReplacedWithoutBackoff() throws {
        let daemon = try CorraldProcess(["-w", "1", "--max-requests", "3"])
        #expect(daemon.waitUntilServing(workers: 1))
        for _ in 0..<12 { #expect(try RawClient.get(port: daemon.port, "/")?.status == 200) }
        #expect(eventually { daemon.count("spawned worker 0") >= 4 })
        #expect(!daemon.log.contains("[ERROR]"), "a planned exit is not an error: \(daemon.log)")
        #expect(!daemon.log.contains("[CRITICAL]"))
    }

    @Test func aStartThatFailsLeavesNoPidfile() throws {
        let taken = freePort()
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(holder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = taken.bigEndian
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        listen(holder, 1)
        let daemon = try CorraldProcess(["-w", "1"], port: taken)
        #expect(daemon.waitForExit() == 1)
        #expect(daemon.log.contains("Address already in use"), "\(daemon.log)")
        #expect(!FileManager.default.fileExists(atPath: daemon.pidfile))
    }
}

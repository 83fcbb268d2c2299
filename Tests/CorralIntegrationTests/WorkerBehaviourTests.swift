import CorralSystemd
import Foundation
import Testing

/// The worker protocol and lifecycle: signals, logs, limits, sd_notify.
@Suite(.serialized) struct WorkerBehaviourTests {
    @Test func sigtermDrainsAndTheInFlightRequestCompletes() throws {
        let worker = try WorkerProcess("corral-example-json")
        let slow = try RawClient(port: worker.port)
        slow.send("GET /slow?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n")
        let idle = try RawClient(port: worker.port)
        idle.send("GET /notes HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(idle.readResponse()?.status == 200)
        usleep(200_000)  // let the slow request reach its handler
        worker.signal(SIGTERM)
        usleep(200_000)
        idle.send("GET /notes HTTP/1.1\r\nHost: t\r\n\r\n")
        let last = try #require(idle.readResponse(), "an idle keep-alive connection's next request is still answered")
        #expect(last.status == 200 && last.header("connection") == "close")
        #expect(idle.isClosedByServer())
        let response = try #require(slow.readResponse())
        #expect(response.status == 200)
        #expect(response.text == "{\"slept_ms\":1500}")
        #expect(response.header("connection") == "close")
        #expect(worker.waitForExit() == 0)
        #expect(worker.log.contains("draining"))
    }

    @Test func aThrowingHandlerGets500AndTheWorkerCarriesOn() throws {
        let worker = try WorkerProcess("corral-example-json")
        let client = try RawClient(port: worker.port)
        client.send("GET /boom HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(client.readResponse()?.status == 500)
        client.send("POST /notes HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        let created = try #require(client.readResponse())
        #expect(created.status == 201)
        #expect(created.text == "{\"id\":0,\"text\":\"hello\"}")
        #expect(eventually { worker.log.contains("handler failed") && worker.log.contains("boom") })
    }

    @Test func expectContinueGets100BeforeTheBody() throws {
        let worker = try WorkerProcess("corral-example-json")
        let client = try RawClient(port: worker.port)
        client.send("POST /notes HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        #expect(client.readResponse()?.status == 100)
        client.send("abc")
        #expect(client.readResponse()?.status == 201)
    }

    @Test func slowlorisHeadsAreCutAfterTheHeaderTimeout() throws {
        let worker = try WorkerProcess(arguments: ["--header-timeout", "1"])
        let client = try RawClient(port: worker.port)
        client.send("GET / HTTP/1.1\r\nHost: t\r\n")
        let started = Date()
        for _ in 0..<4 {
            usleep(300_000)
            client.send("X-Drip: 1\r\n")
        }
        let response = try #require(client.readResponse())
        #expect(response.status == 408)
        #expect(client.isClosedByServer())
        #expect(Date().timeIntervalSince(started) < 10)
    }

    @Test func idleKeepAliveConnectionsCloseAfterKeepalive() throws {
        let worker = try WorkerProcess(arguments: ["--keep-alive", "1"])
        let client = try RawClient(port: worker.port)
        client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(client.readResponse()?.status == 200)
        #expect(client.isClosedByServer())
    }

    @Test func longIdleKeepAliveConnectionsAreParkedAndStillServed() throws {
        // After 250 ms idle a connection's coroutine ends; the next request restarts it, even
        // during a drain (answered with Connection: close).
        let worker = try WorkerProcess(arguments: ["--keep-alive", "30"])
        let client = try RawClient(port: worker.port)
        for _ in 0..<2 {
            client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(client.readResponse()?.status == 200)
            usleep(600_000)
        }
        worker.signal(SIGTERM)
        usleep(300_000)
        client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        let last = try #require(client.readResponse())
        #expect(last.status == 200 && last.header("connection") == "close")
        #expect(client.isClosedByServer())
        #expect(worker.waitForExit() == 0)
    }

    @Test func maxRequestsDrainsAndExitsZero() throws {
        let worker = try WorkerProcess(arguments: ["--max-requests", "3"])
        for _ in 0..<3 { #expect(try RawClient.get(port: worker.port, "/")?.status == 200) }
        #expect(worker.waitForExit() == 0)
        #expect(worker.log.contains("max_requests"))
    }

    @Test func workerConnectionsCapLeavesNewConnectionsInTheBacklog() throws {
        let worker = try WorkerProcess(arguments: ["--worker-connections", "2", "--keep-alive", "30"])
        let first = try RawClient(port: worker.port)
        let second = try RawClient(port: worker.port)
        for client in [first, second] {
            client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(client.readResponse()?.status == 200)
        }
        let third = try RawClient(port: worker.port)  // completes in the kernel's backlog
        third.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        var ready = pollfd(fd: third.fd, events: Int16(POLLIN), revents: 0)
        #expect(poll(&ready, 1, 700) == 0, "not served while the worker is at its cap")
        first.send("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        #expect(first.readResponse()?.status == 200)
        #expect(third.readResponse()?.status == 200, "served once a slot frees up")
    }

    @Test func accessLogUsesGunicornFormatAndUsr1Reopens() throws {
        let dir = TemporaryDirectory()
        let log = dir.file("access.log")
        let worker = try WorkerProcess(arguments: ["--access-logfile", log, "--access-logformat", "%(h)s %(t)s %(U)s %(q)s"])
        #expect(try RawClient.get(port: worker.port, "/caf%C3%A9/x?a=1&b=2")?.status == 404 || true)
        #expect(try RawClient.get(port: worker.port, "/plain")?.status != nil)
        #expect(eventually { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").count == 2 })
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let pattern = #/^127\.0\.0\.1 \[\d\d/[A-Z][a-z][a-z]/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] /#
        #expect(lines[0].contains(pattern))
        #expect(lines[0].hasSuffix(" /café/x a=1&b=2"))
        #expect(lines[1].hasSuffix(" /plain "), "an empty query renders empty, not '-'")

        try FileManager.default.moveItem(atPath: log, toPath: dir.file("access.log.1"))
        worker.signal(SIGUSR1)
        #expect(eventually { worker.log.contains("reopening log files") })
        _ = try RawClient.get(port: worker.port, "/after-rotate")
        #expect(eventually { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("/after-rotate") })
        #expect(!(try String(contentsOfFile: dir.file("access.log.1"), encoding: .utf8)).contains("/after-rotate"))
    }

    @Test func manyWorkersAppendToOneAccessLogWithoutTornLines() throws {
        let dir = TemporaryDirectory()
        let log = dir.file("shared.log")
        let format = "%(h)s %(t)s \"%(r)s\" %(s)s %(b)s %({x-tag}i)s"
        let workers = try (0..<4).map { _ in
            try WorkerProcess(arguments: ["--access-logfile", log, "--access-logformat", format])
        }
        let perClient = 300
        DispatchQueue.concurrentPerform(iterations: workers.count * 2) { i in
            let worker = workers[i % workers.count]
            guard let client = try? RawClient(port: worker.port) else { return }
            for n in 0..<perClient {
                let tag = "c\(i)-\(n)-" + String(repeating: "z", count: 200)
                client.send("GET /p\(n) HTTP/1.1\r\nHost: t\r\nX-Tag: \(tag)\r\n\r\n")
                _ = client.readResponse()
            }
        }
        let expected = workers.count * 2 * perClient
        #expect(eventually { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").count >= expected })
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == expected)
        let shape = #/^127\.0\.0\.1 \[[^\]]+\] "GET /p\d+ HTTP/1\.1" 200 \d+ c\d+-\d+-z{200}$/#
        #expect(lines.allSatisfy { $0.wholeMatch(of: shape) != nil })
    }

    @Test func notifiesReadyAndWatchdogTheSystemdWay() throws {
        let dir = TemporaryDirectory()
        let socketPath = dir.file("notify.sock")
        let receiver = try NotifyListener(path: socketPath)
        let worker = try WorkerProcess(environment: ["NOTIFY_SOCKET": socketPath, "WATCHDOG_USEC": "200000"])
        var messages: [NotifyListener.Message] = []
        func drain() { while let message = receiver.receive() { messages.append(message) } }
        #expect(eventually {
            drain()
            return messages.contains { $0.value("READY") == "1" } && messages.filter { $0.value("WATCHDOG") == "1" }.count >= 3
        })
        worker.signal(SIGTERM)
        #expect(worker.waitForExit() == 0)
        drain()
        #expect(messages.contains { $0.value("STOPPING") == "1" })
    }
}

import Foundation
import Testing

/// Each way a request's body cannot be read or its client leaves, in both of corral-python's modes
/// (threads, and gevent, the article's worker_class): the request ends at once, the app's
/// iterable is closed, the worker serves on and counts it toward max_requests. The apps under
/// test (probe:leaving) return their iterable before anything fails, so its close() is owed.
@Suite(.serialized) struct WSGIClientGoneTests {
    static let modes: [[String]] = [["-k", "gthread", "--threads", "2"], ["-k", "gevent"]]

    /// How soon a request that fails must end. Working, each takes milliseconds; before the fix, a
    /// gevent request waited for `timeout` (30 s) and the worker was then killed. The margin is
    /// for a loaded machine (make test runs suites in parallel on two cores), not a speed target.
    static let promptly: TimeInterval = 5

    struct Probe {
        let worker: WorkerProcess
        let closes: TemporaryDirectory
        var closed: [String] {
            ((try? String(contentsOfFile: closes.file("closes.log"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        init(_ mode: [String], _ arguments: [String] = []) throws {
            closes = TemporaryDirectory()
            worker = try WSGIApps.worker("probe:leaving", mode + arguments, environment: ["PROBE_CLOSE_LOG": closes.file("closes.log")])
        }

        /// The worker is the same process and still serves.
        func expectServing(_ comment: Comment) throws {
            #expect(kill(worker.pid, 0) == 0, comment)
            #expect(try request(port: worker.port, "GET", "/read?check")?.text == "0", comment)
        }

        /// Sends `name`'s head and half of its 100-byte body, then leaves; close() must follow.
        func leaveHalfwayThroughTheBody(_ name: String) throws {
            let client = try RawClient(port: worker.port)
            client.send("POST /read?\(name) HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" + String(repeating: "h", count: 50))
            shutdown(client.fd, Int32(SHUT_RDWR))
            #expect(eventually(timeout: WSGIClientGoneTests.promptly) { closed.contains(name) }, "close() \(closed)\n\(worker.log)")
        }

        /// Leaves after the first byte of a streamed response that has 10 s to go; close() must follow.
        func leaveInTheMiddleOfAStream(_ name: String) throws {
            let client = try RawClient(port: worker.port)
            client.send("GET /stream?\(name) HTTP/1.1\r\nHost: t\r\n\r\n")
            var byte = [UInt8](repeating: 0, count: 1)
            #expect(recv(client.fd, &byte, 1, 0) == 1)
            shutdown(client.fd, Int32(SHUT_RDWR))
            #expect(eventually(timeout: WSGIClientGoneTests.promptly) { closed.contains(name) }, "close() \(closed)")
        }

        /// Nothing is left in flight: TERM drains at once (a request left hanging would hold the
        /// worker for graceful_timeout, 30 s, and in gevent mode be cut at `timeout`).
        func expectNothingLeftRunning() {
            worker.signal(SIGTERM)
            #expect(worker.waitForExit(timeout: 10) == 0, "\(worker.log)")
            #expect(!worker.log.contains("LoopExit"), "\(worker.log)")
        }
    }

    @Test(arguments: modes) func aBodyThatCannotBeReadIsAnsweredAtOnce(mode: [String]) throws {
        let probe = try Probe(mode, ["--limit-request-body", "1000"])
        let bodies: [(name: String, chunked: String, status: Int)] = [
            ("hex-prefix", "0x20\r\n" + String(repeating: "a", count: 32) + "\r\n0\r\n\r\n", 400),
            ("extension", "5;\u{01}\r\nhello\r\n0\r\n\r\n", 400),
            ("garbage", "5\r\nhellogarbage\r\n0\r\n\r\n", 400),
            ("over-limit", "7d0\r\n" + String(repeating: "b", count: 2000) + "\r\n0\r\n\r\n", 413),
        ]
        for body in bodies {
            let client = try RawClient(port: probe.worker.port)
            let started = Date()
            client.send("POST /read?\(body.name) HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + body.chunked)
            let response = client.readResponse()
            let elapsed = Date().timeIntervalSince(started)
            #expect(response?.status == body.status, "\(body.name): \(probe.worker.log)")
            #expect(elapsed < Self.promptly, "\(body.name) took \(elapsed) s")
            #expect(eventually(timeout: Self.promptly) { probe.closed.contains(body.name) }, "\(body.name): close() \(probe.closed)")
            try probe.expectServing("after \(body.name)")
        }
        probe.expectNothingLeftRunning()
    }

    @Test(arguments: modes) func aClientThatLeavesHalfwayThroughItsBody(mode: [String]) throws {
        let probe = try Probe(mode)
        try probe.leaveHalfwayThroughTheBody("half-body")
        try probe.expectServing("after a half body")
        probe.expectNothingLeftRunning()
    }

    @Test(arguments: modes) func aClientThatLeavesInTheMiddleOfAStreamedResponse(mode: [String]) throws {
        let probe = try Probe(mode)
        try probe.leaveInTheMiddleOfAStream("midstream")
        try probe.expectServing("after leaving mid-stream")
        #expect(!probe.worker.log.contains("[ERROR]"), "a client leaving is no error: \(probe.worker.log)")
        probe.expectNothingLeftRunning()
    }

    /// PEP 3333: no byte past the app's Content-Length; the response is whole at that length, so
    /// the connection serves on, and the log says what happened (not that the client left).
    @Test(arguments: modes) func writePastTheAppsContentLengthIsCutAtIt(mode: [String]) throws {
        let probe = try Probe(mode)
        let client = try RawClient(port: probe.worker.port)
        let started = Date()
        client.send("GET /overwrite?overwrite HTTP/1.1\r\nHost: t\r\n\r\n")
        let response = try #require(client.readResponse())
        #expect(Date().timeIntervalSince(started) < Self.promptly)
        #expect(response.header("content-length") == "4")
        #expect(response.text == "abcd")
        client.send("GET /overwrite?again HTTP/1.1\r\nHost: t\r\n\r\n")
        let next = try #require(client.readResponse())
        #expect(next.statusLine == "HTTP/1.1 200 OK", "the 5th and 6th bytes were not sent: the next response starts clean")
        #expect(eventually(timeout: Self.promptly) { probe.closed.contains("overwrite") }, "close() \(probe.closed)")
        #expect(eventually { probe.worker.log.contains("/overwrite?overwrite: the body is longer than its Content-Length (4 bytes); the rest was not sent") },
                "\(probe.worker.log)")
        #expect(!probe.worker.log.contains("went away"), "\(probe.worker.log)")
        try probe.expectServing("after writing past Content-Length")
        probe.expectNothingLeftRunning()
    }

    /// A request its client left counts toward max_requests, as gunicorn counts every request it
    /// began: the worker is recycled after that many whatever became of them.
    @Test(arguments: modes) func requestsTheClientLeftCountTowardMaxRequests(mode: [String]) throws {
        let probe = try Probe(mode, ["--max-requests", "2"])
        try probe.leaveHalfwayThroughTheBody("half")
        try probe.leaveInTheMiddleOfAStream("left")
        #expect(eventually { probe.worker.log.contains("max_requests (2) reached") }, "\(probe.worker.log)")
    }
}

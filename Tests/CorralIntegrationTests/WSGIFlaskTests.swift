import Foundation
import Testing

/// A real Flask app (tests/wsgi/flask_app.py, Flask from the test venv) served by corral-python
/// over real sockets, in both ways of running the app: Python threads and gevent.
@Suite(.serialized) struct WSGIFlaskTests {
    static let modes = [["-k", "sync"], ["-k", "gevent"]]

    @Test(arguments: modes) func routesJSONAndErrors(mode: [String]) throws {
        let worker = try WSGIApps.worker("flask_app:app", mode)
        let hello = try #require(try request(port: worker.port, "GET", "/"))
        #expect(hello.status == 200)
        #expect(hello.text == "Hello, World!")
        #expect(hello.header("content-length") == "13")
        #expect(hello.header("content-type") == "text/html; charset=utf-8")

        let json = try request(port: worker.port, "POST", "/json", headers: ["Content-Type: application/json"],
                               body: Array("{\"a\": [1, 2], \"b\": \"\u{E9}\"}".utf8))
        #expect(json?.status == 200)
        #expect((jsonObject(json)["received"] as? [String: Any])?["b"] as? String == "\u{E9}")

        let form = try request(port: worker.port, "POST", "/form", headers: ["Content-Type: application/x-www-form-urlencoded"],
                               body: Array("name=corral+wsgi&x=1".utf8))
        #expect(jsonObject(form)["name"] as? String == "corral wsgi")
        #expect(jsonObject(form)["count"] as? Int == 2)

        let redirect = try #require(try request(port: worker.port, "GET", "/go"))
        #expect(redirect.status == 302)
        #expect(redirect.header("location") == "/landing")

        let handled = try #require(try request(port: worker.port, "GET", "/teapot"))
        #expect(handled.status == 418)
        #expect(jsonObject(handled)["error"] as? String == "handled")

        let missing = try #require(try request(port: worker.port, "GET", "/no/such/page"))
        #expect(missing.status == 404)
        #expect(missing.text.contains("Not Found"))
    }

    @Test(arguments: modes) func aPipelinedResponseIsNotHeldBehindASlowOne(mode: [String]) throws {
        // Responses to pipelined requests are held to go out together, but never behind an app
        // that is still running: the loop sends what it holds before it next waits.
        let worker = try WSGIApps.worker("flask_app:app", mode)
        let client = try RawClient(port: worker.port)
        client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /hang HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(client.readResponse()?.text == "Hello, World!", "answered while /hang still runs")
    }

    @Test(arguments: modes) func uploadStreamAndFile(mode: [String]) throws {
        let worker = try WSGIApps.worker("flask_app:app", mode)
        var blob = [UInt8](repeating: 0, count: 1_500_000)
        for i in blob.indices { blob[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 13) }
        let form = multipart(file: blob, note: "big one")
        let upload = try request(port: worker.port, "POST", "/upload", headers: ["Content-Type: \(form.contentType)"], body: form.body)
        #expect(upload?.status == 200)
        #expect(jsonObject(upload)["size"] as? Int == blob.count)
        #expect(jsonObject(upload)["field"] as? String == "big one")
        let scratch = TemporaryDirectory()
        try Data(blob).write(to: URL(fileURLWithPath: scratch.file("blob")))
        let expected = shell("sha256sum \(scratch.file("blob"))").output.prefix(64)
        #expect(jsonObject(upload)["sha256"] as? String == String(expected))

        let stream = try #require(try request(port: worker.port, "GET", "/stream"))
        #expect(stream.header("transfer-encoding") == "chunked")
        #expect(stream.text == "line 0\nline 1\nline 2\nline 3\nline 4\n")

        let file = try #require(try request(port: worker.port, "GET", "/file"))
        let onDisk = try Data(contentsOf: URL(fileURLWithPath: WSGIApps.directory + "/static.txt"))
        #expect(file.status == 200)
        #expect(file.body == Array(onDisk))
        #expect(file.header("content-length") == String(onDisk.count))

        let head = try #require(try request(port: worker.port, "HEAD", "/"))
        #expect(head.status == 200)
        #expect(head.header("content-length") == "13")
    }

    @Test(arguments: modes) func exceptionIs500AndTheWorkerCarriesOn(mode: [String]) throws {
        let worker = try WSGIApps.worker("flask_app:app", mode + ["--error-logfile", "-"])
        let crash = try #require(try request(port: worker.port, "GET", "/crash"))
        #expect(crash.status == 500)
        // Flask logs the traceback through app.logger to wsgi.errors, which is the error log.
        #expect(eventually { worker.log.contains("RuntimeError: the view crashed on purpose") })
        #expect(try request(port: worker.port, "GET", "/")?.text == "Hello, World!")
    }

    @Test func environFromProxyHeadersAndRootPath() throws {
        let worker = try WSGIApps.worker("flask_app:app", ["--root-path", "/shop"])
        let client = try RawClient(port: worker.port)
        client.send("GET /shop/environ?q=1 HTTP/1.1\r\nHost: test\r\nX-Forwarded-Proto: https\r\nX_Forwarded_For: 6.6.6.6\r\n\r\n")
        let env = jsonObject(client.readResponse())
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(client.fd, $0, &length) } }
        #expect(env["REMOTE_ADDR"] as? String == "127.0.0.1")
        #expect(env["REMOTE_PORT"] as? String == String(UInt16(bigEndian: local.sin_port)))
        #expect(env["SCRIPT_NAME"] as? String == "/shop")
        #expect(env["PATH_INFO"] as? String == "/environ")
        #expect(env["QUERY_STRING"] as? String == "q=1")
        // The peer is 127.0.0.1, in forwarded_allow_ips by default: the proxy's scheme is believed.
        #expect(env["wsgi.url_scheme"] as? String == "https")
        #expect(env["url"] as? String == "https://test/shop/environ?q=1")
        #expect(env["HTTP_X_FORWARDED_FOR"] is NSNull)
        #expect(env["wsgi.multithread"] as? Bool == false)

        let strict = try WSGIApps.worker("flask_app:app", ["--forwarded-allow-ips", "10.9.9.9", "--threads", "4"])
        let untrusted = jsonObject(try request(port: strict.port, "GET", "/environ", headers: ["X-Forwarded-Proto: https"]))
        #expect(untrusted["wsgi.url_scheme"] as? String == "http")
        #expect(untrusted["wsgi.multithread"] as? Bool == true)
    }

    /// 200 requests that each sleep 2 s run at once (the app counts how many are inside the view
    /// together): 256 Python threads, or greenlets on gevent's hub.
    @Test(arguments: [["--threads", "256"], ["-k", "gevent"]]) func slowRequestsOverlap(mode: [String]) throws {
        let worker = try WSGIApps.worker("flask_app:app", mode)
        let group = DispatchGroup()
        let answered = Counter()
        for _ in 0..<200 {
            group.enter()
            Thread.detachNewThread {
                if (try? request(port: worker.port, "GET", "/sleep?s=2"))??.text == "slept" { answered.add() }
                group.leave()
            }
        }
        #expect(group.wait(timeout: .now() + 60) == .success)
        #expect(answered.value == 200)
        let most = Int(try request(port: worker.port, "GET", "/most")?.text ?? "") ?? 0
        #expect(most >= 180, "at most \(most) requests were inside the view at once")
    }

    @Test(arguments: modes) func hungRequestIsLoggedWithItsStackAndTheWorkerRecycled(mode: [String]) throws {
        let worker = try WSGIApps.worker("flask_app:app", mode + ["--timeout", "1", "--graceful-timeout", "2"])
        Thread.detachNewThread { _ = try? request(port: worker.port, "GET", "/hang") }
        #expect(eventually { worker.log.contains("has run for more than 1s (timeout)") }, "\(worker.log)")
        #expect(worker.log.contains("in hang"))
        #expect(worker.log.contains("time.sleep(3600)"))
        #expect(worker.log.contains("draining (a request ran past timeout"))
        // It drains (the hung request cannot finish), then exits within graceful_timeout.
        #expect(worker.waitForExit(timeout: 20) == 0)
    }

    /// A view that never lets go of the GIL (or of gevent's hub): the loop keeps serving its own
    /// work, the stack still reaches the log, and the worker is recycled once the view ends.
    @Test(arguments: modes) func aViewHoggingTheInterpreterIsReportedToo(mode: [String]) throws {
        let worker = try WSGIApps.worker("flask_app:app", mode + ["--timeout", "1", "--graceful-timeout", "10"])
        let client = try RawClient(port: worker.port)
        client.send("GET /spin?s=3 HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(eventually { worker.log.contains("has run for more than 1s (timeout)") }, "\(worker.log)")
        #expect(worker.log.contains("in spin"), "\(worker.log)")
        #expect(client.readResponse()?.text == "spun")
        #expect(worker.waitForExit() == 0)
    }

    @Test(arguments: modes) func termLetsTheRequestsInFlightFinish(mode: [String]) throws {
        let worker = try WSGIApps.worker("flask_app:app", mode + ["--threads", "2"])
        let client = try RawClient(port: worker.port)
        client.send("GET /sleep?s=1.5 HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(eventually { (try? request(port: worker.port, "GET", "/most"))??.text == "1" })
        worker.signal(SIGTERM)
        let response = try #require(client.readResponse())
        #expect(response.status == 200)
        #expect(response.text == "slept")
        #expect(response.header("connection") == "close")
        #expect(worker.waitForExit() == 0)
    }

    @Test(arguments: modes) func signalsBelongToTheWorkerNotToPythonOrTheAppsChildren(mode: [String]) throws {
        let worker = try WSGIApps.worker("flask_app:app", mode)
        // TERM, INT, QUIT and USR1 reach the worker's loop (corral's handler sends them on from
        // Python's threads); Python's own SIGINT handler (KeyboardInterrupt) is not installed.
        let handlers = try request(port: worker.port, "GET", "/signals")?.text ?? ""
        #expect(handlers == "SIGINT=native SIGTERM=native SIGHUP=0 SIGUSR1=native", "\(handlers)")
        // A process the app starts inherits no blocked signal: `terminate()` works on it, also
        // on a forked one that does not exec (multiprocessing).
        #expect(try request(port: worker.port, "GET", "/child-mask")?.text == "SigBlk:\t0000000000000000")
        #expect(try request(port: worker.port, "GET", "/fork-terminate")?.text == "-15")
        // And the worker still drains on TERM, whichever of its threads the kernel picks.
        worker.signal(SIGTERM)
        #expect(worker.waitForExit() == 0)
        #expect(worker.log.contains("draining (SIGTERM)"))
    }

    @Test func residentMemoryStaysFlatOver20000Requests() throws {
        let worker = try WSGIApps.worker("flask_app:app")
        let clients = (0..<4).compactMap { _ in try? RawClient(port: worker.port) }
        func serve(_ count: Int) {
            for _ in 0..<(count / clients.count) {
                for client in clients { client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n") }
                for client in clients { _ = client.readResponse() }
            }
        }
        serve(2_000)
        let warm = residentKiB(worker.pid)
        serve(18_000)
        let after = residentKiB(worker.pid)
        #expect(warm > 0)
        #expect(after - warm < 4096, "RSS grew from \(warm) KiB to \(after) KiB")
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

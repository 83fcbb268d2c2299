import Foundation
import Testing

/// PEP 3333's rules, probed with bare WSGI apps (tests/wsgi/probe.py), and app loading as gunicorn
/// does it.
@Suite(.serialized) struct WSGIProtocolTests {
    @Test func validatorSeesNoViolationAcrossRequestShapes() throws {
        let worker = try WSGIApps.worker("probe:validated")
        let body = Array("first line\nsecond line\nthird\n".utf8)
        var shapes: [(String, String, [String], [UInt8])] = [
            ("GET", "/", [], []), ("GET", "/a%20b/c?x=1&y", [], []), ("HEAD", "/", [], []),
            ("DELETE", "/thing", [], []), ("OPTIONS", "*", [], []), ("GET", "/", ["Cookie: a=1", "Cookie: b=2"], []),
            ("POST", "/form", ["Content-Type: text/plain"], body), ("PUT", "/x?readline", [], body),
            ("POST", "/x?readlines", [], body), ("POST", "/x?iterate", [], body), ("POST", "/x?sized", [], body),
        ]
        shapes.append(("PATCH", "/\u{E9}", ["X-Long: " + String(repeating: "v", count: 4000)], []))
        for (method, path, headers, payload) in shapes {
            let response = try #require(try request(port: worker.port, method, path, headers: headers, body: payload), "\(method) \(path)")
            #expect(response.status == 200, "\(method) \(path): \(response.status) \(worker.log)")
        }
        #expect(!worker.log.contains("Error handling request"), "\(worker.log)")
        #expect(!worker.log.contains("Warning"), "\(worker.log)")
    }

    @Test func inputIsAStreamThatStopsAtTheBodysEnd() throws {
        let worker = try WSGIApps.worker("probe:reader")
        let body = Array("alpha\nbravo charlie\ndelta".utf8)
        #expect(try request(port: worker.port, "POST", "/?readline", body: body)?.text == "alpha\n|bravo| charlie\n|delta")
        #expect(try request(port: worker.port, "POST", "/?readlines", body: body)?.text == "alpha\n|bravo charlie\n|delta")
        #expect(try request(port: worker.port, "POST", "/?iterate", body: body)?.text == "alpha\n|bravo charlie\n|delta")
        #expect(try request(port: worker.port, "POST", "/?sized", body: body)?.text == "alpha\nb|ravo ch|arlie\nd|elta")
        #expect(try request(port: worker.port, "POST", "/?whole", body: body)?.text == "alpha\nbravo charlie\ndelta")
        // Pipelined: the first app's read() must not swallow the second request.
        let client = try RawClient(port: worker.port)
        client.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabcPOST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nxy")
        #expect(client.readResponse()?.text == "abc")
        #expect(client.readResponse()?.text == "xy")
    }

    @Test func chunkedUploadIsReadToItsEnd() throws {
        let worker = try WSGIApps.worker("probe:reader")
        let client = try RawClient(port: worker.port)
        client.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n")
        #expect(client.readResponse()?.text == "hello, world")
    }

    @Test func continueIsSentWhenTheAppFirstReads() throws {
        let worker = try WSGIApps.worker("probe:reader")
        let client = try RawClient(port: worker.port)
        client.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        #expect(client.readResponse()?.status == 100)
        client.send("ping")
        #expect(client.readResponse()?.text == "ping")
    }

    @Test func bodyOverTheLimitIs413() throws {
        let worker = try WSGIApps.worker("probe:reader", ["--limit-request-body", "1000"])
        let big = [UInt8](repeating: 0x61, count: 2000)
        #expect(try request(port: worker.port, "POST", "/", body: big)?.status == 413)
        let client = try RawClient(port: worker.port)
        client.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" + String(repeating: "b", count: 2000) + "\r\n0\r\n\r\n")
        #expect(client.readResponse()?.status == 413)
    }

    /// Over the limit is refused on what announces it, before the body is sent, and a body sent
    /// in many small chunks is refused where it crosses the limit: nothing is buffered.
    @Test func aBodyOverTheLimitIsRefusedWithoutBufferingIt() throws {
        let worker = try WSGIApps.worker("probe:counter", ["--limit-request-body", "1048576"])
        let announced = try RawClient(port: worker.port)
        announced.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1073741824\r\n\r\n")
        #expect(announced.readResponse()?.status == 413, "1 GiB announced, none of it sent")
        let oneChunk = try RawClient(port: worker.port)
        oneChunk.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n40000000\r\n")
        #expect(oneChunk.readResponse()?.status == 413, "a 1 GiB chunk's size line alone")
        let before = residentKiB(worker.pid)
        let trickle = try RawClient(port: worker.port)
        trickle.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        let chunk = "1000\r\n" + String(repeating: "c", count: 4096) + "\r\n"
        for _ in 0..<257 { trickle.send(chunk) }   // 1 MiB + 4 KiB
        #expect(trickle.readResponse()?.status == 413)
        let within = try RawClient(port: worker.port)
        within.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in 0..<256 { within.send(chunk) }   // 1 MiB exactly
        within.send("0\r\n\r\n")
        #expect(within.readResponse()?.text == "1048576", "the limit itself is allowed")
        #expect(residentKiB(worker.pid) - before < 1024, "grew by \(residentKiB(worker.pid) - before) KiB for a refused 1 MiB body")
    }

    @Test func closeIsCalledOnEveryPath() throws {
        let closes = TemporaryDirectory()
        let log = closes.file("closes.log")
        let worker = try WSGIApps.worker("probe:tracked", environment: ["PROBE_CLOSE_LOG": log])
        func closed() -> [String] { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
        #expect(try request(port: worker.port, "GET", "/normal")?.text == "one\ntwo\n")
        #expect(try request(port: worker.port, "HEAD", "/head")?.status == 200)
        // Raised after the head went out: the connection is cut, close() still runs.
        let late = try RawClient(port: worker.port)
        late.send("GET /fail-late HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(late.readResponse() == nil)
        // The client goes away in the middle of a long streamed body.
        let gone = try RawClient(port: worker.port)
        gone.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        var byte = [UInt8](repeating: 0, count: 1)
        _ = recv(gone.fd, &byte, 1, 0)
        shutdown(gone.fd, Int32(SHUT_RDWR))
        #expect(eventually { closed().contains("slow") }, "\(closed())")
        #expect(Set(closed()).isSuperset(of: ["normal", "head", "fail-late", "slow"]), "\(closed())")
        #expect(worker.log.contains("RuntimeError: failed after the head"))
        #expect(try request(port: worker.port, "GET", "/normal")?.status == 200)
    }

    @Test func startResponseRules() throws {
        let replaced = try WSGIApps.worker("probe:exc_info_app")
        let response = try #require(try request(port: replaced.port, "GET", "/"))
        #expect(response.status == 503)
        #expect(response.text == "replaced after exc_info\n")

        let late = try WSGIApps.worker("probe:exc_info_late")
        let client = try RawClient(port: late.port)
        client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(client.readResponse() == nil, "a head already sent cannot become an error: the connection is cut")
        #expect(eventually { late.log.contains("KeyError: 'too late'") })

        try expectServerError(from: "probe:second_start_response", logging: "start_response() called a second time without exc_info")
    }

    /// corral hands no connection over, so no answer may tell a proxy in front to start tunnelling.
    @Test func noAnswerTellsAProxyToTunnel() throws {
        try expectServerError(from: "probe:switching", logging: "handler answered 101 to a request")
        let echo = try WSGIApps.worker("probe:echo")
        let client = try RawClient(port: echo.port)
        client.send("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        #expect(client.readResponse()?.status == 501)
        #expect(eventually { echo.log.contains("handler answered 200 to CONNECT") })
    }

    @Test func writeCallableAndStrictTypes() throws {
        let writer = try WSGIApps.worker("probe:writer")
        let written = try #require(try request(port: writer.port, "GET", "/"))
        #expect(written.text == "written with write()\nand returned\n")

        let injected = try WSGIApps.worker("probe:bad_header")
        let refused = try #require(try request(port: injected.port, "GET", "/"))
        #expect(refused.status == 500)
        #expect(refused.header("set-cookie") == nil)

        let hop = try WSGIApps.worker("probe:hop_by_hop")
        let client = try RawClient(port: hop.port)
        for _ in 0..<2 {   // the app's Connection: close is left out, like Keep-Alive: the connection stays
            client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try #require(client.readResponse())
            #expect(response.text == "hop")
            #expect(response.header("x-kept") == "yes")
            #expect(response.header("keep-alive") == nil && response.header("connection") == nil)
        }

        try expectServerError(from: "probe:text_body", logging: "TypeError")
    }

    @Test func aStreamedBodyKeepsTheAppsContentLength() throws {
        let worker = try WSGIApps.worker("probe:sized")
        let response = try #require(try request(port: worker.port, "GET", "/"))
        #expect(response.header("content-length") == String(65536 * 48))
        #expect(response.header("transfer-encoding") == nil)
        #expect(response.body.count == 65536 * 48)
        // An app that yields more than it declared: the body stops at the declared length, which
        // leaves the connection in step for the next request.
        let client = try RawClient(port: worker.port)
        client.send("GET /lying HTTP/1.1\r\nHost: t\r\n\r\n")
        let lying = try #require(client.readResponse())
        #expect(lying.header("content-length") == String(2 << 20))
        #expect(lying.body.count == 2 << 20)
        client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(client.readResponse()?.statusLine == "HTTP/1.1 200 OK")
    }

    /// TERM: the app's atexit handlers run, and a non-daemon thread the app started does not
    /// keep the worker from exiting (Py_FinalizeEx would wait for it).
    @Test(arguments: [["-k", "sync"], ["-k", "gevent"]]) func exitRunsAtexitHandlersAndDoesNotWaitForTheAppsThreads(mode: [String]) throws {
        let scratch = TemporaryDirectory()
        let marker = scratch.file("exited")
        let worker = try WSGIApps.worker("probe:at_exit", mode, environment: ["PROBE_EXIT_FILE": marker])
        #expect(try request(port: worker.port, "GET", "/")?.text == "registered")
        worker.signal(SIGTERM)
        #expect(worker.waitForExit(timeout: 20) == 0)
        #expect((try? String(contentsOfFile: marker, encoding: .utf8)) == "ran")
    }

    @Test func headerTextIsLatin1() throws {
        let worker = try WSGIApps.worker("probe:header_text")
        let utf8 = try #require(try request(port: worker.port, "GET", "/utf8"))
        #expect(utf8.status == 200)
        #expect(utf8.header("x-text") == "caf\u{E9}", "the UTF-8 bytes the app meant")
        for path in ["/euro", "/surrogate"] {
            #expect(try request(port: worker.port, "GET", path)?.status == 500, "\(path)")
        }
        #expect(eventually { worker.log.contains("UnicodeEncodeError") })
        #expect(try request(port: worker.port, "GET", "/utf8")?.status == 200, "the worker carries on")
        // Spaces and tabs around a value are trimmed, as gunicorn trims them (bytes on the wire).
        let client = try RawClient(port: worker.port)
        client.send("GET /padded HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        let raw = String(decoding: try #require(client.readUntilClosed()), as: UTF8.self)
        #expect(raw.contains("\r\nSet-Cookie: sessionid=abc; Path=/\r\n") && raw.contains("\r\nX-Tail: tab\r\n")
                && raw.contains("\r\nX-Plain: as is\r\n"), "\(raw)")
    }

    @Test func continueComesBeforeAHeadWrittenEarly() throws {
        let worker = try WSGIApps.worker("probe:early_write")
        let client = try RawClient(port: worker.port)
        client.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        #expect(client.readResponse()?.status == 100)
        client.send("ping")
        let response = try #require(client.readResponse())
        #expect(response.status == 200)
        #expect(response.text == "head\ngot 4")
    }

    @Test func anInterruptedReadInGeventModeLosesNothing() throws {
        let worker = try WSGIApps.worker("probe:timed_reader", ["-k", "gevent"])
        let client = try RawClient(port: worker.port)
        client.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhello")
        usleep(800_000)   // past the app's gevent.Timeout(0.3): the slow client is the point
        client.send("world")
        // The interrupted read returned nothing; what it had read stays in the stream, and the
        // piece its call was still owed reaches the next read.
        #expect(client.readResponse()?.text == "|helloworld")
        #expect(try request(port: worker.port, "POST", "/", body: Array("again".utf8))?.text == "again|")
    }

    @Test func fileWrapperSendsTheFileFromItsPosition() throws {
        let worker = try WSGIApps.worker("probe:file_wrapper")
        let response = try #require(try request(port: worker.port, "GET", "/"))
        let onDisk = try Data(contentsOf: URL(fileURLWithPath: WSGIApps.directory + "/static.txt"))
        #expect(response.body == Array(onDisk.dropFirst(10)))
        #expect(response.header("content-length") == String(onDisk.count - 10))
    }

    @Test func wsgiErrorsReachTheErrorLog() throws {
        let worker = try WSGIApps.worker("probe:errors")
        #expect(try request(port: worker.port, "GET", "/")?.text == "logged")
        #expect(eventually { worker.log.contains("[ERROR] a line for the error log") }, "\(worker.log)")
    }

    @Test func uncaughtExceptionIs500WithTracebackAndTheWorkerCarriesOn() throws {
        let worker = try expectServerError(from: "probe:tracked", path: "/raise", logging: "ValueError: raised before returning",
                                           environment: ["PROBE_CLOSE_LOG": "/dev/null"])
        #expect(worker.log.contains("Error handling request /raise"))
        #expect(try request(port: worker.port, "GET", "/normal")?.status == 200)
    }

    @Test func factoriesAndDefaultNames() throws {
        for (app, answer) in [("factories:create_app()", "hi!"), ("factories:create_app('hello', punctuation='?')", "hello?"),
                              ("factories", "default name")] {
            let worker = try WSGIApps.worker(app)
            #expect(try request(port: worker.port, "GET", "/")?.text == answer, "\(app)")
        }
    }

    @Test func pythonpathAndVirtualEnvFromTheEnvironment() throws {
        try WSGIApps.requireVirtualenv()
        let elsewhere = TemporaryDirectory()
        elsewhere.write("elsewhere_app.py", "import flask\ndef app(environ, start_response):\n    start_response('200 OK', [])\n    return [flask.__name__.encode()]\n")
        // No --virtualenv: VIRTUAL_ENV (as an activated venv sets it) is where Flask comes from.
        let worker = try WorkerProcess("corral-python", arguments: ["--pythonpath", elsewhere.path, "elsewhere_app:app"],
                                       environment: ["VIRTUAL_ENV": WSGIApps.virtualenv])
        #expect(eventually { worker.log.contains("application elsewhere_app:app loaded") }, "\(worker.log)")
        #expect(try request(port: worker.port, "GET", "/")?.text == "flask")
    }

    /// Each way an app fails to load: exit status 4 (gunicorn's) with the reason on stderr.
    @Test(arguments: [
        ("broken_import:app", "ImportError: this deploy is broken on purpose"),
        ("no_such_module:app", "ModuleNotFoundError: No module named 'no_such_module'"),
        ("factories:missing", "Failed to find attribute 'missing' in 'factories'."),
        ("factories:failing_factory()", "RuntimeError: the factory failed"),
        ("factories:not_callable", "Application object must be callable."),
        ("factories:create_app(", "Failed to parse"),
    ]) func loadFailuresExit4WithTheTraceback(app: String, message: String) throws {
        try WSGIApps.requireVirtualenv()
        let directory = TemporaryDirectory()
        let process = try TestProcess([Binaries.path("corral-python"), "--bind", "127.0.0.1:\(freePort())", "--chdir", WSGIApps.directory,
                                       "--virtualenv", WSGIApps.virtualenv, app], logPath: directory.file("log"))
        #expect(process.waitForExit() == 4)
        #expect(process.log.contains(message), "\(process.log)")
        #expect(process.log.contains("failed to load the application"))
    }

    @Test func unknownWorkerClassListsTheKnownOnes() throws {
        let directory = TemporaryDirectory()
        let process = try TestProcess([Binaries.path("corral-python"), "-k", "tornado", "probe:echo"], logPath: directory.file("log"))
        #expect(process.waitForExit() == 1)
        #expect(process.log.contains("unknown worker_class \"tornado\"; expected one of: sync, gthread"))
    }

    /// `app` answers `path` with a 500 and the error log gets `message`; the worker, for more.
    @discardableResult
    private func expectServerError(from app: String, path: String = "/", logging message: String,
                                   environment: [String: String] = [:]) throws -> WorkerProcess {
        let worker = try WSGIApps.worker(app, environment: environment)
        #expect(try request(port: worker.port, "GET", path)?.status == 500, "\(app) \(path)")
        #expect(eventually { worker.log.contains(message) }, "\(worker.log)")
        return worker
    }
}

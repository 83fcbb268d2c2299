import Foundation
import Testing

/// worker_class = "asgi": ASGI apps (a real FastAPI app, bare ASGI 3 and ASGI 2 apps) served by
/// corral-python on an asyncio loop, with lifespan; an app of the other interface refused at load.
@Suite(.serialized) struct ASGITests {
    private var directory: String { WSGIApps.repository.appendingPathComponent("tests/asgi").path }

    private func corrald(_ app: String, _ arguments: [String] = [], workers: Int = 1, environment: [String: String] = [:]) throws -> CorraldProcess {
        try WSGIApps.requireVirtualenv()
        return try CorraldProcess(["-w", String(workers), "-k", "asgi", "--chdir", directory, "--virtualenv", WSGIApps.virtualenv]
                                  + arguments + [app], environment: environment)
    }

    private func contents(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    @Test func aFastAPIAppWithLifespan() throws {
        let scratch = TemporaryDirectory()
        let events = scratch.file("events")
        let daemon = try corrald("fastapi_app:app", workers: 2, environment: ["ASGI_EVENTS": events])
        #expect(daemon.waitUntilServing(workers: 2), "\(daemon.log)")
        // Lifespan startup ran in each worker before it served, and its state reaches requests.
        #expect(eventually { daemon.log.contains("all 2 workers of generation 1 ready") })
        for pid in daemon.workers { #expect(contents(events).contains("startup \(pid)\n"), "\(contents(events))") }
        #expect(daemon.log.contains("worker_class asgi: an ASGI app, one task per request on an asyncio loop"))
        #expect(try request(port: daemon.port, "GET", "/")?.text == "{\"hello\":\"world\"}")

        // Validation (pydantic): the body read through receive().
        let item = try request(port: daemon.port, "POST", "/items", headers: ["Content-Type: application/json"],
                               body: Array("{\"name\": \"tea\", \"price\": 2.5}".utf8))
        #expect(item?.status == 200 && jsonObject(item)["taxed"] as? Double == 3.0, "\(item?.text ?? "no answer")")
        let invalid = try request(port: daemon.port, "POST", "/items", headers: ["Content-Type: application/json"],
                                  body: Array("{\"name\": \"tea\"}".utf8))
        #expect(invalid?.status == 422 && invalid?.text.contains("Field required") == true, "\(invalid?.text ?? "no answer")")
        // A streamed body, chunked; a HEAD gets the head only.
        let stream = try request(port: daemon.port, "GET", "/stream")
        #expect(stream?.text == (0..<5).map { "piece \($0)\n" }.joined() && stream?.header("transfer-encoding") == "chunked")
        #expect(try request(port: daemon.port, "HEAD", "/")?.body.isEmpty == true)
        // The app's exception handler; an HTTPException; a crash is a 500 with the traceback logged,
        // and the worker serves on.
        #expect(try request(port: daemon.port, "GET", "/teapot")?.status == 418)
        #expect(try request(port: daemon.port, "GET", "/missing")?.text == "{\"detail\":\"no such thing\"}")
        #expect(try request(port: daemon.port, "GET", "/crash")?.status == 500)
        #expect(eventually { daemon.log.contains("RuntimeError: the view crashed on purpose") }, "\(daemon.log)")
        #expect(daemon.log.contains("Error handling request /crash"))
        // A plain def route (FastAPI's thread pool) and a background task after the response.
        #expect(try request(port: daemon.port, "GET", "/block")?.text == "{\"sync\":true}")
        #expect(try request(port: daemon.port, "GET", "/background")?.status == 200)
        #expect(eventually { contents(events).contains("background ran\n") })

        // Lifespan shutdown runs when the workers stop.
        let workers = daemon.workers
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0, "\(daemon.log)")
        for pid in workers { #expect(contents(events).contains("shutdown \(pid)\n"), "\(contents(events))") }
    }

    /// Django's get_asgi_application: an async view, and the admin's login through its CSRF flow
    /// on sqlite; Django raises on the lifespan scope, so it is served without lifespan.
    @Test func djangoUnderASGI() throws {
        try WSGIApps.requireVirtualenv()
        let scratch = TemporaryDirectory()
        let database = scratch.file("db.sqlite3")
        let python = "DJANGO_SETTINGS_MODULE=django_site.settings DJANGO_DATABASE=\(database) \(WSGIApps.virtualenv)/bin/python"
        let prepared = shell("cd \(WSGIApps.directory) && \(python) -m django migrate --noinput && \(python) -c "
                             + "\"import django; django.setup(); from django.contrib.auth.models import User; "
                             + "User.objects.create_superuser('admin', 'admin@example.com', 'corral-secret')\"")
        #expect(prepared.status == 0, "\(prepared.output)")
        let daemon = try CorraldProcess(["-w", "1", "-k", "asgi", "--chdir", WSGIApps.directory, "--virtualenv", WSGIApps.virtualenv,
                                         "django_site.asgi:application"], environment: ["DJANGO_DATABASE": database])
        #expect(eventually { daemon.log.contains("all 1 workers of generation 1 ready") }, "\(daemon.log)")
        #expect(daemon.log.contains("asgi: the app does not support lifespan (it raised ValueError"), "\(daemon.log)")
        #expect(try request(port: daemon.port, "GET", "/async/")?.text == "{\"async\": true, \"path\": \"/async/\"}")

        func cookie(_ response: HTTPResponse?, _ name: String) -> String? {
            response?.headers.lazy.filter { $0.0.lowercased() == "set-cookie" && $0.1.hasPrefix(name + "=") }
                .map { String($0.1.dropFirst(name.count + 1).prefix { $0 != ";" }) }.first
        }
        let form = try request(port: daemon.port, "GET", "/admin/login/")
        let csrfCookie = try #require(cookie(form, "csrftoken"), "\(form?.headers ?? [])")
        let page = form?.text ?? ""
        let marker = "name=\"csrfmiddlewaretoken\" value=\""
        let token = try #require(page.range(of: marker).map { String(page[$0.upperBound...].prefix { $0 != "\"" }) })
        let login = try request(port: daemon.port, "POST", "/admin/login/?next=/admin/",
                                headers: ["Cookie: csrftoken=\(csrfCookie)", "Content-Type: application/x-www-form-urlencoded"],
                                body: Array("csrfmiddlewaretoken=\(token)&username=admin&password=corral-secret&next=%2Fadmin%2F".utf8))
        #expect(login?.status == 302 && login?.header("location") == "/admin/",
                "\(login?.statusLine ?? "no answer") \(login?.text.prefix(300) ?? "")\n\(daemon.log)")
        let session = try #require(cookie(login, "sessionid"), "\(login?.headers ?? [])")
        let admin = try request(port: daemon.port, "GET", "/admin/", headers: ["Cookie: csrftoken=\(csrfCookie); sessionid=\(session)"])
        #expect(admin?.status == 200 && admin?.text.contains("Site administration") == true, "\(admin?.statusLine ?? "no answer")")
    }

    /// Django serves no WebSockets itself; Django Channels does, beside Django's HTTP app: its
    /// synchronous consumer runs in asyncio's executor threads, and the admin still answers.
    @Test func djangoChannelsWebSocket() throws {
        try WSGIApps.requireVirtualenv()
        let scratch = TemporaryDirectory()
        let daemon = try CorraldProcess(["-w", "1", "-k", "asgi", "--chdir", WSGIApps.directory, "--virtualenv", WSGIApps.virtualenv,
                                         "django_site.channels_asgi:application"],
                                        environment: ["DJANGO_DATABASE": scratch.file("db.sqlite3")])
        #expect(eventually { daemon.log.contains("all 1 workers of generation 1 ready") }, "\(daemon.log)")
        let client = WSGIApps.repository.appendingPathComponent("tests/asgi/ws_client.py").path
        let heard = shell("\(WSGIApps.virtualenv)/bin/python \(client) converse ws://127.0.0.1:\(daemon.port)/ws/echo/ one two 2>&1")
        #expect(heard.output == "reply django channels: one\nreply django channels: two\nclosed by server 4000\n",
                "\(heard.output)\n\(daemon.log)")
        #expect(try request(port: daemon.port, "GET", "/async/")?.text == "{\"async\": true, \"path\": \"/async/\"}")
        #expect(try request(port: daemon.port, "GET", "/admin/login/")?.status == 200)
    }

    /// A reload under load: the new workers run their startup before they take requests, the old
    /// ones their shutdown after they drained, and no request fails.
    @Test func aReloadUnderLoadFailsNoRequest() throws {
        let scratch = TemporaryDirectory()
        let events = scratch.file("events")
        let daemon = try corrald("fastapi_app:app", workers: 2, environment: ["ASGI_EVENTS": events])
        #expect(daemon.waitUntilServing(workers: 2), "\(daemon.log)")
        let before = daemon.workers
        let load = LoadClients(port: daemon.port, clients: 4)
        daemon.signal(SIGHUP)
        #expect(eventually { daemon.log.contains("reload done") && daemon.workers.count == 2 && daemon.workers.isDisjoint(with: before) },
                "\(daemon.log)")
        let result = load.stop()
        #expect(result.failures == 0 && result.responses > 0, "\(result)")
        for pid in before { #expect(eventually { contents(events).contains("shutdown \(pid)\n") }, "\(contents(events))") }
    }

    /// Starlette on its own (lifespan state, a body streamed in, a body streamed out) and Quart
    /// (before_serving through lifespan, a JSON body).
    @Test func starletteAndQuart() throws {
        let starlette = try corrald("starlette_app:app")
        #expect(starlette.waitUntilServing(workers: 1), "\(starlette.log)")
        #expect(jsonObject(try request(port: starlette.port, "GET", "/"))["greeting"] as? String == "hello from lifespan")
        let upload = try request(port: starlette.port, "POST", "/upload", body: [UInt8](repeating: 7, count: 1_000_000))
        #expect(jsonObject(upload)["size"] as? Int == 1_000_000, "\(upload?.text ?? "no answer")")
        #expect(try request(port: starlette.port, "GET", "/numbers")?.text == "0\n1\n2\n")

        let quart = try corrald("quart_app:app")
        #expect(quart.waitUntilServing(workers: 1), "\(quart.log)")
        #expect(try request(port: quart.port, "GET", "/")?.text == "Hello from Quart")
        let echoed = jsonObject(try request(port: quart.port, "POST", "/echo", headers: ["Content-Type: application/json"],
                                            body: Array("{\"a\": [1, 2]}".utf8)))
        #expect((echoed["received"] as? [String: Any])?["a"] as? [Int] == [1, 2], "\(echoed)")
        #expect(echoed["started"] as? Int == quart.workers.first.map(Int.init), "before_serving ran in the worker: \(echoed)")
    }

    /// The scope as asgiref's spec says, where servers commonly get it wrong.
    @Test func theScope() throws {
        let daemon = try corrald("fastapi_app:app", ["--root-path", "/api"])
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        let answer = jsonObject(try request(port: daemon.port, "GET", "/api/sc%6Fpe?a=%20b&c",
                                            headers: ["X-Repeated: one", "x-repeated: two", "X_Underscore: kept"]))
        #expect(answer["http_version"] as? String == "1.1" && answer["method"] as? String == "GET" && answer["scheme"] as? String == "http")
        #expect(answer["path"] as? String == "/api/scope", "decoded, root_path included: \(answer)")
        #expect(answer["raw_path"] as? String == "/api/sc%6Fpe", "as sent")
        #expect(answer["query_string"] as? String == "a=%20b&c")
        #expect(answer["root_path"] as? String == "/api")
        let headers = (answer["headers"] as? [[String]]) ?? []
        #expect(headers == [["host", "test"], ["x-repeated", "one"], ["x-repeated", "two"], ["x_underscore", "kept"]],
                "lowercased, in order, repeats kept: \(headers)")
        let client = (answer["client"] as? [Any]) ?? []
        #expect(client.first as? String == "127.0.0.1" && client.last is Int, "ports are numbers: \(client)")
        #expect((answer["server"] as? [Any])?.last as? Int == Int(daemon.port))
        #expect(answer["state"] as? String == "pool-\(daemon.workers.first ?? 0)", "a copy of lifespan's state")
        #expect((answer["asgi"] as? [String: String]) == ["version": "3.0", "spec_version": "2.4"])
        // Behind a proxy that strips the prefix, the path still includes root_path (as uvicorn).
        #expect(jsonObject(try request(port: daemon.port, "GET", "/scope"))["path"] as? String == "/api/scope")
    }

    /// Bare apps: ASGI 2, a body read in pieces, no lifespan support, uvicorn's worker names.
    @Test func bareAppsAndUvicornsWorkerNames() throws {
        let daemon = try corrald("raw_apps:echo", ["-k", "uvicorn.workers.UvicornWorker"])
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        #expect(daemon.log.contains("worker_class uvicorn.workers.UvicornWorker: served as asgi"), "\(daemon.log)")
        #expect(daemon.log.contains("asgi: the app does not support lifespan (it raised RuntimeError: no lifespan here); serving without it"),
                "\(daemon.log)")
        let body = [UInt8](repeating: 0x61, count: 300_000)
        let echoed = try request(port: daemon.port, "POST", "/", body: body)
        #expect(echoed?.body == body)
        #expect(Int(echoed?.header("x-pieces") ?? "") ?? 0 > 1, "read in pieces as they arrive")

        let legacy = try corrald("raw_apps:Legacy")
        #expect(legacy.waitUntilServing(workers: 1), "\(legacy.log)")
        #expect(try request(port: legacy.port, "GET", "/")?.text == "asgi2")
    }

    /// One task reads the body while another streams the response: each gets its own replies.
    @Test func receiveAndSendFromTwoTasks() throws {
        let daemon = try corrald("raw_apps:duplex")
        #expect(eventually { daemon.log.contains("all 1 workers of generation 1 ready") }, "\(daemon.log)")
        for size in [0, 10, 3_000_000] {
            let answer = try request(port: daemon.port, "POST", "/", body: [UInt8](repeating: 1, count: size))
            #expect(answer?.status == 200 && answer?.text.hasSuffix("\nread \(size) bytes\n") == true,
                    "\(size): \(answer?.text.suffix(60) ?? "no answer")")
        }
    }

    /// Messages out of order or malformed are the app's error: a 500 and the reason logged.
    @Test func misusesAreRefused() throws {
        let daemon = try corrald("raw_apps:misuse")
        // (It answers / with nothing either, so readiness is read from the log.)
        #expect(eventually { daemon.log.contains("all 1 workers of generation 1 ready") }, "\(daemon.log)")
        for (path, reason) in [("/body-first", "RuntimeError: http.response.body before http.response.start"),
                               ("/bad-status", "ValueError: http.response.start needs an int status from 100 to 599, got '200'"),
                               ("/nothing", "the app returned without a response to /nothing"),
                               ("/split-header", #"ValueError: invalid header (b'x-split', b'a\r\nSet-Cookie: evil=1')"#),
                               ("/str-header", "TypeError: ASGI header names and values must be bytes, got 'x-text'")] {
            #expect(try request(port: daemon.port, "GET", path)?.status == 500, "\(path)")
            #expect(eventually { daemon.log.contains(reason) }, "\(reason): \(daemon.log)")
        }
        let client = try RawClient(port: daemon.port)
        for _ in 0..<2 {   // the app's Connection: close is left out like Keep-Alive: the connection stays
            client.send("GET /trimmed HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = client.readResponse()
            #expect(response?.header("x-padded") == "value" && response?.header("keep-alive") == nil
                    && response?.header("connection") == nil && response?.text == "trimmed", "\(String(describing: response))")
        }
        #expect(try request(port: daemon.port, "GET", "/after-end")?.status == 204)
        #expect(eventually { daemon.log.contains("send after the end raised: ASGI message 'http.response.body' sent after the response ended") },
                "\(daemon.log)")
    }

    /// Lifespan startup that fails: a first start exits 1 with the traceback; a reload fails
    /// while the old workers serve on.
    @Test func aFailingStartup() throws {
        let scratch = TemporaryDirectory()
        let flag = scratch.file("fail")
        scratch.write("fail", "")
        let failing = try corrald("fastapi_app:app", environment: ["ASGI_STARTUP_FAILS_IF": flag])
        #expect(failing.waitForExit() == 1, "\(failing.log)")
        #expect(failing.log.contains("RuntimeError: the database is not there (startup fails on purpose)"), "\(failing.log)")

        unlink(flag)
        let daemon = try corrald("fastapi_app:app", environment: ["ASGI_STARTUP_FAILS_IF": flag])
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        let serving = daemon.workers
        scratch.write("fail", "")
        daemon.signal(SIGHUP)
        #expect(eventually { daemon.log.contains("reload failed") || daemon.log.contains("failed: worker") }, "\(daemon.log)")
        #expect(daemon.workers == serving, "the old workers serve on")
        #expect(try request(port: daemon.port, "GET", "/")?.status == 200)
    }

    /// asgi_lifespan = "off" never calls it; asgi_loop = "asyncio" (as auto) has the worker's loop
    /// thread drive asyncio; "uvloop" runs uvloop on a thread of its own, and is refused where
    /// the venv has no uvloop.
    @Test func loopAndLifespanSettings() throws {
        let scratch = TemporaryDirectory()
        let events = scratch.file("events")
        let daemon = try corrald("fastapi_app:app", ["--asgi-lifespan", "off", "--asgi-loop", "asyncio"], environment: ["ASGI_EVENTS": events])
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        #expect(daemon.log.contains("asgi: asyncio event loop driven by the worker's loop thread, lifespan off"), "\(daemon.log)")
        #expect(try request(port: daemon.port, "GET", "/background")?.status == 200)
        #expect(eventually { contents(events).contains("background ran") })
        #expect(!contents(events).contains("startup"), "\(contents(events))")
        let uvloop = try corrald("websocket_apps:echo", ["--asgi-loop", "uvloop"])
        #expect(uvloop.waitUntilServing(workers: 1), "\(uvloop.log)")
        #expect(uvloop.log.contains("asgi: uvloop event loop on its own thread, lifespan auto"), "\(uvloop.log)")
        #expect(try request(port: uvloop.port, "GET", "/")?.text == "plain http")
        let echo = shell("cd \(shellQuoted(directory)) && \(WSGIApps.virtualenv)/bin/python ws_client.py text ws://127.0.0.1:\(uvloop.port)/ corral 2>&1")
        #expect(echo.output.contains("reply corral"), "\(echo.output)")
        // A venv without uvloop (and without anything else: the bare app needs nothing).
        let bare = scratch.file("bare-venv")
        #expect(shell("/usr/bin/python3 -m venv --without-pip \(bare)").status == 0)
        let missing = try CorraldProcess(["-w", "1", "-k", "asgi", "--chdir", directory, "--virtualenv", bare, "--asgi-loop", "uvloop", "websocket_apps:echo"])
        #expect(missing.waitForExit() == 1)
        #expect(missing.log.contains("asgi_loop = \"uvloop\", but uvloop is not installed in the app's environment"), "\(missing.log)")
        let wrong = shell("\(Binaries.path("corrald")) --asgi-lifespan sometimes --check-config 2>&1")
        #expect(wrong.status == 1 && wrong.output.contains("asgi_lifespan: expected auto, on or off, got \"sometimes\""), "\(wrong.output)")
    }

    /// Starlette's FileResponse takes the pathsend extension: the file goes out with sendfile.
    @Test func fileResponsesAreSentWithSendfile() throws {
        let scratch = TemporaryDirectory()
        let content = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        _ = FileManager.default.createFile(atPath: scratch.file("blob.bin"), contents: Data(content))
        let daemon = try corrald("fastapi_app:app")
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        let worker = try #require(daemon.workers.first)
        let client = try RawClient(port: daemon.port)
        let trace = try SyscallTrace(pid: worker)
        client.send("GET /file?path=\(scratch.file("blob.bin")) HTTP/1.1\r\nHost: t\r\n\r\n")
        let answer = client.readResponse()
        let calls = trace.stop()
        #expect(answer?.status == 200 && answer?.body == content)
        #expect(calls.contains { $0.contains("sendfile(") }, "\(calls.prefix(5))")
    }

    /// zerocopysend: part of a file the app has open, from an offset.
    @Test func zerocopysendSendsPartOfAnOpenFile() throws {
        let scratch = TemporaryDirectory()
        scratch.write("letters.txt", "0123456789abcdefghij")
        let daemon = try corrald("raw_apps:zerocopy", environment: ["ZEROCOPY_FILE": scratch.file("letters.txt")])
        #expect(eventually { daemon.log.contains("all 1 workers of generation 1 ready") }, "\(daemon.log)")
        #expect(try request(port: daemon.port, "GET", "/")?.text == "56789abcde")
        #expect(try request(port: daemon.port, "HEAD", "/")?.status == 200)
    }

    /// A client that leaves mid-stream: the app's next send() raises an OSError and receive()
    /// gives http.disconnect; what a framework raises for it (Starlette's ClientDisconnect) is not
    /// logged as the app's error, and the worker serves on.
    @Test(arguments: ["raw_apps:endless", "fastapi_app:app"])
    func aClientLeavingMidStream(_ app: String) throws {
        let scratch = TemporaryDirectory()
        let events = scratch.file("events")
        let daemon = try corrald(app, environment: ["ASGI_EVENTS": events])
        #expect(eventually { daemon.log.contains("all 1 workers of generation 1 ready") }, "\(daemon.log)")
        do {
            let client = try RawClient(port: daemon.port)
            client.send("GET /endless HTTP/1.1\r\nHost: t\r\n\r\n")
            var buffer = [UInt8](repeating: 0, count: 65536)
            #expect(recv(client.fd, &buffer, buffer.count, 0) > 0)
        }   // closed here
        #expect(eventually { daemon.log.contains("response to /endless cut short after") }, "\(daemon.log)")
        if app.hasPrefix("raw_apps") {
            #expect(eventually { contents(events).contains("send raised ClientGone (an OSError) after") }, "\(contents(events))")
            #expect(contents(events).contains("receive() then gave http.disconnect"), "\(contents(events))")
        } else {
            #expect(try request(port: daemon.port, "GET", "/")?.status == 200, "the worker serves on")
        }
        #expect(!daemon.log.contains("Error handling request /endless"), "\(daemon.log)")
    }

    /// Requests that await overlap: 1,000 of them sleeping a second each end in seconds, not
    /// in the quarter hour they would take one after another.
    @Test func awaitingRequestsOverlap() throws {
        let daemon = try corrald("fastapi_app:app", ["--worker-connections", "1200"])
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        let started = Date()
        let clients = try (0..<1000).map { _ in try RawClient(port: daemon.port) }
        for client in clients { client.send("GET /sleep?s=1 HTTP/1.1\r\nHost: test\r\n\r\n") }
        let answered = clients.filter { $0.readResponse()?.status == 200 }.count
        #expect(answered == 1000)
        #expect(Date().timeIntervalSince(started) < 60, "\(Date().timeIntervalSince(started)) s")
    }

    /// A coroutine that blocks the loop (a sync call in async def) is logged with its Python
    /// stack past `timeout` (by the worker's own check, or at corrald's SIGABRT for the missed
    /// heartbeat, whichever comes first), and the worker is recycled.
    @Test func aBlockingCoroutineIsRecycled() throws {
        let daemon = try corrald("fastapi_app:app", ["-t", "1"])
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        let first = daemon.workers
        Thread.detachNewThread { _ = try? request(port: daemon.port, "GET", "/blocking?s=4") }
        #expect(eventually { daemon.log.contains("request /blocking has run for more than 1s (timeout); its stack:") }, "\(daemon.log)")
        #expect(daemon.log.contains("in blocking"), "the blocking code's frame: \(daemon.log)")
        #expect(eventually { daemon.workers.count == 1 && daemon.workers.isDisjoint(with: first) }, "\(daemon.log)")
    }

    /// A client that leaves while the app works with nothing sent yet is noticed at once: the
    /// app's receive() gets http.disconnect; an app that does not listen has its task cancelled
    /// after asgi_disconnect_grace_period. Neither is logged as the app's error.
    @Test func aClientThatLeavesWhileTheAppWorks() throws {
        let scratch = TemporaryDirectory()
        let events = scratch.file("events")
        let daemon = try corrald("raw_apps:patient", ["--asgi-disconnect-grace-period", "0.5"], environment: ["ASGI_EVENTS": events])
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        func heard() -> String { (try? String(contentsOfFile: events, encoding: .utf8)) ?? "" }
        for path in ["/listen", "/ignore"] {
            let client = try RawClient(port: daemon.port)
            client.send("GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n")
            Thread.sleep(forTimeInterval: 0.3)   // the app is waiting by now
            shutdown(client.fd, Int32(SHUT_RDWR))
        }
        #expect(eventually { heard().contains("listen got http.disconnect\n") }, "\(heard())\n\(daemon.log)")
        #expect(eventually { heard().contains("ignore cancelled\n") }, "\(heard())\n\(daemon.log)")
        #expect(!daemon.log.contains("Error handling request"), "\(daemon.log)")
        // A request whose client stays gets its answer as before.
        #expect(try request(port: daemon.port, "GET", "/other")?.text == "ok")
    }

    /// http.response.early_hint: a 103 with the Links before the response (not to an HTTP/1.0
    /// client); http.response.trailers: the fields after the last chunk, for a client that sent
    /// `TE: trailers`, and nothing for one that did not.
    @Test func earlyHintsAndTrailers() throws {
        let daemon = try corrald("raw_apps:hints")
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        func exchange(_ request: String) throws -> String {
            let client = try RawClient(port: daemon.port)
            client.send(request)
            return String(decoding: client.readUntilClosed() ?? [], as: UTF8.self)
        }
        let hinted = try exchange("GET /hinted HTTP/1.1\r\nHost: t\r\nTE: trailers\r\nConnection: close\r\n\r\n")
        #expect(hinted.hasPrefix("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n"
                                 + "Link: </app.js>; rel=preload; as=script\r\n\r\nHTTP/1.1 200 OK\r\n"), "\(hinted)")
        #expect(hinted.contains("Transfer-Encoding: chunked\r\n"), "\(hinted)")
        #expect(hinted.hasSuffix("7\r\nhinted \r\n4\r\nbody\r\n0\r\nx-checksum: c0ffee\r\n\r\n"), "\(hinted)")
        let plain = try exchange("GET /hinted HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        #expect(plain.hasSuffix("4\r\nbody\r\n0\r\n\r\n") && !plain.contains("c0ffee"), "\(plain)")
        let old = try exchange("GET /hinted HTTP/1.0\r\nHost: t\r\n\r\n")
        #expect(old.hasPrefix("HTTP/1.0 200 OK\r\n") && old.hasSuffix("hinted body"), "\(old)")
    }

    /// An app of the other interface is refused at load and by --check-config, naming the class.
    @Test func theWrongInterfaceIsRefused() throws {
        try WSGIApps.requireVirtualenv()
        let corrald = Binaries.path("corrald")
        let asgiAsWSGI = shell("\(corrald) --chdir \(directory) --virtualenv \(WSGIApps.virtualenv) --check-config fastapi_app:app 2>&1")
        #expect(asgiAsWSGI.status == 1)
        #expect(asgiAsWSGI.output.contains("fastapi_app:app is an ASGI application (ASGI3); serve it with worker_class = \"asgi\""),
                "\(asgiAsWSGI.output)")
        let wsgiAsASGI = shell("\(corrald) -k asgi --chdir \(WSGIApps.directory) --virtualenv \(WSGIApps.virtualenv) --check-config flask_app:app 2>&1")
        #expect(wsgiAsASGI.status == 1)
        #expect(wsgiAsASGI.output.contains("flask_app:app is a WSGI application (a plain callable, not a coroutine function); serve it with worker_class = \"sync\""),
                "\(wsgiAsASGI.output)")
        // The check imports the app; it does not run its startup (no database needed to check).
        let scratch = TemporaryDirectory()
        scratch.write("fail", "")
        let check = shell("ASGI_STARTUP_FAILS_IF=\(scratch.file("fail")) \(corrald) -k asgi --chdir \(directory) --virtualenv \(WSGIApps.virtualenv) --check-config fastapi_app:app 2>&1")
        #expect(check.status == 0, "\(check.output)")
    }
}

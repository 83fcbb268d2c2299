import Foundation
import Testing

/// HTTP/2 over TLS (`http_protocols = "h2,h1"`): ALPN, static files and apps through the same
/// handler, the header policy HTTP/1.1 has, flow control as back-pressure, and the limits, with
/// real clients (curl --http2, nghttp, h2load) and python's h2 sending frames itself.
@Suite(.serialized) final class HTTP2Tests {
    let root = TemporaryDirectory()
    let certificates: TestCertificates

    init() throws {
        certificates = try TestCertificates()
        root.write("hello.txt", "hello, world!\n")
        let large = (0..<2_000_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 11) }
        FileManager.default.createFile(atPath: root.file("large.bin"), contents: Data(large))
    }

    private var h2Flags: [String] { certificates.serverFlags + ["--http-protocols", "h2,h1"] }

    /// tests/tls/h2_client.py's `scenario` against `port`: its lines.
    private func h2(_ scenario: String, _ port: UInt16, _ arguments: String...) -> [String] {
        let script = WSGIApps.repository.appendingPathComponent("tests/tls/h2_client.py").path
        let run = shell("\(WSGIApps.virtualenv)/bin/python3 \(shellQuoted(script)) \(scenario) \(port) \(shellQuoted(certificates.ca)) \(arguments.joined(separator: " "))")
        return run.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    @Test func staticFilesOverHTTP2WithCurlNghttpAndH2load() throws {
        let log = root.file("access.log")
        let worker = try WorkerProcess(arguments: ["--root", root.path, "--access-logfile", log] + h2Flags)
        let small = certificates.curl(worker.port, "/hello.txt", "-v --http2")
        #expect(small.output.contains("ALPN: server accepted h2"), "\(small.output)")
        #expect(small.output.contains("< HTTP/2 200"))
        #expect(small.output.contains("hello, world!"))
        let copy = root.file("copy.bin")
        #expect(certificates.curl(worker.port, "/large.bin", "--http2 -o \(shellQuoted(copy))").status == 0)
        #expect(FileManager.default.contentsEqual(atPath: copy, andPath: root.file("large.bin")))
        #expect(certificates.curl(worker.port, "/missing", "--http2 -o /dev/null -w '%{http_code}'").output == "404")
        // Many streams at once on one connection.
        let nghttp = shell("nghttp -n -s -m 20 https://127.0.0.1:\(worker.port)/hello.txt")
        #expect(nghttp.status == 0, "\(nghttp.output)")
        let load = shell("h2load -n 2000 -c 4 -m 32 https://127.0.0.1:\(worker.port)/hello.txt")
        #expect(load.output.contains("2000 succeeded, 0 failed, 0 errored"), "\(load.output)")
        #expect(h2("concurrent", worker.port, "50", "/hello.txt").contains("ok 50"))
        #expect(eventually { (try? String(contentsOfFile: log, encoding: .utf8))?.contains("\"GET /hello.txt HTTP/2.0\" 200 14") == true })
    }

    @Test func withoutHTTPProtocolsOnlyHTTP11IsOffered() throws {
        let worker = try WorkerProcess(arguments: ["--root", root.path] + certificates.serverFlags)
        let answer = certificates.curl(worker.port, "/hello.txt", "-v --http2")
        #expect(answer.output.contains("ALPN: server accepted http/1.1"), "\(answer.output)")
        let only = try WorkerProcess(arguments: ["--root", root.path] + certificates.serverFlags + ["--http-protocols", "h2"])
        #expect(certificates.curl(only.port, "/hello.txt", "-v --http2").output.contains("ALPN: server accepted h2"))
    }

    @Test func aFlaskAppOverHTTP2() throws {
        let echo = try WSGIApps.worker("probe:echo", h2Flags)
        let environ = certificates.curl(echo.port, "/x?y=1", "--http2 -d hello=world").output.split(separator: "\n").map(String.init)
        #expect(environ.contains("SERVER_PROTOCOL=HTTP/2.0"), "\(environ)")
        #expect(environ.contains("REQUEST_METHOD=POST"))
        #expect(environ.contains("QUERY_STRING=y=1"))
        #expect(environ.contains("wsgi.url_scheme=https"))
        #expect(environ.contains("body=11"))
        // A body in DATA frames with no content-length, larger than the window.
        let upload = h2("upload", echo.port, "300000")
        #expect(upload.contains("body=300000"), "\(upload)")
        #expect(upload.contains("status 200"))
        // :scheme and a host field beside :authority change nothing (one header policy).
        let forged = h2("forged", echo.port, "/")
        #expect(forged.contains("wsgi.url_scheme=https"), "\(forged)")
        #expect(forged.contains("HTTP_HOST=good.example"), "\(forged)")
        #expect(!forged.contains { $0.contains("evil.example") }, "\(forged)")
        #expect(forged.contains("SCRIPT_NAME="), "gunicorn's HTTP/2 path once let this through: \(forged)")

        let flask = try WSGIApps.worker("flask_app:app", h2Flags)
        let streamed = certificates.curl(flask.port, "/stream", "--http2").output
        #expect(streamed == (0..<5).map { "line \($0)\n" }.joined(), "\(streamed)")
        let copy = root.file("static-copy.txt")
        #expect(certificates.curl(flask.port, "/file", "--http2 -o \(shellQuoted(copy))").status == 0)
        #expect(FileManager.default.contentsEqual(atPath: copy, andPath: WSGIApps.directory + "/static.txt"))
    }

    /// The window opens as the app reads: a client cannot push more than the initial window
    /// (65,535 bytes) at an app that has not read yet.
    @Test func flowControlIsTheBackPressure() throws {
        let worker = try WSGIApps.worker("probe:slow_reader", h2Flags)
        let lines = h2("window", worker.port, "400000")
        #expect(lines.contains("blocked at 65535"), "\(lines)")
        #expect(lines.contains("sent 400000"), "\(lines)")
        #expect(lines.contains("body=400000"), "\(lines)\n\(worker.log)")
    }

    /// A client that leaves while its request is in the app: the connection ends only when the
    /// handler has (it uses the connection's TLS and session until then), and the worker serves on.
    @Test func aClientLeavingWhileTheAppWorks() throws {
        let log = root.file("leave-access.log")
        let worker = try WSGIApps.worker("probe:slow_reader", h2Flags + ["--access-logfile", log])
        #expect(h2("leave", worker.port, "/").contains("left"))
        #expect(eventually { (try? String(contentsOfFile: log, encoding: .utf8))?.contains("HTTP/2.0") == true || worker.waitForExit(timeout: 0) != nil })
        #expect(worker.waitForExit(timeout: 0) == nil, "the worker lives: \(worker.log)")
        let upload = h2("upload", worker.port, "1000")
        #expect(upload.contains("body=1000"), "\(upload)")
    }

    /// A client gone before a streamed answer starts: the app's request still ends (its pieces
    /// are taken and dropped), where it once stayed in flight for good, holding the Python thread.
    @Test func aClientGoneBeforeAStreamedAnswer() throws {
        let log = root.file("late-access.log")
        let worker = try WSGIApps.worker("probe:late_stream", h2Flags + ["--access-logfile", log])
        #expect(h2("leave", worker.port, "/late").contains("left"))
        #expect(eventually { (try? String(contentsOfFile: log, encoding: .utf8))?.contains("\"GET /late HTTP/2.0\"") == true }, "\(worker.log)")
        #expect(h2("get", worker.port, "/again").contains("status 200"), "the app's thread is free: \(worker.log)")
    }

    /// More streams than worker_connections across connections (64 × 32 here), which a Python
    /// worker once took for a fault and died of.
    @Test func aPythonWorkerHoldsAStreamPerSlot() throws {
        let worker = try WSGIApps.worker("probe:echo", h2Flags + ["--worker-connections", "64"])
        let load = shell("h2load -n 4096 -c 64 -m 32 https://127.0.0.1:\(worker.port)/")
        #expect(load.output.contains("4096 succeeded, 0 failed, 0 errored"), "\(load.output)\n\(worker.log)")
        #expect(worker.waitForExit(timeout: 0) == nil, "the worker lives: \(worker.log)")
    }

    @Test func anASGIAppOverHTTP2() throws {
        try WSGIApps.requireVirtualenv()
        let directory = WSGIApps.repository.appendingPathComponent("tests/asgi").path
        let daemon = try CorraldProcess(["-k", "asgi", "--chdir", directory, "--virtualenv", WSGIApps.virtualenv] + h2Flags + ["fastapi_app:app"])
        #expect(eventually(timeout: 30) { certificates.curl(daemon.port, "/scope", "--http2").status == 0 }, "\(daemon.log)")
        let scope = certificates.curl(daemon.port, "/scope", "--http2").output
        #expect(scope.contains("\"http_version\":\"2\""), "\(scope)")
        #expect(scope.contains("\"scheme\":\"https\""), "\(scope)")
    }

    @Test func limitsApplyPerStream() throws {
        let worker = try WorkerProcess(arguments: ["--root", root.path, "--limit-request-fields", "20"] + h2Flags)
        // Past http2_max_header_list_size (64 KiB): the stream is refused, the connection lives.
        let big = h2("big_head", worker.port, "70000")
        #expect(big.contains { $0.hasPrefix("ended reset") || $0.hasPrefix("status 431") }, "\(big)")
        // gunicorn's limit_request_fields, as over HTTP/1.1.
        var fields = ""
        for n in 0..<30 { fields += " -H 'x-field-\(n): v'" }
        #expect(certificates.curl(worker.port, "/hello.txt", "--http2 -o /dev/null -w '%{http_code}'\(fields)").output == "431")
        #expect(h2("get", worker.port, "/hello.txt").contains("status 200"))
    }

    /// Floods and attacks sent as raw frames: each ends with the connection closed (GOAWAY) or
    /// the stream refused, the worker serving on, its memory bounded.
    @Test(arguments: [
        ("rapid_reset", "goaway"),        // CVE-2023-44487: nghttp2's reset rate limit
        ("continuation", "goaway 1"),     // CVE-2024-28182: nghttp2's CONTINUATION limit
        ("ping_flood", "goaway 11"),      // corral's own budget: ENHANCE_YOUR_CALM
        ("settings_flood", "goaway 11"),
        ("hpack_bomb", "reset"),          // 20 MB of fields from 5 KB: past the header list size
        ("zero_window", "reset"),         // a window kept shut: cut off at header_timeout
    ])
    func attacksEndWithTheWorkerServingOn(_ attack: String, _ ending: String) throws {
        let worker = try WorkerProcess(arguments: ["--root", root.path, "--header-timeout", "3"] + h2Flags)
        let before = residentKiB(worker.pid)
        let script = WSGIApps.repository.appendingPathComponent("tests/tls/h2_attacks.py").path
        let report = shell("\(WSGIApps.virtualenv)/bin/python3 \(shellQuoted(script)) \(attack) \(worker.port) \(shellQuoted(certificates.ca))").output
        #expect(report.hasPrefix(ending), "\(attack): \(report)\n\(worker.log)")
        #expect(certificates.curl(worker.port, "/hello.txt", "--http2").output == "hello, world!\n", "the worker serves on")
        #expect(residentKiB(worker.pid) - before < 32 * 1024, "memory bounded: \(before) KiB → \(residentKiB(worker.pid)) KiB")
    }

    /// Rapid reset, and streams the server must reset itself (DATA past the content-length:
    /// "MadeYouReset"), at an app whose requests take a second: the handlers of those streams
    /// still run, so past http2_max_concurrent_streams of them new streams are refused, and a
    /// client that goes on is cut off (ENHANCE_YOUR_CALM) instead of queueing 5,000 requests.
    @Test(arguments: ["rapid_reset", "made_you_reset"])
    func resetStreamsAtASlowApp(_ attack: String) throws {
        let log = root.file("\(attack)-access.log")
        let worker = try WSGIApps.worker("probe:late_stream", h2Flags + ["--access-logfile", log, "-k", "gthread", "--threads", "50"])
        let script = WSGIApps.repository.appendingPathComponent("tests/tls/h2_attacks.py").path
        let report = shell("\(WSGIApps.virtualenv)/bin/python3 \(shellQuoted(script)) \(attack) \(worker.port) \(shellQuoted(certificates.ca))").output
        #expect(report.hasPrefix("goaway 11"), "\(report)\n\(worker.log)")
        #expect(worker.log.contains("refused HEADERS"), "\(worker.log)")
        #expect(worker.waitForExit(timeout: 0) == nil, "the worker lives: \(worker.log)")
        // The handlers that did start finish (50 threads, a second each): at most
        // http2_max_concurrent_streams (100) of them.
        #expect(eventually(timeout: 15) { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").count == 100 },
                "\(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").count) logged")
    }

    @Test func corraldTakesGunicornsHTTP2Settings() throws {
        let corrald = Binaries.path("corrald")
        let bad = shell("\(corrald) --http-protocols h3 --check-config")
        #expect(bad.status == 1)
        #expect(bad.output.contains("http_protocols: \"h3\" is not h1 or h2"), "\(bad.output)")
        let config = root.file("h2.toml")
        try "http_protocols = \"h2,h1\"\nhttp2_max_concurrent_streams = 50\nhttp2_cleartext = \"both\"\n".write(toFile: config, atomically: true, encoding: .utf8)
        let loaded = shell("\(corrald) -c \(shellQuoted(config)) --check-config")
        #expect(loaded.status == 0, "\(loaded.output)")
        #expect(!loaded.output.contains("http2_cleartext"), "\(loaded.output)")
        let small = shell("\(corrald) --http-protocols h2 -c \(shellQuoted(config)) --print-config")
        #expect(small.output.contains("http_protocols = 'h2'"), "\(small.output)")
        #expect(small.output.contains("http2_max_concurrent_streams = 50"))
        #expect(small.output.contains("http2_cleartext = 'both'"))
        // gunicorn's boolean form, in a gunicorn config file.
        let python = root.file("gunicorn_h2c.py")
        try "http_protocols = 'h2'\nhttp2_cleartext = True\n".write(toFile: python, atomically: true, encoding: .utf8)
        #expect(shell("\(corrald) -c \(shellQuoted(python)) --print-config").output.contains("http2_cleartext = 'prior-knowledge'"))
        let wrong = shell("\(corrald) --http2-cleartext h2c --check-config")
        #expect(wrong.status == 1)
        #expect(wrong.output.contains("off, prior-knowledge, upgrade or both"), "\(wrong.output)")
        // HTTP/2 that could never be spoken is pointed out.
        let never = shell("\(corrald) --http-protocols h2,h1 --check-config")
        #expect(never.output.contains("no certfile and http2_cleartext is off: HTTP/2 will never be spoken"), "\(never.output)")
        let unoffered = shell("\(corrald) --http2-cleartext both --check-config")
        #expect(unoffered.output.contains("http2_cleartext is both, but http_protocols (h1) has no h2"), "\(unoffered.output)")
    }

    /// An ASGI app's 103 Early Hints and trailers over HTTP/2: HEADERS before the response's, and
    /// HEADERS with END_STREAM after its last DATA. corrald passes h2c on (http2_cleartext).
    @Test func earlyHintsAndTrailersOverHTTP2() throws {
        try WSGIApps.requireVirtualenv()
        let directory = WSGIApps.repository.appendingPathComponent("tests/asgi").path
        let daemon = try CorraldProcess(["-k", "asgi", "--chdir", directory, "--virtualenv", WSGIApps.virtualenv,
                                         "--http-protocols", "h2,h1", "--http2-cleartext", "both", "raw_apps:hints"])
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        let seen = shell("nghttp -v -H 'te: trailers' http://127.0.0.1:\(daemon.port)/hinted").output
        let lines = seen.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        func at(_ text: String) -> Int { lines.firstIndex { $0.hasSuffix(text) } ?? -1 }
        #expect(at(":status: 103") >= 0, "\(seen)")
        #expect(at(":status: 103") < at("link: </style.css>; rel=preload; as=style"))
        #expect(at("link: </app.js>; rel=preload; as=script") < at(":status: 200"))
        #expect(at(":status: 200") < at("x-checksum: c0ffee"), "\(seen)")
        #expect(lines.dropFirst(at("x-checksum: c0ffee")).prefix(3).contains("; END_STREAM | END_HEADERS"), "the trailers end the stream: \(seen)")
        #expect(shell("nghttp http://127.0.0.1:\(daemon.port)/hinted").output == "hinted body")
    }

    /// RFC 9113's server MUSTs, section by section (tests/tls/h2_conformance.py: 73 checks with
    /// raw frames), over TLS and over h2c, all of them: HEADERS on a lower, never-opened stream id, which nghttp2
    /// ignores on purpose, is a connection error here as the RFC says (HTTP2Session).
    @Test func rfc9113ConformanceByTheSections() throws {
        let site = TemporaryDirectory()
        site.write("hello.txt", "hello, world!\n")
        FileManager.default.createFile(atPath: site.file("large.bin"), contents: Data(repeating: 0x2a, count: 100_000))
        let script = WSGIApps.repository.appendingPathComponent("tests/tls/h2_conformance.py").path
        // Over TLS (ALPN h2), and over h2c with prior knowledge (the script's CA file "-").
        let tls = try WorkerProcess(arguments: ["--root", site.path, "--keep-alive", "10"] + h2Flags)
        let h2c = try WorkerProcess(arguments: ["--root", site.path, "--keep-alive", "10", "--http-protocols", "h2",
                                                "--http2-cleartext", "prior-knowledge"])
        for (worker, ca) in [(tls, certificates.ca), (h2c, "-")] {
            let run = shell("\(WSGIApps.virtualenv)/bin/python3 \(shellQuoted(script)) \(worker.port) \(shellQuoted(ca))")
            let lines = run.output.split(separator: "\n").map(String.init)
            #expect(run.status == 0 && !lines.contains { $0.hasPrefix("FAIL") }, "\(ca): \(run.output)")
            #expect(lines.filter { $0.hasPrefix("pass") }.count == 73, "\(ca): \(run.output)")
        }
        #expect(certificates.curl(tls.port, "/hello.txt", "--http2").output == "hello, world!\n", "the worker serves on")
        #expect(shell("curl -s --http2-prior-knowledge http://127.0.0.1:\(h2c.port)/hello.txt").output == "hello, world!\n")
    }

    /// A worker told to stop (SIGTERM) says GOAWAY to its HTTP/2 clients at once, not when each
    /// next sends something (keepalive here is a minute).
    @Test func aDrainingWorkerSaysGoAwayAtOnce() throws {
        let worker = try WorkerProcess(arguments: ["--root", root.path, "--keep-alive", "60"] + h2Flags)
        let seen = h2("drain", worker.port, String(worker.pid), "/hello.txt")
        #expect(seen.contains("status 200"), "\(seen)")
        #expect(seen.contains("goaway 0 last 1"), "NO_ERROR, stream 1 was the last processed: \(seen)")
        #expect(seen.contains("prompt"), "\(seen)")
    }

    /// h2c (`http2_cleartext`) on a plain listener: prior knowledge and Upgrade for a peer in
    /// forwarded_allow_ips, HTTP/1.1 for one that is not.
    @Test func cleartextHTTP2ForTrustedPeers() throws {
        let both = try WorkerProcess(arguments: ["--root", root.path, "--http-protocols", "h2,h1", "--http2-cleartext", "both"])
        let url = "http://127.0.0.1:\(both.port)/hello.txt"
        let prior = shell("curl -sv --http2-prior-knowledge \(url) 2>&1")
        #expect(prior.output.contains("< HTTP/2 200"), "\(prior.output)")
        #expect(prior.output.contains("hello, world!"))
        let upgraded = shell("curl -sv --http2 \(url) 2>&1")
        #expect(upgraded.output.contains("< HTTP/1.1 101 Switching Protocols"), "\(upgraded.output)")
        #expect(upgraded.output.contains("< HTTP/2 200"))
        #expect(upgraded.output.contains("hello, world!"))
        #expect(shell("curl -s \(url)").output == "hello, world!\n", "HTTP/1.1 as before")
        let load = shell("h2load -n 2000 -c 4 -m 32 \(url)")
        #expect(load.output.contains("2000 succeeded, 0 failed, 0 errored"), "\(load.output)")

        // The upgraded request reaches a WSGI app as HTTP/2, without the HTTP/1.1 hop's fields.
        let echo = try WSGIApps.worker("probe:echo", ["--http-protocols", "h2,h1", "--http2-cleartext", "upgrade"])
        let environ = shell("curl -s --http2 'http://127.0.0.1:\(echo.port)/x?y=1'").output.split(separator: "\n").map(String.init)
        #expect(environ.contains("SERVER_PROTOCOL=HTTP/2.0"), "\(environ)")
        #expect(environ.contains("QUERY_STRING=y=1"))
        #expect(!environ.contains { $0.hasPrefix("HTTP_UPGRADE=") || $0.hasPrefix("HTTP_HTTP2_SETTINGS=") || $0.hasPrefix("HTTP_CONNECTION=") }, "\(environ)")
        // A request with a body is answered over HTTP/1.1 (the server may ignore an Upgrade).
        let posted = shell("curl -s --http2 -d hello=world http://127.0.0.1:\(echo.port)/").output
        #expect(posted.contains("SERVER_PROTOCOL=HTTP/1.1"), "\(posted)")
        #expect(posted.contains("body=11"))
        // upgrade only: no prior knowledge.
        #expect(!shell("curl -sv --http2-prior-knowledge http://127.0.0.1:\(echo.port)/ 2>&1").output.contains("< HTTP/2 200"))

        // A peer not in forwarded_allow_ips speaks HTTP/1.1 only.
        let untrusted = try WorkerProcess(arguments: ["--root", root.path, "--http-protocols", "h2,h1", "--http2-cleartext", "both",
                                                      "--forwarded-allow-ips", "10.0.0.1"])
        let refused = shell("curl -sv --http2 http://127.0.0.1:\(untrusted.port)/hello.txt 2>&1").output
        #expect(refused.contains("< HTTP/1.1 200 OK") && !refused.contains("101"), "\(refused)")
        #expect(!shell("curl -sv --http2-prior-knowledge http://127.0.0.1:\(untrusted.port)/hello.txt 2>&1").output.contains("< HTTP/2"))

        // prior-knowledge only: a trusted peer speaking HTTP/1.1 is misconfigured, and told so.
        let strict = try WorkerProcess(arguments: ["--root", root.path, "--http-protocols", "h2", "--http2-cleartext", "prior-knowledge"])
        #expect(shell("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:\(strict.port)/hello.txt").output == "400")
        #expect(shell("curl -s --http2-prior-knowledge http://127.0.0.1:\(strict.port)/hello.txt").output == "hello, world!\n")
    }
}

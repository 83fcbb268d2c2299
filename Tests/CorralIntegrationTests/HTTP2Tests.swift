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

    @Test func corraldTakesGunicornsHTTP2Settings() throws {
        let corrald = Binaries.path("corrald")
        let bad = shell("\(corrald) --http-protocols h3 --check-config")
        #expect(bad.status == 1)
        #expect(bad.output.contains("http_protocols: \"h3\" is not h1 or h2"), "\(bad.output)")
        let config = root.file("h2.toml")
        try "http_protocols = \"h2,h1\"\nhttp2_max_concurrent_streams = 50\nhttp2_cleartext = \"both\"\n".write(toFile: config, atomically: true, encoding: .utf8)
        let loaded = shell("\(corrald) -c \(shellQuoted(config)) --check-config")
        #expect(loaded.status == 0, "\(loaded.output)")
        #expect(loaded.output.contains("http2_cleartext is ignored"), "\(loaded.output)")
        let small = shell("\(corrald) --http-protocols h2 -c \(shellQuoted(config)) --print-config")
        #expect(small.output.contains("http_protocols = 'h2'"), "\(small.output)")
        #expect(small.output.contains("http2_max_concurrent_streams = 50"))
    }
}

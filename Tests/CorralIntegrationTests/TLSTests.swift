import Foundation
import Testing

/// HTTPS in the workers: gunicorn's certfile and keyfile (and their checks), TLS 1.2 and 1.3 with
/// real clients (curl, openssl s_client, Python's ssl), the handshake bounded in time without
/// blocking the loop, static files and apps over TLS, and certificates replaced by a reload.
@Suite(.serialized) final class TLSTests {
    let root = TemporaryDirectory()
    let certificates: TestCertificates

    init() throws {
        certificates = try TestCertificates()
        root.write("hello.txt", "hello, world!\n")
        root.write("page.html", String(repeating: "<p>corral</p>\n", count: 200))
        shell("gzip -k \(shellQuoted(root.file("page.html")))")
        // Larger than a small file held in memory: read and encrypted 64 KiB at a time.
        let large = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        FileManager.default.createFile(atPath: root.file("large.bin"), contents: Data(large))
    }

    private func worker(_ extra: [String] = []) throws -> WorkerProcess {
        try WorkerProcess(arguments: ["--root", root.path] + certificates.serverFlags + extra)
    }

    @Test func staticFilesOverTLS12AndTLS13() throws {
        let worker = try worker()
        for version in ["1.2", "1.3"] {
            let small = certificates.curl(worker.port, "/hello.txt", "-v --tlsv\(version) --tls-max \(version)")
            #expect(small.status == 0, "\(small.output)")
            #expect(small.output.contains("hello, world!"))
            #expect(small.output.contains("SSL connection using TLSv\(version)"), "\(small.output)")
            #expect(small.output.contains("ALPN: server accepted http/1.1"), "\(small.output)")
        }
        // A TLS 1.2 client gets a forward-secret AEAD cipher by default.
        let cipher = certificates.curl(worker.port, "/hello.txt", "-v --tls-max 1.2").output
        #expect(cipher.contains("ECDHE-ECDSA-AES") && cipher.contains("GCM"), "\(cipher)")

        let copy = root.file("copy.bin")
        let large = certificates.curl(worker.port, "/large.bin", "-o \(shellQuoted(copy))")
        #expect(large.status == 0, "\(large.output)")
        #expect(FileManager.default.contentsEqual(atPath: copy, andPath: root.file("large.bin")))
        let range = certificates.curl(worker.port, "/large.bin", "-r 1000000-1000099 -o \(shellQuoted(copy))")
        #expect(range.status == 0)
        #expect((try? Data(contentsOf: URL(fileURLWithPath: copy)))?.count == 100)
        // Keep-alive: both requests on one connection (curl reuses it).
        let twice = shell("curl -sS -v --cacert \(shellQuoted(certificates.ca)) --resolve localhost:\(worker.port):127.0.0.1 https://localhost:\(worker.port)/hello.txt https://localhost:\(worker.port)/hello.txt 2>&1")
        #expect(twice.output.components(separatedBy: "hello, world!").count == 3)
        #expect(twice.output.contains("Re-using existing connection"), "\(twice.output)")
        // A precompressed sibling, as over plain HTTP.
        let encoded = certificates.curl(worker.port, "/page.html", "-D - -o /dev/null -H 'Accept-Encoding: gzip'").output
        #expect(encoded.lowercased().contains("content-encoding: gzip"), "\(encoded)")
        #expect(worker.log.contains("TLS on 1 socket(s)"))
        #expect(worker.log.contains("kTLS: "), "the worker says once whether the kernel encrypts")
    }

    @Test func oldProtocolsAndPlainHTTPAreRefused() throws {
        let worker = try worker()
        // The client offers only TLS 1.1 (allowed on its side by SECLEVEL=0): the server refuses it.
        let old = shell("openssl s_client -connect 127.0.0.1:\(worker.port) -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' </dev/null 2>&1")
        #expect(old.output.contains("alert protocol version") || old.output.contains("unsupported protocol"), "\(old.output)")

        // Plain HTTP on the TLS port is told what to do, in plain HTTP, and closed.
        let response = try RawClient.get(port: worker.port, "/hello.txt")
        #expect(response?.status == 400)
        #expect(response?.text == "This port speaks HTTPS: use https:// to reach it\n")

        let strict = try self.worker(["--ssl-protocol-min", "TLSv1.3"])
        #expect(certificates.curl(strict.port, "/hello.txt", "--tls-max 1.2").status != 0)
        #expect(certificates.curl(strict.port, "/hello.txt", "--tlsv1.3").output == "hello, world!\n")
    }

    /// testssl.sh against a listener with nothing but certfile and keyfile: no weak protocol,
    /// no weak or CBC cipher, forward secrecy only.
    @Test func testsslFindsNoWeakProtocolOrCipherOnADefaultListener() throws {
        let worker = try worker()
        let report = shell("testssl -p -s -f --quiet --color 0 --warnings off 127.0.0.1:\(worker.port)").output
        func line(_ start: String) -> String {
            report.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first { $0.hasPrefix(start) } ?? "(missing: \(start))"
        }
        for old in ["SSLv2 ", "SSLv3 ", "TLS 1 ", "TLS 1.1 "] {
            #expect(line(old).hasSuffix("not offered") || line(old).hasSuffix("not offered (OK)"), "\(line(old))\n\(report)")
        }
        #expect(line("TLS 1.2 ").contains("offered (OK)"))
        #expect(line("TLS 1.3 ").contains("offered (OK)"))
        for weak in ["NULL ciphers", "Anonymous NULL", "Export ciphers", "LOW:", "Triple DES", "Obsolete CBC"] {
            #expect(line(weak).hasSuffix("not offered") || line(weak).hasSuffix("not offered (OK)"), "\(line(weak))")
        }
        #expect(line("Strong encryption (AEAD ciphers)").hasSuffix("offered (OK)"))
        #expect(line("PFS is offered (OK)").hasPrefix("PFS is offered (OK)"), "\(report)")
    }

    @Test func aClientThatStallsInTheHandshakeCostsItsSlotOnlyUntilTheHeaderTimeout() throws {
        let worker = try worker(["--header-timeout", "1"])
        let silent = try RawClient(port: worker.port)
        // Half a ClientHello record: the worker waits for the rest without blocking its loop.
        let halfHello = try RawClient(port: worker.port)
        halfHello.send([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])
        let started = Date()
        #expect(certificates.curl(worker.port, "/hello.txt").output == "hello, world!\n", "served while two handshakes stall")
        #expect(silent.isClosedByServer())
        #expect(halfHello.isClosedByServer())
        #expect(Date().timeIntervalSince(started) < 15, "closed by the 1 s header timeout, not the client's 20 s")
    }

    @Test func anInheritedSocketListedAsInsecureStaysPlainHTTP() throws {
        // systemd-socket-activate names its socket "unknown"; corrald lists insecure_bind's this way.
        let worker = try WorkerProcess(arguments: ["--root", root.path] + certificates.serverFlags,
                                       environment: ["CORRAL_INSECURE_SOCKETS": "other,unknown"])
        #expect(try RawClient.get(port: worker.port, "/hello.txt")?.text == "hello, world!\n")
        #expect(worker.log.contains("TLS on 0 socket(s), plain HTTP on 1"))
    }

    @Test func corraldChecksTheFilesAndExplainsWhatIsWrong() throws {
        let corrald = Binaries.path("corrald")
        func check(_ flags: String) -> (output: String, status: Int32) { shell("\(corrald) \(flags) --check-config") }
        let server = "--certfile \(shellQuoted(certificates.file("server.pem")))"
        let good = check("\(server) --keyfile \(shellQuoted(certificates.file("server.key")))")
        #expect(good.status == 0, "\(good.output)")
        let mismatch = check("\(server) --keyfile \(shellQuoted(certificates.file("renewed.key")))")
        #expect(mismatch.status == 1)
        #expect(mismatch.output.contains("does not match the certificate in certfile"), "\(mismatch.output)")
        let missing = check("\(server) --keyfile /nonexistent/key.pem")
        #expect(missing.output.contains("keyfile /nonexistent/key.pem: No such file or directory"), "\(missing.output)")
        let notACertificate = check("--certfile \(shellQuoted(certificates.file("server.key")))")
        #expect(notACertificate.output.contains("no PEM certificate could be read"), "\(notACertificate.output)")
        let unverified = check("\(server) --keyfile \(shellQuoted(certificates.file("server.key"))) --cert-reqs 2")
        #expect(unverified.output.contains("ca_certs is not set"), "\(unverified.output)")
        let stray = check("--keyfile \(shellQuoted(certificates.file("server.key")))")
        #expect(stray.output.contains("certfile: not set, so keyfile would do nothing"), "\(stray.output)")
        let ciphers = check("\(server) --keyfile \(shellQuoted(certificates.file("server.key"))) --ciphers NOTHING")
        #expect(ciphers.output.contains("ciphers \"NOTHING\": no cipher OpenSSL knows matches"), "\(ciphers.output)")
        let deprecated = check("\(server) --keyfile \(shellQuoted(certificates.file("server.key"))) --ssl-version 2")
        #expect(deprecated.status == 0)
        #expect(deprecated.output.contains("ssl_version is ignored: deprecated in gunicorn"), "\(deprecated.output)")
    }

    /// certbot's layout: live/cert.pem and live/key.pem are links, swapped at renewal.
    @Test func aReloadServesTheRenewedCertificateUnderLoadAndABadOneLeavesTheOldServing() throws {
        let daemon = try CorraldProcess(["-w", "2"], config: """
                                        certfile = "live/cert.pem"
                                        keyfile = "live/key.pem"
                                        insecure_bind = ["127.0.0.1:\(freePort())"]
                                        worker_cmd = ["\(Binaries.path("corral-worker"))", "--root", "\(root.path)"]
                                        """, setUp: { directory in
            try? FileManager.default.createDirectory(atPath: directory.file("live"), withIntermediateDirectories: true)
            symlink(self.certificates.file("server.pem"), directory.file("live/cert.pem"))
            symlink(self.certificates.file("server.key"), directory.file("live/key.pem"))
        })
        #expect(eventually { daemon.log.contains("all 2 workers of generation 1 ready") }, "\(daemon.log)")
        #expect(daemon.log.contains("listening at https://127.0.0.1:\(daemon.port), http://127.0.0.1:"), "\(daemon.log)")
        #expect(certificates.servedSerial(daemon.port) == certificates.serial(of: "server.pem"))

        let stop = daemon.directory.file("stop-load")
        let load = WSGIApps.repository.appendingPathComponent("tests/tls/https_load.py").path
        let command = "\(WSGIApps.virtualenv)/bin/python3 \(shellQuoted(load)) https://localhost:\(daemon.port)/hello.txt \(shellQuoted(certificates.ca)) \(shellQuoted(stop))"
        nonisolated(unsafe) var report = ""
        let loadDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            report = shell(command).output
            loadDone.signal()
        }
        /// The load's requests and certificates seen so far.
        func progress() -> (requests: Int, certificates: Int) {
            let words = ((try? String(contentsOfFile: stop + ".progress", encoding: .utf8)) ?? "").split(separator: " ").compactMap { Int($0) }
            return words.count == 2 ? (words[0], words[1]) : (0, 0)
        }
        #expect(eventually { progress().requests > 0 })
        // Renewal: the links move to the new files, then a reload.
        func relink(_ certificate: String, _ key: String) {
            for (link, target) in [("live/cert.pem", certificate), ("live/key.pem", key)] {
                let temporary = daemon.directory.file(link + ".new")
                symlink(certificates.file(target), temporary)
                rename(temporary, daemon.directory.file(link))
            }
        }
        relink("renewed.pem", "renewed.key")
        kill(daemon.pid, SIGHUP)
        #expect(eventually { daemon.log.contains("reload done: 2 workers of generation 2 ready") }, "\(daemon.log)")
        #expect(eventually { certificates.servedSerial(daemon.port) == certificates.serial(of: "renewed.pem") })

        // A key that does not match: the reload fails with the reason, generation 2 serves on.
        relink("server.pem", "renewed.key")
        kill(daemon.pid, SIGHUP)
        #expect(eventually { daemon.log.contains("reload failed") }, "\(daemon.log)")
        #expect(daemon.log.contains("live/key.pem does not match the certificate in certfile"), "\(daemon.log)")
        #expect(certificates.servedSerial(daemon.port) == certificates.serial(of: "renewed.pem"))
        #expect(certificates.curl(daemon.port, "/hello.txt").output == "hello, world!\n")

        #expect(eventually { progress().certificates == 2 }, "the load met the renewed certificate")
        let before = progress().requests
        #expect(eventually { progress().requests > before + 30 }, "and goes on after the failed reload")
        FileManager.default.createFile(atPath: stop, contents: Data())
        #expect(loadDone.wait(timeout: .now() + 60) == .success)
        let counts = report.split(separator: "\n").first.map(String.init) ?? report
        #expect(counts.contains("failed=0"), "\(report)")
        #expect(counts.contains("certificates=2"), "both certificates were served during the load: \(report)")
    }

    /// corrald's ticket keys: a client resumes on any of 4 workers (gunicorn's workers each have
    /// their own context, so their clients do not), after a reload, and after an upgrade in place.
    @Test func sessionsResumeOnEveryWorkerAcrossReloadsAndUpgrades() throws {
        try WSGIApps.requireVirtualenv()
        let daemon = try CorraldProcess(["-w", "4", "--chdir", WSGIApps.directory, "--virtualenv", WSGIApps.virtualenv]
                                        + certificates.serverFlags + ["flask_app:app"])
        #expect(eventually(timeout: 30) { daemon.log.contains("all 4 workers of generation 1 ready") }, "\(daemon.log)")
        let script = WSGIApps.repository.appendingPathComponent("tests/tls/resume.py").path
        for version in ["1.3", "1.2"] {
            let report = shell("\(WSGIApps.virtualenv)/bin/python3 \(shellQuoted(script)) \(daemon.port) \(shellQuoted(certificates.ca)) 100 \(version)").output
            #expect(report.contains("reused=100 of 100"), "TLS \(version): \(report)")
            let workers = Int(report.split(separator: "=").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
            #expect(workers > 1, "the resumed connections reached more than one worker: \(report)")
        }
        #expect(daemon.log.contains("session tickets under corrald's keys, shared by every worker"))

        let session = daemon.directory.file("session.pem")
        #expect(!certificates.resumes(daemon.port, sessionFile: session), "the first connection is a full handshake")
        let before = daemon.workers
        daemon.signal(SIGHUP)
        #expect(eventually { daemon.log.contains("reload done: 4 workers of generation 2 ready") && daemon.workers.isDisjoint(with: before) })
        #expect(certificates.resumes(daemon.port, sessionFile: session), "a worker of the new generation resumes it")

        let upgraded = daemon.workers
        daemon.signal(SIGUSR2)
        #expect(eventually { daemon.log.contains("upgrade done: corral ") }, "\(daemon.log)")
        #expect(eventually { daemon.workers.count == 4 && daemon.workers.isDisjoint(with: upgraded) })
        #expect(daemon.log.contains("upgrade: the session-ticket keys carried over"))
        #expect(certificates.resumes(daemon.port, sessionFile: session), "the upgraded corrald's workers resume it")
    }

    @Test func aFlaskAppSeesHTTPSAndModSSLVariables() throws {
        let worker = try WSGIApps.worker("probe:echo", certificates.serverFlags)
        let environ = certificates.curl(worker.port, "/", "--tlsv1.3").output.split(separator: "\n").map(String.init)
        #expect(environ.contains("wsgi.url_scheme=https"), "\(environ)")
        #expect(environ.contains("HTTPS=on"), "\(environ)")
        #expect(environ.contains("SSL_PROTOCOL=TLSv1.3"), "\(environ)")
        #expect(environ.contains { $0.hasPrefix("SSL_CIPHER=TLS_") }, "\(environ)")

        // send_file: wsgi.file_wrapper's descriptor, read and encrypted (no kTLS here).
        let flask = try WSGIApps.worker("flask_app:app", certificates.serverFlags)
        let copy = root.file("static-copy.txt")
        #expect(certificates.curl(flask.port, "/file", "-o \(shellQuoted(copy))").status == 0)
        #expect(FileManager.default.contentsEqual(atPath: copy, andPath: WSGIApps.directory + "/static.txt"))
    }

    /// cert_reqs with ca_certs: the handshake verifies the client's certificate, and the app sees
    /// it (mod_ssl's variables for WSGI, ASGI's tls extension); a certificate from another CA, or
    /// none where one is required, ends the handshake.
    @Test func clientCertificatesAreVerifiedAndReachTheApp() throws {
        let caFlags = ["--ca-certs", certificates.ca]
        let flask = try WSGIApps.worker("probe:echo", certificates.serverFlags + caFlags + ["--cert-reqs", "2"])
        let client = "--cert \(shellQuoted(certificates.file("client.pem"))) --key \(shellQuoted(certificates.file("client.key")))"
        let environ = certificates.curl(flask.port, "/", client).output
        #expect(environ.contains("SSL_CLIENT_VERIFY=SUCCESS"), "\(environ)")
        #expect(environ.contains("SSL_CLIENT_S_DN=CN=client,OU=Testing cert"), "\(environ)")
        #expect(environ.contains("SSL_CLIENT_CERT=-----BEGIN CERTIFICATE-----"), "\(environ)")
        #expect(certificates.curl(flask.port, "/").status != 0, "required, and none sent")
        let stranger = "--cert \(shellQuoted(certificates.file("stranger.pem"))) --key \(shellQuoted(certificates.file("stranger.key")))"
        #expect(certificates.curl(flask.port, "/", stranger).status != 0, "signed by a CA not in ca_certs")

        try WSGIApps.requireVirtualenv()
        let directory = WSGIApps.repository.appendingPathComponent("tests/asgi").path
        let asgi = try CorraldProcess(["-k", "asgi", "--chdir", directory, "--virtualenv", WSGIApps.virtualenv, "--cert-reqs", "1"]
                                      + certificates.serverFlags + caFlags + ["fastapi_app:app"])
        #expect(eventually(timeout: 30) { certificates.curl(asgi.port, "/scope").status == 0 }, "\(asgi.log)")
        let scope = jsonObject(HTTPResponse(statusLine: "", status: 200, headers: [],
                                            body: Array(certificates.curl(asgi.port, "/scope", client).output.utf8)))
        let tls = scope["tls"] as? [String: Any] ?? [:]
        #expect((tls["client_cert_name"] as? String)?.hasPrefix("CN=client,OU=Testing cert") == true, "\(scope)")
        #expect((tls["client_cert_chain"] as? [String])?.first?.hasPrefix("-----BEGIN CERTIFICATE-----") == true, "\(scope)")
        let anonymous = certificates.curl(asgi.port, "/scope").output
        #expect(anonymous.contains("\"client_cert_name\":null"), "optional: a client without one is served: \(anonymous)")
    }

    @Test func anASGIAppAndItsWebSocketsOverTLS() throws {
        try WSGIApps.requireVirtualenv()
        let directory = WSGIApps.repository.appendingPathComponent("tests/asgi").path
        let daemon = try CorraldProcess(["-k", "asgi", "--chdir", directory, "--virtualenv", WSGIApps.virtualenv]
                                        + certificates.serverFlags + ["fastapi_app:app"])
        #expect(eventually(timeout: 30) { certificates.curl(daemon.port, "/scope").status == 0 }, "\(daemon.log)")
        let scope = certificates.curl(daemon.port, "/scope").output
        #expect(scope.contains("\"scheme\":\"https\""), "\(scope)")
        #expect(scope.contains("\"tls\":{\"server_cert\":null,\"client_cert_name\":null,\"client_cert_chain\":[],\"client_cert_error\":null,\"tls_version\":772,\"cipher_suite\":"), "ASGI's tls extension, TLS 1.3 = 0x0304: \(scope)")
        let echo = shell("cd \(shellQuoted(directory)) && SSL_CERT_FILE=\(shellQuoted(certificates.ca)) \(WSGIApps.virtualenv)/bin/python ws_client.py converse wss://localhost:\(daemon.port)/ws?name=tls '{\"a\": 1}'")
        #expect(echo.output.contains("reply {\"to\":\"tls\",\"echo\":{\"a\":1}"), "\(echo.output)")
    }
}

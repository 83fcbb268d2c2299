import Foundation
import Testing

/// Behind a load balancer: the PROXY protocol header names the client (%(h)s), only allowed peers
/// may connect, and a trusted proxy's X-Forwarded-Proto gives the scheme. With raw bytes against
/// corral-worker, and with a real HAProxy in front of corrald.
@Suite(.serialized) final class ProxyProtocolTests {
    let root = TemporaryDirectory()

    init() {
        root.write("index.html", "<h1>home</h1>\n")
        root.write("a.txt", "alpha\n")
        root.write("docs/index.html", "<p>docs</p>\n")
    }

    private func worker(_ extra: [String] = []) throws -> (WorkerProcess, String) {
        let log = root.file("access-\(UUID().uuidString).log")
        let worker = try WorkerProcess(arguments: ["--root", root.path, "--proxy-protocol", "--access-logfile", log,
                                                   "--access-logformat", "%(h)s %(U)s %(s)s"] + extra)
        return (worker, log)
    }

    private func accessLines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    static func v2TCP4(_ source: [UInt8], port: UInt16) -> [UInt8] {
        [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x00, 0x0C]
            + source + [127, 0, 0, 1] + [UInt8(port >> 8), UInt8(port & 0xFF), 0x1F, 0x40]
    }

    @Test func theClientAPROXYHeaderNamesIsTheRemoteAddressForEveryRequestOnTheConnection() throws {
        let (worker, log) = try worker()
        let v1 = try RawClient(port: worker.port)
        v1.send("PROXY TCP4 203.0.113.7 127.0.0.1 56324 \(worker.port)\r\nGET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(v1.readResponse()?.text == "alpha\n")
        v1.send("GET /a.txt?again HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(v1.readResponse()?.status == 200)

        let v2 = try RawClient(port: worker.port)
        // The header and the request in separate writes: the engine waits for both.
        v2.send(Self.v2TCP4([198, 51, 100, 23], port: 40000).prefix(10).map { $0 })
        Thread.sleep(forTimeInterval: 0.05)
        v2.send(Array(Self.v2TCP4([198, 51, 100, 23], port: 40000).dropFirst(10)))
        v2.send("GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(v2.readResponse()?.status == 200)

        // An allowed peer may also speak plain HTTP (health checks): its own address is used.
        #expect(try RawClient.get(port: worker.port, "/a.txt")?.status == 200)

        #expect(eventually { accessLines(log).count == 4 }, "\(accessLines(log))")
        #expect(accessLines(log) == ["203.0.113.7 /a.txt 200", "203.0.113.7 /a.txt 200",
                                     "198.51.100.23 /a.txt 200", "127.0.0.1 /a.txt 200"])

        // The header only comes first: later it is just a bad request line.
        v1.send("PROXY TCP4 198.51.100.1 127.0.0.1 1 2\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(v1.readResponse()?.status == 400)
    }

    @Test func aWSGIAppSeesTheClientAsREMOTE_ADDRAndTheSchemeOfTheTrustedBalancer() throws {
        try WSGIApps.requireVirtualenv()
        let worker = try WSGIApps.worker("probe:echo", ["--proxy-protocol"])
        let client = try RawClient(port: worker.port)
        client.send("PROXY TCP6 2001:db8::7 ::1 56324 443\r\nGET / HTTP/1.1\r\nHost: shop.example\r\nX-Forwarded-Proto: https\r\n\r\n")
        let environ = client.readResponse()?.text.split(separator: "\n").map(String.init) ?? []
        #expect(environ.contains("REMOTE_ADDR=2001:db8::7"), "\(environ)")
        #expect(environ.contains("REMOTE_PORT=56324"), "\(environ)")
        #expect(environ.contains("wsgi.url_scheme=https"), "trust is in the balancer (127.0.0.1), not the client: \(environ)")
    }

    @Test(arguments: [
        "PROXY TCP4 203.0.113.7 127.0.0.1 56324\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n",
        "PROXY TCP4 999.0.113.7 127.0.0.1 1 2\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n",
        "PROXY TCP4 " + String(repeating: "1", count: 200) + "\r\n",
    ])
    func aMalformedOrOversizedHeaderClosesTheConnectionWithNothingServed(_ bytes: String) throws {
        let (worker, log) = try worker()
        let client = try RawClient(port: worker.port)
        client.send(bytes)
        #expect(client.isClosedByServer())
        #expect(client.readResponse()?.status == nil, "no HTTP answer on a broken PROXY connection")
        #expect(eventually { worker.log.contains("closing 127.0.0.1: PROXY v1") }, "\(worker.log)")
        #expect(accessLines(log).isEmpty)
    }

    @Test func aPeerOutsideProxyAllowIPsIsClosedBeforeAnythingIsRead() throws {
        let (worker, log) = try worker(["--proxy-allow-from", "10.9.9.9, 192.168.0.0/16"])
        let client = try RawClient(port: worker.port)
        client.send("PROXY TCP4 203.0.113.7 127.0.0.1 56324 80\r\nGET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(client.isClosedByServer())
        #expect(eventually { worker.log.contains("closing 127.0.0.1: not in proxy_allow_ips") }, "\(worker.log)")
        #expect(accessLines(log).isEmpty)
    }

    @Test(arguments: ["send-proxy-v2", "send-proxy"])
    func behindARealHAProxyTheAccessLogShowsTheClientAndRedirectsKeepHTTPS(_ option: String) throws {
        let log = root.file("access-haproxy.log")
        try? FileManager.default.removeItem(atPath: log)
        let daemon = try CorraldProcess(config: """
            workers = 1
            proxy_protocol = true
            accesslog = "\(log)"
            access_log_format = "%(h)s %({wsgi.url_scheme}e)s %(U)s %(s)s"
            worker_cmd = ["\(Binaries.path("corral-worker"))", "--root", "\(root.path)"]
            """)
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        let front = freePort()
        let haproxy = TemporaryDirectory()
        haproxy.write("haproxy.cfg", """
            global
                maxconn 64
            defaults
                mode http
                timeout connect 5s
                timeout client 30s
                timeout server 30s
            frontend web
                bind 127.0.0.1:\(front)
                http-request set-header X-Forwarded-Proto https
                default_backend corral
            backend corral
                server corrald 127.0.0.1:\(daemon.port) \(option)

            """)
        let balancer = try TestProcess(["/usr/sbin/haproxy", "-db", "-f", haproxy.file("haproxy.cfg")], logPath: haproxy.file("haproxy.log"))
        #expect(eventually { (try? RawClient(port: front)) != nil }, "haproxy: \(balancer.log)")

        // From 127.0.0.2, so the client is told apart from HAProxy on 127.0.0.1.
        let client = try RawClient(port: front, from: "127.0.0.2")
        client.send("GET /a.txt HTTP/1.1\r\nHost: shop.example\r\n\r\n")
        #expect(client.readResponse()?.text == "alpha\n", "\(balancer.log)")
        client.send("GET /docs HTTP/1.1\r\nHost: shop.example\r\n\r\n")
        let redirect = client.readResponse()
        #expect(redirect?.status == 301)
        #expect(redirect?.header("location") == "https://shop.example/docs/", "X-Forwarded-Proto from a trusted peer")
        // After the test's own readiness probe, made directly from 127.0.0.1 without a header.
        #expect(eventually { accessLines(log).count == 3 }, "\(accessLines(log)) \(daemon.log)")
        #expect(accessLines(log).dropFirst() == ["127.0.0.2 https /a.txt 200", "127.0.0.2 https /docs 301"])
    }
}

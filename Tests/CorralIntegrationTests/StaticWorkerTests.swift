import Foundation
import Testing

/// corral-worker serving a document root, started by systemd-socket-activate, over real sockets.
@Suite(.serialized) final class StaticWorkerTests {
    let root = TemporaryDirectory()
    let outside = TemporaryDirectory()
    let worker: WorkerProcess

    init() throws {
        root.write("index.html", "<h1>home</h1>\n")
        root.write("a.txt", "alpha\n")
        root.write("b.txt", "bravo\n")
        root.write("docs/index.html", "<p>docs</p>\n")
        root.write("data.json", "{\"ok\":true}\n")
        root.write("digits.txt", "0123456789")
        outside.write("secret.txt", "top secret\n")
        try FileManager.default.createSymbolicLink(atPath: root.file("escape.txt"), withDestinationPath: outside.file("secret.txt"))
        try FileManager.default.createSymbolicLink(atPath: root.file("escape-dir"), withDestinationPath: outside.path)
        try FileManager.default.createSymbolicLink(atPath: root.file("alias.txt"), withDestinationPath: "a.txt")
        worker = try WorkerProcess(arguments: ["--root", root.path, "--limit-request-body", "1000"])
    }

    @Test func keepAliveServesSeveralRequestsOnOneConnection() throws {
        let client = try RawClient(port: worker.port)
        for path in ["/a.txt", "/b.txt", "/a.txt"] {
            client.send("GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try #require(client.readResponse())
            #expect(response.status == 200)
            #expect(response.header("connection") == nil)
        }
    }

    @Test func pipelinedRequestsAnswerInOrder() throws {
        let client = try RawClient(port: worker.port)
        client.send("GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: t\r\n\r\nHEAD /a.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /data.json HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(client.readResponse()?.text == "alpha\n")
        #expect(client.readResponse()?.text == "bravo\n")
        let head = try #require(client.readResponse(forHead: true))
        #expect(head.header("content-length") == "6")
        let json = try #require(client.readResponse())
        #expect(json.text == "{\"ok\":true}\n")
        #expect(json.header("content-type") == "application/json")
    }

    @Test func chunkedUploadTo405ThenPipelinedGetStaysInSync() throws {
        let client = try RawClient(port: worker.port)
        client.send("POST /a.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        let refused = try #require(client.readResponse())
        #expect(refused.status == 405)
        #expect(refused.header("allow") == "GET, HEAD")
        let next = try #require(client.readResponse())
        #expect(next.status == 200)
        #expect(next.text == "bravo\n")
    }

    @Test func http10ClosesUnlessKeepAliveIsAsked() throws {
        let plain = try RawClient(port: worker.port)
        plain.send("GET /a.txt HTTP/1.0\r\n\r\n")
        #expect(plain.readResponse()?.header("connection") == "close")
        #expect(plain.isClosedByServer())
        let kept = try RawClient(port: worker.port)
        kept.send("GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(kept.readResponse()?.header("connection") == "keep-alive")
        kept.send("GET /b.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(kept.readResponse()?.text == "bravo\n")
    }

    @Test(arguments: [
        ("GET /\(String(repeating: "a", count: 5000)) HTTP/1.1\r\nHost: t\r\n\r\n", 414),
        ("GET / HTTP/1.1\r\nHost: t\r\n" + (0..<101).map { "X-\($0): v\r\n" }.joined() + "\r\n", 431),
        ("GET / HTTP/1.1\r\nHost: t\r\nX-Big: \(String(repeating: "b", count: 9000))\r\n\r\n", 431),
        ("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n", 413),
        ("GET / HTTP/1.1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked, foo\r\n\r\n", 400),
        ("GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        ("GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400),
    ])
    func malformedAndOversizedRequestsGetPreciseStatusAndClose(request: String, status: Int) throws {
        let client = try RawClient(port: worker.port)
        client.send(request)
        let response = try #require(client.readResponse())
        #expect(response.status == status)
        #expect(response.header("connection") == "close")
        #expect(client.isClosedByServer())
    }

    @Test(arguments: ["/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/docs/..%2f..%2fetc/passwd",
                      "/escape.txt", "/escape-dir/secret.txt", "/a.txt%00.html", "/..\\..\\etc\\passwd"])
    func nothingOutsideTheRootIsServed(path: String) throws {
        let response = try #require(try RawClient.get(port: worker.port, path))
        #expect([400, 403, 404].contains(response.status))
        #expect(!response.text.contains("secret"))
        #expect(!response.text.contains("root:"))
    }

    @Test func symlinksInsideTheRootAreServed() throws {
        #expect(try RawClient.get(port: worker.port, "/alias.txt")?.text == "alpha\n")
    }

    @Test func directoriesServeIndexAndRedirectWithoutSlash() throws {
        #expect(try RawClient.get(port: worker.port, "/")?.text == "<h1>home</h1>\n")
        let redirect = try #require(try RawClient.get(port: worker.port, "/docs"))
        #expect(redirect.status == 301)
        #expect(redirect.header("location") == "http://test/docs/")
        // Behind a TLS-terminating proxy on a trusted peer (127.0.0.1 is in the default
        // forwarded_allow_ips), the redirect keeps the client on https, and the query.
        let behindTLS = try #require(try RawClient.get(port: worker.port, "/docs?x=1", headers: "X-Forwarded-Proto: https\r\n"))
        #expect(behindTLS.header("location") == "https://test/docs/?x=1")
        let docs = try #require(try RawClient.get(port: worker.port, "/docs/"))
        #expect(docs.text == "<p>docs</p>\n")
        #expect(docs.header("content-type") == "text/html; charset=utf-8")
    }

    @Test func proxyHeadersFromPeersOutsideForwardedAllowIPsAreIgnored() throws {
        let strict = try WorkerProcess(arguments: ["--root", root.path, "--forwarded-allow-ips", "10.9.9.9"])
        let redirect = try #require(try RawClient.get(port: strict.port, "/docs", headers: "X-Forwarded-Proto: https\r\n"))
        #expect(redirect.header("location") == "http://test/docs/")
    }

    @Test func conditionalRequestsGet304() throws {
        let first = try #require(try RawClient.get(port: worker.port, "/a.txt"))
        let etag = try #require(first.header("etag"))
        let lastModified = try #require(first.header("last-modified"))
        #expect(try RawClient.get(port: worker.port, "/a.txt", headers: "If-None-Match: \(etag)\r\n")?.status == 304)
        #expect(try RawClient.get(port: worker.port, "/a.txt", headers: "If-Modified-Since: \(lastModified)\r\n")?.status == 304)
        #expect(try RawClient.get(port: worker.port, "/a.txt", headers: "If-None-Match: \"other\"\r\n")?.status == 200)
    }

    @Test func rangesGet206And416() throws {
        let part = try #require(try RawClient.get(port: worker.port, "/digits.txt", headers: "Range: bytes=2-4\r\n"))
        #expect(part.status == 206)
        #expect(part.text == "234")
        #expect(part.header("content-range") == "bytes 2-4/10")
        let suffix = try #require(try RawClient.get(port: worker.port, "/digits.txt", headers: "Range: bytes=-3\r\n"))
        #expect(suffix.text == "789")
        let beyond = try #require(try RawClient.get(port: worker.port, "/digits.txt", headers: "Range: bytes=20-\r\n"))
        #expect(beyond.status == 416)
        #expect(beyond.header("content-range") == "bytes */10")
    }

    @Test func missingFilesAre404() throws {
        #expect(try RawClient.get(port: worker.port, "/nope.txt")?.status == 404)
    }
}

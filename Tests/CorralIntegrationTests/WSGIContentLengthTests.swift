import Foundation
import Testing

/// PEP 3333 on the app's Content-Length ("Handling the Content-Length Header") and on streaming
/// ("Buffering and Streaming"), byte for byte on the wire, in both modes (probe:declared).
@Suite(.serialized) struct WSGIContentLengthTests {
    /// A body longer than the app declared is cut at it; the response is then whole, so the
    /// connection serves the next request, and the error log says what the app did.
    @Test(arguments: WSGIClientGoneTests.modes) func aLongerBodyIsCutAtTheDeclaredLength(mode: [String]) throws {
        let worker = try WSGIApps.worker("probe:declared", mode)
        let client = try RawClient(port: worker.port)
        for path in ["/list-long", "/tuple-long", "/generator-long"] {
            client.send("GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try #require(client.readResponse(), "\(path)")
            #expect(response.statusLine == "HTTP/1.1 200 OK", "\(path): nothing of an earlier body before it")
            #expect(response.header("content-length") == "8", "\(path)")
            #expect(response.text == "abcdefgh", "\(path)")
            #expect(eventually { worker.log.contains("\(path): the body is longer than its Content-Length (8 bytes); the rest was not sent") },
                    "\(path): \(worker.log)")
        }
        client.send("GET /wrapper HTTP/1.1\r\nHost: t\r\n\r\n")
        let wrapped = try #require(client.readResponse())
        #expect(wrapped.header("content-length") == "1")
        #expect(wrapped.text == "w", "a file_wrapper over an object without a descriptor")
        client.send("GET /list-long HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(client.readResponse()?.statusLine == "HTTP/1.1 200 OK", "the 45,447 bytes after it were not sent")
    }

    /// A body shorter than the app declared: the head keeps the app's length, what there is goes
    /// out, and the connection closes (the client sees a short body, the truth), with a log line.
    @Test(arguments: WSGIClientGoneTests.modes) func aShorterBodyEndsTheConnection(mode: [String]) throws {
        let worker = try WSGIApps.worker("probe:declared", mode)
        for path in ["/list-short", "/generator-short"] {
            let client = try RawClient(port: worker.port)
            client.send("GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n")
            let bytes = try #require(client.readUntilClosed(), "\(path): the connection must close")
            let text = String(decoding: bytes, as: UTF8.self)
            let parts = text.components(separatedBy: "\r\n\r\n")
            #expect(parts.count == 2 && parts[1] == "abc", "\(path): \(text.debugDescription)")
            #expect(parts[0].lowercased().contains("\r\ncontent-length: 8\r\n") || parts[0].lowercased().hasSuffix("\r\ncontent-length: 8"),
                    "\(path): \(parts[0])")
            #expect(eventually { worker.log.contains("\(path): the body ended after 3 of its Content-Length's 8 bytes; the connection is closed") },
                    "\(path): \(worker.log)")
        }
        #expect(try request(port: worker.port, "GET", "/list-long")?.text == "abcdefgh", "the worker serves on")
    }

    /// A generator's first block goes out when it is yielded, not when the generator ends: here
    /// it sleeps 3 s between its two blocks, and the first must arrive well before that.
    @Test(arguments: WSGIClientGoneTests.modes) func aStreamedBodyIsNotHeldBack(mode: [String]) throws {
        let worker = try WSGIApps.worker("probe:declared", mode)
        let client = try RawClient(port: worker.port)
        let started = Date()
        client.send("GET /slow?3 HTTP/1.1\r\nHost: t\r\n\r\n")
        var received: [UInt8] = []
        while !String(decoding: received, as: UTF8.self).hasSuffix("\r\n\r\nabc") {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = recv(client.fd, &buffer, buffer.count, 0)
            guard n > 0 else { break }
            received += buffer[..<n]
        }
        let firstBlock = Date().timeIntervalSince(started)
        #expect(String(decoding: received, as: UTF8.self).hasSuffix("\r\n\r\nabc"), "\(String(decoding: received, as: UTF8.self))")
        #expect(firstBlock < 2, "the first block came after \(firstBlock) s")
        var rest = [UInt8](repeating: 0, count: 16)
        let n = recv(client.fd, &rest, rest.count, 0)
        #expect(n == 3 && Array(rest[..<3]) == Array("def".utf8), "then the second, once yielded")
        let head = String(decoding: received, as: UTF8.self).lowercased()
        #expect(head.contains("content-length: 6") && !head.contains("transfer-encoding"))
    }
}

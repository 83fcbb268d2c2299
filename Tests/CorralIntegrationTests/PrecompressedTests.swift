import Foundation
import Testing

/// `file.br` and `file.gz` beside `file`, sent with Content-Encoding when Accept-Encoding allows
/// (nginx's gzip_static and brotli_static), with or without the open-file cache.
@Suite(.serialized) struct PrecompressedTests {
    private static let script = String(repeating: "console.log('corral');\n", count: 200)

    private func serve(cache: Bool) throws -> (TemporaryDirectory, WorkerProcess) {
        let root = TemporaryDirectory()
        root.write("app.js", Self.script)
        #expect(shell("gzip -k -9 \(root.file("app.js"))").status == 0)
        root.write("app.js.br", "brotli bytes stand in here")
        root.write("plain.txt", "no siblings\n")
        let worker = try WorkerProcess(arguments: ["--root", root.path] + (cache ? [] : ["--cache-entries", "0"]))
        return (root, worker)
    }

    private func get(_ worker: WorkerProcess, _ path: String, _ headers: String = "", method: String = "GET") throws -> HTTPResponse {
        let client = try RawClient(port: worker.port)
        client.send("\(method) \(path) HTTP/1.1\r\nHost: t\r\n\(headers)\r\n")
        return try #require(client.readResponse(forHead: method == "HEAD"))
    }

    @Test(arguments: [true, false])
    func theCodingTheClientWeightsHighestIsSent(cache: Bool) throws {
        let (root, worker) = try serve(cache: cache)
        let gzip = try #require(FileManager.default.contents(atPath: root.file("app.js.gz")))
        let identity = try get(worker, "/app.js")
        #expect(identity.text == Self.script && identity.header("content-encoding") == nil)
        #expect(identity.header("vary") == "Accept-Encoding", "a resource with variants says so on each of them")
        let gzipped = try get(worker, "/app.js", "Accept-Encoding: gzip, deflate\r\n")
        #expect(gzipped.header("content-encoding") == "gzip" && gzipped.body == [UInt8](gzip))
        #expect(gzipped.header("content-type") == identity.header("content-type"), "the type is the file's, not gzip's")
        #expect(gzipped.header("vary") == "Accept-Encoding")
        #expect(gzipped.header("etag") != identity.header("etag"), "each encoding has its own ETag")
        #expect(try get(worker, "/app.js", "Accept-Encoding: gzip, br\r\n").text == "brotli bytes stand in here")
        #expect(try get(worker, "/app.js", "Accept-Encoding: br;q=0.5, gzip\r\n").header("content-encoding") == "gzip")
        #expect(try get(worker, "/app.js", "Accept-Encoding: gzip;q=0, br;q=0\r\n").text == Self.script)
        #expect(try get(worker, "/app.js", "Accept-Encoding: identity\r\n").text == Self.script)
        let plain = try get(worker, "/plain.txt", "Accept-Encoding: gzip\r\n")
        #expect(plain.text == "no siblings\n" && plain.header("vary") == nil && plain.header("content-encoding") == nil)
    }

    @Test(arguments: [true, false])
    func rangesConditionalsAndHeadApplyToTheEncodedBytes(cache: Bool) throws {
        let (root, worker) = try serve(cache: cache)
        let gzip = [UInt8](try #require(FileManager.default.contents(atPath: root.file("app.js.gz"))))
        let ranged = try get(worker, "/app.js", "Accept-Encoding: gzip\r\nRange: bytes=0-3\r\n")
        #expect(ranged.status == 206 && ranged.body == Array(gzip[0..<4]))
        #expect(ranged.header("content-range") == "bytes 0-3/\(gzip.count)")
        let tag = try #require(try get(worker, "/app.js", "Accept-Encoding: gzip\r\n").header("etag"))
        #expect(try get(worker, "/app.js", "Accept-Encoding: gzip\r\nIf-None-Match: \(tag)\r\n").status == 304)
        #expect(try get(worker, "/app.js", "If-None-Match: \(tag)\r\n").status == 200, "the gzip ETag does not match the identity body")
        let head = try get(worker, "/app.js", "Accept-Encoding: gzip\r\n", method: "HEAD")
        #expect(head.status == 200 && head.header("content-length") == String(gzip.count) && head.body.isEmpty)
    }

    @Test func aSiblingAddedOrRemovedIsSeenOnTheNextRequest() throws {
        let (root, worker) = try serve(cache: true)
        #expect(try get(worker, "/plain.txt", "Accept-Encoding: gzip\r\n").header("content-encoding") == nil)
        #expect(shell("gzip -k \(root.file("plain.txt"))").status == 0)
        #expect(try get(worker, "/plain.txt", "Accept-Encoding: gzip\r\n").header("content-encoding") == "gzip")
        #expect(unlink(root.file("plain.txt.gz")) == 0)
        let after = try get(worker, "/plain.txt", "Accept-Encoding: gzip\r\n")
        #expect(after.header("content-encoding") == nil && after.text == "no siblings\n")
    }
}

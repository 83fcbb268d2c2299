import Foundation
import Testing

/// What a static response costs in sends, counted with strace on the worker: a small file goes
/// out with its head in one send, and pipelined requests that are here together get their
/// responses together, in one send.
@Suite(.serialized) struct SendCountTests {
    private func sends(_ trace: [String]) -> [String] {
        trace.filter { $0.contains("sendto(") || $0.contains("sendmsg(") || $0.contains("writev(") || $0.contains("sendfile(") }
    }

    @Test(arguments: [true, false])
    func aSmallFileGoesOutWithItsHeadInOneSend(cache: Bool) throws {
        let root = TemporaryDirectory()
        root.write("hello.txt", "Hello, World!")
        let worker = try WorkerProcess(arguments: ["--root", root.path] + (cache ? [] : ["--cache-entries", "0"]))
        let client = try RawClient(port: worker.port)
        client.send("GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(client.readResponse()?.text == "Hello, World!")
        let trace = try SyscallTrace(pid: worker.pid)
        client.send("GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(client.readResponse()?.text == "Hello, World!")
        let calls = sends(trace.stop())
        #expect(calls.count == 1 && calls[0].contains("sendto(") && calls[0].contains("Hello, World!"),
                "head and body in one sendto: \(calls)")
    }

    @Test func pipelinedRequestsHereTogetherAreAnsweredInOneSend() throws {
        let root = TemporaryDirectory()
        root.write("a.txt", "alpha\n")
        root.write("b.txt", "bravo\n")
        let worker = try WorkerProcess(arguments: ["--root", root.path])
        let client = try RawClient(port: worker.port)
        client.send("GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(client.readResponse()?.status == 200)
        let trace = try SyscallTrace(pid: worker.pid)
        let paths = (0..<16).map { $0 % 3 == 2 ? "/missing" : ($0 % 2 == 0 ? "/a.txt" : "/b.txt") }
        client.send(paths.map { "GET \($0) HTTP/1.1\r\nHost: t\r\n\r\n" }.joined())
        for path in paths {
            let response = client.readResponse()
            #expect(response?.status == (path == "/missing" ? 404 : 200), "\(path)")
            if path != "/missing" { #expect(response?.text == (path == "/a.txt" ? "alpha\n" : "bravo\n"), "in order") }
        }
        let calls = sends(trace.stop())
        #expect(calls.count == 1, "16 responses, one send: \(calls.count) sends")
        // The last of a pipelined batch is not held: a lone request is answered at once.
        client.send("GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(client.readResponse()?.text == "alpha\n")
    }
}

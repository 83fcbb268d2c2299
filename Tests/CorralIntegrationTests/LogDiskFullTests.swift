import Foundation
import Testing

/// A log whose disk is full (/dev/full answers every write with ENOSPC): serving goes on, the
/// failure is said once, and so is its end, with the number of lines lost.
@Suite(.serialized) struct LogDiskFullTests {
    func get(_ client: RawClient, _ path: String = "/") -> Int? {
        client.send("GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n")
        return client.readResponse()?.status
    }

    @Test func aFullAccessLogIsSaidOnceAndItsReturnToo() throws {
        let directory = TemporaryDirectory()
        let link = directory.file("access.log"), real = directory.file("real.log")
        #expect(symlink("/dev/full", link) == 0)
        let worker = try WorkerProcess(arguments: ["--access-logfile", link])
        let client = try RawClient(port: worker.port)
        for _ in 0..<50 { #expect(get(client) == 200) }
        let full = "access log \(link): No space left on device; its lines are dropped until it can be written again"
        #expect(eventually { worker.log.contains(full) }, "\(worker.log)")
        for _ in 0..<50 { #expect(get(client) == 200) }
        #expect(worker.log.components(separatedBy: "No space left on device").count - 1 == 1, "said once: \(worker.log)")

        // Space again: the log now leads to a file, reopened on USR1 as after logrotate.
        #expect(unlink(link) == 0 && symlink(real, link) == 0)
        worker.signal(SIGUSR1)
        #expect(eventually { _ = get(client, "/after"); return worker.log.contains("is written again") }, "\(worker.log)")
        let back = try #require(worker.log.split(separator: "\n").first { $0.contains("is written again") })
        let dropped = Int(back.split(separator: ";")[1].split(separator: " ")[0]) ?? 0
        #expect(dropped >= 100, "the lines of the 100 requests are counted as lost: \(back)")
        #expect(eventually { ((try? String(contentsOfFile: real, encoding: .utf8)) ?? "").contains("/after") })
    }

    @Test func aFullErrorLogIsSaidOnceOnStderrAndItsReturnInTheFile() throws {
        let directory = TemporaryDirectory()
        let link = directory.file("error.log"), real = directory.file("real.log")
        #expect(symlink("/dev/full", link) == 0)
        let daemon = try CorraldProcess(["-w", "2", "--log-level", "debug", "--error-logfile", link])
        #expect(daemon.waitUntilServing(workers: 2), "\(daemon.log)")
        // corrald's own start already wrote to the full log; each refused request adds a debug
        // line from a worker, relayed into it.
        for _ in 0..<20 {
            let client = try RawClient(port: daemon.port)
            client.send("GET / HTTP/1.1\r\n\r\n")
            #expect(client.readResponse()?.status == 400)
        }
        #expect(try RawClient.get(port: daemon.port, "/")?.status == 200, "serving goes on")
        let said = daemon.log.components(separatedBy: "error log \(link): No space left on device").count - 1
        #expect(said == 1, "said once, on stderr: \(daemon.log)")

        // Space again: USR1 reopens the log (now a file); the next line brings the notice.
        #expect(unlink(link) == 0 && symlink(real, link) == 0)
        daemon.signal(SIGUSR1)
        #expect(eventually {
            if let client = try? RawClient(port: daemon.port) {   // a refused request: a debug line
                client.send("GET / HTTP/1.1\r\n\r\n")
                _ = client.readResponse()
            }
            return ((try? String(contentsOfFile: real, encoding: .utf8)) ?? "").contains("is written again;")
        }, "\((try? String(contentsOfFile: real, encoding: .utf8)) ?? "")")
    }
}

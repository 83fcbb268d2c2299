import Foundation
import Testing

/// A worker at its RLIMIT_NOFILE (prlimit): the loop lives on, the connections it has are served,
/// a file it cannot open is a 503 (not a 404), new connections wait in the backlog and are taken
/// as descriptors free up, and the error log says so at most once a second.
@Suite(.serialized) struct DescriptorLimitTests {
    @Test func atTheDescriptorLimitTheWorkerServesWhatItHasAndAcceptsAgainLater() throws {
        let root = TemporaryDirectory()
        root.write("a.txt", "alpha\n")
        let directory = TemporaryDirectory()
        let port = freePort()
        let started = Date()
        let worker = try TestProcess(["/usr/bin/prlimit", "--nofile=48:48", Binaries.path("corral-worker"),
                                      "--bind", "127.0.0.1:\(port)", "--root", root.path, "--cache-entries", "0",
                                      "--keep-alive", "60"], logPath: directory.file("worker.log"))
        #expect(eventually { (try? RawClient.get(port: port, "/a.txt"))??.status == 200 }, "\(worker.log)")
        // More connections than descriptors: the first are accepted, the rest wait in the backlog.
        var clients: [RawClient] = []
        for _ in 0..<80 { clients.append(try RawClient(port: port)) }
        #expect(eventually { worker.log.contains("accept: out of file descriptors (RLIMIT_NOFILE reached") }, "\(worker.log)")
        clients[0].send("GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        let refused = clients[0].readResponse()
        #expect(refused?.status == 503 && refused?.header("retry-after") == "1",
                "no descriptor left to open the file: \(String(describing: refused?.status))")
        #expect(worker.isRunning)
        // Descriptors free up (60 clients go): the 20 that waited in the backlog are accepted and
        // answered, with descriptors to spare for opening the file.
        clients.removeFirst(60)   // closed as they go
        for client in clients {
            client.send("GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(client.readResponse()?.text == "alpha\n")
        }
        let seconds = Date().timeIntervalSince(started)
        let warnings = worker.log.components(separatedBy: "out of file descriptors").count - 1
        #expect(warnings >= 1 && Double(warnings) <= seconds + 1, "\(warnings) warnings in \(seconds) s")
    }
}

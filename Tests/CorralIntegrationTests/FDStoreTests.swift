import Foundation
import Testing

/// systemd's fd store, from both ends without systemd: corrald hands each socket it opens to its
/// NOTIFY_SOCKET with FDSTORE=1 (received here by a Python listener, fds and all), drops removed
/// ones with FDSTOREREMOVE=1, and at start takes a stored socket back from LISTEN_FDS for its bind.
@Suite(.serialized) struct FDStoreTests {
    /// A NOTIFY_SOCKET that logs each datagram and, for each fd passed with it, the port it listens on.
    private func notifyListener(in directory: TemporaryDirectory) throws -> (TestProcess, String, String) {
        let socketPath = directory.file("notify.sock")
        let output = directory.file("notify.log")
        directory.write("listen.py", """
            import socket, sys
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            listener.bind(sys.argv[1])
            while True:
                message, fds, _, _ = socket.recv_fds(listener, 4096, 8)
                ports = []
                for fd in fds:
                    passed = socket.socket(fileno=fd)
                    listening = passed.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                    ports.append("%d%s" % (passed.getsockname()[1], " listening" if listening else ""))
                    passed.close()
                with open(sys.argv[2], "a") as log:
                    log.write(message.decode().replace("\\n", " ") + (" fds=" + ",".join(ports) if ports else "") + "\\n")

            """)
        let process = try TestProcess(["/usr/bin/python3", directory.file("listen.py"), socketPath, output], logPath: directory.file("listen.err"))
        #expect(eventually { FileManager.default.fileExists(atPath: socketPath) })
        return (process, socketPath, output)
    }

    @Test func corraldStoresTheSocketsItOpensAndDropsTheOnesAReloadRemoves() throws {
        let directory = TemporaryDirectory()
        let (listener, socketPath, output) = try notifyListener(in: directory)
        defer { withExtendedLifetime(listener) {} }
        let first = freePort(), second = freePort()
        let daemon = try CorraldProcess(config: "workers = 1\nbind = [\"127.0.0.1:\(first)\", \"127.0.0.1:\(second)\"]\n",
                                        environment: ["NOTIFY_SOCKET": socketPath], port: first, bindFlag: false)
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        func lines() -> [String] { ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
        #expect(eventually { lines().contains("FDSTORE=1 FDNAME=bind-127.0.0.1_\(first) fds=\(first) listening") }, "\(lines())")
        #expect(lines().contains("FDSTORE=1 FDNAME=bind-127.0.0.1_\(second) fds=\(second) listening"), "\(lines())")

        daemon.directory.write("corral.toml", "workers = 1\nbind = [\"127.0.0.1:\(first)\"]\n")
        daemon.signal(SIGHUP)
        #expect(eventually { lines().contains("FDSTOREREMOVE=1 FDNAME=bind-127.0.0.1_\(second)") }, "\(lines()) \(daemon.log)")
        #expect(!lines().contains("FDSTOREREMOVE=1 FDNAME=bind-127.0.0.1_\(first)"), "the kept socket stays stored")
    }

    @Test func atStartAStoredSocketServesItsBindInsteadOfANewOne() throws {
        let directory = TemporaryDirectory()
        let port = freePort()
        // What systemd does after a crash: the stored socket comes back as fd 3, named as stored.
        let process = try TestProcess(["/usr/bin/systemd-socket-activate", "-l", "127.0.0.1:\(port)", "--fdname=bind-127.0.0.1_\(port)",
                                       Binaries.path("corrald"), "-b", "127.0.0.1:\(port)", "-w", "1",
                                       "-p", directory.file("corrald.pid")], logPath: directory.file("corrald.log"))
        defer { process.signal(SIGTERM); _ = process.waitForExit() }
        // The first connection makes systemd-socket-activate exec corrald; it waits in the backlog.
        var connected: RawClient?
        #expect(eventually { connected = try? RawClient(port: port); return connected != nil })
        let early = try #require(connected)
        early.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(early.readResponse()?.status == 200, "\(process.log)")
        #expect(process.log.contains("taken back from systemd's fd store: 127.0.0.1:\(port)"), "\(process.log)")
        #expect(!process.log.contains("inherited from systemd"), "a stored socket is corrald's own, not a socket unit's")
    }
}

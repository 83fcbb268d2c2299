import CorralServer
import CorralEventLoop
import CorralSystemd
import Foundation
import Testing

/// Spawning workers the systemd way, as corrald will: sockets at fds 3…, LISTEN_PID = the child.
@Suite(.serialized) struct WorkerSpawnerTests {
    @Test func theChildSeesItsSocketsAndItsOwnPid() throws {
        let dir = TemporaryDirectory()
        let report = dir.file("report")
        let first = try BindAddress.tcp(host: "127.0.0.1", port: 0).listen(backlog: 16)
        let second = try BindAddress.tcp(host: "127.0.0.1", port: 0).listen(backlog: 16)
        defer { close(first); close(second) }
        var spawner = WorkerSpawner(executable: "/bin/sh",
                                    arguments: ["-c", "echo \"$$ $LISTEN_PID $LISTEN_FDS $LISTEN_FDNAMES $(ls /proc/self/fd | tr '\\n' ' ')\" > \(report)"])
        spawner.environment["LISTEN_PID"] = "999"   // replaced, never inherited
        let pid = try spawner.spawn(sockets: [ListenFD(fd: first, name: "http"), ListenFD(fd: second, name: "admin")])
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid)
        let fields = try String(contentsOfFile: report, encoding: .utf8).split(separator: " ")
        #expect(fields[0] == "\(pid)")
        #expect(fields[1] == "\(pid)", "LISTEN_PID is the child's own pid")
        #expect(fields[2] == "2")
        #expect(fields[3] == "http:admin")
        #expect(fields.contains("3") && fields.contains("4"), "the sockets are fds 3 and 4 after exec")
    }

    @Test func aMissingExecutableIsReportedWithItsErrno() {
        let spawner = WorkerSpawner(executable: "/nonexistent/worker")
        #expect(throws: SystemError.self) { try spawner.spawn(sockets: []) }
    }

    /// A deploy that has just written the worker executable may still hold it open: exec says
    /// ETXTBSY for a moment, and the spawn waits it out instead of failing the reload.
    @Test func anExecutableStillOpenForWritingIsWaitedFor() throws {
        let dir = TemporaryDirectory()
        let path = script("worker.sh", in: dir, "#!/bin/sh\nexit 7\n")
        let writer = open(path, O_WRONLY | O_CLOEXEC)   // no process other suites exec keeps it
        #expect(writer >= 0)
        Thread.detachNewThread { usleep(20_000); close(writer) }
        let pid = try WorkerSpawner(executable: path).spawn(sockets: [])
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid)
        #expect((status >> 8) & 0xff == 7, "the script ran")
    }

    @Test func corralWorkerServesASocketHandedOverLikeThis() throws {
        let socket = try BindAddress.tcp(host: "127.0.0.1", port: 0).listen(backlog: 16)
        defer { close(socket) }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(socket, $0, &length) }
        }
        let port = UInt16(bigEndian: address.sin_port)
        let pid = try WorkerSpawner(executable: Binaries.path("corral-worker")).spawn(sockets: [ListenFD(fd: socket, name: "http")])
        LaunchedProcesses.register(pid)
        defer {
            kill(pid, SIGKILL)
            waitpid(pid, nil, 0)
            LaunchedProcesses.unregister(pid)
        }
        #expect(eventually { (try? RawClient.get(port: port, "/"))??.status == 200 })
        kill(pid, SIGTERM)
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid)
        #expect(status == 0, "a drained worker exits 0")
    }
}

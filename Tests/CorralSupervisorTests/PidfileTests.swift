import Foundation
import Testing
@testable import CorralSupervisor

@Suite(.serialized) final class PidfileTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("corral-pid-\(UUID().uuidString)")

    init() throws { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }

    deinit { try? FileManager.default.removeItem(at: dir) }

    private func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// A live process whose command name is `name` (a copy of sleep, renamed); the caller stops it.
    private func process(named name: String) throws -> pid_t {
        let binary = path(name)
        if !FileManager.default.fileExists(atPath: binary) {
            try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: binary)
        }
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(binary), strdup("30"), nil]
        defer { argv.forEach { free($0) } }
        #expect(posix_spawn(&pid, binary, nil, nil, argv, environ) == 0)
        // Wait until the kernel shows the new command name (the exec has happened).
        for _ in 0..<500 where Pidfile.programName(of: pid) != name { usleep(10_000) }
        return pid
    }

    private func stop(_ pid: pid_t) {
        kill(pid, SIGKILL)
        waitpid(pid, nil, 0)
    }

    @Test func claimWritesOurPidAndReleaseRemovesIt() throws {
        let pidfile = Pidfile(path: path("corrald.pid"))
        try pidfile.claim(pid: 4242)
        #expect(try String(contentsOfFile: pidfile.path, encoding: .utf8) == "4242\n")
        pidfile.release(pid: 4242)
        #expect(!FileManager.default.fileExists(atPath: pidfile.path))
    }

    @Test func aLiveCorraldRefusesTheStart() throws {
        let other = try process(named: "corrald")
        defer { stop(other) }
        let pidfile = Pidfile(path: path("live.pid"))
        try pidfile.claim(pid: other)
        #expect(throws: Pidfile.AlreadyRunning.self) { try pidfile.claim(pid: 4242) }
        #expect(pidfile.read() == other)
    }

    @Test func aReusedPidOfAnotherProgramIsStale() throws {
        let other = try process(named: "postgres")
        defer { stop(other) }
        let pidfile = Pidfile(path: path("reused.pid"))
        try pidfile.claim(pid: other)
        try pidfile.claim(pid: 4242)
        #expect(pidfile.read() == 4242)
    }

    @Test func aDeadPidIsStale() throws {
        let pidfile = Pidfile(path: path("dead.pid"))
        try "999999\n".write(toFile: pidfile.path, atomically: true, encoding: .utf8)
        try pidfile.claim(pid: 4242)
        #expect(pidfile.read() == 4242)
    }

    @Test func releaseLeavesASuccessorsPidfileAlone() throws {
        let pidfile = Pidfile(path: path("successor.pid"))
        try pidfile.claim(pid: 5000)
        pidfile.release(pid: 4242)
        #expect(pidfile.read() == 5000)
    }
}

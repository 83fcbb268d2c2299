import Foundation
import Testing

/// corrald as it stands (issue 3 in progress): workers come up and serve, a killed worker is
/// replaced, HUP replaces every worker, TERM stops everything and removes the pidfile.
@Suite(.serialized) struct CorraldTests {
    private func workerPids(of parent: Int32) -> Set<Int32> {
        let text = (try? String(contentsOfFile: "/proc/\(parent)/task/\(parent)/children", encoding: .utf8)) ?? ""
        return Set(text.split(separator: " ").compactMap { Int32($0) })
    }

    @Test func superviseReloadAndStop() throws {
        let dir = TemporaryDirectory()
        let pidfile = dir.file("corrald.pid")
        let port = freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.path("corrald"))
        process.arguments = ["-b", "127.0.0.1:\(port)", "-w", "3", "-p", pidfile]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        LaunchedProcesses.register(pid)
        defer {
            kill(pid, SIGKILL)
            LaunchedProcesses.unregister(pid)
        }
        #expect(eventually { workerPids(of: pid).count == 3 && (try? RawClient.get(port: port, "/"))??.status == 200 })
        #expect((try? String(contentsOfFile: pidfile, encoding: .utf8)) == "\(pid)\n")

        let first = workerPids(of: pid)
        let victim = try #require(first.first)
        kill(victim, SIGKILL)
        #expect(eventually { let now = workerPids(of: pid); return now.count == 3 && !now.contains(victim) },
                "a killed worker is replaced")

        let beforeReload = workerPids(of: pid)
        kill(pid, SIGHUP)
        #expect(eventually { let now = workerPids(of: pid); return now.count == 3 && now.isDisjoint(with: beforeReload) },
                "HUP replaces every worker")
        #expect(try RawClient.get(port: port, "/")?.status == 200)

        let last = workerPids(of: pid)
        kill(pid, SIGTERM)
        #expect(eventually { !process.isRunning })
        #expect(process.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: pidfile), "the pidfile is removed")
        #expect(last.allSatisfy { kill($0, 0) != 0 }, "no worker is left")
    }
}

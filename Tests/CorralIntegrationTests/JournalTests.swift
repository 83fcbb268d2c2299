import Foundation
import Testing

/// The `journal` access-log destination against a real journald (started here when none runs).
@Suite(.serialized) final class JournalTests {
    let journald = Journald()

    @Test func accessEntriesCarryStructuredFields() throws {
        try journald.start()
        let worker = try WorkerProcess(arguments: ["--access-logfile", "journal", "--access-logformat", "%(h)s %(t)s %(U)s %(q)s"])
        let path = "/journal-\(UUID().uuidString)"
        #expect(try RawClient.get(port: worker.port, path + "?x=1")?.status == 200)
        var entry: [String: Any] = [:]
        let found = eventually {
            let output = journald.query(["SYSLOG_IDENTIFIER=corral-access", "REQUEST_PATH=\(path)"])
            guard let line = output.split(separator: "\n").first,
                  let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return false }
            entry = object
            return true
        }
        #expect(found)
        #expect(entry["STATUS"] as? String == "200")
        #expect(entry["REQUEST_METHOD"] as? String == "GET")
        #expect(entry["QUERY_STRING"] as? String == "x=1")
        #expect(entry["REMOTE_ADDR"] as? String == "127.0.0.1")
        #expect(Int(entry["RESPONSE_BYTES"] as? String ?? "") ?? 0 > 0)
        #expect(entry["DURATION_USEC"] != nil)
        #expect((entry["MESSAGE"] as? String)?.hasSuffix("\(path) x=1") == true)
    }
}

/// A real systemd-journald: the running one if there is one, else one started for the tests
/// (it runs standalone as root) and stopped afterwards.
final class Journald {
    private var process: Process?

    func start() throws {
        if FileManager.default.fileExists(atPath: "/run/systemd/journal/socket") && isAnswering() { return }
        guard getuid() == 0 else {
            throw WorkerFailed(description: "journald is not running and starting it needs root")
        }
        try FileManager.default.createDirectory(atPath: "/run/systemd/journal", withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/lib/systemd/systemd-journald")
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        guard eventually({ FileManager.default.fileExists(atPath: "/run/systemd/journal/socket") && self.isAnswering() }) else {
            throw WorkerFailed(description: "journald did not come up")
        }
    }

    private func isAnswering() -> Bool {
        run("/usr/bin/journalctl", ["-n", "0", "--no-pager"]).status == 0
    }

    func query(_ matches: [String]) -> String {
        run("/usr/bin/journalctl", ["--no-pager", "-o", "json"] + matches).output
    }

    private func run(_ tool: String, _ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return (-1, "") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    deinit {
        if let process, process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}

import Foundation
import Testing

/// The journal destinations against a real journald (started here when none runs): the access
/// log's, and corrald's own entries with fields an operator filters on.
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

    @Test func behindAProxyTheEntrysREMOTE_ADDRIsTheClient() throws {
        try journald.start()
        let worker = try WorkerProcess(arguments: ["--proxy-protocol", "--access-logfile", "journal"])
        let path = "/proxied-\(UUID().uuidString)"
        let client = try RawClient(port: worker.port)
        client.send("PROXY TCP4 198.51.100.9 127.0.0.1 40000 80\r\nGET \(path) HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(client.readResponse()?.status == 200)
        #expect(eventually { entries(["SYSLOG_IDENTIFIER=corral-access", "REQUEST_PATH=\(path)"]).first?["REMOTE_ADDR"] as? String == "198.51.100.9" },
                "\(entries(["SYSLOG_IDENTIFIER=corral-access", "REQUEST_PATH=\(path)"]))")
    }

    /// journalctl's entries for these matches, as JSON objects.
    private func entries(_ matches: [String]) -> [[String: Any]] {
        journald.query(matches).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    @Test func corraldEntriesCarryEventsAndWorkerFields() throws {
        try journald.start()
        let directory = TemporaryDirectory()
        let warning = "warning from the app \(UUID().uuidString)"
        let noisy = script("noisy", in: directory, "#!/bin/sh\necho '\(warning)' >&2\nexec \(Binaries.path("corral-worker"))\n")
        let daemon = try CorraldProcess(["--error-logfile", "journal"], config: "workers = 2\nworker_cmd = \"\(noisy)\"\n")
        #expect(daemon.waitUntilServing(workers: 2))
        let pid = "_PID=\(daemon.pid)"
        #expect(eventually { entries([pid, "CORRAL_EVENT=spawn"]).count == 2 })
        let spawn = entries([pid, "CORRAL_EVENT=spawn"])[0]
        #expect(spawn["SYSLOG_IDENTIFIER"] as? String == "corrald" && spawn["PRIORITY"] as? String == "6")
        #expect(spawn["CORRAL_GENERATION"] as? String == "1" && spawn["CORRAL_WORKER_SLOT"] != nil)
        #expect(daemon.workers.map { "\($0)" }.contains(spawn["CORRAL_WORKER_PID"] as? String ?? ""))

        daemon.signal(SIGHUP)
        #expect(eventually { entries([pid, "CORRAL_EVENT=reload-done"]).count == 1 })
        #expect(entries([pid, "CORRAL_EVENT=reload-done"]).first?["CORRAL_GENERATION"] as? String == "2")
        let victim = try #require(daemon.workers.first)
        kill(victim, SIGKILL)
        #expect(eventually { !entries([pid, "CORRAL_EVENT=exit", "CORRAL_WORKER_PID=\(victim)"]).isEmpty })
        let exit = entries([pid, "CORRAL_EVENT=exit", "CORRAL_WORKER_PID=\(victim)"])[0]
        #expect(exit["CORRAL_EXIT_STATUS"] as? String == "signal 9" && exit["PRIORITY"] as? String == "3")

        daemon.directory.write("corral.toml", "workers = 2\nworkerz = 1\n")
        daemon.signal(SIGHUP)
        #expect(eventually { !entries([pid, "CORRAL_EVENT=reload-failed"]).isEmpty })
        let failed = entries([pid, "CORRAL_EVENT=reload-failed"])[0]["MESSAGE"] as? String ?? ""
        #expect(failed.contains("\n") && failed.contains("corral.toml:2: unknown setting"), "a multi-line message is one entry: \(failed)")

        #expect(eventually { !entries(["SYSLOG_IDENTIFIER=corral-worker", "MESSAGE=\(warning)", "CORRAL_WORKER_SLOT=0"]).isEmpty },
                "worker output arrives with its pid and slot")
    }
}

/// A real systemd-journald: the running one if there is one, else one started for the tests
/// (it runs standalone as root) and stopped afterwards.
final class Journald {
    private var process: TestProcess?
    private let directory = TemporaryDirectory()

    func start() throws {
        if isAnswering() { return }
        guard getuid() == 0 else {
            throw WorkerFailed(description: "journald is not running and starting it needs root")
        }
        try FileManager.default.createDirectory(atPath: "/run/systemd/journal", withIntermediateDirectories: true)
        process = try TestProcess(["/lib/systemd/systemd-journald"], logPath: directory.file("journald.log"))
        guard eventually({ self.isAnswering() }) else {
            throw WorkerFailed(description: "journald did not come up")
        }
    }

    /// Whether a journald listens on its socket (a stale socket file refuses the connection).
    private func isAnswering() -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array("/run/systemd/journal/socket".utf8)) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }

    /// journalctl's JSON lines for these matches.
    func query(_ matches: [String]) -> String {
        shell((["/usr/bin/journalctl", "--no-pager", "-o", "json"] + matches).map(shellQuoted).joined(separator: " ") + " 2>/dev/null").output
    }
}

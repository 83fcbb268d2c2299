import Foundation
import Testing

/// The control socket as operators drive it: the real supervisorctl (PyPI's supervisor 4.3.0,
/// installed by `make test`), and hostile bytes that must not hurt corrald.
@Suite(.serialized) struct ControlSocketTests {
    private static let supervisorctl: String = {
        if let path = ProcessInfo.processInfo.environment["CORRAL_SUPERVISORCTL"] { return path }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.appendingPathComponent(".build/supervisor-venv/bin/supervisorctl").path
    }()

    private func ctl(_ daemon: CorraldProcess, _ arguments: String) -> (output: String, status: Int32) {
        shell("\(Self.supervisorctl) -s unix://\(daemon.directory.file("corrald.sock")) \(arguments)")
    }

    /// supervisorctl status lines: name → (state, description).
    private func status(_ daemon: CorraldProcess) -> [String: (state: String, description: String)] {
        var result: [String: (String, String)] = [:]
        for line in ctl(daemon, "status").output.split(separator: "\n") {
            let words = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            if words.count >= 2 { result[String(words[0])] = (String(words[1]), words.count > 2 ? String(words[2]).trimmingCharacters(in: .whitespaces) : "") }
        }
        return result
    }

    private func pids(_ daemon: CorraldProcess) -> [String: Int32] {
        status(daemon).compactMapValues { entry in
            entry.description.hasPrefix("pid ") ? Int32(entry.description.dropFirst(4).prefix { $0 != "," }) : nil
        }
    }

    @Test func supervisorctlInstalled() {
        #expect(FileManager.default.isExecutableFile(atPath: Self.supervisorctl),
                "make test installs supervisor into .build/supervisor-venv: \(Self.supervisorctl)")
    }

    @Test func statusPidVersionAndARestartAfterKill() throws {
        let daemon = try CorraldProcess(["-w", "2"])
        #expect(daemon.waitUntilServing(workers: 2))
        #expect(eventually { status(daemon).count == 2 && status(daemon).values.allSatisfy { $0.state == "RUNNING" } })
        let first = pids(daemon)
        #expect(Set(first.values) == daemon.workers, "status shows the real pids: \(first)")
        #expect(ctl(daemon, "status").output.contains("uptime 0:00:"))
        #expect(ctl(daemon, "pid").output.trimmingCharacters(in: .whitespacesAndNewlines) == "\(daemon.pid)")
        #expect(ctl(daemon, "pid corral:1").output.trimmingCharacters(in: .whitespacesAndNewlines) == "\(first["corral:1"] ?? -1)")
        #expect(ctl(daemon, "version").output.hasPrefix("corral "))

        kill(first["corral:0"]!, SIGKILL)
        #expect(eventually { let now = pids(daemon); return now.count == 2 && now["corral:0"] != first["corral:0"] && now["corral:0"] != nil },
                "status shows the replacement")
        #expect(ctl(daemon, "status nosuch:0").status == 4, "a bad name exits 4")
    }

    @Test func reloadReplacesEveryPidAndABrokenDeployKeepsThem() throws {
        let daemon = try CorraldProcess(config: "workers = 2\nboot_timeout = 5\n")
        #expect(daemon.waitUntilServing(workers: 2))
        #expect(eventually { pids(daemon).count == 2 })
        let before = pids(daemon)
        let reload = ctl(daemon, "reload")
        #expect(reload.status == 0 && reload.output.contains("Restarted supervisord"), "\(reload.output)")
        #expect(eventually { let now = pids(daemon); return now.count == 2 && Set(now.values).isDisjoint(with: before.values) })

        let reloaded = pids(daemon)
        #expect(ctl(daemon, "reread").output.contains("No config updates"), "an unchanged file")
        daemon.directory.write("corral.toml", "workers = 2\nboot_timeout = 6\n")
        #expect(ctl(daemon, "reread").output.contains("corral: changed"))
        let updated = ctl(daemon, "update")
        #expect(updated.output.contains("corral: updated process group"), "\(updated.output)")
        #expect(eventually { let now = pids(daemon); return now.count == 2 && Set(now.values).isDisjoint(with: reloaded.values) })
        let afterUpdate = pids(daemon)
        let broken = script("broken-app", in: daemon.directory, "#!/bin/sh\necho 'broken deploy' >&2\nexit 3\n")
        daemon.directory.write("corral.toml", "workers = 2\nboot_timeout = 5\nworker_cmd = \"\(broken)\"\n")
        #expect(ctl(daemon, "reload").status == 0)
        #expect(eventually { daemon.log.contains("reload failed") })
        #expect(pids(daemon) == afterUpdate, "the old generation keeps serving")
    }

    @Test func stopStartRestartAndSignal() throws {
        let daemon = try CorraldProcess(["-w", "2"])
        #expect(daemon.waitUntilServing(workers: 2))
        #expect(eventually { pids(daemon).count == 2 })
        let before = pids(daemon)

        let restarted = ctl(daemon, "restart corral:1")
        #expect(restarted.output.contains("corral:1: stopped") && restarted.output.contains("corral:1: started"), "\(restarted.output)")
        let afterRestart = pids(daemon)
        #expect(afterRestart["corral:0"] == before["corral:0"] && afterRestart["corral:1"] != before["corral:1"])

        let stopped = ctl(daemon, "stop all")
        #expect(stopped.output.contains("corral:0: stopped") && stopped.output.contains("corral:1: stopped"))
        #expect(status(daemon).values.allSatisfy { $0.state == "STOPPED" })
        #expect(ctl(daemon, "status").status == 3, "stopped processes make status exit 3")
        #expect(daemon.workers.isEmpty)
        #expect(shell("ss -Hltn sport = :\(daemon.port)").output.contains("LISTEN"), "corrald keeps the socket")

        let started = ctl(daemon, "start all")
        #expect(started.output.contains("corral:0: started") && started.output.contains("corral:1: started"))
        #expect(status(daemon).values.allSatisfy { $0.state == "RUNNING" })
        #expect(try RawClient.get(port: daemon.port, "/")?.status == 200)

        // supervisorctl's restart is stop-then-start; corrald keeps the sockets meanwhile, so
        // connections wait in the backlog instead of failing.
        let load = LoadClients(port: daemon.port, clients: 3)
        let beforeRestart = daemon.workers
        let restartedAll = ctl(daemon, "restart corral:*")
        let result = load.stop()
        #expect(restartedAll.output.contains("corral:0: started") && daemon.workers.isDisjoint(with: beforeRestart))
        #expect(result.failures == 0, "\(result)")

        let signalled = ctl(daemon, "signal KILL corral:0")
        #expect(signalled.output.contains("corral:0: signalled"))
        #expect(eventually { daemon.log.contains("was killed by signal 9") })
    }

    @Test func tailAndMaintail() throws {
        let directory = TemporaryDirectory()
        let chatty = script("chatty", in: directory, """
            #!/bin/sh
            echo "hello from stdout \\033[31mcolour\\033[0m"
            echo "hello from stderr" >&2
            exec \(Binaries.path("corral-worker"))
            """)
        let daemon = try CorraldProcess(["-w", "1", "--worker-cmd", chatty])
        #expect(daemon.waitUntilServing(workers: 1))
        #expect(eventually { ctl(daemon, "tail corral:0").output.contains("hello from stdout") },
                "tail shows the worker's stdout, escape characters replaced")
        #expect(ctl(daemon, "tail corral:0 stderr").output.contains("hello from stderr"))
        #expect(ctl(daemon, "maintail").output.contains("spawned worker 0 of generation 1"))
        #expect(shell("timeout -s KILL 2 \(Self.supervisorctl) -s unix://\(daemon.directory.file("corrald.sock")) tail -f corral:0").output
                    .contains("hello from stdout"), "tail -f streams")
        #expect(shell("timeout -s KILL 2 \(Binaries.path("corralctl")) tail -f 0 stderr -s unix://\(daemon.directory.file("corrald.sock"))").output
                    .contains("hello from stderr"), "corralctl tail -f streams")
        #expect(daemon.log.contains("hello from stdout"), "the output also reaches corrald's own")
    }

    @Test func shutdownStopsEverything() throws {
        let daemon = try CorraldProcess(["-w", "2"])
        #expect(daemon.waitUntilServing(workers: 2))
        let workers = daemon.workers
        let result = ctl(daemon, "shutdown")
        #expect(result.output.contains("Shut down"), "\(result.output)")
        #expect(daemon.waitForExit() == 0)
        #expect(workers.allSatisfy(isGone))
        #expect(!FileManager.default.fileExists(atPath: daemon.directory.file("corrald.sock")), "the socket file is removed")
    }

    @Test func hostileInputGetsCleanAnswersAndCorraldCarriesOn() throws {
        let daemon = try CorraldProcess(["-w", "1"])
        #expect(daemon.waitUntilServing(workers: 1))
        let socket = daemon.directory.file("corrald.sock")
        func send(_ bytes: [UInt8]) -> String {
            let fd = Foundation.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(socket.utf8)) }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard connected == 0 else { return "connect failed" }
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            shutdown(fd, Int32(SHUT_WR))
            var response: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n <= 0 { break }
                response += buffer[..<n]
            }
            return String(decoding: response, as: UTF8.self)
        }
        func rpc(_ body: String, declaredLength: Int? = nil) -> String {
            send(Array("POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: \(declaredLength ?? body.utf8.count)\r\n\r\n\(body)".utf8))
        }
        #expect(send(Array(repeating: 0xff, count: 3000)).hasPrefix("HTTP/1.1 4"), "garbage bytes: a 4xx and close")
        #expect(!rpc("<?xml version='1.0'?><methodCall><methodName>supervisor.getPID</methodName>", declaredLength: 500)
                .contains("methodResponse"), "a truncated body is never answered as if complete")
        let huge = send(Array("POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n".utf8) + Array(repeating: 0x41, count: 10 << 20))
        #expect(huge.hasPrefix("HTTP/1.1 413"), "a 10 MB body: 413, \(huge.prefix(40))")
        #expect(rpc("<methodCall><methodName>").contains("<name>faultCode</name><value><int>-32700</int>"), "malformed XML: a fault")
        let laughs = "<?xml version='1.0'?><!DOCTYPE l [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>]><methodCall><methodName>&b;</methodName></methodCall>"
        #expect(rpc(laughs).contains("DTDs are not accepted"), "entities are never expanded")
        #expect(rpc("<methodCall><methodName>supervisor.noSuchThing</methodName><params/></methodCall>").contains("<int>1</int>"), "unknown method: fault 1")
        #expect(rpc("<methodCall><methodName>supervisor.getPID</methodName><params><param><value><int>1</int></value></param></params></methodCall>")
                .contains("<int>2</int>"), "wrong arity: fault 2")
        #expect(rpc("<methodCall><methodName>supervisor.getPID</methodName><params/></methodCall>").contains("<int>\(daemon.pid)</int>"))
        #expect(try RawClient.get(port: daemon.port, "/")?.status == 200, "the workers never noticed")
        #expect(daemon.isRunning)
    }

    @Test func otherUsersCannotConnect() throws {
        try #require(getuid() == 0, "needs root to run a command as nobody (CI runs as root)")
        let daemon = try CorraldProcess(["-w", "1"])
        #expect(daemon.waitUntilServing(workers: 1))
        let socket = daemon.directory.file("corrald.sock")
        var info = stat()
        #expect(stat(socket, &info) == 0 && info.st_mode & 0o777 == 0o600)
        chmod(daemon.directory.path, 0o755)   // let nobody reach the socket file, to meet its mode
        let denied = shell("runuser -u nobody -- \(Self.supervisorctl) -s unix://\(socket) pid")
        #expect(!denied.output.contains("\(daemon.pid)") && denied.output.contains("denied"), "\(denied.output)")

        let grouped = try CorraldProcess(["-w", "1"], config: "control_group = \"nogroup\"\n")
        #expect(grouped.waitUntilServing(workers: 1))
        let group = try #require(getgrnam("nogroup")).pointee.gr_gid
        #expect(stat(grouped.directory.file("corrald.sock"), &info) == 0 && info.st_mode & 0o777 == 0o660 && info.st_gid == group,
                "control_group opens it to that group, and no further")
    }

    // MARK: corralctl

    private func corralctl(_ daemon: CorraldProcess, _ arguments: String) -> (output: String, status: Int32) {
        shell("\(Binaries.path("corralctl")) \(arguments) -s unix://\(daemon.directory.file("corrald.sock"))")
    }

    @Test func corralctlReportsAndActs() throws {
        let daemon = try CorraldProcess(config: "workers = 2\nboot_timeout = 5\n")
        #expect(daemon.waitUntilServing(workers: 2))
        #expect(eventually { corralctl(daemon, "status").status == 0 })
        let table = corralctl(daemon, "status").output
        for pid in daemon.workers { #expect(table.contains(" \(pid) "), "\(table)") }
        #expect(table.contains("SLOT") && table.contains("HEARTBEAT") && table.contains("RUNNING"))
        // REQUESTS follows what was served within a second or so, not with the heartbeat
        // (timeout / 2: 15 s here).
        func served() -> Int {
            let rows = corralctl(daemon, "status").output.split(separator: "\n").map { $0.split(separator: " ") }
            guard let column = rows.first?.firstIndex(of: "REQUESTS") else { return -1 }
            return rows.dropFirst().compactMap { $0.count > column ? Int($0[column]) : nil }.reduce(0, +)
        }
        for _ in 0..<5 { #expect(try RawClient.get(port: daemon.port, "/")?.status == 200) }
        #expect(eventually(timeout: 5) { served() >= 6 }, "REQUESTS: \(served()) after waitUntilServing's request and 5 more")
        #expect(corralctl(daemon, "status --json").output.hasPrefix("[{\"name\":\"0\""))
        #expect(corralctl(daemon, "pid").output == "\(daemon.pid)\n")
        #expect(corralctl(daemon, "version").output.hasPrefix("corral "))

        let reloaded = corralctl(daemon, "reload")
        #expect(reloaded.status == 0 && reloaded.output.contains("reloaded: 2 workers of generation 2 ready"), "\(reloaded.output)")
        let broken = script("broken-app", in: daemon.directory, "#!/bin/sh\nexit 3\n")
        daemon.directory.write("corral.toml", "workers = 2\nboot_timeout = 5\nworker_cmd = \"\(broken)\"\n")
        let failed = corralctl(daemon, "reload")
        #expect(failed.status == 1, "a failed reload exits non-zero")
        #expect(failed.output.contains("reload failed: worker") && failed.output.contains("exited with status 3"), "\(failed.output)")
        daemon.directory.write("corral.toml", "workers = 2\n")

        #expect(corralctl(daemon, "workers +1").output == "workers: 3\n")
        #expect(eventually { daemon.workers.count == 3 })
        #expect(corralctl(daemon, "workers -1").output == "workers: 2\n", "a negative number is a value, not an option")
        #expect(eventually { daemon.workers.count == 2 })
        #expect(corralctl(daemon, "workers 2").output == "workers: 2\n")
        #expect(corralctl(daemon, "workers").status == 2, "bad usage exits 2, as --help says")
        #expect(corralctl(daemon, "stop 1").output.contains("corral:1: stopped"))
        #expect(corralctl(daemon, "status").status == 3, "a stopped worker makes status exit 3")
        #expect(corralctl(daemon, "start 1").output.contains("corral:1: started"))
        #expect(eventually { corralctl(daemon, "status").status == 0 })

        let load = LoadClients(port: daemon.port, clients: 3)
        let before = daemon.workers
        let restarted = corralctl(daemon, "restart")
        let result = load.stop()
        #expect(restarted.output.contains("corral:0: restarted") && restarted.output.contains("corral:1: restarted"))
        #expect(daemon.workers.isDisjoint(with: before), "every worker restarted")
        #expect(result.failures == 0, "a rolling restart fails no request: \(result)")

        #expect(corralctl(daemon, "maintail").output.contains("reload failed"))
        #expect(corralctl(daemon, "signal TERM 0").output.contains("corral:0: signalled"))
        #expect(shell("\(Binaries.path("corralctl")) status -s unix:///nonexistent.sock").status == 4, "unreachable exits 4")
        #expect(corralctl(daemon, "shutdown").output.contains("Shut down"))
        #expect(daemon.waitForExit() == 0)
    }

    @Test func corralctlFindsTheSocketFromTheConfig() throws {
        let directory = TemporaryDirectory()
        let socket = directory.file("ctl.sock")
        let daemon = try CorraldProcess(config: "workers = 1\ncontrol_socket = \"\(socket)\"\ncontrol_username = \"ops\"\ncontrol_password = \"s3cret\"\n")
        #expect(daemon.waitUntilServing(workers: 1))
        #expect(eventually { shell("\(Binaries.path("corralctl")) pid -c \(daemon.configPath)").output == "\(daemon.pid)\n" },
                "socket path and credentials from the config")
        // As supervisorctl is typed: the connection options before the verb.
        let ctl = Binaries.path("corralctl")
        #expect(shell("\(ctl) -c \(daemon.configPath) pid").output == "\(daemon.pid)\n")
        #expect(shell("\(ctl) --config=\(daemon.configPath) --json status").output.hasPrefix("[{\"name\":\"0\""))
        #expect(shell("\(ctl) -s unix://\(socket) -c \(daemon.configPath) reload").output.contains("reloaded: 1 workers"))
        #expect(shell("\(ctl) -s unix:///nonexistent.sock status").status == 4)
        let anonymous = shell("\(Self.supervisorctl) -s unix://\(socket) pid")
        #expect(!anonymous.output.contains("\(daemon.pid)"), "Basic auth is required: \(anonymous.output)")
        #expect(shell("\(Self.supervisorctl) -s unix://\(socket) -u ops -p s3cret pid").output.contains("\(daemon.pid)"))
    }
}

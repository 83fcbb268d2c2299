import ArgumentParser
import CorralCommandLine
import CorralControl
import Glibc

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Each worker: slot, pid, generation, state, uptime, requests, connections, requests in flight (corral-python), last heartbeat.")
    @OptionGroup var connection: Connection

    func run() throws {
        var notRunning = false
        try connection.run { client in
            let processes = try client.call("supervisor.getAllProcessInfo").array ?? []
            notRunning = processes.contains { $0["statename"]?.string != "RUNNING" }
            if connection.json { return printJSON(.array(processes)) }
            print(pad("SLOT", 6) + pad("PID", 9) + pad("GEN", 5) + pad("STATE", 10) + pad("UPTIME", 16) + pad("REQUESTS", 10)
                  + pad("CONNS", 7) + pad("INFLIGHT", 10) + "HEARTBEAT")
            for process in processes {
                let counters = Dictionary(uniqueKeysWithValues: (process["status"]?.string ?? "").split(separator: " ").compactMap { pair in
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
                })
                let running = process["statename"]?.string == "RUNNING"
                let started = process["start"]?.int ?? 0, now = process["now"]?.int ?? 0
                let heartbeat = process["heartbeat_age"].flatMap { if case .double(let age) = $0, age >= 0 { age } else { nil } }
                print(pad(process["name"]?.string ?? "?", 6) + pad(running ? String(process["pid"]?.int ?? 0) : "-", 9)
                      + pad(String(process["generation"]?.int ?? 0), 5) + pad(process["statename"]?.string ?? "?", 10)
                      + pad(running ? ControlService.uptime(now - started) : "-", 16) + pad(counters["requests"] ?? "-", 10)
                      + pad(counters["connections"] ?? "-", 7) + pad(counters["in_flight"] ?? "-", 10)
                      + (heartbeat.map { String(Int($0 * 1000)) + " ms ago" } ?? "-"))
            }
        }
        if notRunning { throw ExitCode(Exit.notAllRunning) }
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(1, width - text.count))
    }
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Reload without downtime; waits for the outcome and exits 1 if it failed.")
    @OptionGroup var connection: Connection

    func run() throws {
        var succeeded = false
        try connection.run { client in
            let outcome = try client.call("corral.reload")
            succeeded = outcome["succeeded"]?.bool == true
            let detail = outcome["detail"]?.string ?? ""
            if connection.json { printJSON(outcome) } else { print(succeeded ? "reloaded: \(detail)" : "reload failed: \(detail)") }
        }
        if !succeeded { throw ExitCode(Exit.failed) }
    }
}

struct Upgrade: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Re-execute corrald's binary in place (same pid, same sockets, workers replaced without downtime); waits for the outcome and exits 1 if it failed.")
    @OptionGroup var connection: Connection

    func run() throws {
        var succeeded = false
        try connection.run { client in
            let started = try client.call("corral.upgrade")
            guard started["succeeded"]?.bool == true, let id = started["id"]?.string else {
                return print("upgrade failed: \(started["detail"]?.string ?? "")")
            }
            // corrald re-executes: the connection goes, the socket comes back. Ask until the
            // upgrade that was started reports its outcome.
            var status: XMLRPCValue?
            for _ in 0..<1200 {
                usleep(100_000)
                guard let answer = try? client.call("corral.upgradeStatus"), answer["id"]?.string == id,
                      answer["done"]?.bool == true else { continue }
                status = answer
                break
            }
            guard let status else { return print("upgrade failed: no outcome within 120 s") }
            succeeded = status["succeeded"]?.bool == true
            print((succeeded ? "upgraded: " : "upgrade failed: ") + (status["detail"]?.string ?? ""))
        }
        if !succeeded { throw ExitCode(Exit.failed) }
    }
}

/// stop, start and restart of workers by slot (`0`, `corral:0`) or `all`.
struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop workers (corrald keeps the sockets).")
    @OptionGroup var connection: Connection
    @Argument(help: "A slot (0, corral:0) or all.") var name = "all"

    func run() throws { try connection.run { try act($0, "stop", name, connection) } }
}

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start stopped workers.")
    @OptionGroup var connection: Connection
    @Argument(help: "A slot (0, corral:0) or all.") var name = "all"

    func run() throws { try connection.run { try act($0, "start", name, connection) } }
}

struct Restart: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Restart workers one slot at a time: the others keep serving.")
    @OptionGroup var connection: Connection
    @Argument(help: "A slot (0, corral:0) or all.") var name = "all"

    func run() throws {
        try connection.run { client in
            let group = try client.call("supervisor.getIdentification").string ?? "corral"
            let slots = name == "all" || name == group || name == "\(group):*"
                ? (try client.call("supervisor.getAllProcessInfo").array ?? []).compactMap { $0["name"]?.string }
                : [String(connection.name(name, group: group).split(separator: ":").last ?? "")]
            for slot in slots {
                _ = try client.call("supervisor.stopProcess", [.string("\(group):\(slot)")])
                _ = try client.call("supervisor.startProcess", [.string("\(group):\(slot)")])
                print("\(group):\(slot): restarted")
            }
        }
    }
}

private func act(_ client: ControlClient, _ verb: String, _ name: String, _ connection: Connection) throws {
    let group = try client.call("supervisor.getIdentification").string ?? "corral"
    let target = connection.name(name, group: group)
    let method = verb + (target == "all" ? "AllProcesses" : "Process")
    _ = try client.call("supervisor.\(method)", target == "all" ? [] : [.string(target)])
    print("\(target): \(verb == "stop" ? "stopped" : "started")")
}

struct Signal: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a signal (HUP, USR1, 9…) to workers.")
    @OptionGroup var connection: Connection
    @Argument(help: "The signal.") var signal: String
    @Argument(help: "A slot (0, corral:0) or all.") var name = "all"

    func run() throws {
        try connection.run { client in
            let group = try client.call("supervisor.getIdentification").string ?? "corral"
            let target = connection.name(name, group: group)
            if target == "all" {
                _ = try client.call("supervisor.signalAllProcesses", [.string(signal)])
            } else {
                _ = try client.call("supervisor.signalProcess", [.string(target), .string(signal)])
            }
            print("\(target): signalled")
        }
    }
}

struct Tail: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A worker's recent output (-f: keep following).")
    @OptionGroup var connection: Connection
    @Flag(name: .short, help: "Follow.") var follow = false
    @Argument(help: "A slot (0, corral:0).") var name = "0"
    @Argument(help: "stdout or stderr.") var channel = "stdout"

    func run() throws {
        try connection.run { client in
            let group = try client.call("supervisor.getIdentification").string ?? "corral"
            let target = connection.name(name, group: group)
            if follow { return try client.follow("/logtail/\(target)/\(channel)", output: emit) }
            let method = channel == "stderr" ? "readProcessStderrLog" : "readProcessStdoutLog"
            print(try client.call("supervisor.\(method)", [.string(target), .int(-1600), .int(0)]).string ?? "", terminator: "")
        }
    }
}

struct Maintail: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "corrald's own recent log (-f: keep following).")
    @OptionGroup var connection: Connection
    @Flag(name: .short, help: "Follow.") var follow = false

    func run() throws {
        try connection.run { client in
            if follow { return try client.follow("/mainlogtail", output: emit) }
            print(try client.call("supervisor.readLog", [.int(-1600), .int(0)]).string ?? "", terminator: "")
        }
    }
}

/// Writes followed output as it comes; false (stop) when stdout is gone.
private func emit(_ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) } == bytes.count
}

struct Pid: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "corrald's pid, or a worker's.")
    @OptionGroup var connection: Connection
    @Argument(help: "A slot (0, corral:0); none for corrald.") var name: String?

    func run() throws {
        try connection.run { client in
            if let name {
                let group = try client.call("supervisor.getIdentification").string ?? "corral"
                print(try client.call("supervisor.getProcessInfo", [.string(connection.name(name, group: group))])["pid"]?.int ?? 0)
            } else {
                print(try client.call("supervisor.getPID").int ?? 0)
            }
        }
    }
}

struct Workers: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Change the number of workers: +1, -1 or N.")
    @OptionGroup var connection: Connection
    @Argument(help: "+N, -N or N.") var change: String

    func run() throws {
        try connection.run { client in
            guard let number = Int(change.hasPrefix("+") ? String(change.dropFirst()) : change) else {
                throw CommandFailure("expected +N, -N or N, got \(change)", usageExitCode)
            }
            // N is measured from the configured count (a change of 0 reports it), not from the
            // processes listed, which include a removed worker still draining.
            let delta = change.hasPrefix("+") || change.hasPrefix("-") ? number
                : number - (try client.call("corral.changeWorkers", [.int(0)]).int ?? 0)
            let now = try client.call("corral.changeWorkers", [.int(delta)]).int ?? 0
            print("workers: \(now)")
        }
    }
}

struct Shutdown: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop corrald gracefully (its workers drain).")
    @OptionGroup var connection: Connection

    func run() throws {
        try connection.run { client in
            _ = try client.call("supervisor.shutdown")
            print("Shut down")
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "corrald's version.")
    @OptionGroup var connection: Connection

    func run() throws {
        try connection.run { client in print(try client.call("supervisor.getSupervisorVersion").string ?? "") }
    }
}

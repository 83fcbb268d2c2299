import CCorral
import CorralServer
import Glibc

/// supervisord's fault codes (supervisor/xmlrpc.py), which supervisorctl turns into messages.
public enum Faults {
    public static let unknownMethod = 1
    public static let incorrectParameters = 2
    public static let badArguments = 3
    public static let shutdownState = 6
    public static let badName = 10
    public static let badSignal = 11
    public static let failed = 30
    public static let spawnError = 50
    public static let alreadyStarted = 60
    public static let notRunning = 70
    public static let success = 80
    /// XML-RPC's own code for a document that cannot be read.
    public static let parseError = -32700
}

/// The supervisord XML-RPC methods supervisorctl (and corralctl) call, answered from a
/// ControlTarget. Workers are one process group, `groupName:slot`. Used on corrald's loop thread
/// only.
public final class ControlService: @unchecked Sendable {
    /// The build's version (CCorral's CORRAL_VERSION), as `corrald --version` prints it.
    public static let version = String(cString: corral_version())
    private let target: ControlTarget

    public init(target: ControlTarget) {
        self.target = target
    }

    /// Answers one call; faults are values here, not errors.
    public func handle(_ call: XMLRPCCall) async -> Result<XMLRPCValue, XMLRPCFault> {
        guard let method = Self.methods[call.method] else {
            return .failure(XMLRPCFault(Faults.unknownMethod, "UNKNOWN_METHOD"))
        }
        guard method.arity.contains(call.params.count) else {
            return .failure(XMLRPCFault(Faults.incorrectParameters, "INCORRECT_PARAMETERS"))
        }
        do {
            return .success(try await method.run(self, call.params))
        } catch {
            return .failure(error)
        }
    }

    private struct Method: Sendable {
        let arity: ClosedRange<Int>
        let run: @Sendable (ControlService, [XMLRPCValue]) async throws(XMLRPCFault) -> XMLRPCValue
    }

    private static let methods: [String: Method] = [
        "supervisor.getAPIVersion": Method(arity: 0...0) { _, _ in .string("3.0") },
        "supervisor.getVersion": Method(arity: 0...0) { _, _ in .string("3.0") },
        "supervisor.getSupervisorVersion": Method(arity: 0...0) { _, _ in .string("corral \(version)") },
        "supervisor.getIdentification": Method(arity: 0...0) { service, _ in .string(service.target.groupName) },
        "supervisor.getState": Method(arity: 0...0) { service, _ in
            service.target.isShuttingDown ? .struct([("statecode", .int(-1)), ("statename", .string("SHUTDOWN"))])
                                          : .struct([("statecode", .int(1)), ("statename", .string("RUNNING"))])
        },
        "supervisor.getPID": Method(arity: 0...0) { service, _ in .int(Int(service.target.supervisorPid)) },
        "supervisor.getAllProcessInfo": Method(arity: 0...0) { service, _ in
            .array(service.target.snapshot().map(service.info))
        },
        "supervisor.getProcessInfo": Method(arity: 1...1) { service, params throws(XMLRPCFault) in
            let slot = try service.slot(named: try text(params, 0))
            return service.info(service.target.snapshot()[slot])
        },
        "supervisor.getAllConfigInfo": Method(arity: 0...0) { service, _ in
            .array(service.target.snapshot().map { process in
                .struct([("name", .string(String(process.slot))), ("group", .string(service.target.groupName)),
                         ("inuse", .bool(true)), ("autostart", .bool(true)), ("group_prio", .int(999)),
                         ("process_prio", .int(999))])
            })
        },
        // corral has one group: a changed config file is a changed group, which supervisorctl update
        // stops, removes and adds again; adding it is the zero-downtime reload (sockets stay open).
        "supervisor.reloadConfig": Method(arity: 0...0) { service, _ in
            let changed: [XMLRPCValue] = service.target.configurationChanged() ? [.string(service.target.groupName)] : []
            return .array([.array([.array([]), .array(changed), .array([])])])
        },
        "supervisor.removeProcessGroup": Method(arity: 1...1) { service, params throws(XMLRPCFault) in
            try service.group(try text(params, 0))
            return .bool(true)
        },
        "supervisor.addProcessGroup": Method(arity: 1...1) { service, params throws(XMLRPCFault) in
            try service.group(try text(params, 0))
            try service.notShuttingDown()
            service.target.requestReload()
            return .bool(true)
        },
        "supervisor.restart": Method(arity: 0...0) { service, _ throws(XMLRPCFault) in
            try service.notShuttingDown()
            service.target.requestReload()
            return .bool(true)
        },
        "supervisor.shutdown": Method(arity: 0...0) { service, _ throws(XMLRPCFault) in
            try service.notShuttingDown()
            service.target.requestShutdown()
            return .bool(true)
        },
        "supervisor.startProcess": Method(arity: 1...2) { service, params throws(XMLRPCFault) in
            let slots = try service.slots(named: try text(params, 0))
            if slots.count == 1, service.target.snapshot()[slots[0]].state == .running {
                throw XMLRPCFault(Faults.alreadyStarted, "ALREADY_STARTED: \(service.name(slots[0]))")
            }
            _ = try await service.start(slots, wait: params.count < 2 || params[1].bool != false)
            return .bool(true)
        },
        "supervisor.startProcessGroup": Method(arity: 1...2) { service, params throws(XMLRPCFault) in
            try service.group(try text(params, 0))
            return .array(try await service.start(service.allSlots, wait: params.count < 2 || params[1].bool != false))
        },
        "supervisor.startAllProcesses": Method(arity: 0...1) { service, params throws(XMLRPCFault) in
            .array(try await service.start(service.allSlots, wait: params.isEmpty || params[0].bool != false))
        },
        "supervisor.stopProcess": Method(arity: 1...2) { service, params throws(XMLRPCFault) in
            let slots = try service.slots(named: try text(params, 0))
            if slots.count == 1, !service.isAlive(service.target.snapshot()[slots[0]].state) {
                throw XMLRPCFault(Faults.notRunning, "NOT_RUNNING: \(service.name(slots[0]))")
            }
            _ = await service.stop(slots, wait: params.count < 2 || params[1].bool != false)
            return .bool(true)
        },
        "supervisor.stopProcessGroup": Method(arity: 1...2) { service, params throws(XMLRPCFault) in
            try service.group(try text(params, 0))
            return .array(await service.stop(service.allSlots, wait: params.count < 2 || params[1].bool != false))
        },
        "supervisor.stopAllProcesses": Method(arity: 0...1) { service, params in
            .array(await service.stop(service.allSlots, wait: params.isEmpty || params[0].bool != false))
        },
        "supervisor.signalProcess": Method(arity: 2...2) { service, params throws(XMLRPCFault) in
            let slots = try service.slots(named: try text(params, 0))
            let results = try service.signal(slots, try text(params, 1))
            if slots.count == 1, results.isEmpty { throw XMLRPCFault(Faults.notRunning, "NOT_RUNNING: \(service.name(slots[0]))") }
            return .bool(true)
        },
        "supervisor.signalProcessGroup": Method(arity: 2...2) { service, params throws(XMLRPCFault) in
            try service.group(try text(params, 0))
            return .array(try service.signal(service.allSlots, try text(params, 1)))
        },
        "supervisor.signalAllProcesses": Method(arity: 1...1) { service, params throws(XMLRPCFault) in
            .array(try service.signal(service.allSlots, try text(params, 0)))
        },
        "supervisor.readProcessStdoutLog": Method(arity: 3...3) { service, params throws(XMLRPCFault) in
            try service.read(params, channel: .stdout)
        },
        "supervisor.readProcessStderrLog": Method(arity: 3...3) { service, params throws(XMLRPCFault) in
            try service.read(params, channel: .stderr)
        },
        "supervisor.readLog": Method(arity: 2...2) { service, params throws(XMLRPCFault) in
            .string(slice(service.target.mainLog().bytes, offset: try number(params, 0), length: try number(params, 1)))
        },
        // corral's own, for corralctl.
        "corral.reload": Method(arity: 0...0) { service, _ throws(XMLRPCFault) in
            try service.notShuttingDown()
            let (succeeded, detail) = await service.target.reloadAndWait()
            return .struct([("succeeded", .bool(succeeded)), ("detail", .string(detail))])
        },
        "corral.upgrade": Method(arity: 0...0) { service, _ throws(XMLRPCFault) in
            try service.notShuttingDown()
            let (succeeded, detail, id) = await service.target.upgrade()
            return .struct([("succeeded", .bool(succeeded)), ("detail", .string(detail)), ("id", .string(String(id)))])
        },
        "corral.upgradeStatus": Method(arity: 0...0) { service, _ in
            guard let status = service.target.upgradeStatus() else { return .struct([("id", .string("")), ("done", .bool(false))]) }
            return .struct([("id", .string(String(status.id))), ("done", .bool(status.done)),
                            ("succeeded", .bool(status.succeeded)), ("detail", .string(status.detail))])
        },
        "corral.changeWorkers": Method(arity: 1...1) { service, params throws(XMLRPCFault) in
            try service.notShuttingDown()
            return .int(service.target.changeWorkers(by: try number(params, 0)))
        },
        "system.listMethods": Method(arity: 0...0) { _, _ in .array(methods.keys.sorted().map(XMLRPCValue.string)) },
    ]

    // MARK: Names

    public func name(_ slot: Int) -> String { "\(target.groupName):\(slot)" }

    private var allSlots: [Int] { target.snapshot().map(\.slot) }

    /// `group:N` → that slot; `group`, `group:` and `group:*` → every slot.
    private func slots(named name: String) throws(XMLRPCFault) -> [Int] {
        let group = target.groupName
        if name == group || name == "\(group):" || name == "\(group):*" { return allSlots }
        guard name.hasPrefix("\(group):"), let slot = Int(name.dropFirst(group.count + 1)),
              allSlots.contains(slot) else { throw XMLRPCFault(Faults.badName, "BAD_NAME: \(name)") }
        return [slot]
    }

    private func slot(named name: String) throws(XMLRPCFault) -> Int {
        let slots = try slots(named: name)
        guard slots.count == 1 else { throw XMLRPCFault(Faults.badName, "BAD_NAME: \(name)") }
        return slots[0]
    }

    private func group(_ name: String) throws(XMLRPCFault) {
        guard name == target.groupName else { throw XMLRPCFault(Faults.badName, "BAD_NAME: \(name)") }
    }

    private func notShuttingDown() throws(XMLRPCFault) {
        if target.isShuttingDown { throw XMLRPCFault(Faults.shutdownState, "SHUTDOWN_STATE") }
    }

    // MARK: Actions

    /// The slots' states, from one snapshot.
    private func states(_ slots: [Int]) -> [ProcessState] {
        let all = target.snapshot()
        return slots.map { all[$0].state }
    }

    private func isAlive(_ state: ProcessState) -> Bool { [.starting, .running, .backoff].contains(state) }

    private func result(_ slot: Int, code: Int = Faults.success, _ description: String = "OK") -> XMLRPCValue {
        .struct([("name", .string(String(slot))), ("group", .string(target.groupName)), ("status", .int(code)),
                 ("description", .string(description))])
    }

    /// Starts the slots and, with `wait`, answers once they run (supervisord's deferred answer).
    private func start(_ slots: [Int], wait: Bool) async throws(XMLRPCFault) -> [XMLRPCValue] {
        let needed = zip(slots, states(slots)).filter { !isAlive($1) }.map(\.0)
        target.start(slots: needed)
        if wait {
            for _ in 0..<1200 {
                let states = states(needed)
                if states.allSatisfy({ $0 == .running }) { break }
                if needed.count == 1, states[0] == .fatal || states[0] == .backoff {
                    throw XMLRPCFault(Faults.spawnError, "SPAWN_ERROR: \(name(needed[0]))")
                }
                await target.pause(seconds: 0.05)
            }
        }
        return needed.map { result($0) }
    }

    private func stop(_ slots: [Int], wait: Bool) async -> [XMLRPCValue] {
        let current = states(slots)
        let needed = zip(slots, current).filter { isAlive($1) || $1 == .stopping }.map(\.0)
        target.stop(slots: needed)
        if wait {
            for _ in 0..<1200 where !states(needed).allSatisfy({ $0 == .stopped }) {
                await target.pause(seconds: 0.05)
            }
        }
        return needed.map { result($0) }
    }

    private func signal(_ slots: [Int], _ name: String) throws(XMLRPCFault) -> [XMLRPCValue] {
        guard let number = Self.signalNumber(name) else { throw XMLRPCFault(Faults.badSignal, "BAD_SIGNAL: \(name)") }
        let signalled = Set(target.signal(slots: slots, number))
        return slots.map { signalled.contains($0) ? result($0) : result($0, code: Faults.notRunning, "NOT_RUNNING") }
    }

    /// `HUP`, `SIGHUP`, `hup` or `1`, as supervisorctl passes what was typed.
    static func signalNumber(_ name: String) -> Int32? {
        if let number = Int32(name), number > 0, number < 65 { return number }
        var upper = name.uppercased()
        if upper.hasPrefix("SIG") { upper.removeFirst(3) }
        let known: [String: Int32] = ["HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "KILL": SIGKILL, "USR1": SIGUSR1,
                                      "USR2": SIGUSR2, "TERM": SIGTERM, "ALRM": SIGALRM, "CONT": SIGCONT, "STOP": SIGSTOP,
                                      "TTIN": SIGTTIN, "TTOU": SIGTTOU, "WINCH": SIGWINCH, "ABRT": SIGABRT]
        return known[upper]
    }

    private func read(_ params: [XMLRPCValue], channel: OutputChannel) throws(XMLRPCFault) -> XMLRPCValue {
        let slot = try slot(named: try Self.text(params, 0))
        return .string(Self.slice(target.output(slot: slot, channel: channel).bytes,
                                  offset: try Self.number(params, 1), length: try Self.number(params, 2)))
    }

    /// supervisord's log reading: a negative offset with length 0 is the last -offset bytes.
    static func slice(_ bytes: [UInt8], offset: Int, length: Int) -> String {
        let start = offset < 0 ? max(0, bytes.count + offset) : min(offset, bytes.count)
        let end = length > 0 ? min(bytes.count, start + length) : bytes.count
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    // MARK: Process info

    func info(_ process: ProcessSnapshot) -> XMLRPCValue {
        let now = target.now
        let description: String
        switch process.state {
        case .running: description = "pid \(process.pid), uptime \(Self.uptime(now - process.startedAt))"
        case .backoff, .fatal: description = process.lastExit
        case .stopped, .exited: description = process.stoppedAt == 0 ? "Not started" : Self.clock(process.stoppedAt)
        default: description = ""
        }
        return .struct([
            ("name", .string(String(process.slot))), ("group", .string(target.groupName)),
            ("start", .int(process.startedAt)), ("stop", .int(process.stoppedAt)), ("now", .int(now)),
            ("state", .int(process.state.rawValue)), ("statename", .string(process.state.name)),
            ("spawnerr", .string(process.state == .backoff || process.state == .fatal ? process.lastExit : "")),
            ("exitstatus", .int(process.exitStatus)), ("logfile", .string("")), ("stdout_logfile", .string("")),
            ("stderr_logfile", .string("")), ("pid", .int(Int(process.pid))), ("description", .string(description)),
            // corral's own, for corralctl (supervisorctl ignores unknown members).
            ("generation", .int(process.generation)), ("status", .string(process.status)),
            ("heartbeat_age", .double(process.heartbeatAge ?? -1)),
        ])
    }

    /// Python's timedelta text: `0:00:06`, `1 day, 2:03:04`.
    public static func uptime(_ seconds: Int) -> String {
        let days = seconds / 86400, rest = seconds % 86400
        let clock = "\(rest / 3600):" + two(rest % 3600 / 60) + ":" + two(rest % 60)
        return days == 0 ? clock : "\(days) day\(days == 1 ? "" : "s"), \(clock)"
    }

    /// `%b %d %I:%M %p` in local time, as supervisord shows when a process stopped.
    static func clock(_ epoch: Int) -> String { ErrorLog.localTime(time_t(epoch), "%b %d %I:%M %p") }

    private static func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    private static func text(_ params: [XMLRPCValue], _ index: Int) throws(XMLRPCFault) -> String {
        guard let text = params[index].string else { throw XMLRPCFault(Faults.incorrectParameters, "INCORRECT_PARAMETERS") }
        return text
    }

    private static func number(_ params: [XMLRPCValue], _ index: Int) throws(XMLRPCFault) -> Int {
        guard let number = params[index].int else { throw XMLRPCFault(Faults.incorrectParameters, "INCORRECT_PARAMETERS") }
        return number
    }
}

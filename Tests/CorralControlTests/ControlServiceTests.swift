import Glibc
import Testing
@testable import CorralControl

/// A supervisor with two slots, recording what it is asked to do.
private final class FakeTarget: ControlTarget, @unchecked Sendable {
    var groupName = "app"
    var supervisorPid: Int32 = 42
    var isShuttingDown = false
    var now = 1_000_000
    var processes: [ProcessSnapshot] = [
        ProcessSnapshot(slot: 0, pid: 100, state: .running, generation: 1, startedAt: 1_000_000 - 93_784),
        ProcessSnapshot(slot: 1, pid: 0, state: .backoff, generation: 1, startedAt: 0, lastExit: "exited with status 3"),
    ]
    var actions: [String] = []

    func snapshot() -> [ProcessSnapshot] { processes }
    func requestReload() { actions.append("reload") }
    func configurationChanged() -> Bool { true }
    func requestShutdown() { actions.append("shutdown") }
    func upgrade() async -> (succeeded: Bool, detail: String, id: Int) {
        actions.append("upgrade")
        return (false, "the new binary exited with status 3 on --check-upgrade", 7)
    }
    func upgradeStatus() -> (id: Int, done: Bool, succeeded: Bool, detail: String)? { (7, true, false, "checked") }
    func reloadAndWait() async -> (succeeded: Bool, detail: String) {
        actions.append("reload and wait")
        return (false, "worker 0 of generation 2 exited with status 3 during boot")
    }
    func changeWorkers(by delta: Int) -> Int {
        actions.append("workers \(delta)")
        return processes.count + delta
    }
    func stop(slots: [Int]) {
        actions.append("stop \(slots)")
        for slot in slots { processes[slot].state = .stopped }
    }
    func start(slots: [Int]) {
        actions.append("start \(slots)")
        for slot in slots { processes[slot].state = .running }
    }
    func signal(slots: [Int], _ signal: Int32) -> [Int] {
        actions.append("signal \(slots) \(signal)")
        return slots.filter { processes[$0].pid != 0 }
    }
    func output(slot: Int, channel: OutputChannel) -> (bytes: [UInt8], total: Int) {
        let bytes = Array("0123456789 \(channel.rawValue)".utf8)
        return (bytes, bytes.count)
    }
    func mainLog() -> (bytes: [UInt8], total: Int) { (Array("main log".utf8), 8) }
    func pause(seconds: Double) async {}
}

@Suite struct ControlServiceTests {
    private let target = FakeTarget()
    private var service: ControlService { ControlService(target: target) }

    private func call(_ method: String, _ params: XMLRPCValue...) async -> Result<XMLRPCValue, XMLRPCFault> {
        await service.handle(XMLRPCCall(method: "supervisor." + method, params: params))
    }

    @Test func faultsAsSupervisordCodesThem() async {
        #expect(await service.handle(XMLRPCCall(method: "nope", params: [])) == .failure(XMLRPCFault(1, "UNKNOWN_METHOD")))
        #expect(await call("getPID", .int(1)) == .failure(XMLRPCFault(2, "INCORRECT_PARAMETERS")))
        #expect(await call("getProcessInfo", .string("app:7")) == .failure(XMLRPCFault(10, "BAD_NAME: app:7")))
        #expect(await call("getProcessInfo", .string("other:0")) == .failure(XMLRPCFault(10, "BAD_NAME: other:0")))
        #expect(await call("signalProcess", .string("app:0"), .string("NOPE")) == .failure(XMLRPCFault(11, "BAD_SIGNAL: NOPE")))
        #expect(await call("startProcess", .string("app:0")) == .failure(XMLRPCFault(60, "ALREADY_STARTED: app:0")))
        target.isShuttingDown = true
        #expect(await call("restart") == .failure(XMLRPCFault(6, "SHUTDOWN_STATE")))
    }

    @Test func processInfoReadsLikeSupervisords() async throws {
        let running = try await call("getProcessInfo", .string("app:0")).get()
        #expect(running["name"] == .string("0") && running["group"] == .string("app"))
        #expect(running["statename"] == .string("RUNNING") && running["state"] == .int(20) && running["pid"] == .int(100))
        #expect(running["description"] == .string("pid 100, uptime 1 day, 2:03:04"))
        let all = try await call("getAllProcessInfo").get().array ?? []
        #expect(all.count == 2)
        #expect(all[1]["statename"] == .string("BACKOFF") && all[1]["description"] == .string("exited with status 3"))
        #expect(ControlService.uptime(6) == "0:00:06" && ControlService.uptime(2 * 86400 + 61) == "2 days, 0:01:01")
        #expect(try await call("getVersion").get() == .string("3.0"), "supervisorctl's upcheck")
        #expect(try await call("getPID").get() == .int(42))
    }

    @Test func actionsReachTheSupervisor() async throws {
        #expect(try await call("stopProcess", .string("app:0")).get() == .bool(true))
        #expect(try await call("startProcessGroup", .string("app")).get().array?.count == 1,
                "a slot in BACKOFF is already trying to start, as in supervisord")
        #expect(try await call("signalAllProcesses", .string("SIGUSR1")).get().array?.count == 2)
        #expect(try await call("restart").get() == .bool(true))
        #expect(target.actions == ["stop [0]", "start [0]", "signal [0, 1] \(SIGUSR1)", "reload"])
        #expect(ControlService.signalNumber("hup") == SIGHUP && ControlService.signalNumber("9") == 9)
    }

    @Test func corralsOwnMethods() async throws {
        let outcome = try await service.handle(XMLRPCCall(method: "corral.reload", params: [])).get()
        #expect(outcome["succeeded"] == .bool(false) && outcome["detail"]?.string?.contains("status 3") == true)
        #expect(try await service.handle(XMLRPCCall(method: "corral.changeWorkers", params: [.int(1)])).get() == .int(3))
    }

    @Test func rereadAndUpdateReloadTheOneGroup() async throws {
        #expect(try await call("reloadConfig").get() == .array([.array([.array([]), .array([.string("app")]), .array([])])]))
        #expect(try await call("removeProcessGroup", .string("app")).get() == .bool(true))
        #expect(try await call("addProcessGroup", .string("app")).get() == .bool(true))
        #expect(target.actions == ["reload"])
        #expect(await call("addProcessGroup", .string("other")) == .failure(XMLRPCFault(10, "BAD_NAME: other")))
    }

    @Test func logsAreReadTheWaySupervisorctlAsks() async throws {
        #expect(try await call("readProcessStdoutLog", .string("app:0"), .int(-6), .int(0)).get() == .string("stdout"))
        #expect(try await call("readProcessStderrLog", .string("app:1"), .int(2), .int(3)).get() == .string("234"))
        #expect(try await call("readLog", .int(-3), .int(0)).get() == .string("log"))
    }
}

import Glibc
import Testing
@testable import CorralSupervisor

private let second: Int64 = 1_000_000_000

/// Drives a SupervisorState the way corrald does, handing out pids for spawn actions.
private struct Harness {
    var state: SupervisorState
    var nextPid: Int32 = 100
    var now: Int64 = 0

    init(workers: Int, heartbeat: Int64 = 30 * second, maxWorkerRSS: Int64 = 0) {
        var settings = SupervisorState.Settings(workers: workers, bootTimeout: 5 * second,
                                                heartbeatTimeout: heartbeat, gracefulTimeout: 10 * second)
        settings.maxWorkerRSS = maxWorkerRSS
        state = SupervisorState(settings: settings)
    }

    /// Performs spawn actions (assigning pids) and returns every action, spawns included.
    mutating func perform(_ actions: [SupervisorState.Action]) -> [SupervisorState.Action] {
        for case .spawn(let slot, let generation) in actions {
            state.spawned(slot: slot, generation: generation, pid: nextPid, now: now)
            nextPid += 1
        }
        return actions
    }

    mutating func start() -> [SupervisorState.Action] { perform(state.start(now: now)) }

    mutating func readyAll(generation: Int) -> [SupervisorState.Action] {
        var actions: [SupervisorState.Action] = []
        for worker in state.workers.values.sorted(by: { $0.pid < $1.pid })
        where worker.generation == generation && worker.state == .starting {
            actions += perform(state.ready(pid: worker.pid, now: now))
        }
        return actions
    }

    func pids(generation: Int) -> [Int32] {
        state.workers.values.filter { $0.generation == generation }.map(\.pid).sorted()
    }
}

@Suite struct SupervisorStateTests {
    @Test func theFirstGenerationIsReadyWhenEveryWorkerIs() {
        var h = Harness(workers: 3)
        #expect(h.start() == [.spawn(slot: 0, generation: 1), .spawn(slot: 1, generation: 1), .spawn(slot: 2, generation: 1)])
        let actions = h.readyAll(generation: 1)
        #expect(actions == [.generationReady(generation: 1)])
        #expect(h.state.serving.map(\.state) == [.running, .running, .running])
    }

    @Test func aDeadWorkerIsReplacedAtOnceThenWithGrowingDelays() {
        var h = Harness(workers: 1)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        h.now = 1 * second
        #expect(h.perform(h.state.exited(pid: 100, description: "signal 9", now: h.now)) == [.spawn(slot: 0, generation: 1)])
        _ = h.readyAll(generation: 1)
        h.now += second / 10
        #expect(h.state.exited(pid: 101, description: "exit status 1", now: h.now).isEmpty)
        #expect(h.state.restarts[0] == h.now + second / 2)
        #expect(h.state.tick(now: h.now + second / 4).isEmpty)
        #expect(h.perform(h.state.tick(now: h.now + second / 2)) == [.spawn(slot: 0, generation: 1)])
        h.now += second
        _ = h.state.exited(pid: 102, description: "exit status 1", now: h.now)
        #expect(h.state.restarts[0] == h.now + second, "the delay doubles")
    }

    /// A crash loop beside a serving worker backs off to the cap; once nothing serves, every
    /// waiting restart comes due within a second.
    @Test func backoffNeverLeavesThePortWithoutAWorkerForLong() {
        var h = Harness(workers: 2)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        var pid: Int32 = 101
        for _ in 0..<8 {   // slot 1 dies at once, again and again: 0, 0.5, 1, 2, 4, 8, 16 s
            _ = h.perform(h.state.exited(pid: pid, description: "signal 11", now: h.now))
            if let due = h.state.restarts[1] { h.now = due }
            _ = h.perform(h.state.tick(now: h.now))
            pid = h.pids(generation: 1).last!
            _ = h.readyAll(generation: 1)
        }
        _ = h.state.exited(pid: pid, description: "signal 11", now: h.now)
        #expect(h.state.restarts[1] == h.now + 30 * second, "beside a serving worker the delay reaches the cap")
        #expect(h.state.exited(pid: 100, description: "signal 9", now: h.now).isEmpty == false, "slot 0's first death: restarted at once")
        #expect(h.state.restarts[1] == h.now + second, "with no worker running, slot 1 waits 1 s, not 30")
    }

    /// SIGKILL from outside (the OOM killer, an operator) is not a crash: the slot is refilled at
    /// once however often it happens.
    @Test func aWorkerKilledFromOutsideIsReplacedAtOnceEveryTime() {
        var h = Harness(workers: 1)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        for pid: Int32 in 100..<110 {
            h.now += second / 5
            #expect(h.perform(h.state.exited(pid: pid, description: "was killed by signal 9", killedFromOutside: true, now: h.now))
                    == [.spawn(slot: 0, generation: 1)])
            _ = h.readyAll(generation: 1)
        }
        #expect(h.perform(h.state.exited(pid: 110, description: "was killed by signal 11", now: h.now)) == [.spawn(slot: 0, generation: 1)])
        _ = h.readyAll(generation: 1)
        #expect(h.state.exited(pid: 111, description: "was killed by signal 11", now: h.now).isEmpty,
                "crashes still back off: the kills before did not count")
    }

    @Test func backoffCapsAndResetsAfterAStableRun() {
        var backoff = RestartBackoff(initial: second, cap: 8 * second, stableAfter: 60 * second)
        let delays = (0..<7).map { _ in backoff.delay(afterUptime: 0) }
        #expect(delays == [0, 1, 2, 4, 8, 8, 8].map { $0 * second })
        #expect(backoff.delay(afterUptime: 61 * second) == 0)
    }

    @Test func aSilentWorkerGetsAbortThenKill() {
        var h = Harness(workers: 1, heartbeat: 2 * second)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        h.state.ping(pid: 100, now: 1 * second)
        #expect(h.state.tick(now: 2 * second).isEmpty)
        #expect(h.state.tick(now: 3 * second + 1) == [.signal(pid: 100, signal: SIGABRT)])
        #expect(h.state.tick(now: 3 * second + 2).isEmpty)
        #expect(h.state.tick(now: 4 * second + 1) == [.signal(pid: 100, signal: SIGKILL)])
        #expect(h.state.tick(now: 9 * second).isEmpty, "SIGKILL is sent once")
    }

    /// A worker that hangs while it drains (SIGSTOP, a stuck loop) is aborted at `timeout`, as a
    /// serving one is, not left holding its clients until graceful_timeout.
    @Test func aHungDrainIsAbortedAtTheHeartbeatTimeout() {
        var h = Harness(workers: 1, heartbeat: 2 * second)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        _ = h.perform(h.state.reload(with: .init(workers: 1, heartbeatTimeout: 2 * second, gracefulTimeout: 10 * second), now: 0))
        #expect(h.perform(h.state.ready(pid: 101, now: 0)).contains(.signal(pid: 100, signal: SIGTERM)))
        h.state.ping(pid: 101, now: 3 * second)
        #expect(h.state.nextDeadline == 2 * second + 1)
        #expect(h.state.tick(now: 2 * second + 1) == [.signal(pid: 100, signal: SIGABRT)])
        #expect(h.state.tick(now: 3 * second + 1) == [.signal(pid: 100, signal: SIGKILL)])
        h.state.ping(pid: 101, now: 10 * second)
        #expect(h.state.tick(now: 11 * second).isEmpty, "no second SIGKILL at graceful_timeout")
    }

    @Test func aDrainThatKeepsPingingGetsItsGracefulTimeout() {
        var h = Harness(workers: 1, heartbeat: 2 * second)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        _ = h.perform(h.state.reload(with: .init(workers: 1, heartbeatTimeout: 2 * second, gracefulTimeout: 10 * second), now: 0))
        _ = h.state.ready(pid: 101, now: 0)
        for t in 1...9 {
            h.state.ping(pid: 100, now: Int64(t) * second)
            h.state.ping(pid: 101, now: Int64(t) * second)
            #expect(h.state.tick(now: Int64(t) * second).isEmpty)
        }
        #expect(h.state.tick(now: 10 * second) == [.signal(pid: 100, signal: SIGKILL)])
    }

    /// max_worker_rss: a replacement boots in the slot while the heavy worker serves on; the heavy
    /// one drains once the replacement is ready. One at a time, and never right after boot.
    @Test func aWorkerOverMaxWorkerRSSIsReplacedThenDrained() {
        var h = Harness(workers: 2, maxWorkerRSS: 100 << 20)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        #expect(h.state.memoryMeasured(pid: 100, residentBytes: 120 << 20, now: second).isEmpty, "not in its first 2 s")
        h.now = 3 * second
        #expect(h.state.memoryMeasured(pid: 100, residentBytes: 90 << 20, now: h.now).isEmpty)
        #expect(h.perform(h.state.memoryMeasured(pid: 100, residentBytes: 120 << 20, now: h.now)) == [.spawn(slot: 0, generation: 1)])
        #expect(h.state.memoryMeasured(pid: 101, residentBytes: 150 << 20, now: h.now).isEmpty, "one recycle at a time")
        #expect(h.state.workers[100]?.state == .running, "it serves until its replacement is ready")
        #expect(h.state.ready(pid: 102, now: h.now) == [.signal(pid: 100, signal: SIGTERM)])
        #expect(h.state.exited(pid: 100, description: "exited with status 0", cleanly: true, now: h.now).isEmpty,
                "its replacement is already there")
        #expect(h.state.serving.map(\.slot) == [0, 1])
        #expect(h.perform(h.state.memoryMeasured(pid: 101, residentBytes: 150 << 20, now: h.now)) == [.spawn(slot: 1, generation: 1)])
        var off = Harness(workers: 1)
        _ = off.start()
        _ = off.readyAll(generation: 1)
        #expect(off.state.memoryMeasured(pid: 100, residentBytes: 1 << 40, now: 9 * second).isEmpty, "0 = never")
    }

    /// The heavy worker dies before its replacement is ready: its slot is not filled twice.
    @Test func aRecycledWorkerThatDiesFirstLeavesOneWorkerInItsSlot() {
        var h = Harness(workers: 1, maxWorkerRSS: 100 << 20)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        h.now = 3 * second
        _ = h.perform(h.state.memoryMeasured(pid: 100, residentBytes: 120 << 20, now: h.now))
        #expect(h.state.exited(pid: 100, description: "was killed by signal 9", killedFromOutside: true, now: h.now).isEmpty)
        _ = h.readyAll(generation: 1)
        #expect(h.state.serving.map(\.pid) == [101])
    }

    @Test func reloadRetiresTheOldGenerationOnlyWhenTheNewOneIsReady() {
        var h = Harness(workers: 2)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        let spawns = h.perform(h.state.reload(with: .init(workers: 2), now: h.now))
        #expect(spawns == [.spawn(slot: 0, generation: 2), .spawn(slot: 1, generation: 2)])
        #expect(h.state.ready(pid: 102, now: h.now).isEmpty, "one of two new workers is not enough")
        let finish = h.state.ready(pid: 103, now: h.now)
        #expect(finish == [.signal(pid: 100, signal: SIGTERM), .signal(pid: 101, signal: SIGTERM),
                           .reloadFinished(.succeeded(generation: 2, workers: 2))])
        #expect(h.state.generation == 2)
        #expect(h.state.exited(pid: 100, description: "exit status 0", now: h.now).isEmpty, "retired workers are not replaced")
    }

    @Test func aBrokenDeployKeepsTheOldGenerationServing() {
        var h = Harness(workers: 2)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        _ = h.perform(h.state.reload(with: .init(workers: 2), now: h.now))
        let actions = h.state.exited(pid: 102, description: "exit status 3", now: h.now)
        #expect(actions == [.signal(pid: 103, signal: SIGTERM),
                            .reloadFinished(.failed(generation: 2, reason: "worker 0 of generation 2 exit status 3 during boot; generation 1 still serving"))],
                "the other new worker may already serve: it is stopped gracefully")
        #expect(h.state.generation == 1)
        #expect(h.state.serving.map(\.pid) == [100, 101])
        #expect(h.state.serving.allSatisfy { $0.state == .running })
    }

    @Test func aNewWorkerKilledFromOutsideBootsAgainAndTheReloadGoesOn() {
        var h = Harness(workers: 2)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        _ = h.perform(h.state.reload(with: .init(workers: 2), now: h.now))
        #expect(h.perform(h.state.exited(pid: 102, description: "was killed by signal 9", killedFromOutside: true, now: h.now))
                == [.spawn(slot: 0, generation: 2)])
        let finish = h.readyAll(generation: 2)
        #expect(finish.contains(.reloadFinished(.succeeded(generation: 2, workers: 2))), "\(finish)")
    }

    /// Booted again a few times, not for ever: an OOM kill at every boot fails the reload.
    @Test func aNewWorkerKilledAtEveryBootFailsTheReload() {
        var h = Harness(workers: 1)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        _ = h.perform(h.state.reload(with: .init(workers: 1), now: h.now))
        for _ in 0..<SupervisorState.rebootsInAReload {
            let pid = h.pids(generation: 2).last!
            #expect(h.perform(h.state.exited(pid: pid, description: "was killed by signal 9", killedFromOutside: true, now: h.now))
                    == [.spawn(slot: 0, generation: 2)])
        }
        let last = h.state.exited(pid: h.pids(generation: 2).last!, description: "was killed by signal 9", killedFromOutside: true, now: h.now)
        #expect(last.contains { if case .reloadFinished(.failed) = $0 { true } else { false } }, "\(last)")
        #expect(h.state.generation == 1)
    }

    /// A worker a failed reload stopped exits during the next reload, which has its number:
    /// that exit is not the new reload's failure.
    @Test func aStoppedWorkerOfAFailedReloadDoesNotFailTheNextOne() {
        var h = Harness(workers: 2)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        _ = h.perform(h.state.reload(with: .init(workers: 2), now: h.now))
        _ = h.state.exited(pid: 102, description: "exited with status 3", now: h.now)   // 103 gets TERM
        _ = h.perform(h.state.reload(with: .init(workers: 2), now: h.now))
        #expect(h.state.exited(pid: 103, description: "was killed by signal 15", now: h.now).isEmpty)
        let finish = h.perform(h.state.ready(pid: 104, now: h.now)) + h.perform(h.state.ready(pid: 105, now: h.now))
        #expect(finish.contains(.reloadFinished(.succeeded(generation: 2, workers: 2))), "\(finish)")
    }

    /// Siblings that time out at boot together: the reload fails once, and the others are not
    /// SIGKILLed after a failed reload already stopped them.
    @Test func siblingsTimingOutTogetherFailTheReloadOnce() {
        var h = Harness(workers: 2)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        _ = h.perform(h.state.reload(with: .init(workers: 2, bootTimeout: 5 * second), now: 0))
        let actions = h.state.tick(now: 6 * second)
        #expect(actions.filter { if case .reloadFinished = $0 { true } else { false } }.count == 1, "\(actions)")
        #expect(actions.contains(.signal(pid: 102, signal: SIGKILL)) && actions.contains(.signal(pid: 103, signal: SIGTERM)), "\(actions)")
    }

    @Test func aReloadThatNeverGetsReadyTimesOut() {
        var h = Harness(workers: 1)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        _ = h.perform(h.state.reload(with: .init(workers: 1), now: 0))
        let actions = h.state.tick(now: 6 * second)
        #expect(actions.first == .signal(pid: 101, signal: SIGKILL))
        guard case .reloadFinished(.failed(2, let reason)) = actions.last else {
            Issue.record("expected a failed reload, got \(actions)")
            return
        }
        #expect(reason.contains("READY=1"))
    }

    @Test func aReloadDuringAReloadIsQueued() {
        var h = Harness(workers: 1)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        var second = SupervisorState.Settings(workers: 1)
        second.revision = 1
        var third = SupervisorState.Settings(workers: 3)
        third.revision = 2
        _ = h.perform(h.state.reload(with: second, now: 0))
        #expect(h.state.settings(ofGeneration: 2).revision == 1, "the booting generation runs its own configuration")
        #expect(h.state.settings(ofGeneration: 1).revision == 0)
        #expect(h.state.reload(with: third, now: 0).isEmpty)
        #expect(h.state.reloadQueued && h.state.queuedSettings?.revision == 2)
        let actions = h.perform(h.state.ready(pid: 101, now: 0))
        #expect(actions.contains(.reloadFinished(.succeeded(generation: 2, workers: 1))))
        #expect(actions.suffix(3) == [.spawn(slot: 0, generation: 3), .spawn(slot: 1, generation: 3), .spawn(slot: 2, generation: 3)])
        #expect(h.state.settings(ofGeneration: 3).revision == 2 && h.state.settings.revision == 1)
    }

    @Test func ttinDuringAReloadAppliesToTheGenerationThatServesAfterIt() {
        var h = Harness(workers: 1)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        _ = h.perform(h.state.reload(with: .init(workers: 2), now: 0))
        #expect(h.state.changeWorkerCount(by: 1, now: 0).isEmpty, "queued, not interleaved")
        #expect(h.state.changeWorkerCount(by: 1, now: 0).isEmpty)
        _ = h.perform(h.state.ready(pid: 101, now: 0))
        let actions = h.perform(h.state.ready(pid: 102, now: 0))
        #expect(actions.contains(.reloadFinished(.succeeded(generation: 2, workers: 2))))
        #expect(actions.suffix(2) == [.spawn(slot: 2, generation: 2), .spawn(slot: 3, generation: 2)])
        #expect(h.state.settings.workers == 4)
    }

    @Test func aWorkerRecycledByMaxRequestsIsReplacedAtOnceEveryTime() {
        var h = Harness(workers: 1)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        for round in 0..<4 {
            let pid = h.state.serving[0].pid
            h.state.retiring(pid: pid)
            let actions = h.perform(h.state.exited(pid: pid, description: "exited with status 0", cleanly: true, now: 0))
            #expect(actions == [.spawn(slot: 0, generation: 1)], "round \(round): no backoff for a planned exit")
            _ = h.perform(h.state.ready(pid: h.state.serving[0].pid, now: 0))
        }
    }

    @Test func ttouWhileTheHighestSlotAwaitsItsRestartKeepsTheOthers() {
        var h = Harness(workers: 3)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        let highest = h.state.serving[2].pid
        _ = h.perform(h.state.exited(pid: highest, description: "was killed by signal 9", now: 0))   // respawned at once
        let again = h.state.serving[2].pid
        #expect(h.state.exited(pid: again, description: "was killed by signal 9", now: 0).isEmpty, "backing off now")
        #expect(h.state.changeWorkerCount(by: -1, now: 0).isEmpty, "the pending restart is the one less: nobody is stopped")
        #expect(h.state.settings.workers == 2 && h.state.serving.count == 2 && h.state.restarts.isEmpty)
    }

    @Test func noReadyWorkerInTheFirstGenerationMeansExit() {
        var h = Harness(workers: 2)
        _ = h.start()
        #expect(h.state.exited(pid: 100, description: "exit status 4", now: 0).isEmpty)
        let actions = h.state.exited(pid: 101, description: "exit status 4", now: 0)
        #expect(actions.last == .exit(code: 1, reason: "no worker of the first generation became ready; the last exit status 4"))
    }

    @Test func ttinAndTtouChangeTheCountNeverBelowOne() {
        var h = Harness(workers: 2)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        #expect(h.perform(h.state.changeWorkerCount(by: 1, now: 0)) == [.spawn(slot: 2, generation: 1)])
        #expect(h.state.changeWorkerCount(by: -1, now: 0) == [.signal(pid: 100, signal: SIGTERM)], "the oldest retires")
        #expect(h.state.changeWorkerCount(by: -1, now: 0).count == 1)
        #expect(h.state.changeWorkerCount(by: -1, now: 0).isEmpty, "never below one")
        #expect(h.state.settings.workers == 1)
    }

    @Test func gracefulShutdownTermsEveryoneThenExits() {
        var h = Harness(workers: 2)
        _ = h.start()
        _ = h.readyAll(generation: 1)
        #expect(h.state.shutdown(graceful: true, now: 0) == [.signal(pid: 100, signal: SIGTERM), .signal(pid: 101, signal: SIGTERM)])
        let overdue = h.state.tick(now: 11 * second)
        #expect(Set(overdue.map { "\($0)" }) == ["signal(pid: 100, signal: 9)", "signal(pid: 101, signal: 9)"],
                "past graceful_timeout, SIGKILL")
        #expect(h.state.exited(pid: 100, description: "exit status 0", now: 0).isEmpty)
        #expect(h.state.exited(pid: 101, description: "exit status 0", now: 0) == [.exit(code: 0, reason: "all workers stopped")])
    }
}

@Suite struct AdoptionTests {
    @Test func adoptedWorkersServeUntilTheNewGenerationIsReadyThenStopAndAreNeverRestarted() {
        var state = SupervisorState(settings: .init(workers: 2))
        state.adopt(.init(pid: 900, slot: 0, stdout: 7, stderr: 8), now: 0)
        state.adopt(.init(pid: 901, slot: 1, stdout: 9, stderr: 10), now: 0)
        // One died in the gap before the new image started its own workers: no restart, no exit.
        #expect(state.exited(pid: 901, description: "exit status 1", now: 1).isEmpty)
        // The predecessor served generation 4: this image's first is 5.
        #expect(state.start(now: 2, generation: 5) == [.spawn(slot: 0, generation: 5), .spawn(slot: 1, generation: 5)])
        #expect(state.serving.isEmpty, "adopted workers are in no generation")
        state.spawned(slot: 0, generation: 5, pid: 10, now: 3)
        state.spawned(slot: 1, generation: 5, pid: 11, now: 3)
        _ = state.ready(pid: 10, now: 4)
        #expect(state.ready(pid: 11, now: 4) == [.generationReady(generation: 5)])
        #expect(state.retireAdopted(now: 5) == [.signal(pid: 900, signal: SIGTERM)])
        #expect(state.retireAdopted(now: 6).isEmpty, "asked once")
        #expect(state.exited(pid: 900, description: "exit status 0", cleanly: true, now: 7).isEmpty)
        #expect(state.serving.map(\.pid) == [10, 11])
    }

    @Test func anAdoptedWorkerThatHungBeforeTheExecIsAbortedWhenItsTimeoutIsUp() {
        var state = SupervisorState(settings: .init(workers: 1, heartbeatTimeout: 30))
        state.adopt(.init(pid: 900, slot: 0, stdout: 7, stderr: 8, generation: 3, spawnedAt: 0, lastPing: 10, status: "requests=5"), now: 35)
        #expect(state.workers[900]?.status == "requests=5" && state.workers[900]?.spawnedAt == 0)
        #expect(state.tick(now: 40).isEmpty, "silent for 30 ns: not yet")
        #expect(state.tick(now: 41) == [.signal(pid: 900, signal: SIGABRT)], "the silence before the exec counts")
    }
}

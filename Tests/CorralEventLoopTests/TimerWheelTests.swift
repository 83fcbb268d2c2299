import Testing
@testable import CorralEventLoop

@Suite struct TimerWheelTests {
    let ms: Int64 = 1_000_000

    @Test func firesAtOrAfterTheDeadlineNeverBefore() {
        var wheel = TimerWheel(capacity: 1024, resolution: 100 * ms, now: 0)
        defer { wheel.deallocate() }
        wheel.arm(7, deadline: 250 * ms)
        var fired: [Int32] = []
        wheel.expire(now: 200 * ms) { fired.append($0) }
        #expect(fired.isEmpty)
        wheel.expire(now: 300 * ms) { fired.append($0) }
        #expect(fired == [7])
        #expect(wheel.armedCount == 0)
        #expect(wheel.nextTickTime == nil)
    }

    @Test func rearmingReplacesTheEarlierDeadline() {
        var wheel = TimerWheel(capacity: 64, resolution: 100 * ms, now: 0)
        defer { wheel.deallocate() }
        wheel.arm(3, deadline: 100 * ms)
        wheel.arm(3, deadline: 900 * ms)
        #expect(wheel.armedCount == 1)
        var fired: [Int32] = []
        wheel.expire(now: 500 * ms) { fired.append($0) }
        #expect(fired.isEmpty)
        wheel.expire(now: 1000 * ms) { fired.append($0) }
        #expect(fired == [3])
    }

    @Test func disarmedTimersNeverFire() {
        var wheel = TimerWheel(capacity: 64, resolution: 100 * ms, now: 0)
        defer { wheel.deallocate() }
        wheel.arm(5, deadline: 100 * ms)
        wheel.disarm(5)
        var fired = 0
        wheel.expire(now: 10_000 * ms) { _ in fired += 1 }
        #expect(fired == 0)
        #expect(wheel.armedCount == 0)
    }

    @Test func deadlinesBeyondTheRingStillFireOnTime() {
        // 128 slots × 100 ms = 12.8 s span; a 60 s timeout laps the ring several times.
        var wheel = TimerWheel(capacity: 64, resolution: 100 * ms, now: 0)
        defer { wheel.deallocate() }
        wheel.arm(9, deadline: 60_000 * ms)
        var fired: [Int64] = []
        var now: Int64 = 0
        while now <= 61_000 * ms {
            wheel.expire(now: now) { _ in fired.append(now) }
            now += 100 * ms
        }
        #expect(fired == [60_000 * ms])
    }

    @Test func manyDescriptorsAcrossWordsExpireTogether() {
        var wheel = TimerWheel(capacity: 10_000, resolution: 10 * ms, now: 0)
        defer { wheel.deallocate() }
        let fds: [Int32] = [0, 1, 63, 64, 65, 4095, 4096, 9_999]
        for fd in fds { wheel.arm(fd, deadline: 50 * ms) }
        var fired: Set<Int32> = []
        wheel.expire(now: 60 * ms) { fired.insert($0) }
        #expect(fired == Set(fds))
    }

    @Test func aLongPauseExpiresEverythingDueOnce() {
        var wheel = TimerWheel(capacity: 64, resolution: 10 * ms, now: 0)
        defer { wheel.deallocate() }
        for fd in Int32(0)..<20 { wheel.arm(fd, deadline: Int64(fd) * 100 * ms) }
        var fired: [Int32] = []
        wheel.expire(now: 100_000 * ms) { fired.append($0) }
        #expect(fired.sorted() == Array(0..<20))
    }

    @Test func anExpiredTimerCanBeRearmed() {
        var wheel = TimerWheel(capacity: 64, resolution: 10 * ms, now: 0)
        defer { wheel.deallocate() }
        wheel.arm(1, deadline: 10 * ms)
        var expired: [Int32] = []
        wheel.expire(now: 20 * ms) { expired.append($0) }
        for fd in expired { wheel.arm(fd, deadline: 100 * ms) }
        #expect(expired == [1])
        #expect(wheel.deadline(of: 1) == 100 * ms)
    }
}

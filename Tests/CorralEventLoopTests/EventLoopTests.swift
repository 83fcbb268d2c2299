import Glibc
import Testing
@testable import CorralEventLoop

@Suite struct EventLoopTests {
    @Test func coroutinesRunOnTheLoopAndSleepWithoutBlockingIt() throws {
        let loop = try EventLoop(timerResolution: .milliseconds(10))
        final class Log: @unchecked Sendable { var events: [String] = [] }
        let log = Log()
        loop.spawn {
            await loop.sleep(for: .milliseconds(60))
            log.events.append("slow")
        }
        loop.spawn {
            await loop.sleep(for: .milliseconds(10))
            log.events.append("fast")
            #expect(loop.isLoopThread)
        }
        loop.spawn {
            await loop.sleep(for: .milliseconds(200))
            loop.stop()
        }
        loop.run()
        #expect(log.events == ["fast", "slow"])
    }

    @Test func readinessOfAnOwnDescriptorResumesTheWaiter() throws {
        let loop = try EventLoop()
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        final class Flag: @unchecked Sendable { var value = false }
        let woke = Flag()
        let readEnd = fds[0], writeEnd = fds[1]
        loop.spawn {
            try? await loop.readable(readEnd)
            woke.value = true
            loop.stop()
        }
        loop.spawn {
            await loop.sleep(for: .milliseconds(20))
            var byte: UInt8 = 1
            _ = write(writeEnd, &byte, 1)
        }
        loop.run()
        #expect(woke.value)
        close(readEnd)
        close(writeEnd)
    }

    @Test func jobsFromOtherThreadsWakeTheLoop() async throws {
        let loop = try EventLoop()
        final class Box: @unchecked Sendable { var ranOnLoop = false }
        let box = Box()
        let thread = Thread { loop.run() }
        // A task created off-loop with the loop as executor preference runs on the loop thread.
        await Task(executorPreference: loop) {
            box.ranOnLoop = loop.isLoopThread
            loop.stop()
        }.value
        thread.join()
        #expect(box.ranOnLoop)
    }
}

/// A minimal pthread wrapper for the cross-thread test.
final class Thread: @unchecked Sendable {
    private var handle = pthread_t()
    private let body: () -> Void

    init(_ body: @escaping () -> Void) {
        self.body = body
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&handle, nil, { context in
            let thread = Unmanaged<Thread>.fromOpaque(context!).takeRetainedValue()
            thread.body()
            return nil
        }, context)
    }

    func join() { pthread_join(handle, nil) }
}

import CCorral
import Glibc

/// One epoll loop per process, one thread, in picoev's design: an fd-indexed table of watchers,
/// a timer wheel for per-fd timeouts, a clock read once per iteration. It is also a Swift task executor,
/// so `async` handler code runs as coroutines on this thread: a continuation resumed by an I/O
/// callback is queued here and run after the callbacks, with no thread hop.
public final class EventLoop: TaskExecutor, @unchecked Sendable {
    public static let readable = UInt32(EPOLLIN.rawValue)
    public static let writable = UInt32(EPOLLOUT.rawValue)
    public static let edgeTriggered = UInt32(EPOLLET.rawValue)
    public static let exclusive = UInt32(EPOLLEXCLUSIVE.rawValue)
    public static let peerClosed = UInt32(EPOLLRDHUP.rawValue) | UInt32(EPOLLHUP.rawValue)

    public let capacity: Int
    private let epfd: Int32
    private let wakeFD: Int32
    private var watchers: UnsafeMutablePointer<Unmanaged<FDWatcher>?>
    private var wheel: TimerWheel
    private var sleepers = SleeperQueue()
    private var expired: [Int32] = []
    private var readyJobs: [UnownedJob] = []
    private var runningJobs: [UnownedJob] = []
    private var inbox: [UnownedJob] = []
    private var inboxLock = pthread_mutex_t()
    private var wakePending = false
    private var thread: pthread_t?
    private let rawEvents: UnsafeMutableRawPointer
    private let events: UnsafeMutablePointer<corral_event>
    private static let batch = 256
    private var iterationHooks: [() -> Void] = []
    private var endOfIteration: [() -> Void] = []
    private var runningEndOfIteration: [() -> Void] = []
    private var stopping = false

    /// Monotonic nanoseconds, read once per iteration.
    public private(set) var now: Int64

    /// `resolution`: width of a timer-wheel slot; timeouts fire up to this late.
    public init(timerResolution: Duration = .milliseconds(100)) throws(SystemError) {
        capacity = Int(corral_fd_limit())
        epfd = corral_epoll_create()
        guard epfd >= 0 else { throw SystemError("epoll_create1") }
        wakeFD = corral_eventfd()
        guard wakeFD >= 0 else { throw SystemError("eventfd") }
        now = corral_monotonic_ns()
        let (seconds, attoseconds) = timerResolution.components
        wheel = TimerWheel(capacity: capacity,
                           resolution: max(1_000_000, seconds * 1_000_000_000 + attoseconds / 1_000_000_000),
                           now: now)
        watchers = calloc(capacity, MemoryLayout<Unmanaged<FDWatcher>?>.stride)!
            .assumingMemoryBound(to: Unmanaged<FDWatcher>?.self)
        rawEvents = malloc(Self.batch * corral_epoll_event_size())!
        events = .allocate(capacity: Self.batch)
        pthread_mutex_init(&inboxLock, nil)
        readyJobs.reserveCapacity(1024)
        runningJobs.reserveCapacity(1024)
        _ = corral_epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFD, Self.readable)
    }

    // MARK: Descriptors

    /// Watches `fd` for `events` (level-triggered unless `edgeTriggered` is included).
    public func register(_ fd: Int32, events: UInt32, watcher: FDWatcher) throws(SystemError) {
        precondition(Int(fd) < capacity, "fd \(fd) beyond RLIMIT_NOFILE")
        guard corral_epoll_ctl(epfd, EPOLL_CTL_ADD, fd, events) == 0 else {
            throw SystemError("epoll_ctl(ADD)")
        }
        watchers[Int(fd)]?.release()
        watchers[Int(fd)] = .passRetained(watcher)
    }

    /// Forgets `fd` (call before closing it) and disarms its timeout.
    public func unregister(_ fd: Int32) {
        _ = corral_epoll_ctl(epfd, EPOLL_CTL_DEL, fd, 0)
        wheel.disarm(fd)
        watchers[Int(fd)]?.release()
        watchers[Int(fd)] = nil
    }

    /// Arms `fd`'s one timeout (replacing any earlier one) `after` nanoseconds from now.
    @inline(__always)
    public func setTimeout(_ fd: Int32, after nanoseconds: Int64) {
        wheel.arm(fd, deadline: now + nanoseconds)
    }

    @inline(__always)
    public func clearTimeout(_ fd: Int32) { wheel.disarm(fd) }

    /// Runs `hook` at the end of every iteration (after callbacks and jobs), e.g. to flush logs.
    public func onEachIteration(_ hook: @escaping () -> Void) {
        iterationHooks.append(hook)
    }

    /// Runs `job` once, at the end of this iteration (before the iteration hooks).
    public func atEndOfIteration(_ job: @escaping () -> Void) {
        endOfIteration.append(job)
    }

    @inline(__always)
    private func runEndOfIteration() {
        guard !endOfIteration.isEmpty else { return }
        swap(&endOfIteration, &runningEndOfIteration)
        for job in runningEndOfIteration { job() }
        runningEndOfIteration.removeAll(keepingCapacity: true)
    }

    // MARK: Running

    public var isLoopThread: Bool {
        guard let thread else { return false }
        return pthread_equal(thread, pthread_self()) != 0
    }

    /// Runs until `stop()`; returns after finishing the iteration in which it was called.
    public func run() {
        thread = pthread_self()
        stopping = false
        while !stopping { runOnce() }
        runJobs()
        runEndOfIteration()
        for hook in iterationHooks { hook() }
    }

    public func stop() { stopping = true }

    /// One alarm per loop, for a driver that keeps timers of its own (asyncio's): `onAlarm` runs
    /// once, in the first iteration at or after `alarm` (monotonic nanoseconds; `.max`: none).
    public var alarm = Int64.max
    public var onAlarm: (() -> Void)?

    /// Called just before and just after each wait in epoll (corral-python's one-thread asgi
    /// mode lets the GIL go while the loop waits).
    public var aroundWait: (before: () -> Void, after: () -> Void)?

    private func runOnce() {
        // (A job queued for the end of an iteration from the end of the last one must not wait.)
        let timeout = readyJobs.isEmpty && endOfIteration.isEmpty ? pollTimeout() : 0
        aroundWait?.before()
        let n = corral_epoll_wait(epfd, rawEvents.assumingMemoryBound(to: epoll_event.self),
                                  events, Int32(Self.batch), timeout)
        aroundWait?.after()
        now = corral_monotonic_ns()
        if n > 0 {
            for i in 0..<Int(n) {
                let fd = events[i].fd
                if fd == wakeFD { drainInbox(); continue }
                // Deferred deletes, as picoev: a stale event for a closed fd finds no watcher.
                watchers[Int(fd)]?.takeUnretainedValue().ready(fd: fd, events: events[i].events)
            }
        }
        runJobs()
        if wheel.armedCount > 0 {
            // Collected first: a watcher's callback re-arms timeouts, which must not happen
            // while the wheel is mid-expiry.
            wheel.expire(now: now) { expired.append($0) }
            for fd in expired { watchers[Int(fd)]?.takeUnretainedValue().timedOut(fd: fd) }
            expired.removeAll(keepingCapacity: true)
        }
        sleepers.wakeAll(until: now)
        if alarm <= now {
            alarm = .max
            onAlarm?()
        }
        runJobs()
        runEndOfIteration()
        for hook in iterationHooks { hook() }
    }

    /// Nanoseconds until the next timer, sleeper or alarm; -1 for none.
    private func pollTimeout() -> Int64 {
        var next = min(wheel.nextTickTime ?? .max, alarm)
        if let due = sleepers.nextDeadline { next = min(next, due) }
        guard next < .max else { return -1 }
        return max(0, next - corral_monotonic_ns())
    }

    private func runJobs() {
        var rounds = 0
        while !readyJobs.isEmpty && rounds < 64 {
            swap(&readyJobs, &runningJobs)
            for job in runningJobs {
                job.runSynchronously(on: asUnownedTaskExecutor())
            }
            runningJobs.removeAll(keepingCapacity: true)
            rounds += 1
        }
    }

    private func drainInbox() {
        var counter: UInt64 = 0
        _ = read(wakeFD, &counter, 8)
        pthread_mutex_lock(&inboxLock)
        readyJobs.append(contentsOf: inbox)
        inbox.removeAll(keepingCapacity: true)
        wakePending = false
        pthread_mutex_unlock(&inboxLock)
    }

    // MARK: Executor

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if isLoopThread {
            readyJobs.append(job)
            return
        }
        pthread_mutex_lock(&inboxLock)
        inbox.append(job)
        let mustWake = !wakePending
        wakePending = true
        pthread_mutex_unlock(&inboxLock)
        if mustWake {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }

    // MARK: Coroutine primitives

    /// Suspends the calling task for `duration` without blocking the loop.
    public func sleep(for duration: Duration) async {
        let (seconds, attoseconds) = duration.components
        let deadline = corral_monotonic_ns() + seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            sleepers.insert(deadline: deadline, continuation)
        }
    }

    /// Starts `body` as a coroutine on this loop.
    @discardableResult
    public func spawn(_ body: @escaping @Sendable () async -> Void) -> Task<Void, Never> {
        Task(executorPreference: self, operation: body)
    }
}

/// An error from a system call, with its errno.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let errno: Int32

    public init(_ call: String, errno: Int32 = corral_errno()) {
        self.call = call
        self.errno = errno
    }

    public var description: String { "\(call): \(String(cString: strerror(errno)))" }
}

extension EventLoop {
    /// Suspends until the caller's own `fd` is readable (or has an error or hang-up).
    public func readable(_ fd: Int32) async throws(SystemError) {
        try await waitFor(fd, events: Self.readable)
    }

    /// Suspends until the caller's own `fd` is writable.
    public func writable(_ fd: Int32) async throws(SystemError) {
        try await waitFor(fd, events: Self.writable)
    }

    private func waitFor(_ fd: Int32, events: UInt32) async throws(SystemError) {
        let waiter = OneShotWaiter()
        try register(fd, events: events, watcher: waiter)
        await withUnsafeContinuation { waiter.continuation = $0 }
        unregister(fd)
    }
}

/// Resumes one coroutine at the first readiness of an fd.
private final class OneShotWaiter: FDWatcher {
    var continuation: UnsafeContinuation<Void, Never>?

    override func ready(fd: Int32, events: UInt32) {
        continuation?.resume()
        continuation = nil
    }
}

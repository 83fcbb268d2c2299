import Glibc

/// The thread that runs the worker's loop in gevent mode (and with uvloop), where the main thread
/// belongs to gevent's hub. It exists from the start (so that signals can be sent on to it) but
/// waits until `start()`: the worker must not serve, nor say READY=1, before the app is loaded.
/// In asyncio mode another one checks for requests past `timeout`.
final class LoopThread: @unchecked Sendable {
    private(set) var thread = pthread_t()
    private let gate = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    private let body: () -> Void

    init(_ body: @escaping () -> Void) throws {
        self.body = body
        sem_init(gate, 0, 0)
        let context = Unmanaged.passRetained(self).toOpaque()
        let status = pthread_create(&thread, nil, { context in
            let loopThread = Unmanaged<LoopThread>.fromOpaque(context!).takeRetainedValue()
            while sem_wait(loopThread.gate) != 0 {}
            loopThread.body()
            return nil
        }, context)
        guard status == 0 else { throw LoopThreadError(status: status) }
    }

    func start() { sem_post(gate) }
}

struct LoopThreadError: Error, CustomStringConvertible {
    let status: Int32
    var description: String { "pthread_create: \(String(cString: strerror(status)))" }
}

import CorralHTTP
import CorralServer
import CorralWSGI
import Glibc

/// One request on its way between the loop thread and the application: the loop fills the
/// environ and hands it over; then the two sides alternate strictly, the application posting a
/// `ToLoop` message and, where it needs one, waiting for the loop's `ToPython` reply. Exchanges
/// are made once per worker connection slot and reused, so a request allocates none.
final class Exchange: @unchecked Sendable {
    enum ToLoop {
        case readBody
        /// The head and the first body bytes; `final`: the whole body.
        case respond(status: UInt16, headers: HTTPFields, body: [UInt8], final: Bool)
        case chunk([UInt8])
        case finish
        case file(status: UInt16, headers: HTTPFields, fd: Int32, offset: Int, count: Int)
        /// The application raised; the text is its traceback.
        case fail(String)
    }

    enum ToPython {
        /// A piece of the body; empty at its end.
        case body([UInt8])
        case written
        /// The body cannot be read (too large) or the client is gone.
        case failed(String)
    }

    let token: Int
    unowned(unsafe) let bridge: WSGIBridge
    // Loop-thread state.
    var environ = WSGIEnviron()
    var startedAt: Int64 = 0
    var active = false
    var reportedHung = false
    var bodyError: HTTPError?
    /// The client went away while the body was read: the engine closes the connection quietly.
    var readFailure: (any Error)?

    private var lock = pthread_mutex_t()
    private var replied = pthread_cond_t()
    private var pendingToLoop: ToLoop?
    private var loopWaiter: UnsafeContinuation<ToLoop, Never>?
    private var pendingReply: ToPython?

    init(token: Int, bridge: WSGIBridge) {
        self.token = token
        self.bridge = bridge
        pthread_mutex_init(&lock, nil)
        pthread_cond_init(&replied, nil)
    }

    // MARK: The application's side (a Python thread, or gevent's hub thread)

    /// Hands `message` to the loop; never blocks.
    func post(_ message: ToLoop) {
        pthread_mutex_lock(&lock)
        if let waiter = loopWaiter {
            loopWaiter = nil
            pthread_mutex_unlock(&lock)
            waiter.resume(returning: message)
        } else {
            pendingToLoop = message
            pthread_mutex_unlock(&lock)
        }
    }

    /// Blocks the calling thread until the loop replies (threads mode; the GIL is released).
    func waitForReply() -> ToPython {
        pthread_mutex_lock(&lock)
        while pendingReply == nil { pthread_cond_wait(&replied, &lock) }
        let reply = pendingReply!
        pendingReply = nil
        pthread_mutex_unlock(&lock)
        return reply
    }

    // MARK: The loop's side

    /// The application's next message, waiting without blocking the loop.
    func next() async -> ToLoop {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<ToLoop, Never>) in
            pthread_mutex_lock(&lock)
            if let message = pendingToLoop {
                pendingToLoop = nil
                pthread_mutex_unlock(&lock)
                continuation.resume(returning: message)
            } else {
                loopWaiter = continuation
                pthread_mutex_unlock(&lock)
            }
        }
    }

    /// Answers the application's last message.
    func reply(_ reply: ToPython) {
        switch bridge.mode {
        case .threads:
            pthread_mutex_lock(&lock)
            pendingReply = reply
            pthread_cond_signal(&replied)
            pthread_mutex_unlock(&lock)
        case .gevent:
            bridge.deliver(.reply(token: token, reply))
        }
    }
}

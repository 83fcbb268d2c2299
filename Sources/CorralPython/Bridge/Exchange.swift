import CorralHTTP
import CorralServer
import CorralWSGI
import CorralWebSocket
import Glibc
import Synchronization

/// One request on its way between the loop thread and the application: the loop fills the
/// environ and hands it over; the application posts `ToLoop` messages, and takes the loop's
/// `ToPython` reply to each that has one before it posts the next. A piece of the response is
/// the one message whose reply may be taken late (the app makes the next piece meanwhile), so
/// at most that piece and the message that ends the request wait for the loop. An accepted
/// WebSocket posts without replies (its messages, bounded by the runtime's window), and hears
/// back through `WSGIBridge.Event.webSocket`. Exchanges are made once per worker connection
/// slot and reused, so a request allocates none.
final class Exchange: @unchecked Sendable {
    enum ToLoop {
        case readBody
        /// The head and the first body bytes; `final`: the whole body.
        case respond(head: AppHead, body: [UInt8], final: Bool)
        case chunk([UInt8])
        case finish
        case file(head: AppHead, fd: Int32, offset: Int, count: Int)
        /// The application raised; the text is its traceback.
        case fail(String)
        /// ASGI: the WebSocket handshake accepted, with the app's subprotocol and fields.
        case acceptWebSocket(subprotocol: String?, headers: HTTPFields)
        case sendMessage(WebSocketFrameDecoder.MessageKind, [UInt8])
        case closeWebSocket(code: UInt16, reason: String)
        /// The app took this many of the messages handed to it: as many more may come.
        case messagesTaken(Int)
        /// The app waits until everything it sent is written (`WebSocketEvent.drained`).
        case flushWebSocket
        /// WSGI: the app took the connection (its WebSocket library writes the 101 itself).
        case handOver
        /// ASGI: a 103 Early Hints with these Link fields, before the response.
        case earlyHint(HTTPFields)
        /// ASGI: the fields a chunked response ends with (the client sent `TE: trailers`).
        case trailers(HTTPFields)
    }

    enum ToPython {
        /// A piece of the body; empty at its end.
        case body([UInt8])
        /// A piece of the response went out.
        case written
        /// A piece reached the app's Content-Length: no more of the response is sent.
        case cut
        /// The body cannot be read (malformed, too large) or the client is gone.
        case failed(String)
    }

    let token: Int
    unowned(unsafe) let bridge: WSGIBridge
    // Loop-thread state.
    var environ = WSGIEnviron()
    /// The request as ASGI sees it (asgi mode, instead of `environ`).
    var scope = ASGIScope()
    var hasBody: Bool { bridge.mode == .asgi ? scope.hasBody : environ.hasBody }
    /// The request body has been read to its end (or there is none).
    var bodyRead = false
    /// Which request the slot holds: replies for an earlier one are dropped (gevent mode).
    private(set) var serial = 0
    var active = false
    /// For the `timeout` watch, which in one-thread mode runs on a thread of its own while the
    /// loop thread may be stuck in the app: when the request in the app started (monotonic ns),
    /// or 0 when there is none `timeout` applies to (the slot is idle, its request upgraded, or
    /// already reported), and that request's serial.
    let overdueClock = Atomic<Int64>(0)
    let overdueSerial = Atomic<Int>(0)
    /// An accepted WebSocket (the engine's), or a connection a WSGI app's library took over:
    /// either lives as long as its client, so `timeout` does not apply.
    enum Upgrade { case none, webSocket, handedOver }
    var upgrade = Upgrade.none {
        didSet { if upgrade != .none { overdueClock.store(0, ordering: .relaxed) } }
    }
    /// The connection's socket (`Request.socketDescriptor`), for a WSGI app to take.
    var socketDescriptor: Int32 = -1
    /// The response head the app gave (start_response, http.response.start), checked: the
    /// application's side keeps it for the respond or send_file that sends it.
    var appHead: AppHead?
    var bodyError: HTTPError?
    /// The client went away while the body was read: the engine closes the connection quietly.
    var readFailure: (any Error)?

    private var lock = pthread_mutex_t()
    private var replied = pthread_cond_t()
    /// Posted and not yet taken by the loop, oldest first from `mailboxStart`.
    private var mailbox: [ToLoop] = []
    private var mailboxStart = 0
    private var loopWaiter: UnsafeContinuation<ToLoop, Never>?
    private var pendingReply: ToPython?
    /// gevent mode: the app's greenlet waits on the hub for the reply, which is delivered there.
    private var pythonWaiting = false

    init(token: Int, bridge: WSGIBridge) {
        self.token = token
        self.bridge = bridge
        pthread_mutex_init(&lock, nil)
        pthread_cond_init(&replied, nil)
        mailbox.reserveCapacity(4)
    }

    // MARK: The application's side (a Python thread, or gevent's hub thread)

    /// Hands `message` to the loop; never blocks. A request's end posted while its first piece
    /// still waits for the loop makes that piece the whole body: head and body go in one send.
    func post(_ message: ToLoop) {
        pthread_mutex_lock(&lock)
        if let waiter = loopWaiter {
            loopWaiter = nil
            pthread_mutex_unlock(&lock)
            waiter.resume(returning: message)
            return
        }
        if case .finish = message, mailbox.count - mailboxStart == 1,
           case .respond(let head, let body, false) = mailbox[mailboxStart] {
            mailbox[mailboxStart] = .respond(head: head, body: body, final: true)
        } else {
            mailbox.append(message)
        }
        pthread_mutex_unlock(&lock)
    }

    /// The loop's reply to the last message that has one. `wait`: block until it comes (threads
    /// mode, called without the GIL); else nil when it has not come yet, and it is delivered
    /// through the hub when it does (gevent mode).
    func takeReply(wait: Bool) -> ToPython? {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        if pendingReply == nil {
            guard wait else {
                pythonWaiting = true
                return nil
            }
            while pendingReply == nil { pthread_cond_wait(&replied, &lock) }
        }
        let reply = pendingReply
        pendingReply = nil
        return reply
    }

    // MARK: The loop's side

    /// Readies the slot for a new request.
    func begin(now: Int64) {
        serial &+= 1
        active = true
        upgrade = .none
        overdueSerial.store(serial, ordering: .relaxed)
        overdueClock.store(now, ordering: .releasing)
        bodyRead = !hasBody
        bodyError = nil
        readFailure = nil
        appHead = nil
        pthread_mutex_lock(&lock)
        pendingReply = nil        // the last piece's reply, which a finished request did not take
        pythonWaiting = false
        pthread_mutex_unlock(&lock)
    }

    /// The application's next message, waiting without blocking the loop.
    func next() async -> ToLoop {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<ToLoop, Never>) in
            pthread_mutex_lock(&lock)
            if mailboxStart < mailbox.count {
                let message = mailbox[mailboxStart]
                mailboxStart += 1
                if mailboxStart == mailbox.count {
                    mailbox.removeAll(keepingCapacity: true)
                    mailboxStart = 0
                }
                pthread_mutex_unlock(&lock)
                continuation.resume(returning: message)
            } else {
                loopWaiter = continuation
                pthread_mutex_unlock(&lock)
            }
        }
    }

    /// Answers the application's last message that has a reply.
    func reply(_ reply: ToPython) {
        pthread_mutex_lock(&lock)
        if pythonWaiting {
            pythonWaiting = false
            pthread_mutex_unlock(&lock)
            bridge.deliver(.reply(token: token, serial: serial, reply))
            return
        }
        pendingReply = reply
        if bridge.mode == .threads { pthread_cond_signal(&replied) }
        pthread_mutex_unlock(&lock)
    }
}

extension Exchange: ClientLeavingObserver {
    /// asgi mode: the client left while the app worked; the app hears it, and the engine closes
    /// the connection quietly when the app ends.
    func clientLeft() {
        guard active else { return }
        readFailure = ConnectionError.closed
        bridge.deliver(.disconnected(token: token, serial: serial))
    }
}

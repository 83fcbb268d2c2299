import CCorral
import CPython
import CorralGunicornPython
import CorralEventLoop
import CorralPythonRuntime
import CorralServer
import CorralWSGI
import CorralWebSocket
import Glibc
import Synchronization

/// What the loop thread and the application's Python threads share: one `Exchange` per
/// connection the worker may hold (so nothing here grows past `worker_connections`), the
/// hand-over of new requests (a queue the pool's threads wait on, or, for gevent, an event list
/// and an eventfd that gevent's hub watches), and the requests that ran past `timeout`.
public final class WSGIBridge: @unchecked Sendable {
    enum Event {
        case request(token: Int)
        case reply(token: Int, serial: Int, Exchange.ToPython)
        case webSocket(token: Int, serial: Int, WebSocketEvent)
        /// asgi mode: the client left while the app worked on its request.
        case disconnected(token: Int, serial: Int)
        case shutdown
    }

    /// What an accepted WebSocket tells the app (asgi mode).
    enum WebSocketEvent {
        case message(WebSocketFrameDecoder.MessageKind, [UInt8])
        /// The conversation ended: the code and reason the app's websocket.disconnect carries.
        case closed(code: UInt16, reason: String)
        /// Everything the app sent is written (its `flushWebSocket`).
        case drained
    }

    let mode: WorkerClass
    let settings: WSGISettings
    /// ws_max_size, ws_ping_interval, ws_ping_timeout.
    public var webSocketSettings = WebSocketConversation.Settings()
    /// ws_per_message_deflate: accept a client's permessage-deflate offer.
    public var perMessageDeflate = true
    /// The worker's error log: tracebacks, wsgi.errors, stacks of overdue requests.
    public var log: ErrorLog!
    /// One slot per connection the worker may hold, each made the first time it is needed (so
    /// an idle worker with a high worker_connections costs little); written by the loop thread
    /// only, read by the app's threads for tokens handed to them.
    private let slots: UnsafeMutablePointer<Exchange?>
    let capacity: Int
    /// Loop thread only.
    /// Slots made so far (atomic: the one-thread mode's `timeout` watch reads it from its thread).
    private let made = Atomic<Int>(0)
    private var free: [Int] = []
    public private(set) var inFlight = 0

    private var lock = pthread_mutex_t()
    private var requestReady = pthread_cond_t()
    private var overdueReady = pthread_cond_t()
    private var threadsChanged = pthread_cond_t()
    private var events: [Event] = []
    /// Overdue requests: slot and serial, which the monitor checks against the request it finds.
    private var hung: [(token: Int, serial: Int)] = []
    private var stopping = false
    private var liveThreads = 0
    /// The worker was stopped by SIGINT or SIGQUIT: the exit hooks run worker_int.
    public var interrupted = false
    /// gevent mode: written when `events` stops being empty.
    private(set) var eventFD: Int32
    /// asgi mode with asyncio (asgi_loop auto or asyncio): the loop thread drives asyncio, one
    /// thread per worker; with uvloop, it runs on the main thread and requests cross over.
    public let inline: Bool
    private var loop: EventLoop?
    private var driveScheduled = false
    private var driveFunction: PyRef?
    private lazy var driveJob: () -> Void = { [unowned self] in drive() }

    public init(mode: WorkerClass, settings: WSGISettings, capacity: Int) {
        self.mode = mode
        self.settings = settings
        inline = mode == .asgi && getenv("CORRAL_ASGI_LOOP").map { String(cString: $0) } != "uvloop"
        eventFD = mode == .threads || inline ? -1 : corral_eventfd()
        pthread_mutex_init(&lock, nil)
        pthread_cond_init(&requestReady, nil)
        pthread_cond_init(&overdueReady, nil)
        pthread_cond_init(&threadsChanged, nil)
        self.capacity = capacity
        events.reserveCapacity(64)
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: nil, count: capacity)
    }

    /// The exchange for a token the app was handed; nil for any other number.
    func exchange(_ token: Int) -> Exchange? {
        token >= 0 && token < capacity ? slots[token] : nil
    }

    /// Imports the app with the runtime (gunicorn's import rules), starting no thread (with
    /// `preloading`, preload_app forks after this). Needs the GIL (the main thread, after
    /// `Interpreter.start`); throws the traceback.
    public func load(app: String, threads: Int, pythonpath: [String], timeout: Double, preloading: Bool = false) throws(PythonError) {
        CorralModule.bridge = self
        CorralModule.log = log
        CorralModule.timeoutSeconds = timeout
        if ["CORRAL_CONFIG_FILE", "CORRAL_LOGCONFIG_DICT", "CORRAL_LOGCONFIG_JSON", "CORRAL_LOGCONFIG"].contains(where: { (name: String) in getenv(name) != nil }) {
            // The server hooks of a gunicorn config file, with the objects they receive, and
            // gunicorn's Python logging settings.
            try Interpreter.loadModule("corral_gunicorn", source: corral_gunicorn_source(), file: "corral_gunicorn.py")
        }
        let runtime = try Interpreter.loadRuntime()
        self.runtime = runtime
        // The interface's half, before the runtime loads the app (and gevent patches the standard library).
        if mode == .asgi {
            try Interpreter.loadModule("corral_asgi", source: corral_asgi_source(), file: "corral_asgi.py")
            try Interpreter.loadModule("corral_websocket", source: corral_websocket_source(), file: "corral_websocket.py")
        } else {
            try Interpreter.loadModule("corral_wsgi", source: corral_wsgi_source(), file: "corral_wsgi.py")
        }
        try Interpreter.call(runtime, "load", [Interpreter.string(app), Interpreter.string(mode.rawValue),
                                               Interpreter.integer(threads), Interpreter.list(pythonpath),
                                               corral_py_bool(preloading ? 1 : 0)])
    }

    /// Starts the app's threads (threads mode) and the hung-request monitor.
    public func start(threads: Int) throws(PythonError) {
        CorralModule.log = log
        try Interpreter.call(runtime!, "start", [Interpreter.integer(threads)])
    }

    /// preload_app: forks workers for corrald over `controlFD` until it closes it. Returns the
    /// slot in each forked worker; nil in the preloading process when it is done.
    public func preload(controlFD: Int32) throws(PythonError) -> Int? {
        let result = try Interpreter.invoke(runtime!, "preload_serve", [Interpreter.integer(Int(controlFD))])
        defer { corral_py_decref(result) }
        let slot = PyLong_AsLong(result)
        if slot == -1 { PyErr_Clear() }
        guard slot >= 0 else { return nil }
        // A forked worker: the eventfd its hub watches would be shared with its siblings.
        if eventFD >= 0 {
            close(eventFD)
            eventFD = corral_eventfd()
        }
        return slot
    }

    /// The files the app's modules were imported from (for `reload`). Called after `boot`, on the
    /// thread that holds the GIL.
    public func sourceFiles() throws(PythonError) -> [String] {
        Interpreter.strings(try Interpreter.invoke(runtime!, "source_files", []))
    }

    /// gevent and asgi modes: the main thread runs gevent's hub or the asyncio loop until the
    /// worker stops, then the app's exit handlers, before `shutdown` lets the process exit.
    public func serveOnMainThread() throws(PythonError) {
        threadStarted()
        defer { threadExited() }
        try Interpreter.call(runtime!, mode == .asgi ? "serve_asgi" : "serve_gevent", [])
        Interpreter.runExitHandlers()
    }

    private var runtime: UnsafeMutablePointer<PyObject>?

    // MARK: asyncio driven by the loop thread

    /// Makes `loop` drive asyncio: its selector watched, the GIL held except while `loop` waits.
    /// On the main thread, with the GIL, after `start`.
    public func startInline(loop: EventLoop) throws(PythonError) {
        self.loop = loop
        let asgi = PyImport_ImportModule("corral_asgi")!
        let result = try Interpreter.invoke(asgi, "start_inline", [])
        let fd = Int32(PyLong_AsLong(result))
        corral_py_decref(result)
        driveFunction = PyObject_GetAttrString(asgi, "drive")
        try? loop.register(fd, events: EventLoop.readable, watcher: ReadinessHandler { [unowned self] in drive() })
        loop.onAlarm = driveJob
        var saved: OpaquePointer?
        loop.aroundWait = ({ saved = OpaquePointer(PyEval_SaveThread()) },
                           { PyEval_RestoreThread(UnsafeMutablePointer(saved)) })
    }

    private func scheduleDrive() {
        guard !driveScheduled, let loop else { return }
        driveScheduled = true
        loop.atEndOfIteration(driveJob)
    }

    private func drive() {
        driveScheduled = false
        guard let loop, let result = PyObject_CallNoArgs(driveFunction) else { return PyErr_Print() }
        let due = PyFloat_AsDouble(result)
        corral_py_decref(result)
        if due == 0 {
            scheduleDrive()
        } else if due > 0 {
            // asyncio's clock is CLOCK_MONOTONIC, as the loop's: its timer's own time, to the ns.
            loop.alarm = min(loop.alarm, Int64(due * 1e9))
        }
    }

    /// At the end (the loop stopped): lifespan shutdown, then the app's exit handlers.
    public func finishInline() {
        loop?.aroundWait = nil
        let asgi = PyImport_ImportModule("corral_asgi")!
        _ = try? Interpreter.invoke(asgi, "finish_inline", [])
        Interpreter.runExitHandlers()
    }

    // MARK: Loop thread

    /// Takes an exchange for `request`, fills its environ (or scope: a `websocket` one when
    /// `webSocketSubprotocols` is given) and hands it to the application.
    /// Nil when every slot is taken: the server holds one request per connection (or per
    /// HTTP/2 stream), `capacity` at most, so only a fault elsewhere gets here; 503 then.
    func begin(_ request: Request, now: Int64, webSocketSubprotocols: [String]? = nil) -> Exchange? {
        if free.isEmpty {
            let count = made.load(ordering: .relaxed)
            guard count < capacity else { return nil }
            slots[count] = Exchange(token: count, bridge: self)
            free.append(count)
            made.store(count + 1, ordering: .releasing)
        }
        let exchange = slots[free.removeLast()]!
        if mode == .asgi {
            let local = request.localAddress
            exchange.scope.build(head: request.head, buffer: request.buffer, fields: request.fields,
                                 clientAddress: request.remoteAddressBytes, clientPort: request.remotePort,
                                 isSecure: request.isSecure, server: (local.name, Int(local.port)), settings: settings,
                                 tls: request.tls, webSocketSubprotocols: webSocketSubprotocols)
        } else {
            exchange.environ.build(head: request.head, buffer: request.buffer, fields: request.fields,
                                   remoteAddress: request.remoteAddressBytes, remotePort: request.remotePort,
                                   isSecure: request.isSecure, settings: settings, tls: request.tls,
                                   serverAddress: { request.localAddress })
        }
        exchange.begin(now: now)
        exchange.socketDescriptor = request.socketDescriptor
        inFlight += 1
        deliver(.request(token: exchange.token))
        return exchange
    }

    /// The application posted its last message for `exchange`: the slot is free again.
    func end(_ exchange: Exchange) {
        exchange.active = false
        exchange.overdueClock.store(0, ordering: .relaxed)
        inFlight -= 1
        free.append(exchange.token)
    }

    /// Sends a close frame on each connection a WSGI app's WebSocket library took over (the end of
    /// a drain): the library answers the client's close and the app's view returns, where else
    /// the client would see the connection drop without a word. How many there were.
    public func closeTakenWebSockets(code: UInt16, reason: String) -> Int {
        let frame = WebSocketFrameHeader.close(code, reason: reason)
        var count = 0
        for token in 0..<made.load(ordering: .relaxed) {
            let exchange = slots[token]!
            guard exchange.active && exchange.upgrade == .handedOver else { continue }
            _ = send(exchange.socketDescriptor, frame, frame.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            count += 1
        }
        return count
    }

    /// Hands the requests in flight for longer than `timeout` nanoseconds (and not reported
    /// yet) to the monitor thread, which logs their Python stacks; returns how many. Safe from
    /// another thread than the loop's (it reads the slots' atomics only).
    @discardableResult
    public func reportOverdue(now: Int64, timeout: Int64) -> Int {
        var count = 0
        for token in 0..<made.load(ordering: .acquiring) {
            let exchange = slots[token]!
            let started = exchange.overdueClock.load(ordering: .acquiring)
            // Taken (set to 0) by the one that reports it, unless the loop moved on meanwhile.
            guard started != 0, now - started > timeout,
                  exchange.overdueClock.compareExchange(expected: started, desired: 0, ordering: .acquiringAndReleasing).exchanged
            else { continue }
            pthread_mutex_lock(&lock)
            hung.append((exchange.token, exchange.overdueSerial.load(ordering: .relaxed)))
            pthread_cond_signal(&overdueReady)
            pthread_mutex_unlock(&lock)
            count += 1
        }
        return count
    }

    func deliver(_ event: Event) {
        pthread_mutex_lock(&lock)
        let wasEmpty = events.isEmpty
        events.append(event)
        if mode == .threads { pthread_cond_signal(&requestReady) }
        pthread_mutex_unlock(&lock)
        if inline {
            scheduleDrive()
            return
        }
        if mode != .threads && wasEmpty {
            var one: UInt64 = 1
            _ = write(eventFD, &one, 8)
        }
    }

    /// Asks the application's threads to finish; true when they all did within `seconds`.
    public func shutdown(waitingUpTo seconds: Int) -> Bool {
        pthread_mutex_lock(&lock)
        stopping = true
        pthread_cond_broadcast(&requestReady)
        pthread_cond_broadcast(&overdueReady)
        pthread_mutex_unlock(&lock)
        if mode != .threads { deliver(.shutdown) }
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        deadline.tv_sec += seconds
        pthread_mutex_lock(&lock)
        while liveThreads > 0 {
            if pthread_cond_timedwait(&threadsChanged, &lock, &deadline) == ETIMEDOUT { break }
        }
        let done = liveThreads == 0
        pthread_mutex_unlock(&lock)
        return done
    }

    // MARK: Application threads

    func threadStarted() {
        pthread_mutex_lock(&lock)
        liveThreads += 1
        pthread_mutex_unlock(&lock)
    }

    func threadExited() {
        pthread_mutex_lock(&lock)
        liveThreads -= 1
        pthread_cond_broadcast(&threadsChanged)
        pthread_mutex_unlock(&lock)
    }

    /// Threads mode: the next request's exchange, blocking; nil when the worker stops.
    func nextRequest() -> Exchange? {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        while true {
            if stopping { return nil }
            if !events.isEmpty, case .request(let token) = events.removeFirst() { return slots[token] }
            pthread_cond_wait(&requestReady, &lock)
        }
    }

    /// gevent and asgi modes: every event since the last call.
    func takeEvents() -> [Event] {
        pthread_mutex_lock(&lock)
        let taken = events
        events.removeAll(keepingCapacity: true)
        pthread_mutex_unlock(&lock)
        return taken
    }

    /// The monitor thread: the next request that ran past `timeout`, blocking; nil at the end.
    func nextOverdue() -> (token: Int, serial: Int)? {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        while hung.isEmpty && !stopping { pthread_cond_wait(&overdueReady, &lock) }
        if hung.isEmpty { return nil }
        return hung.removeFirst()
    }
}

import ArgumentParser
import CCorral
import CorralCommandLine
import CorralEventLoop
import CorralHTTP
import CorralServer
import CorralSystemd
import CorralTLS
import Glibc

@_exported import CorralServer
@_exported import struct CorralHTTP.RequestHead
@_exported import enum CorralHTTP.HTTPMethod
@_exported import enum CorralHTTP.HTTPVersion
@_exported import struct CorralHTTP.HTTPError
@_exported import enum CorralHTTP.JSONText
@_exported import class CorralEventLoop.EventLoop

/// A worker process: takes its listening sockets the systemd way (LISTEN_FDS) or opens its own
/// (--bind), serves them with `handler` on one event loop, reports to its supervisor with
/// sd_notify (READY, WATCHDOG, STATUS, STOPPING), and obeys gunicorn's worker signals:
/// TERM drains gracefully, INT and QUIT stop at once, USR1 reopens the log files.
public final class Worker: @unchecked Sendable {
    public let loop: EventLoop
    public let server: HTTPServer
    public let log: ErrorLog
    private let notifier = Notifier()
    private let gracefulTimeout: Duration
    /// More `key=value` words for STATUS= (e.g. corral-python's requests in flight).
    public var statusDetails: () -> String = { "" }
    /// Runs after the loop has stopped and the logs are flushed, before the process exits.
    public var beforeExit: () -> Void = {}
    /// Starts the close handshake (code, reason) of the WebSockets an app's own library speaks on
    /// connections the engine handed over (corral-python's WSGI apps); how many there were.
    public var closeTakenWebSockets: (@Sendable (UInt16, String) -> Int)?
    /// Stopped at once by SIGINT or SIGQUIT (gunicorn's worker_int), not drained.
    public private(set) var interrupted = false

    /// Parses the worker flags from the command line (exits with usage on error) and builds the
    /// worker. Call before starting any thread: it blocks the signals the loop will read.
    public static func fromCommandLine(name: String = "corral-worker", arguments: [String]? = nil,
                                       handler: @escaping Handler) -> Worker {
        let options: WorkerOptions
        do {
            options = try WorkerOptions.parse(arguments)
        } catch {
            WorkerOptions.exitReporting(error)
        }
        do {
            return try Worker(options: options, identifier: name, handler: handler)
        } catch {
            let message = Array("\(name): \(error)\n".utf8)
            _ = write(2, message, message.count)
            Glibc.exit(1)
        }
    }

    public init(options: WorkerOptions, identifier: String = "corral-worker", handler: @escaping Handler) throws {
        log = try ErrorLog(destination: options.errorLogDestination, level: options.logLevelValue(),
                           identifier: identifier)
        // corrald's proc_name, so `ps -o comm` and pgrep tell the application's workers apart.
        if let name = getenv("CORRAL_PROC_NAME") { corral_set_process_name(name) }
        loop = try EventLoop()
        var accessLog: AccessLog?
        if let destination = options.accessLogDestination {
            accessLog = try AccessLog(destination: destination, format: AccessLogFormat(options.accessLogFormatText))
            accessLog?.onWriteProblem = { [log] in log.error($0) }
        }
        server = HTTPServer(loop: loop, configuration: try options.serverConfiguration(), log: log,
                            accessLog: accessLog, handler: handler)
        gracefulTimeout = .milliseconds(Int64(try options.gracefulTimeoutValue() * 1000))
        try listen(options)
        try watchSignals()
        server.onDrained = { [loop] in loop.stop() }
        server.onMaxRequests = { [unowned self] in drain(reason: "max_requests reached", replaced: true) }
    }

    /// The inherited sockets, else the --bind ones (and --insecure-bind's); with a certfile, all
    /// but the insecure ones speak TLS.
    private func listen(_ options: WorkerOptions) throws {
        let tls = try options.tlsSettings().map { settings in try TLSContext(settings) }
        let ticketKeys = try options.ticketKeys()
        if let tls, let ticketKeys { ticketKeys.install(on: tls) }
        var secure: [Int32] = []
        var plain: [Int32] = []
        let inherited = ListenFDs.take()
        if inherited.isEmpty {
            let binds = options.binds.isEmpty ? ["127.0.0.1:8000"] : options.binds
            for text in binds {
                secure.append(try BindAddress(parsing: text).listen(backlog: try options.backlogValue()))
            }
            for text in options.insecureBinds {
                plain.append(try BindAddress(parsing: text).listen(backlog: try options.backlogValue()))
            }
            log.info("listening at \((binds + options.insecureBinds).joined(separator: ", ")) (pid \(getpid()))")
        } else {
            for socket in inherited {
                if options.isInsecureSocket(named: socket.name) { plain.append(socket.fd) } else { secure.append(socket.fd) }
            }
            log.info("serving \(inherited.count) inherited socket(s) (pid \(getpid()))")
        }
        if let tls {
            log.info("TLS on \(secure.count) socket(s), plain HTTP on \(plain.count): \(tls.certificateSummary); \(tls.settings.minimumVersion.rawValue) or later; session tickets \(ticketKeys == nil ? "under this worker's own key" : "under corrald's keys, shared by every worker"); \(KernelTLS.available ? "kTLS: the kernel encrypts what is sent, files by SSL_sendfile" : "kTLS: not in this kernel (no tls module), so files over TLS are read and encrypted here")")
            try server.listen(on: secure, tls: tls)
            try server.listen(on: plain)
        } else {
            try server.listen(on: secure + plain)
        }
    }

    private static let signals = [SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGPIPE]

    private func watchSignals() throws {
        try loop.watchSignals(Self.signals) { [unowned self] signal, value in
            received(signal, value: value)
        }
    }

    /// For a worker whose other threads start processes (corral-python's Python threads): those
    /// threads may unblock the worker's signals (`corral_unblock_forwarded_signals`), so that the
    /// processes they start do not inherit them blocked; a signal they receive is sent on to the
    /// thread that will run the loop. SIGPIPE is ignored, as Python ignores it. Call before those
    /// threads start.
    public func forwardSignalsFromOtherThreads(to loopThread: pthread_t) throws {
        guard Self.signals.withUnsafeBufferPointer({ corral_forward_signals(loopThread, $0.baseAddress, Int32($0.count)) }) == 0 else {
            throw SystemError("sigaction")
        }
    }

    private func received(_ signal: Int32, value: Int32) {
        switch signal {
        case SIGTERM:
            let replaced = value == WorkerSignal.replaced
            drain(reason: replaced ? "SIGTERM: replaced by corrald" : "SIGTERM", replaced: replaced)
        case SIGINT, SIGQUIT:
            log.info("stopping now (signal \(signal))")
            interrupted = true
            loop.stop()
        case SIGUSR1:
            log.info("reopening log files")
            do {
                try log.reopen()
                try server.accessLog?.reopen()
            } catch {
                log.error("reopening log files failed: \(error)")
            }
        default:
            break
        }
    }

    /// `reload` for development: asks corrald for a graceful reload (a new generation, the app
    /// imported afresh; the old one serves until it is ready). False without a supervisor.
    public func askSupervisorToReload(because reason: String) -> Bool {
        guard notifier.isEnabled else { return false }
        notifier.send("CORRAL_RELOAD=\(reason)")
        return true
    }

    /// Graceful stop: in-flight requests finish (bounded by graceful_timeout), then exit 0. Open
    /// WebSockets get graceful_timeout to end too; in its last second (at most half of it) the
    /// worker closes the rest, with 1012 (service restart: reconnect) when it is being `replaced`,
    /// else 1001 (going away).
    public func drain(reason: String, replaced: Bool = false) {
        guard !server.isDraining else { return }
        log.info("draining (\(reason)): \(server.openConnections) open connection(s)")
        notifier.send("STOPPING=1\nSTATUS=draining")
        loop.spawn { [loop, gracefulTimeout, log, server, closeTakenWebSockets] in
            let closeWindow = min(Duration.seconds(1), gracefulTimeout / 2)
            await loop.sleep(for: gracefulTimeout - closeWindow)
            let (code, why): (UInt16, String) = replaced ? (1012, "service restart") : (1001, "going away")
            let closing = server.closeWebSockets(code: code, reason: why) + (closeTakenWebSockets?(code, why) ?? 0)
            if closing > 0 { log.info("closing \(closing) WebSocket(s) with \(code) (\(why))") }
            await loop.sleep(for: closeWindow)
            log.warning("graceful timeout passed with connections still open; exiting")
            loop.stop()
        }
        server.beginDrain()
    }

    /// Serves until drained or stopped, then flushes the logs and exits the process.
    public func run() -> Never {
        loop.spawn { [self] in
            notifier.send("READY=1\nSTATUS=serving")
            // corrald asks for a report every second when it serves metrics (CORRAL_METRICS_INTERVAL);
            // without, the status (corralctl's REQUESTS) still goes at least once a second, not only
            // with the heartbeat (timeout / 2). One datagram a second costs nothing measurable.
            let reportInterval = getenv("CORRAL_METRICS_INTERVAL").flatMap { Double(String(cString: $0)) }
                .map { Duration.milliseconds(Int64($0 * 1000)) }
            guard notifier.isEnabled else { return }
            let interval = [notifier.watchdogInterval, reportInterval, .seconds(1)].compactMap({ $0 }).min()!
            // Pinged from the loop itself: a blocked loop stops pinging, which is the point.
            while true {
                notifier.send("WATCHDOG=1\nSTATUS=requests=\(server.requestsServed) connections=\(server.openConnections)\(statusDetails())"
                              + "\nCORRAL_DURATIONS=\(server.metrics.durations.encoded)")
                await loop.sleep(for: interval)
            }
        }
        loop.run()
        server.accessLog?.flush()
        server.metrics.flush()
        beforeExit()
        log.info("exiting after \(server.requestsServed) request(s)")
        exit(0)
    }
}

import ArgumentParser
import CorralHTTP
import CorralWSGI
import CorralWebSocket
import CorralWorker
import Glibc

/// corral-python's flags: gunicorn's names for loading and running a WSGI application, on top of
/// the worker flags every corral worker understands. Each also comes from the environment
/// corrald sets (`CORRAL_WSGI_APP`, `CORRAL_THREADS`, …).
struct WSGICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corral-python",
        abstract: "Serve a Python WSGI or ASGI application (Flask, Django, FastAPI, …) as a corral worker.")

    @OptionGroup var worker: WorkerOptions

    @Argument(help: "The application: MODULE:VARIABLE, MODULE:factory(args) or MODULE (variable 'application'). Env CORRAL_WSGI_APP.")
    var app: String?

    @Option(help: "Change to this directory before loading the app (env CORRAL_CHDIR).")
    var chdir: String?

    @Option(help: "Add this directory to sys.path (repeatable; env CORRAL_PYTHONPATH, comma-separated).")
    var pythonpath: [String] = []

    @Option(help: "Use the packages of this virtualenv (env CORRAL_VIRTUALENV, else VIRTUAL_ENV).")
    var virtualenv: String?

    @Option(name: [.customShort("k"), .customLong("worker-class")], help: "gunicorn's worker class: sync, gthread, gevent, eventlet, egg:meinheld#gunicorn_worker… (default sync; env CORRAL_WORKER_CLASS).")
    var workerClass: String?

    @Option(help: "Python threads running the app in the threaded classes (default 1; env CORRAL_THREADS).")
    var threads: Int?

    @Option(name: [.short, .customLong("timeout")], help: "Seconds a request may run before its stack is logged and the worker recycled; 0 = never (default 30; env CORRAL_TIMEOUT).")
    var timeout: Double?

    @Option(name: .customLong("root-path"), help: "SCRIPT_NAME: where the app is mounted (env CORRAL_ROOT_PATH, else SCRIPT_NAME).")
    var rootPath: String?

    @Option(name: .customLong("static-map"), help: ArgumentHelp("Serve URL PREFIX from DIRECTORY before the app sees the request, e.g. /static=static (repeatable; env CORRAL_STATIC_MAP, one per line).", valueName: "prefix=directory"))
    var staticMap: [String] = []

    @Option(name: .customLong("static-max-age"), help: "Cache-Control max-age in seconds for static_map files (default 0: none; names with a content hash are immutable; env CORRAL_STATIC_MAX_AGE).")
    var staticMaxAge: Int?

    @Option(name: .customLong("ws-max-size"), help: "The largest WebSocket message in bytes; a bigger one closes with 1009 (default 16777216; env CORRAL_WS_MAX_SIZE).")
    var wsMaxSize: Int?

    @Option(name: .customLong("ws-ping-interval"), help: "Seconds between WebSocket keepalive pings; 0: none (default 20; env CORRAL_WS_PING_INTERVAL).")
    var wsPingInterval: Double?

    @Option(name: .customLong("ws-ping-timeout"), help: "Seconds a ping waits for its pong before the WebSocket closes with 1011; 0: no wait (default 20; env CORRAL_WS_PING_TIMEOUT).")
    var wsPingTimeout: Double?

    @Option(name: .customLong("ws-per-message-deflate"), help: "Accept a client's permessage-deflate offer: true or false (default true; env CORRAL_WS_PER_MESSAGE_DEFLATE).")
    var wsPerMessageDeflate: Bool?

    @Flag(name: .customLong("reload"), help: "Watch the app's source files and ask corrald for a graceful reload when one changes (env CORRAL_RELOAD).")
    var reload = false

    @Option(name: .customLong("reload-extra-file"), help: "Also watch this file with --reload (repeatable; env CORRAL_RELOAD_EXTRA_FILES, one per line).")
    var reloadExtraFiles: [String] = []

    @Flag(name: .customLong("embedded-python"), help: "Print the Python version this build embeds (sys.version's first word) and exit; corrald asks it to pick a worker for a venv.")
    var embeddedPython = false

    @Flag(name: .customLong("check-config"), help: "Load the application and exit: 0, or 4 with the traceback (corrald --check-config runs this).")
    var checkConfig = false
}

/// The resolved settings corral-python runs with.
struct WSGIWorkerSettings {
    var app: String
    var chdir: String?
    var pythonpath: [String]
    var virtualenv: String?
    var workerClassName: String
    var mode: WorkerClass
    var threads: Int
    var timeout: Double
    var environ: WSGISettings
    var staticMounts: [StaticMount]
    var staticMaxAge: Int
    var reload: Bool
    var reloadExtraFiles: [String]
    var webSocket = WebSocketConversation.Settings()
    var perMessageDeflate = true

    init(_ command: WSGICommand) throws(WSGISettingError) {
        func env(_ name: String) -> String? { getenv(name).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } }
        guard let app = command.app ?? env("CORRAL_WSGI_APP") else {
            throw WSGISettingError("no application given: pass MODULE:VARIABLE (e.g. flask_server:app)")
        }
        self.app = app
        chdir = command.chdir ?? env("CORRAL_CHDIR")
        pythonpath = !command.pythonpath.isEmpty ? command.pythonpath
            : (env("CORRAL_PYTHONPATH")?.split(separator: ",").map(String.init) ?? [])
        virtualenv = command.virtualenv ?? env("CORRAL_VIRTUALENV") ?? env("VIRTUAL_ENV")
        workerClassName = command.workerClass ?? env("CORRAL_WORKER_CLASS") ?? "sync"
        guard let mode = WorkerClass(gunicornName: workerClassName) else {
            throw WSGISettingError(WorkerClass.unknown(workerClassName))
        }
        self.mode = mode
        let threadsText = env("CORRAL_THREADS")
        guard let threads = command.threads ?? (threadsText.map { Int($0) } ?? 1), threads >= 1 else {
            throw WSGISettingError("threads must be a positive integer, got \(command.threads.map(String.init) ?? threadsText ?? "")")
        }
        self.threads = threads
        let timeoutText = env("CORRAL_TIMEOUT")
        guard let timeout = command.timeout ?? (timeoutText.map { Double($0) } ?? 30), timeout >= 0 else {
            throw WSGISettingError("timeout must be a number of seconds, got \(timeoutText ?? "")")
        }
        self.timeout = timeout
        environ = try WSGISettings(scriptName: command.rootPath ?? env("CORRAL_ROOT_PATH") ?? env("SCRIPT_NAME") ?? "")
        let mounts = !command.staticMap.isEmpty ? command.staticMap
            : (env("CORRAL_STATIC_MAP")?.split(separator: "\n").map(String.init) ?? [])
        do {
            staticMounts = try mounts.map { text throws(StaticMountError) in try StaticMount(parsing: text) }
        } catch {
            throw WSGISettingError("--static-map: \(error)")
        }
        let maxAgeText = env("CORRAL_STATIC_MAX_AGE")
        guard let staticMaxAge = command.staticMaxAge ?? (maxAgeText.map { Int($0) } ?? 0), staticMaxAge >= 0 else {
            throw WSGISettingError("static_max_age must be a number of seconds, 0 or more, got \(command.staticMaxAge.map(String.init) ?? maxAgeText ?? "")")
        }
        self.staticMaxAge = staticMaxAge
        reload = command.reload || env("CORRAL_RELOAD") == "1"
        reloadExtraFiles = !command.reloadExtraFiles.isEmpty ? command.reloadExtraFiles
            : (env("CORRAL_RELOAD_EXTRA_FILES")?.split(separator: "\n").map(String.init) ?? [])
        let maxSizeText = env("CORRAL_WS_MAX_SIZE")
        guard let maxSize = command.wsMaxSize ?? (maxSizeText.map { Int($0) } ?? webSocket.maxMessageSize), maxSize > 0 else {
            throw WSGISettingError("ws_max_size must be a number of bytes above 0, got \(command.wsMaxSize.map(String.init) ?? maxSizeText ?? "")")
        }
        webSocket.maxMessageSize = maxSize
        let deflateText = env("CORRAL_WS_PER_MESSAGE_DEFLATE")
        guard let deflate = command.wsPerMessageDeflate ?? (deflateText.map { Bool($0) } ?? true) else {
            throw WSGISettingError("ws_per_message_deflate must be true or false, got \(deflateText ?? "")")
        }
        perMessageDeflate = deflate
        for (name, flag, keyPath) in [("ws_ping_interval", command.wsPingInterval, \WebSocketConversation.Settings.pingInterval),
                                      ("ws_ping_timeout", command.wsPingTimeout, \WebSocketConversation.Settings.pingTimeout)] {
            let text = env("CORRAL_" + name.uppercased())
            guard let seconds = flag ?? (text.map { Double($0) } ?? 20), seconds >= 0, seconds.isFinite else {
                throw WSGISettingError("\(name) must be a number of seconds, 0 or more, got \(flag.map { String($0) } ?? text ?? "")")
            }
            webSocket[keyPath: keyPath] = Int64(seconds * 1e9)
        }
    }
}

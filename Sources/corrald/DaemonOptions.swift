import ArgumentParser
import CorralControl
import CorralSupervisor
import Glibc

/// corrald's command line, with gunicorn's spellings. Each flag given becomes an assignment of the
/// setting of the same meaning; the configuration loader layers them over the file.
struct DaemonOptions: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corrald",
        abstract: "The corral supervisor: owns the sockets, keeps the workers alive, reloads without downtime.",
        discussion: """
            Settings come from, in increasing precedence: defaults, the TOML file (-c), the \
            CORRAL_CMD_ARGS environment variable (flags as here), this command line. Setting names \
            and meanings are gunicorn's; `corrald --print-config` lists them all.
            """,
        version: ControlService.version)

    @Option(name: [.short, .customLong("config")], help: "The config file: corral.toml, or a gunicorn config file (FILE.py, or python:MODULE) read as gunicorn reads it.")
    var config: String?

    @Option(name: [.short, .customLong("bind")], help: "HOST:PORT, [V6]:PORT, unix:PATH or fd://N; repeatable (default 127.0.0.1:8000).")
    var bind: [String] = []

    @Option(name: [.short, .customLong("workers")], help: "Number of workers, or 'auto' (2 × cores + 1). Default 1 or $WEB_CONCURRENCY.")
    var workers: String?

    @Option(name: [.short, .customLong("timeout")], help: "Seconds a worker may go without a heartbeat before it is killed (default 30, 0 = off).")
    var timeout: String?

    @Option(name: .customLong("graceful-timeout"), help: "Seconds workers get to finish after TERM (default 30).")
    var gracefulTimeout: String?

    @Option(name: .customLong("keep-alive"), help: "Seconds an idle keep-alive connection is kept (default 2).")
    var keepalive: String?

    @Option(name: [.short, .customLong("pid")], help: "Pidfile path.")
    var pidfile: String?

    @Option(name: [.customShort("n"), .customLong("name")], help: "Process name (proc_name).")
    var procName: String?

    @Option(name: [.short, .customLong("user")], help: "Workers run as this user (name or uid).")
    var user: String?

    @Option(name: [.short, .customLong("group")], help: "Workers run with this group (name or gid).")
    var group: String?

    @Option(name: [.customShort("m"), .customLong("umask")], help: "Workers' umask (e.g. 0o022 or 022).")
    var umask: String?

    @Option(name: [.customShort("e"), .customLong("env")], help: "KEY=VALUE for the workers' environment (raw_env); repeatable.")
    var rawEnv: [String] = []

    @Option(name: .customLong("backlog"), help: "listen() backlog (default 2048).")
    var backlog: String?

    @Option(name: .customLong("worker-connections"), help: "Most simultaneous connections per worker (default 1000).")
    var workerConnections: String?

    @Option(name: .customLong("max-requests"), help: "A worker is replaced after this many requests (default 0 = never).")
    var maxRequests: String?

    @Option(name: .customLong("max-requests-jitter"), help: "Up to this many more, per worker (default 0).")
    var maxRequestsJitter: String?

    @Option(name: .customLong("max-worker-rss"), help: "A worker whose resident memory passes this (MiB, or 512M, 2G) is recycled gracefully (default 0 = never).")
    var maxWorkerRSS: String?

    @Option(name: .customLong("limit-request-line"), help: "Longest request line (default 4094).")
    var limitRequestLine: String?

    @Option(name: .customLong("limit-request-fields"), help: "Most header fields (default 100).")
    var limitRequestFields: String?

    @Option(name: .customLong("limit-request-field_size"), help: "Longest header field (default 8190).")
    var limitRequestFieldSize: String?

    @Option(name: .customLong("access-logfile"), help: "Access log: a file, '-' (stdout) or 'journal' (default: none).")
    var accessLog: String?

    @Option(name: .customLong("access-logformat"), help: "gunicorn access-log format.")
    var accessLogFormat: String?

    @Option(name: [.customLong("error-logfile"), .customLong("log-file")], help: "Error log: a file, '-' (stderr) or 'journal'.")
    var errorLog: String?

    @Option(name: .customLong("log-level"), help: "debug, info, warning, error or critical (default info).")
    var logLevel: String?

    @Flag(name: .customLong("reuse-port"), help: "Set SO_REUSEPORT on the listening sockets.")
    var reusePort = false

    @Option(name: .customLong("worker-cmd"), help: "Worker executable and arguments (default: corral-worker beside corrald).")
    var workerCommand: String?

    @Option(name: .customLong("control-socket"), help: "Path of the control socket.")
    var controlSocket: String?

    @Argument(help: "The WSGI application to serve with corral-python, as gunicorn takes it: MODULE:VARIABLE (wsgi_app).")
    var appModule: String?

    @Option(name: .customLong("chdir"), help: "Workers change to this directory before loading the app.")
    var chdir: String?

    @Option(name: .customLong("pythonpath"), help: "Comma-separated directories added to the app's sys.path.")
    var pythonpath: String?

    @Option(name: .customLong("virtualenv"), help: "The app's virtualenv (default: $VIRTUAL_ENV in the workers' environment).")
    var virtualenv: String?

    @Option(name: [.customShort("k"), .customLong("worker-class")], help: "gunicorn's worker class: sync, gthread, gevent, eventlet, egg:meinheld#gunicorn_worker (default sync).")
    var workerClass: String?

    @Option(name: .customLong("threads"), help: "Python threads per worker in the threaded classes (default 1).")
    var threads: String?

    @Option(name: .customLong("asgi-loop"), help: "worker_class asgi: auto (uvloop when the venv has it), asyncio or uvloop (asgi_loop).")
    var asgiLoop: String?

    @Option(name: .customLong("asgi-lifespan"), help: "worker_class asgi: auto, on or off: whether the app's lifespan runs (asgi_lifespan).")
    var asgiLifespan: String?

    @Option(name: .customLong("asgi-disconnect-grace-period"), help: "worker_class asgi: seconds a request's task runs on after its client left before it is cancelled (asgi_disconnect_grace_period; default 3).")
    var asgiDisconnectGracePeriod: String?

    @Option(name: .customLong("ws-max-size"), help: "The largest WebSocket message in bytes; a bigger one closes with 1009 (ws_max_size; uvicorn's flag; default 16777216).")
    var wsMaxSize: String?

    @Option(name: .customLong("ws-ping-interval"), help: "Seconds between the server's WebSocket keepalive pings; 0: none (ws_ping_interval; default 20).")
    var wsPingInterval: String?

    @Option(name: .customLong("ws-ping-timeout"), help: "Seconds a ping waits for its pong before the WebSocket closes with 1011; 0: no wait (ws_ping_timeout; default 20).")
    var wsPingTimeout: String?

    @Option(name: .customLong("ws-per-message-deflate"), help: "Accept a WebSocket client's permessage-deflate offer: true or false (ws_per_message_deflate; uvicorn's flag; default true).")
    var wsPerMessageDeflate: String?

    @Option(name: .customLong("root-path"), help: "Where the app is mounted behind a proxy: WSGI's SCRIPT_NAME, ASGI's root_path (root_path; uvicorn's flag).")
    var rootPath: String?

    @Option(name: .customLong("static-map"), help: ArgumentHelp("Serve URL PREFIX from DIRECTORY in the engine, before the app sees the request (static_map; repeatable).", valueName: "prefix=directory"))
    var staticMap: [String] = []

    @Option(name: .customLong("static-max-age"), help: "Cache-Control max-age in seconds for static_map files (default 0: none; names with a content hash are cached as immutable).")
    var staticMaxAge: String?

    @Option(name: .customLong("log-config-dict"), help: ArgumentHelp("Python logging for the app, logging.config.dictConfig's schema as JSON (logconfig_dict).", valueName: "json"))
    var logconfigDict: String?

    @Option(name: .customLong("log-config-json"), help: ArgumentHelp("Python logging for the app from a JSON file in dictConfig's schema (logconfig_json).", valueName: "file"))
    var logconfigJSON: String?

    @Option(name: .customLong("log-config"), help: ArgumentHelp("Python logging for the app from an ini file for logging.config.fileConfig (logconfig).", valueName: "file"))
    var logconfig: String?

    @Flag(name: .customLong("preload"), help: "Import the app once per generation and fork the workers from it (preload_app).")
    var preload = false

    @Flag(name: .customLong("reload"), help: "For development: workers watch the app's source files, and a change reloads them gracefully (reload).")
    var reload = false

    @Option(name: .customLong("reload-extra-file"), help: "Also watch this file with --reload (reload_extra_files; repeatable).")
    var reloadExtraFiles: [String] = []

    @Option(name: .customLong("reload-engine"), help: "gunicorn's auto, poll or inotify: corral always watches with inotify.")
    var reloadEngine: String?

    @Option(name: .customLong("forwarded-allow-ips"), help: "Peers whose secure_scheme_headers are believed: addresses, networks or '*' (default 127.0.0.1,::1).")
    var forwardedAllowIPs: String?

    @Flag(name: .customLong("proxy-protocol"), help: "Workers read a PROXY protocol header (v1 or v2) before the first request.")
    var proxyProtocol = false

    @Option(name: .customLong("proxy-allow-from"), help: "proxy_allow_ips: the only peers that may connect with --proxy-protocol (default 127.0.0.1,::1).")
    var proxyAllowIPs: String?

    @Option(name: .customLong("statsd-host"), help: "Send gunicorn's statsd metrics to HOST:PORT (UDP) or unix:PATH.")
    var statsdHost: String?

    @Option(name: .customLong("statsd-prefix"), help: "Prefix for the statsd metric names.")
    var statsdPrefix: String?

    @Option(name: .customLong("dogstatsd-tags"), help: "DogStatsD tags for every metric: key:value,…")
    var dogstatsdTags: String?

    @Option(name: .customLong("metrics-bind"), help: "Serve Prometheus metrics at GET /metrics here (HOST:PORT or unix:PATH).")
    var metricsBind: String?

    @Option(name: .customLong("certfile"), help: "TLS: the certificate chain (PEM) the bind addresses serve HTTPS with.")
    var certfile: String?

    @Option(name: .customLong("keyfile"), help: "TLS: the certificate's private key (PEM; default: in --certfile).")
    var keyfile: String?

    @Option(name: .customLong("ca-certs"), help: "TLS: the CA certificates (PEM) client certificates are verified against.")
    var caCerts: String?

    @Option(name: .customLong("cert-reqs"), help: "TLS client certificates: 0 not asked (default), 1 verified if sent, 2 required (cert_reqs).")
    var certReqs: String?

    @Option(name: .customLong("ciphers"), help: "TLS 1.2 ciphers in OpenSSL's syntax (default: ECDHE with AES-GCM or ChaCha20).")
    var ciphers: String?

    @Option(name: .customLong("ssl-protocol-min"), help: "The lowest TLS version accepted: TLSv1.2 (default) or TLSv1.3.")
    var sslProtocolMin: String?

    @Option(name: .customLong("ssl-version"), help: ArgumentHelp("gunicorn's deprecated ssl_version: accepted with a warning, ignored.", visibility: .hidden))
    var sslVersion: String?

    @Flag(name: .customLong("suppress-ragged-eofs"), help: ArgumentHelp("gunicorn's flag; already the default.", visibility: .hidden))
    var suppressRaggedEOFs = false

    @Flag(name: .customLong("do-handshake-on-connect"), help: ArgumentHelp("gunicorn's flag: accepted with a warning, ignored.", visibility: .hidden))
    var doHandshakeOnConnect = false

    @Option(name: .customLong("http-protocols"), help: "h1 (default), h2,h1 or h2: what TLS listeners offer in ALPN, in order, and whether h2c may be spoken (http_protocols).")
    var httpProtocols: String?

    @Option(name: .customLong("http2-cleartext"), help: "off (default), prior-knowledge, upgrade or both: h2c on plain listeners, for forwarded_allow_ips peers (http2_cleartext).")
    var http2Cleartext: String?

    @Option(name: .customLong("insecure-bind"), help: "With --certfile: also listen here for plain HTTP (insecure_bind; repeatable).")
    var insecureBind: [String] = []

    @Option(name: .customLong("from-gunicorn"), help: ArgumentHelp("Run a gunicorn config file (gunicorn_config.py) with python3 as gunicorn reads it, print the equivalent corral.toml, and exit.", valueName: "file"))
    var fromGunicorn: String?

    @Flag(name: .customLong("check-upgrade"), help: ArgumentHelp("Load the configuration as for --check-config and print the upgrade state format this binary reads (run by the corrald being upgraded).", visibility: .hidden))
    var checkUpgrade = false

    @Flag(name: .customLong("check-config"), help: "Validate the configuration (and that worker_cmd is executable), then exit 0 or 1.")
    var checkConfig = false

    @Flag(name: .customLong("print-config"), help: "Print every effective setting as `name = value`, sorted, then exit.")
    var printConfig = false

    /// The flags given, as setting assignments.
    func assignments(origin: SettingOrigin) -> [SettingAssignment] {
        var result: [SettingAssignment] = []
        func add(_ name: String, _ text: String?) {
            if let text { result.append(SettingAssignment(name: name, value: .text(text), origin: origin)) }
        }
        func addList(_ name: String, _ items: [String]) {
            if !items.isEmpty { result.append(SettingAssignment(name: name, value: .list(items.map(SettingValue.text)), origin: origin)) }
        }
        addList("bind", bind)
        add("workers", workers)
        add("timeout", timeout)
        add("graceful_timeout", gracefulTimeout)
        add("keepalive", keepalive)
        add("pidfile", pidfile)
        add("proc_name", procName)
        add("user", user)
        add("group", group)
        add("umask", umask)
        addList("raw_env", rawEnv)
        add("backlog", backlog)
        add("worker_connections", workerConnections)
        add("max_requests", maxRequests)
        add("max_requests_jitter", maxRequestsJitter)
        add("max_worker_rss", maxWorkerRSS)
        add("limit_request_line", limitRequestLine)
        add("limit_request_fields", limitRequestFields)
        add("limit_request_field_size", limitRequestFieldSize)
        add("accesslog", accessLog)
        add("access_log_format", accessLogFormat)
        add("errorlog", errorLog)
        add("loglevel", logLevel)
        add("reuse_port", reusePort ? "true" : nil)
        add("worker_cmd", workerCommand)
        add("control_socket", controlSocket)
        add("wsgi_app", appModule)
        add("chdir", chdir)
        add("pythonpath", pythonpath)
        add("virtualenv", virtualenv)
        add("worker_class", workerClass)
        add("threads", threads)
        add("root_path", rootPath)
        add("asgi_loop", asgiLoop)
        add("asgi_lifespan", asgiLifespan)
        add("asgi_disconnect_grace_period", asgiDisconnectGracePeriod)
        add("ws_max_size", wsMaxSize)
        add("ws_ping_interval", wsPingInterval)
        add("ws_ping_timeout", wsPingTimeout)
        add("ws_per_message_deflate", wsPerMessageDeflate)
        addList("static_map", staticMap)
        add("preload_app", preload ? "true" : nil)
        add("reload", reload ? "true" : nil)
        addList("reload_extra_files", reloadExtraFiles)
        add("reload_engine", reloadEngine)
        add("static_max_age", staticMaxAge)
        add("logconfig_dict", logconfigDict)
        add("logconfig_json", logconfigJSON)
        add("logconfig", logconfig)
        add("forwarded_allow_ips", forwardedAllowIPs)
        add("proxy_protocol", proxyProtocol ? "true" : nil)
        add("proxy_allow_ips", proxyAllowIPs)
        add("statsd_host", statsdHost)
        add("statsd_prefix", statsdPrefix)
        add("dogstatsd_tags", dogstatsdTags)
        add("metrics_bind", metricsBind)
        add("certfile", certfile)
        add("keyfile", keyfile)
        add("ca_certs", caCerts)
        add("cert_reqs", certReqs)
        add("ciphers", ciphers)
        add("ssl_protocol_min", sslProtocolMin)
        add("ssl_version", sslVersion)
        add("suppress_ragged_eofs", suppressRaggedEOFs ? "true" : nil)
        add("do_handshake_on_connect", doHandshakeOnConnect ? "true" : nil)
        addList("insecure_bind", insecureBind)
        add("http_protocols", httpProtocols)
        add("http2_cleartext", http2Cleartext)
        return result
    }

    /// The loader for this command line and CORRAL_CMD_ARGS (whose -c counts when ours has none).
    func loader() throws -> ConfigurationLoader {
        var environmentOptions: DaemonOptions?
        if let text = getenv("CORRAL_CMD_ARGS").map({ String(cString: $0) }) {
            do {
                environmentOptions = try DaemonOptions.parse(Configuration.words(of: text))
            } catch {
                throw ValidationError("CORRAL_CMD_ARGS: \(DaemonOptions.message(for: error))")
            }
        }
        let defaults = Configuration(defaultWorkerCommand: [Self.besideCorrald("corral-worker")],
                                     wsgiWorkerCommand: [Self.besideCorrald("corral-python")],
                                     webConcurrency: getenv("WEB_CONCURRENCY").map { String(cString: $0) })
        var loader = ConfigurationLoader(defaults: defaults, file: config ?? environmentOptions?.config,
                                         environmentArguments: environmentOptions?.assignments(origin: .environment) ?? [],
                                         commandLine: assignments(origin: .commandLine))
        loader.choosesPythonWorker = true
        return loader
    }

    /// An executable installed in corrald's own directory.
    static func besideCorrald(_ name: String) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let own = n > 0 ? String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "./corrald"
        return own.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/") + "/" + name
    }
}

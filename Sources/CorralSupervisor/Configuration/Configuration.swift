import CorralHTTP
import CorralHTTP2
import CorralSystemd
import CorralTLS
import CorralWSGI
import Glibc
import TOMLKit

/// corrald's effective settings: gunicorn's names, meanings and defaults, plus corral's own
/// (`worker_cmd`, `control_socket`, `boot_timeout`, the restart backoff, and the worker limits
/// gunicorn does not have). Times are in seconds, as in gunicorn.
public struct Configuration: Equatable, Sendable {
    public var bind = ["127.0.0.1:8000"]
    public var backlog = 2048
    public var workers = 1
    public var workerConnections = 1000
    public var timeout = 30.0
    public var gracefulTimeout = 30.0
    public var keepalive = 2.0
    public var limitRequestLine = 4094
    public var limitRequestFields = 100
    public var limitRequestFieldSize = 8190
    public var limitRequestBody = 100 << 20
    public var headerTimeout = 10.0
    public var maxRequests = 0
    public var maxRequestsJitter = 0
    public var pidfile: String?
    public var procName: String?
    public var accesslog: String?
    public var accessLogFormat = AccessLogFormat.gunicornDefault
    public var errorlog = "-"
    public var loglevel = "info"
    public var user: String?
    public var group: String?
    public var umask = 0
    public var reusePort = false
    public var rawEnv: [String] = []
    public var workerCommand: [String]
    public var controlSocket: String?
    public var controlGroup: String?
    public var controlUsername: String?
    public var controlPassword: String?
    public var bootTimeout = 30.0
    public var restartBackoff = 0.5
    public var restartBackoffMax = 30.0
    public var restartBackoffReset = 10.0
    /// MiB; a worker whose resident memory passes it is recycled gracefully (uWSGI's
    /// reload-on-rss). 0 = never.
    public var maxWorkerRSS = 0
    // The WSGI application (corral-python), with gunicorn's names.
    public var wsgiApp: String?
    public var chdir: String?
    public var pythonpath: [String] = []
    public var virtualenv: String?
    public var threads = 1
    public var workerClass = "sync"
    public var rootPath = ""
    /// URL prefix → directory, served by the engine before the app (`static_map`).
    public var staticMap: [String: String] = [:]
    public var staticMaxAge = 0
    /// The gunicorn config file (Python) these settings came from: its server hooks run in the
    /// workers and in corrald's hooks process. Set by the loader, not a setting.
    public var gunicornConfigFile: String?
    /// gunicorn's `preload_app`: corral-python imports the app once per generation and forks the workers.
    public var preloadApp = false
    /// gunicorn's `reload`: the workers watch the app's sources and ask for a reload on a change.
    public var reload = false
    public var reloadExtraFiles: [String] = []
    public var reloadEngine = "auto"
    /// worker_class asgi: gunicorn's asgi_loop (auto, asyncio, uvloop) and asgi_lifespan (auto, on, off).
    public var asgiLoop = "auto"
    public var asgiLifespan = "auto"
    /// gunicorn's asgi_disconnect_grace_period: seconds a request's task runs on after its client left.
    public var asgiDisconnectGracePeriod = 3.0
    /// uvicorn's ws_max_size (bytes), ws_ping_interval and ws_ping_timeout (seconds).
    public var wsMaxSize = 16 * 1024 * 1024
    public var wsPingInterval = 20.0
    public var wsPingTimeout = 20.0
    public var wsPerMessageDeflate = true
    /// Python logging for the app in each worker, gunicorn's three ways (the first set applies):
    /// a dictConfig as JSON, a JSON file of one, an ini file for fileConfig.
    public var logconfigDict: String?
    public var logconfigJSON: String?
    public var logconfig: String?
    // Behind a load balancer (every worker): gunicorn's names and defaults.
    public var forwardedAllowIPs = ForwardedScheme.defaultAllowList
    public var secureSchemeHeaders = try! ForwardedScheme.headerTable(ForwardedScheme.defaultSecureSchemeHeaders)
    public var proxyProtocol = false
    public var proxyAllowIPs = ForwardedScheme.defaultAllowList
    // TLS on the workers' sockets: gunicorn's names and defaults (cert_reqs is Python's
    // ssl.CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED: 0, 1, 2); ssl_protocol_min is granian's.
    public var certfile: String?
    public var keyfile: String?
    public var caCerts: String?
    public var certReqs = 0
    public var ciphers: String?
    public var sslProtocolMin = TLSSettings.ProtocolVersion.tls1_2.rawValue
    public var suppressRaggedEOFs = true
    /// Seconds between new session-ticket keys (each is kept for two more rotations to decrypt).
    public var sslTicketKeyRotation = 3600.0
    /// gunicorn's HTTP/2 settings: what TLS listeners offer in ALPN ("h1", "h2,h1"…), and SETTINGS.
    public var httpProtocols = "h1"
    public var http2MaxConcurrentStreams = 100
    public var http2InitialWindowSize = 65535
    public var http2MaxFrameSize = 16384
    public var http2MaxHeaderListSize = 65536
    /// gunicorn's http2_cleartext: off, prior-knowledge, upgrade or both.
    public var http2Cleartext = HTTP2Cleartext.off
    /// hypercorn's name: addresses that stay plain HTTP while `bind`'s speak TLS.
    public var insecureBind: [String] = []
    // Metrics: gunicorn's statsd settings (sent by the workers; corrald sends gunicorn.workers),
    // and corral's own Prometheus endpoint.
    public var statsdHost: String?
    public var statsdPrefix = ""
    public var dogstatsdTags = ""
    public var metricsBind: String?
    /// The worker command when an app is given and worker_cmd is not.
    public var wsgiWorkerCommand: [String]
    /// What that worker needs for the venv's Python (PythonWorkerChoice's environment).
    public var pythonWorkerEnvironment: [String: String] = [:]

    /// The defaults; `workers` follows $WEB_CONCURRENCY as in gunicorn. `wsgiWorkerCommand` is
    /// the worker when a config names an app (corral-python beside corrald).
    public init(defaultWorkerCommand: [String], wsgiWorkerCommand: [String], webConcurrency: String? = nil) {
        workerCommand = defaultWorkerCommand
        self.wsgiWorkerCommand = wsgiWorkerCommand
        if let webConcurrency, let count = Int(webConcurrency), count > 0 { workers = count }
    }

    /// 2 × cores + 1, gunicorn's advice and the meaning of `workers = "auto"`.
    public static var automaticWorkerCount: Int { 2 * Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) + 1 }

    /// Every setting as `name = value`, sorted: TOML, so the output can be a config file.
    public var printed: String { settingsTable.convert(to: .toml) + "\n" }

    /// The Python logging configuration the workers apply: the first of gunicorn's three that is
    /// set, with the variable that passes it to corral-python.
    public var pythonLogging: (setting: String, value: String, variable: String)? {
        if let logconfigDict { return ("logconfig_dict", logconfigDict, "CORRAL_LOGCONFIG_DICT") }
        if let logconfigJSON { return ("logconfig_json", logconfigJSON, "CORRAL_LOGCONFIG_JSON") }
        if let logconfig { return ("logconfig", logconfig, "CORRAL_LOGCONFIG") }
        return nil
    }

    /// Every setting as one JSON object: `server.cfg` for the server hooks.
    public var settingsJSON: String {
        "{" + Setting.all.compactMap { setting in
            ConfigurationLoader.settingValue(setting.render(self)).map { JSONText.quoted(setting.name) + ": " + $0.json }
        }.joined(separator: ", ") + "}"
    }

    private var settingsTable: TOMLTable {
        let table = TOMLTable()
        for setting in Setting.all { table[setting.name] = setting.render(self) }
        return table
    }

    /// Where the control socket goes: `control_socket`; else /run/corral/corral.sock under
    /// systemd; else beside the pidfile (`corrald.pid` → `corrald.sock`); else nowhere.
    public func controlSocketPath(underSystemd: Bool) -> String? {
        if let controlSocket { return controlSocket }
        if underSystemd { return "/run/corral/corral.sock" }
        guard let pidfile else { return nil }
        return (pidfile.hasSuffix(".pid") ? String(pidfile.dropLast(4)) : pidfile) + ".sock"
    }

    /// What the state machine needs, in nanoseconds.
    public var supervisorSettings: SupervisorState.Settings {
        var settings = SupervisorState.Settings(workers: workers, bootTimeout: Self.nanoseconds(bootTimeout),
                                                heartbeatTimeout: Self.nanoseconds(timeout),
                                                gracefulTimeout: Self.nanoseconds(gracefulTimeout))
        settings.backoff = RestartBackoff(initial: Self.nanoseconds(restartBackoff), cap: Self.nanoseconds(restartBackoffMax),
                                          stableAfter: Self.nanoseconds(restartBackoffReset))
        settings.maxWorkerRSS = Int64(maxWorkerRSS) << 20
        return settings
    }

    /// The TLS settings, as the workers will apply them; nil without a certfile.
    public var tlsSettings: TLSSettings? {
        guard let certfile else { return nil }
        var settings = TLSSettings(certfile: appPath(certfile), keyfile: keyfile.map(appPath))
        settings.caCerts = caCerts.map(appPath)
        settings.clientCertificates = TLSSettings.ClientCertificates(rawValue: certReqs) ?? .none
        settings.ciphers = ciphers
        settings.minimumVersion = TLSSettings.ProtocolVersion(name: sslProtocolMin) ?? .tls1_2
        settings.suppressRaggedEOFs = suppressRaggedEOFs
        return settings
    }

    /// The addresses, with their scheme when some speak TLS: "https://0.0.0.0:443, http://0.0.0.0:80".
    public var listeningSummary: String {
        guard certfile != nil else { return (bind + insecureBind).joined(separator: ", ") }
        return (bind.map { "https://" + $0 } + insecureBind.map { "http://" + $0 }).joined(separator: ", ")
    }

    /// A path as gunicorn reads it: relative to `chdir` when set (gunicorn changes there at
    /// start), else to corrald's directory; made absolute, so that every worker finds the same
    /// file. Symbolic links are not resolved: certbot's `live/` links are followed at each load.
    func appPath(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        let base = chdir ?? getcwd(nil, 0).map { directory in defer { free(directory) }; return String(cString: directory) } ?? "."
        return base.hasPrefix("/") || chdir == nil ? "\(base)/\(path)" : "\(appPath(base))/\(path)"
    }

    /// The settings a corral-worker reads from its environment (`CORRAL_<NAME>`; other workers
    /// ignore them), then `raw_env`, which wins.
    public var workerEnvironment: [String: String] {
        var environment = [
            "CORRAL_WORKER_CONNECTIONS": String(workerConnections),
            "CORRAL_KEEPALIVE": String(keepalive),
            "CORRAL_GRACEFUL_TIMEOUT": String(gracefulTimeout),
            "CORRAL_HEADER_TIMEOUT": String(headerTimeout),
            "CORRAL_LIMIT_REQUEST_LINE": String(limitRequestLine),
            "CORRAL_LIMIT_REQUEST_FIELDS": String(limitRequestFields),
            "CORRAL_LIMIT_REQUEST_FIELD_SIZE": String(limitRequestFieldSize),
            "CORRAL_LIMIT_REQUEST_BODY": String(limitRequestBody),
            "CORRAL_MAX_REQUESTS": String(maxRequests),
            "CORRAL_MAX_REQUESTS_JITTER": String(maxRequestsJitter),
            "CORRAL_ACCESS_LOG_FORMAT": accessLogFormat,
            "CORRAL_ERRORLOG": errorlog,
            "CORRAL_LOGLEVEL": loglevel,
            "CORRAL_FORWARDED_ALLOW_IPS": forwardedAllowIPs,
            "CORRAL_SECURE_SCHEME_HEADERS": ForwardedScheme.headerText(secureSchemeHeaders),
            "CORRAL_PROXY_PROTOCOL": String(proxyProtocol),
            "CORRAL_PROXY_ALLOW_IPS": proxyAllowIPs,
            "CORRAL_STATSD_PREFIX": statsdPrefix,
            "CORRAL_DOGSTATSD_TAGS": dogstatsdTags,
        ]
        environment["CORRAL_STATSD_HOST"] = statsdHost
        if let tls = tlsSettings {
            environment["CORRAL_CERTFILE"] = tls.certfile
            environment["CORRAL_KEYFILE"] = tls.keyfile
            environment["CORRAL_CA_CERTS"] = tls.caCerts
            environment["CORRAL_CERT_REQS"] = String(tls.clientCertificates.rawValue)
            environment["CORRAL_CIPHERS"] = tls.ciphers
            environment["CORRAL_SSL_PROTOCOL_MIN"] = tls.minimumVersion.rawValue
            environment["CORRAL_SUPPRESS_RAGGED_EOFS"] = String(tls.suppressRaggedEOFs)
            environment["CORRAL_SSL_TICKET_KEY_ROTATION"] = String(sslTicketKeyRotation)
            let insecure = insecureBind.compactMap { try? BindAddress(parsing: $0).socketName }
            environment["CORRAL_INSECURE_SOCKETS"] = insecure.isEmpty ? nil : insecure.joined(separator: ",")
        }
        // HTTP/2 over TLS, or h2c on plain listeners.
        environment["CORRAL_HTTP_PROTOCOLS"] = httpProtocols
        environment["CORRAL_HTTP2_MAX_CONCURRENT_STREAMS"] = String(http2MaxConcurrentStreams)
        environment["CORRAL_HTTP2_INITIAL_WINDOW_SIZE"] = String(http2InitialWindowSize)
        environment["CORRAL_HTTP2_MAX_FRAME_SIZE"] = String(http2MaxFrameSize)
        environment["CORRAL_HTTP2_MAX_HEADER_LIST_SIZE"] = String(http2MaxHeaderListSize)
        environment["CORRAL_HTTP2_CLEARTEXT"] = http2Cleartext.rawValue
        // Workers report every second when corrald serves metrics, not only at each heartbeat.
        environment["CORRAL_METRICS_INTERVAL"] = metricsBind == nil ? nil : "1"
        environment["CORRAL_ACCESSLOG"] = accesslog
        environment["CORRAL_PROC_NAME"] = procName
        if let wsgiApp {
            environment["CORRAL_WSGI_APP"] = wsgiApp
            environment["CORRAL_CHDIR"] = chdir
            environment["CORRAL_PYTHONPATH"] = pythonpath.isEmpty ? nil : pythonpath.joined(separator: ",")
            environment["CORRAL_VIRTUALENV"] = virtualenv
            environment["CORRAL_THREADS"] = String(threads)
            environment["CORRAL_WORKER_CLASS"] = workerClass
            environment["CORRAL_TIMEOUT"] = String(timeout)
            environment["CORRAL_ROOT_PATH"] = rootPath
            environment["CORRAL_STATIC_MAP"] = staticMap.isEmpty ? nil : staticMap.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
            environment["CORRAL_STATIC_MAX_AGE"] = String(staticMaxAge)
            if let gunicornConfigFile {
                environment["CORRAL_CONFIG_FILE"] = gunicornConfigFile
                environment["CORRAL_SETTINGS"] = settingsJSON
                environment["CORRAL_SUPERVISOR_PID"] = String(getpid())
            }
            environment["CORRAL_RELOAD"] = reload ? "1" : nil
            environment["CORRAL_ASGI_LOOP"] = asgiLoop
            environment["CORRAL_ASGI_LIFESPAN"] = asgiLifespan
            environment["CORRAL_ASGI_DISCONNECT_GRACE_PERIOD"] = String(asgiDisconnectGracePeriod)
            environment["CORRAL_WS_MAX_SIZE"] = String(wsMaxSize)
            environment["CORRAL_WS_PING_INTERVAL"] = String(wsPingInterval)
            environment["CORRAL_WS_PING_TIMEOUT"] = String(wsPingTimeout)
            environment["CORRAL_WS_PER_MESSAGE_DEFLATE"] = String(wsPerMessageDeflate)
            if let logging = pythonLogging { environment[logging.variable] = logging.value }
            environment["CORRAL_RELOAD_EXTRA_FILES"] = reload && !reloadExtraFiles.isEmpty ? reloadExtraFiles.joined(separator: "\n") : nil
            if workerCommand == wsgiWorkerCommand { environment.merge(pythonWorkerEnvironment) { $1 } }
        }
        for entry in rawEnv {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            environment[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        return environment
    }

    /// Splits a command line into words, honouring single and double quotes and backslashes.
    public static func words(of text: String) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for character in text {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" && quote != "'" {
                escaped = true
                inWord = true
            } else if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "\"" || character == "'" {
                quote = character
                inWord = true
            } else if character == " " || character == "\t" || character == "\n" {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(character)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }

    static func nanoseconds(_ seconds: Double) -> Int64 { Int64(seconds * 1_000_000_000) }
}

import CorralHTTP
import CorralMetrics
import CorralHTTP2
import CorralSystemd
import CorralTLS
import CorralWSGI
import Glibc
import TOMLKit

/// One setting corrald applies: how a written value becomes a field of `Configuration`, its value
/// as TOML (for --print-config), and what must hold of the final value (checked after every layer).
struct Setting: Sendable {
    let name: String
    let apply: @Sendable (inout Configuration, SettingValue, _ fromText: Bool) throws(SettingError) -> Void
    let render: @Sendable (Configuration) -> TOMLValueConvertible
    var check: @Sendable (Configuration) -> String? = { _ in nil }

    static func named(_ name: String) -> Setting? { all.first { $0.name == name } }

    static let all: [Setting] = [
        list("bind", \.bind, check: { binds in
            if binds.isEmpty { return "needs at least one address" }
            for bind in binds {
                do { _ = try BindAddress(parsing: bind) } catch { return "\(error)" }
            }
            return nil
        }),
        list("insecure_bind", \.insecureBind, check: { binds in
            for bind in binds {
                do { _ = try BindAddress(parsing: bind) } catch { return "\(error)" }
            }
            return nil
        }),
        integer("backlog", \.backlog, 1...65535),
        Setting(name: "workers", apply: { config, value, fromText throws(SettingError) in
            if case .text("auto") = value {
                config.workers = Configuration.automaticWorkerCount
            } else if case .text(let text) = value, fromText, let count = Int(text), count >= 1 {
                config.workers = count
            } else if case .integer(let count) = value, count >= 1 {
                config.workers = count
            } else {
                throw SettingError(expected: "a positive integer or \"auto\"", got: value)
            }
        }, render: { $0.workers }),
        integer("worker_connections", \.workerConnections, 1...1_000_000),
        seconds("timeout", \.timeout),
        seconds("graceful_timeout", \.gracefulTimeout),
        seconds("keepalive", \.keepalive),
        // gunicorn's ranges: too large is clamped (HTTPLimits, with a warning), 0 has a meaning.
        integer("limit_request_line", \.limitRequestLine, 0...Int.max),
        integer("limit_request_fields", \.limitRequestFields, 0...Int.max),
        integer("limit_request_field_size", \.limitRequestFieldSize, 0...Int.max),
        integer("limit_request_body", \.limitRequestBody, 0...Int.max),
        seconds("header_timeout", \.headerTimeout),
        integer("max_requests", \.maxRequests, 0...Int.max),
        integer("max_requests_jitter", \.maxRequestsJitter, 0...Int.max),
        optionalText("pidfile", \.pidfile),
        optionalText("proc_name", \.procName),
        optionalText("accesslog", \.accesslog),
        text("access_log_format", \.accessLogFormat, check: { format in
            do { _ = try AccessLogFormat(format) } catch { return "\(error)" }
            return nil
        }),
        text("errorlog", \.errorlog),
        text("loglevel", \.loglevel, check: { level in
            ["debug", "info", "warning", "error", "critical"].contains(level.lowercased())
                ? nil : "expected one of debug, info, warning, error, critical; got \"\(level)\""
        }),
        optionalText("user", \.user, check: { user in
            guard let user, Int(user) == nil, getpwnam(user) == nil else { return nil }
            return "no such user \"\(user)\""
        }),
        optionalText("group", \.group, check: checkGroup),
        Setting(name: "umask", apply: { config, value, fromText throws(SettingError) in
            switch value {
            case .integer(let mask) where (0...0o777).contains(mask): config.umask = mask
            case .text(let text) where parseUmask(text) != nil: config.umask = parseUmask(text)!
            default: throw SettingError(expected: "a mode from 0 to 0o777 (e.g. 0o022 or \"022\")", got: value)
            }
        }, render: { TOMLInt($0.umask, options: .formatAsOctal) }),
        boolean("reuse_port", \.reusePort),
        list("raw_env", \.rawEnv, check: { entries in
            entries.first { !$0.contains("=") || $0.hasPrefix("=") }.map { "expected KEY=VALUE, got \"\($0)\"" }
        }),
        Setting(name: "worker_cmd", apply: { config, value, fromText throws(SettingError) in
            switch value {
            case .text(let text): config.workerCommand = Configuration.words(of: text)
            case .list(let items):
                config.workerCommand = try items.map { item throws(SettingError) in
                    guard case .text(let word) = item else { throw SettingError(expected: "an array of strings", got: item) }
                    return word
                }
            default: throw SettingError(expected: "a command (a string, or an array of strings)", got: value)
            }
        }, render: { $0.workerCommand }, check: { config in
            guard let executable = config.workerCommand.first, !executable.isEmpty else { return "worker_cmd is empty" }
            return access(executable, X_OK) == 0 ? nil : "\"\(executable)\" is not an executable file (\(String(cString: strerror(errno))))"
        }),
        optionalText("control_socket", \.controlSocket),
        optionalText("control_group", \.controlGroup, check: checkGroup),
        optionalText("control_username", \.controlUsername),
        optionalText("control_password", \.controlPassword),
        seconds("boot_timeout", \.bootTimeout, minimum: 0.001),
        seconds("restart_backoff", \.restartBackoff),
        seconds("restart_backoff_max", \.restartBackoffMax),
        seconds("restart_backoff_reset", \.restartBackoffReset),
        // MiB, as an integer or with systemd's suffixes: 512, "512M", "2G" (at most 1 PiB).
        Setting(name: "max_worker_rss", apply: { config, value, fromText throws(SettingError) in
            let mebibytes: Int? = switch value {
            case .integer(let number) where (0...maximumMebibytes).contains(number): number
            case .text(let text): parseMebibytes(text)
            default: nil
            }
            guard let mebibytes else { throw SettingError(expected: "MiB as an integer, or a size such as \"512M\" or \"2G\"", got: value) }
            config.maxWorkerRSS = mebibytes
        }, render: { $0.maxWorkerRSS }),
        optionalText("wsgi_app", \.wsgiApp, check: { app in
            guard let app, app.hasPrefix(":") || app.contains(" ") else { return nil }
            return "expected MODULE:VARIABLE, MODULE:factory(args) or MODULE, got \"\(app)\""
        }),
        optionalText("chdir", \.chdir),
        // gunicorn's pythonpath is one comma-separated string; an array is taken too.
        Setting(name: "pythonpath", apply: { config, value, _ throws(SettingError) in
            switch value {
            case .text(let text): config.pythonpath = text.split(separator: ",").map { String($0.drop { $0 == " " }) }
            case .list(let items):
                config.pythonpath = try items.map { item throws(SettingError) in
                    guard case .text(let text) = item else { throw SettingError(expected: "an array of strings", got: item) }
                    return text
                }
            default: throw SettingError(expected: "a comma-separated string or an array of strings", got: value)
            }
        }, render: { $0.pythonpath }),
        optionalText("virtualenv", \.virtualenv),
        integer("threads", \.threads, 1...10_000),
        text("worker_class", \.workerClass, check: { name in
            WorkerClass(gunicornName: name) == nil ? WorkerClass.unknown(name) : nil
        }),
        Setting(name: "static_map", apply: { config, value, _ throws(SettingError) in
            // A TOML table { "/static" = "static" }, or PREFIX=DIRECTORY words (repeated flags).
            var entries: [String: String] = [:]
            switch value {
            case .table(let table): entries = table
            case .text, .list:
                let items: [SettingValue] = if case .list(let items) = value { items } else { [value] }
                for item in items {
                    guard case .text(let text) = item, let equals = text.firstIndex(of: "=") else {
                        throw SettingError(expected: "PREFIX=DIRECTORY (e.g. /static=static)", got: item)
                    }
                    entries[String(text[..<equals])] = String(text[text.index(after: equals)...])
                }
            default: throw SettingError(expected: "a table of URL prefix = directory", got: value)
            }
            config.staticMap = entries
        }, render: { config in
            let table = TOMLTable(inline: true)
            for (prefix, directory) in config.staticMap { table[prefix] = directory }
            return table
        }, check: { config in
            for (prefix, directory) in config.staticMap.sorted(by: { $0.key < $1.key }) {
                do { _ = try StaticMount(prefix: prefix, directory: directory) } catch { return "\(error)" }
                // Relative to the app's directory, as the workers open it after chdir.
                let path = directory.hasPrefix("/") || config.chdir == nil ? directory : "\(config.chdir!)/\(directory)"
                var info = stat()
                if stat(path, &info) != 0 { return "\(prefix): \(path): \(String(cString: strerror(errno)))" }
                if (info.st_mode & S_IFMT) != S_IFDIR { return "\(prefix): \(path) is not a directory" }
            }
            return nil
        }),
        integer("static_max_age", \.staticMaxAge, 0...Int.max),
        boolean("preload_app", \.preloadApp),
        boolean("reload", \.reload),
        list("reload_extra_files", \.reloadExtraFiles, check: { _ in nil }),
        // gunicorn's engines; corral's workers always use inotify, which every engine falls back to here.
        text("reload_engine", \.reloadEngine, check: { engine in
            ["auto", "poll", "inotify"].contains(engine) ? nil : "expected auto, poll or inotify, got \"\(engine)\""
        }),
        text("asgi_loop", \.asgiLoop, check: { loop in
            ["auto", "asyncio", "uvloop"].contains(loop) ? nil : "expected auto, asyncio or uvloop, got \"\(loop)\""
        }),
        text("asgi_lifespan", \.asgiLifespan, check: { mode in
            ["auto", "on", "off"].contains(mode) ? nil : "expected auto, on or off, got \"\(mode)\""
        }),
        seconds("asgi_disconnect_grace_period", \.asgiDisconnectGracePeriod),
        // uvicorn's WebSocket settings (corral-python's engine speaks the protocol).
        integer("ws_max_size", \.wsMaxSize, 1...Int(Int32.max)),
        seconds("ws_ping_interval", \.wsPingInterval),
        seconds("ws_ping_timeout", \.wsPingTimeout),
        boolean("ws_per_message_deflate", \.wsPerMessageDeflate),
        // Python logging for the app: checked, and gunicorn's loggers mapped, by LogConfigCheck.
        Setting(name: "logconfig_dict", apply: { config, value, _ throws(SettingError) in
            switch value {
            case .document(let json): config.logconfigDict = json
            case .table(let entries): config.logconfigDict = entries.isEmpty ? nil : SettingValue.table(entries).json
            // JSON text (a flag, or --print-config's output loaded back).
            case .text(let text) where text.isEmpty || text.hasPrefix("{"): config.logconfigDict = text.isEmpty ? nil : text
            default: throw SettingError(expected: "a table in logging.config.dictConfig's schema", got: value)
            }
        }, render: { $0.logconfigDict ?? "" }),
        optionalText("logconfig_json", \.logconfigJSON),
        optionalText("logconfig", \.logconfig),
        text("root_path", \.rootPath, check: { path in
            path.isEmpty || path.hasPrefix("/") ? nil : "expected a path starting with \"/\", got \"\(path)\""
        }),
        text("forwarded_allow_ips", \.forwardedAllowIPs, check: checkAllowList),
        boolean("proxy_protocol", \.proxyProtocol),
        text("proxy_allow_ips", \.proxyAllowIPs, check: checkAllowList),
        optionalText("statsd_host", \.statsdHost, check: { host in
            guard let host else { return nil }
            do { _ = try StatsdSocket.Target(parsing: host) } catch { return "\(error)" }
            return nil
        }),
        text("statsd_prefix", \.statsdPrefix),
        text("dogstatsd_tags", \.dogstatsdTags),
        optionalText("metrics_bind", \.metricsBind, check: { bind in
            guard let bind else { return nil }
            do { _ = try BindAddress(parsing: bind) } catch { return "\(error)" }
            return nil
        }),
        // TLS: the files are loaded as a worker will load them, so a bad certificate, a key that
        // does not match or an unreadable file fails --check-config and a reload, not the workers.
        Setting(name: "certfile", apply: { config, value, _ throws(SettingError) in
            guard case .text(let text) = value else { throw SettingError(expected: "a string", got: value) }
            config.certfile = text.isEmpty ? nil : text
        }, render: { $0.certfile ?? "" }, check: { config in
            guard let settings = config.tlsSettings else {
                let strays = [("keyfile", config.keyfile != nil), ("ca_certs", config.caCerts != nil), ("insecure_bind", !config.insecureBind.isEmpty)]
                    .filter(\.1).map(\.0)
                return strays.isEmpty ? nil : "not set, so \(strays.joined(separator: " and ")) would do nothing: set certfile to serve HTTPS"
            }
            if let overlap = config.insecureBind.first(where: { config.bind.contains($0) }) {
                return "\(overlap) is in both bind (TLS) and insecure_bind (plain HTTP); a socket speaks one of them"
            }
            do { _ = try TLSContext(settings) } catch { return "\(error)" }
            return nil
        }),
        optionalText("keyfile", \.keyfile),
        optionalText("ca_certs", \.caCerts),
        integer("cert_reqs", \.certReqs, 0...2),
        optionalText("ciphers", \.ciphers),
        text("ssl_protocol_min", \.sslProtocolMin, check: { name in
            TLSSettings.ProtocolVersion(name: name) == nil ? "expected TLSv1.2 or TLSv1.3, got \"\(name)\"" : nil
        }),
        boolean("suppress_ragged_eofs", \.suppressRaggedEOFs),
        seconds("ssl_ticket_key_rotation", \.sslTicketKeyRotation, minimum: 1),
        text("http_protocols", \.httpProtocols, check: { text in
            do { _ = try HTTP2Settings(protocols: text) } catch { return "\(error)" }
            return nil
        }),
        integer("http2_max_concurrent_streams", \.http2MaxConcurrentStreams, 1...Int(Int32.max)),
        integer("http2_initial_window_size", \.http2InitialWindowSize, 1...Int(Int32.max)),
        integer("http2_max_frame_size", \.http2MaxFrameSize, 16384...16_777_215),
        integer("http2_max_header_list_size", \.http2MaxHeaderListSize, 1024...Int(Int32.max)),
        // gunicorn's values, or its booleans (`http2_cleartext = True` is prior-knowledge).
        Setting(name: "http2_cleartext", apply: { config, value, _ throws(SettingError) in
            let text: String
            switch value {
            case .text(let given): text = given
            case .boolean(let flag): text = flag ? "prior-knowledge" : "off"
            default: throw SettingError(expected: "off, prior-knowledge, upgrade or both", got: value)
            }
            do { config.http2Cleartext = try HTTP2Cleartext(setting: text) } catch {
                throw SettingError(expected: "off, prior-knowledge, upgrade or both", got: value)
            }
        }, render: { $0.http2Cleartext.rawValue }),
        // A TOML table { "X-FORWARDED-PROTO" = "https" } in the file, HEADER=value,… on a command line.
        Setting(name: "secure_scheme_headers", apply: { config, value, _ throws(SettingError) in
            switch value {
            case .text(let text):
                do { config.secureSchemeHeaders = try ForwardedScheme.headerTable(text) } catch {
                    throw SettingError(expected: "HEADER=value pairs, comma-separated", got: value)
                }
            case .table(let entries): config.secureSchemeHeaders = entries
            default: throw SettingError(expected: "a table of header = value", got: value)
            }
        }, render: { config in
            let table = TOMLTable(inline: true)
            for (header, value) in config.secureSchemeHeaders { table[header] = value }
            return table
        }, check: { config in
            do { _ = try ForwardedScheme(secureSchemeHeaders: ForwardedScheme.headerText(config.secureSchemeHeaders)) } catch { return "\(error)" }
            return nil
        }),
    ]

    private static func checkAllowList(_ list: String) -> String? {
        do { _ = try AddressAllowList(list) } catch { return "\(error)" }
        return nil
    }

    private static func checkGroup(_ group: String?) -> String? {
        guard let group, Int(group) == nil, getgrnam(group) == nil else { return nil }
        return "no such group \"\(group)\""
    }

    // MARK: Kinds

    private static func integer(_ name: String, _ field: WritableKeyPath<Configuration, Int> & Sendable,
                                _ range: ClosedRange<Int>) -> Setting {
        Setting(name: name, apply: { config, value, fromText throws(SettingError) in
            let number: Int? = switch value {
            case .integer(let number): number
            case .text(let text) where fromText: Int(text)
            default: nil
            }
            guard let number, range.contains(number) else {
                let bound = range.upperBound == Int.max ? "at least \(range.lowerBound)" : "from \(range.lowerBound) to \(range.upperBound)"
                throw SettingError(expected: "an integer \(bound)", got: value)
            }
            config[keyPath: field] = number
        }, render: { $0[keyPath: field] })
    }

    private static func seconds(_ name: String, _ field: WritableKeyPath<Configuration, Double> & Sendable,
                                minimum: Double = 0) -> Setting {
        Setting(name: name, apply: { config, value, fromText throws(SettingError) in
            let number: Double? = switch value {
            case .integer(let number): Double(number)
            case .number(let number): number
            case .text(let text) where fromText: Double(text)
            default: nil
            }
            guard let number, number >= minimum, number.isFinite else {
                throw SettingError(expected: "a number of seconds\(minimum > 0 ? " above 0" : ", 0 or more")", got: value)
            }
            config[keyPath: field] = number
        }, render: { $0[keyPath: field] })
    }

    private static func boolean(_ name: String, _ field: WritableKeyPath<Configuration, Bool> & Sendable) -> Setting {
        Setting(name: name, apply: { config, value, fromText throws(SettingError) in
            switch value {
            case .boolean(let flag): config[keyPath: field] = flag
            case .text("true") where fromText: config[keyPath: field] = true
            case .text("false") where fromText: config[keyPath: field] = false
            default: throw SettingError(expected: "true or false", got: value)
            }
        }, render: { $0[keyPath: field] })
    }

    private static func text(_ name: String, _ field: WritableKeyPath<Configuration, String> & Sendable,
                             check: @escaping @Sendable (String) -> String? = { _ in nil }) -> Setting {
        Setting(name: name, apply: { config, value, _ throws(SettingError) in
            guard case .text(let text) = value else { throw SettingError(expected: "a string", got: value) }
            config[keyPath: field] = text
        }, render: { $0[keyPath: field] }, check: { check($0[keyPath: field]) })
    }

    /// Unset is written as "" (TOML has no null), so printed output loads back.
    private static func optionalText(_ name: String, _ field: WritableKeyPath<Configuration, String?> & Sendable,
                                     check: @escaping @Sendable (String?) -> String? = { _ in nil }) -> Setting {
        Setting(name: name, apply: { config, value, _ throws(SettingError) in
            guard case .text(let text) = value else { throw SettingError(expected: "a string", got: value) }
            config[keyPath: field] = text.isEmpty ? nil : text
        }, render: { $0[keyPath: field] ?? "" }, check: { check($0[keyPath: field]) })
    }

    /// A list: a TOML array of strings or a single string; on a command line, repeated flags.
    private static func list(_ name: String, _ field: WritableKeyPath<Configuration, [String]> & Sendable,
                             check: @escaping @Sendable ([String]) -> String?) -> Setting {
        Setting(name: name, apply: { config, value, _ throws(SettingError) in
            switch value {
            case .text(let text): config[keyPath: field] = [text]
            case .list(let items):
                config[keyPath: field] = try items.map { item throws(SettingError) in
                    guard case .text(let text) = item else { throw SettingError(expected: "an array of strings", got: item) }
                    return text
                }
            default: throw SettingError(expected: "a string or an array of strings", got: value)
            }
        }, render: { $0[keyPath: field] }, check: { check($0[keyPath: field]) })
    }

    // MARK: Text forms

    /// gunicorn's umask forms: "0o22", "0x12", "18", and "022" read as octal.
    static func parseUmask(_ text: String) -> Int? {
        let value: Int? = if text.hasPrefix("0o") { Int(text.dropFirst(2), radix: 8) }
            else if text.hasPrefix("0x") { Int(text.dropFirst(2), radix: 16) }
            else if text.hasPrefix("0") { Int(text, radix: 8) }
            else { Int(text) }
        return value.flatMap { (0...0o777).contains($0) ? $0 : nil }
    }

    /// A size in MiB that any arithmetic on it in bytes survives: 1 PiB.
    static let maximumMebibytes = 1 << 30

    /// "512", "512M", "2G", "1T" (binary units, as systemd's MemoryMax=) in MiB; nil otherwise.
    static func parseMebibytes(_ text: String) -> Int? {
        let shift: Int
        var digits = Substring(text)
        switch text.last?.uppercased() {
        case "M": (shift, digits) = (0, digits.dropLast())
        case "G": (shift, digits) = (10, digits.dropLast())
        case "T": (shift, digits) = (20, digits.dropLast())
        default: shift = 0
        }
        guard let number = Int(digits), number >= 0, number <= maximumMebibytes >> shift else { return nil }
        return number << shift
    }
}

/// A value of the wrong type or out of range; the loader adds the setting's name and origin.
struct SettingError: Error {
    let message: String

    init(expected: String, got value: SettingValue) {
        message = "expected \(expected), got \(value.kindDescription)"
    }
}

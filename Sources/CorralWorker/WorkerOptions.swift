import ArgumentParser
import CorralHTTP
import CorralHTTP2
import CorralServer
import CorralTLS
import Glibc

/// A worker's settings: gunicorn's names and defaults, from flags, else from the environment
/// variables corrald sets (`CORRAL_KEEPALIVE`, `CORRAL_WORKER_CONNECTIONS`, … — the setting name
/// upper-cased with a `CORRAL_` prefix), else the default.
public struct WorkerOptions: ParsableArguments, Sendable {
    @Option(name: [.short, .customLong("bind")], help: "Listen here when no sockets are inherited (HOST:PORT, [V6]:PORT, unix:PATH). Repeatable. Env CORRAL_BIND (comma-separated).")
    var bind: [String] = []

    @Option(name: .customLong("backlog"), help: "listen() backlog for sockets opened with --bind (default 2048).")
    var backlog: Int?

    @Option(name: .customLong("worker-connections"), help: "Most simultaneous connections; beyond, new ones wait in the backlog (default 1000).")
    var workerConnections: Int?

    @Option(name: .customLong("keep-alive"), help: "Seconds an idle keep-alive connection is kept (default 2).")
    var keepalive: Double?

    @Option(name: .customLong("header-timeout"), help: "Seconds a request head may take to arrive (default 10).")
    var headerTimeout: Double?

    @Option(name: .customLong("graceful-timeout"), help: "Seconds in-flight requests get to finish after SIGTERM (default 30).")
    var gracefulTimeout: Double?

    @Option(name: .customLong("limit-request-line"), help: "Longest request line in bytes, 0 = 8190 (default 4094).")
    var limitRequestLine: Int?

    @Option(name: .customLong("limit-request-fields"), help: "Most header fields (default 100, max 32768).")
    var limitRequestFields: Int?

    @Option(name: .customLong("limit-request-field_size"), help: "Longest header field in bytes, 0 = 8190 (default 8190).")
    var limitRequestFieldSize: Int?

    @Option(name: .customLong("limit-request-body"), help: "Largest request body in bytes, 0 = unlimited (default 104857600).")
    var limitRequestBody: Int?

    @Option(name: .customLong("max-requests"), help: "Drain and exit after this many requests, 0 = never (default 0).")
    var maxRequests: Int?

    @Option(name: .customLong("max-requests-jitter"), help: "Add up to this many to --max-requests, per worker (default 0).")
    var maxRequestsJitter: Int?

    @Option(name: .customLong("access-logfile"), help: "Access log: a file, '-' for stdout, or 'journal' (default: none).")
    var accessLog: String?

    @Option(name: .customLong("access-logformat"), help: "gunicorn access-log format (default: gunicorn's).")
    var accessLogFormat: String?

    @Option(name: .customLong("error-logfile"), help: "Error log: a file, '-' for stderr, or 'journal' (default '-').")
    var errorLog: String?

    @Option(name: .customLong("log-level"), help: "debug, info, warning, error or critical (default info).")
    var logLevel: String?

    @Option(name: .customLong("forwarded-allow-ips"), help: "Peers whose secure_scheme_headers are believed: addresses, networks or '*' (default 127.0.0.1,::1; env CORRAL_FORWARDED_ALLOW_IPS, else FORWARDED_ALLOW_IPS).")
    var forwardedAllowIPs: String?

    @Option(name: .customLong("secure-scheme-headers"), help: "HEADER=value pairs that mean https, comma-separated (default gunicorn's).")
    var secureSchemeHeaders: String?

    @Flag(name: .customLong("proxy-protocol"), help: "Read a PROXY protocol header (v1 or v2) before the first request; only --proxy-allow-from peers may connect (env CORRAL_PROXY_PROTOCOL).")
    var proxyProtocol = false

    @Option(name: .customLong("proxy-allow-from"), help: "proxy_allow_ips: peers allowed to connect with --proxy-protocol (default 127.0.0.1,::1).")
    var proxyAllowIPs: String?

    @Option(name: .customLong("statsd-host"), help: "Send gunicorn's statsd metrics to HOST:PORT (UDP) or unix:PATH (env CORRAL_STATSD_HOST).")
    var statsdHost: String?

    @Option(name: .customLong("statsd-prefix"), help: "Prefix for the statsd metric names (a dot is added).")
    var statsdPrefix: String?

    @Option(name: .customLong("dogstatsd-tags"), help: "DogStatsD tags for every metric: key:value,… ")
    var dogstatsdTags: String?

    @Option(name: .customLong("certfile"), help: "TLS: the certificate chain (PEM); the --bind sockets speak HTTPS (env CORRAL_CERTFILE).")
    var certfile: String?

    @Option(name: .customLong("keyfile"), help: "TLS: the certificate's private key (PEM; default: in --certfile).")
    var keyfile: String?

    @Option(name: .customLong("ca-certs"), help: "TLS: the CA certificates (PEM) client certificates are verified against.")
    var caCerts: String?

    @Option(name: .customLong("cert-reqs"), help: "TLS client certificates: 0 not asked (default), 1 verified if sent, 2 required.")
    var certReqs: Int?

    @Option(name: .customLong("ciphers"), help: "TLS 1.2 ciphers, in OpenSSL's syntax (default: ECDHE with AES-GCM or ChaCha20).")
    var ciphers: String?

    @Option(name: .customLong("ssl-protocol-min"), help: "The lowest TLS version accepted: TLSv1.2 (default) or TLSv1.3.")
    var sslProtocolMin: String?

    @Option(name: .customLong("suppress-ragged-eofs"), help: "A TLS client that closes without close_notify is an ordinary close (default true).")
    var suppressRaggedEOFs: Bool?

    @Option(name: .customLong("http-protocols"), help: "h1 (default), h2,h1 or h2: what TLS listeners offer in ALPN, in order (env CORRAL_HTTP_PROTOCOLS).")
    var httpProtocols: String?

    @Option(name: .customLong("http2-cleartext"), help: "off (default), prior-knowledge, upgrade or both: h2c on plain listeners, for forwarded_allow_ips peers (env CORRAL_HTTP2_CLEARTEXT).")
    var http2Cleartext: String?

    @Option(name: .customLong("insecure-bind"), help: "With --certfile: also listen here, for plain HTTP (hypercorn's insecure_bind). Repeatable.")
    var insecureBind: [String] = []

    public init() {}

    /// A setting from the flag, else the environment, else nil.
    private func value(_ flag: String?, _ setting: String) -> String? {
        if let flag { return flag }
        return getenv("CORRAL_" + setting.uppercased()).map { String(cString: $0) }
    }

    /// A setting that is unset when empty (corrald writes unset ones as "").
    private func nonEmpty(_ flag: String?, _ setting: String) -> String? {
        value(flag, setting).flatMap { $0.isEmpty ? nil : $0 }
    }

    private func number<T: LosslessStringConvertible>(_ flag: T?, _ setting: String, default fallback: T) throws -> T {
        if let flag { return flag }
        guard let text = value(nil, setting) else { return fallback }
        guard let parsed = T(text) else {
            throw ValidationError("CORRAL_\(setting.uppercased())='\(text)' is not a valid \(setting)")
        }
        return parsed
    }

    public var binds: [String] {
        if !bind.isEmpty { return bind }
        return value(nil, "bind")?.split(separator: ",").map(String.init) ?? []
    }

    public var insecureBinds: [String] {
        if !insecureBind.isEmpty { return insecureBind }
        return value(nil, "insecure_bind")?.split(separator: ",").map(String.init) ?? []
    }

    /// Inherited sockets that stay plain HTTP when the others speak TLS: the ones corrald opened
    /// for insecure_bind (CORRAL_INSECURE_SOCKETS, by LISTEN_FDNAMES name), or a socket unit's
    /// named `insecure…` (FileDescriptorName=).
    public func isInsecureSocket(named name: String) -> Bool {
        if name.hasPrefix("insecure") { return true }
        return value(nil, "insecure_sockets")?.split(separator: ",").contains { $0 == name } ?? false
    }

    /// gunicorn's HTTP/2 settings (http_protocols, http2_*).
    public func http2Settings() throws -> HTTP2Settings {
        var settings = HTTP2Settings()
        do {
            if let text = value(httpProtocols, "http_protocols") { settings = try HTTP2Settings(protocols: text) }
        } catch {
            throw ValidationError("\(error)")
        }
        settings.maxConcurrentStreams = try number(nil, "http2_max_concurrent_streams", default: settings.maxConcurrentStreams)
        settings.initialWindowSize = try number(nil, "http2_initial_window_size", default: settings.initialWindowSize)
        settings.maxFrameSize = try number(nil, "http2_max_frame_size", default: settings.maxFrameSize)
        settings.maxHeaderListSize = try number(nil, "http2_max_header_list_size", default: settings.maxHeaderListSize)
        if let mode = value(http2Cleartext, "http2_cleartext") {
            do { settings.cleartext = try HTTP2Cleartext(setting: mode) } catch { throw ValidationError("\(error)") }
        }
        if let problem = settings.problem { throw ValidationError(problem) }
        return settings
    }

    /// gunicorn's TLS settings, nil without a certfile.
    public func tlsSettings() throws -> TLSSettings? {
        guard let certfile = nonEmpty(certfile, "certfile") else { return nil }
        var settings = TLSSettings(certfile: certfile, keyfile: nonEmpty(keyfile, "keyfile"))
        settings.caCerts = nonEmpty(caCerts, "ca_certs")
        let requirement = try number(certReqs, "cert_reqs", default: 0)
        guard let clientCertificates = TLSSettings.ClientCertificates(rawValue: requirement) else {
            throw ValidationError("cert_reqs must be 0 (CERT_NONE), 1 (CERT_OPTIONAL) or 2 (CERT_REQUIRED), not \(requirement)")
        }
        settings.clientCertificates = clientCertificates
        settings.ciphers = nonEmpty(ciphers, "ciphers")
        if let name = value(sslProtocolMin, "ssl_protocol_min") {
            guard let version = TLSSettings.ProtocolVersion(name: name) else {
                throw ValidationError("ssl_protocol_min must be TLSv1.2 or TLSv1.3, not \(name)")
            }
            settings.minimumVersion = version
        }
        settings.suppressRaggedEOFs = try number(suppressRaggedEOFs, "suppress_ragged_eofs", default: true)
        settings.ticketLifetime = 2 * (try number(nil, "ssl_ticket_key_rotation", default: 3600.0))
        settings.protocols = try http2Settings().protocols.map(\.alpn)
        return settings
    }

    /// The session-ticket keys corrald shares with every worker (CORRAL_TICKET_KEYS_FD); nil
    /// without corrald, when each worker has keys of its own.
    public func ticketKeys() throws -> TicketKeys? {
        guard let text = value(nil, "ticket_keys_fd") else { return nil }
        guard let fd = Int32(text), fd >= 0 else { throw ValidationError("CORRAL_TICKET_KEYS_FD='\(text)' is not a descriptor") }
        return try TicketKeys(reading: fd)
    }

    public func backlogValue() throws -> Int32 { Int32(try number(backlog, "backlog", default: 2048)) }
    public func gracefulTimeoutValue() throws -> Double { try number(gracefulTimeout, "graceful_timeout", default: 30) }
    public var accessLogDestination: String? { value(accessLog, "accesslog") }
    public var accessLogFormatText: String { value(accessLogFormat, "access_log_format") ?? AccessLogFormat.gunicornDefault }
    public var errorLogDestination: String { value(errorLog, "errorlog") ?? "-" }

    public func logLevelValue() throws -> ErrorLog.Level {
        let name = value(logLevel, "loglevel") ?? "info"
        guard let level = ErrorLog.Level(name: name) else {
            throw ValidationError("log level '\(name)' is not one of debug, info, warning, error, critical")
        }
        return level
    }

    public func serverConfiguration() throws -> ServerConfiguration {
        var configuration = ServerConfiguration()
        let requestLine = try number(limitRequestLine, "limit_request_line", default: 4094)
        let fieldCount = try number(limitRequestFields, "limit_request_fields", default: 100)
        let fieldSize = try number(limitRequestFieldSize, "limit_request_field_size", default: 8190)
        guard requestLine >= 0, fieldCount >= 0, fieldSize >= 0 else {
            throw ValidationError("limit_request_line, limit_request_fields and limit_request_field_size must be 0 or more")
        }
        configuration.limits = HTTPLimits(requestLine: requestLine, fieldCount: fieldCount, fieldSize: fieldSize,
                                          bodySize: try number(limitRequestBody, "limit_request_body", default: 100 << 20))
        do {
            configuration.forwarded = try ForwardedScheme(
                forwardedAllowIPs: value(forwardedAllowIPs, "forwarded_allow_ips")
                    ?? getenv("FORWARDED_ALLOW_IPS").map { String(cString: $0) } ?? ForwardedScheme.defaultAllowList,
                secureSchemeHeaders: value(secureSchemeHeaders, "secure_scheme_headers") ?? ForwardedScheme.defaultSecureSchemeHeaders)
            configuration.proxyProtocol = proxyProtocol || value(nil, "proxy_protocol") == "true"
            configuration.proxyAllowList = try AddressAllowList(value(proxyAllowIPs, "proxy_allow_ips") ?? ForwardedScheme.defaultAllowList)
            if let host = value(statsdHost, "statsd_host"), !host.isEmpty {
                configuration.statsd = try StatsdTarget(host: host, prefix: value(statsdPrefix, "statsd_prefix") ?? "",
                                                        tags: value(dogstatsdTags, "dogstatsd_tags") ?? "")
            }
        } catch {
            throw ValidationError("\(error)")
        }
        configuration.keepalive = Self.nanoseconds(try number(keepalive, "keepalive", default: 2))
        configuration.headerTimeout = Self.nanoseconds(try number(headerTimeout, "header_timeout", default: 10))
        configuration.http2 = try http2Settings()
        configuration.workerConnections = try number(workerConnections, "worker_connections", default: 1000)
        guard configuration.workerConnections > 0 else { throw ValidationError("worker_connections must be positive") }
        let maxRequests = try number(self.maxRequests, "max_requests", default: 0)
        let jitter = try number(maxRequestsJitter, "max_requests_jitter", default: 0)
        configuration.maxRequests = maxRequests > 0 ? maxRequests + (jitter > 0 ? Int.random(in: 0...jitter) : 0) : 0
        return configuration
    }

    static func nanoseconds(_ seconds: Double) -> Int64 { Int64(seconds * 1_000_000_000) }
}

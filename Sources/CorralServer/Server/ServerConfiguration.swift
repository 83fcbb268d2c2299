import CorralHTTP
import CorralHTTP2

/// What the engine needs to know, in gunicorn's terms. Durations are nanoseconds.
public struct ServerConfiguration: Sendable {
    public var limits = HTTPLimits()
    /// `keepalive`: how long an idle keep-alive connection waits for its next request.
    public var keepalive: Int64 = 2_000_000_000
    /// How long a request head (or a pause in its body) may take: cuts slowloris clients.
    public var headerTimeout: Int64 = 10_000_000_000
    /// How long a response write may wait for a client that does not read.
    public var sendTimeout: Int64 = 30_000_000_000
    /// `worker_connections`: at this many open connections the worker stops accepting and
    /// leaves new ones in the listen backlog.
    public var workerConnections = 1000
    /// Requests after which the worker drains and exits (0 = never); jitter already applied.
    public var maxRequests = 0
    /// `forwarded_allow_ips` and `secure_scheme_headers`: when a request counts as https.
    public var forwarded = try! ForwardedScheme()
    /// `proxy_protocol`: a PROXY header (v1 or v2) may precede the first request, and then names
    /// the client; only peers in `proxy_allow_ips` may connect at all.
    public var proxyProtocol = false
    public var proxyAllowList = try! AddressAllowList(ForwardedScheme.defaultAllowList)
    /// `http_protocols` and the `http2_*` settings: HTTP/2 on TLS listeners whose clients choose
    /// it, and h2c for trusted peers (`http2_cleartext`).
    public var http2 = HTTP2Settings()

    /// The most requests a worker can hold at once: one per connection, or each connection's
    /// concurrent streams when HTTP/2 may be spoken.
    public var requestsInFlightLimit: Int {
        workerConnections * (http2.speaksHTTP2 ? http2.maxConcurrentStreams : 1)
    }
    /// `statsd_host` (with `statsd_prefix`, `dogstatsd_tags`): where gunicorn's metrics go.
    public var statsd: StatsdTarget?

    public init() {}

    /// For the small endpoints corrald serves inside its own loop (the control socket, /metrics):
    /// tight limits and a short head timeout, so a slow or hostile client cannot hold the supervisor.
    public static func supervisorEndpoint(bodySize: Int, keepalive seconds: Int64 = 2) -> ServerConfiguration {
        var configuration = ServerConfiguration()
        configuration.limits = HTTPLimits(requestLine: 1024, fieldCount: 32, fieldSize: 4096, bodySize: bodySize)
        configuration.headerTimeout = 5_000_000_000
        configuration.keepalive = seconds * 1_000_000_000
        configuration.workerConnections = 64
        return configuration
    }
}

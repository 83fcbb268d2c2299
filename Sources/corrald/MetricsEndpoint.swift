import CorralEventLoop
import CorralHTTP
import CorralMetrics
import CorralServer
import CorralSystemd
import Glibc

/// `metrics_bind`: GET /metrics in the Prometheus text format, served by corral's engine inside
/// corrald's loop (small limits, like the control socket). The text is made at each scrape.
final class MetricsEndpoint {
    /// `metrics_bind` as configured, and its listening socket (a re-exec upgrade hands it over).
    let bind: String
    let address: BindAddress
    let fd: Int32
    private let server: HTTPServer

    init(bind: String, loop: EventLoop, log: ErrorLog, adopting listening: Int32? = nil,
         render: @escaping @Sendable () -> String) throws {
        self.bind = bind
        address = try BindAddress(parsing: bind)
        fd = try listening ?? address.listen(backlog: 64)
        let configuration = ServerConfiguration.supervisorEndpoint(bodySize: 1024)
        server = HTTPServer(loop: loop, configuration: configuration, log: log, accessLog: nil) { request in
            guard request.method == .get || request.method == .head else {
                return Response(status: 405, headers: ["Allow": "GET, HEAD"], body: .string("405 Method Not Allowed\n"))
            }
            guard request.rawPath == "/metrics" else { return Response(status: 404, body: .string("Not found: try /metrics\n")) }
            return Response(headers: ["Content-Type": PrometheusText.contentType], body: .string(render()))
        }
        try server.listen(on: [fd])
    }

    deinit {
        if case .unix(let path) = address { unlink(path) }
    }
}

import CorralWorker

/// What corral-worker serves without --root.
enum WelcomePage {
    static let headers: HTTPFields = ["Content-Type": "text/html; charset=utf-8"]
    static let page: [UInt8] = Array("""
        <!doctype html>
        <html><head><title>corral</title></head>
        <body><h1>corral is serving</h1>
        <p>This is corral-worker's welcome page. Start it with <code>--root DIR</code> to serve files.</p>
        </body></html>

        """.utf8)

    @Sendable
    static func respond(to request: Request) async throws -> Response {
        guard request.method == .get || request.method == .head else {
            return Response(status: 405, headers: ["Allow": "GET, HEAD"])
        }
        return Response(status: 200, headers: headers, body: .bytes(page))
    }
}

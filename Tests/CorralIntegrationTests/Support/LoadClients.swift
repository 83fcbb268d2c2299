import Foundation

/// Continuous keep-alive load from several client threads, counting every request that did not
/// get a complete 200 response. Strict on purpose: a request sent on a connection the server
/// then closed without answering counts as failed (no client-side retry hides it), and so does
/// a refused connection. Connections the server ends with `Connection: close` are reopened.
final class LoadClients: @unchecked Sendable {
    /// One request that did not get its 200, with what is known of where it was.
    struct Failure {
        /// The request's `load=` tag (tagged clients), nil for a connection that was refused.
        var request: String?
        /// The tag of the last request answered on the same connection: the access log's pid for
        /// it is the worker this connection was with. Nil on a connection's first request.
        var earlierOnConnection: String?
        /// Monotonic seconds (ProcessInfo.systemUptime): sent, and seen failing.
        var sentAt: TimeInterval
        var failedAt: TimeInterval
        var reason: String
    }

    struct Result: CustomStringConvertible {
        var responses = 0
        var failures = 0
        var reconnects = 0
        var failed: [Failure] = []
        var firstFailure: String? { failed.first?.reason }
        var description: String {
            "\(responses) responses, \(failures) failed, \(reconnects) reconnects" + (firstFailure.map { "; first failure: \($0)" } ?? "")
        }
    }

    private let lock = NSLock()
    private var result = Result()
    private var stopping = false
    private var running = 0

    /// `tagged`: each request's path gets `?load=CLIENT.N`, so the access log tells which worker
    /// answered it.
    init(port: UInt16, clients: Int, path: String = "/", tagged: Bool = false) {
        running = clients
        for client in 0..<clients {
            Thread.detachNewThread { [self] in
                run(port: port, path: path, tag: tagged ? "\(client)" : nil)
                lock.withLock { running -= 1 }
            }
        }
        eventually { lock.withLock { result.responses >= clients } }
    }

    /// Stops the clients (each finishes the request in hand) and returns the counts.
    func stop() -> Result {
        lock.withLock { stopping = true }
        eventually { lock.withLock { running == 0 } }
        return lock.withLock { result }
    }

    private func record(_ update: (inout Result) -> Void) { lock.withLock { update(&result) } }

    private func fail(_ failure: Failure) { record { $0.failures += 1; $0.failed.append(failure) } }

    private func run(port: UInt16, path: String, tag: String?) {
        var client: RawClient?
        var earlier: String?
        var sent = 0
        while !lock.withLock({ stopping }) {
            if client == nil {
                earlier = nil
                do {
                    client = try RawClient(port: port)
                } catch {
                    let now = ProcessInfo.processInfo.systemUptime
                    fail(Failure(request: nil, earlierOnConnection: nil, sentAt: now, failedAt: now, reason: "\(error)"))
                    usleep(10_000)
                    continue
                }
            }
            sent += 1
            let request = tag.map { "\($0).\(sent)" }
            let sentAt = ProcessInfo.processInfo.systemUptime
            client!.send("GET \(path)\(request.map { "?load=\($0)" } ?? "") HTTP/1.1\r\nHost: load\r\n\r\n")
            guard let response = client!.readResponse() else {
                fail(Failure(request: request, earlierOnConnection: earlier, sentAt: sentAt,
                             failedAt: ProcessInfo.processInfo.systemUptime, reason: "connection closed without a response"))
                client = nil
                continue
            }
            if response.status != 200 {
                fail(Failure(request: request, earlierOnConnection: earlier, sentAt: sentAt,
                             failedAt: ProcessInfo.processInfo.systemUptime, reason: "status \(response.status)"))
            } else {
                record { $0.responses += 1 }
            }
            earlier = request
            if response.header("connection")?.lowercased() == "close" {
                client = nil
                record { $0.reconnects += 1 }
            }
        }
    }
}

import Foundation

/// Continuous keep-alive load from several client threads, counting every request that did not
/// get a complete 200 response. Strict on purpose: a request sent on a connection the server
/// then closed without answering counts as failed (no client-side retry hides it), and so does
/// a refused connection. Connections the server ends with `Connection: close` are reopened.
final class LoadClients: @unchecked Sendable {
    struct Result: CustomStringConvertible {
        var responses = 0
        var failures = 0
        var reconnects = 0
        var firstFailure: String?
        var description: String {
            "\(responses) responses, \(failures) failed, \(reconnects) reconnects" + (firstFailure.map { "; first failure: \($0)" } ?? "")
        }
    }

    private let lock = NSLock()
    private var result = Result()
    private var stopping = false
    private var running = 0

    init(port: UInt16, clients: Int, path: String = "/") {
        running = clients
        for _ in 0..<clients {
            Thread.detachNewThread { [self] in
                run(port: port, path: path)
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

    private func run(port: UInt16, path: String) {
        var client: RawClient?
        while !lock.withLock({ stopping }) {
            if client == nil {
                do {
                    client = try RawClient(port: port)
                } catch {
                    record { $0.failures += 1; $0.firstFailure = $0.firstFailure ?? "\(error)" }
                    usleep(10_000)
                    continue
                }
            }
            client!.send("GET \(path) HTTP/1.1\r\nHost: load\r\n\r\n")
            guard let response = client!.readResponse() else {
                record { $0.failures += 1; $0.firstFailure = $0.firstFailure ?? "connection closed without a response" }
                client = nil
                continue
            }
            if response.status != 200 {
                record { $0.failures += 1; $0.firstFailure = $0.firstFailure ?? "status \(response.status)" }
            } else {
                record { $0.responses += 1 }
            }
            if response.header("connection")?.lowercased() == "close" {
                client = nil
                record { $0.reconnects += 1 }
            }
        }
    }
}

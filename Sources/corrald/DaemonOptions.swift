import ArgumentParser
import Glibc

/// corrald's command line: gunicorn's spellings. (The TOML config file, CORRAL_CMD_ARGS and the
/// rest of gunicorn's settings come with the rest of the supervisor issue.)
struct DaemonOptions: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corrald",
        abstract: "The corral supervisor: owns the sockets, keeps the workers alive, reloads without downtime.")

    @Option(name: [.short, .customLong("bind")], help: "HOST:PORT, [V6]:PORT or unix:PATH; repeatable (default 127.0.0.1:8000).")
    var bind: [String] = []

    @Option(name: [.short, .customLong("workers")], help: "Number of workers, or 'auto' (2 × cores + 1). Default 1.")
    var workers: String = "1"

    @Option(name: .customLong("backlog"), help: "listen() backlog (default 2048).")
    var backlog: Int32 = 2048

    @Option(name: [.short, .customLong("timeout")], help: "Seconds a worker may go without a heartbeat before it is killed (default 30, 0 = off).")
    var timeout: Double = 30

    @Option(name: .customLong("graceful-timeout"), help: "Seconds workers get to finish after TERM (default 30).")
    var gracefulTimeout: Double = 30

    @Option(name: [.short, .customLong("pid")], help: "Pidfile path.")
    var pidfile: String?

    @Option(name: .customLong("worker-cmd"), help: "Worker executable and arguments (default: corral-worker beside corrald).")
    var workerCommand: String?

    @Option(name: .customLong("log-level"), help: "debug, info, warning, error or critical (default info).")
    var logLevel: String = "info"

    @Option(name: .customLong("error-logfile"), help: "Error log: a file, '-' (stderr) or 'journal'.")
    var errorLog: String = "-"

    @Option(name: .customLong("access-logfile"), help: "Passed to the workers.")
    var accessLog: String?

    @Option(name: .customLong("access-logformat"), help: "Passed to the workers.")
    var accessLogFormat: String?

    @Option(name: .customLong("keep-alive"), help: "Passed to the workers.")
    var keepalive: Double?

    @Option(name: .customLong("worker-connections"), help: "Passed to the workers.")
    var workerConnections: Int?

    @Option(name: [.customShort("m"), .customLong("max-requests")], help: "Passed to the workers.")
    var maxRequests: Int?

    var workerCount: Int {
        get throws {
            if workers == "auto" { return 2 * Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) + 1 }
            guard let count = Int(workers), count >= 1 else {
                throw ValidationError("workers: expected a positive number or 'auto', got '\(workers)'")
            }
            return count
        }
    }

    /// The settings the workers read from their environment (corral-worker's CORRAL_* names).
    var workerEnvironment: [String: String] {
        var environment: [String: String] = [:]
        environment["CORRAL_ACCESSLOG"] = accessLog
        environment["CORRAL_ACCESS_LOG_FORMAT"] = accessLogFormat
        environment["CORRAL_KEEPALIVE"] = keepalive.map { String($0) }
        environment["CORRAL_WORKER_CONNECTIONS"] = workerConnections.map { String($0) }
        environment["CORRAL_MAX_REQUESTS"] = maxRequests.map { String($0) }
        environment["CORRAL_GRACEFUL_TIMEOUT"] = String(gracefulTimeout)
        environment["CORRAL_LOGLEVEL"] = logLevel
        return environment
    }

    /// The worker command split into executable and arguments.
    var command: (String, [String]) {
        if let workerCommand {
            let parts = workerCommand.split(separator: " ").map(String.init)
            return (parts.first ?? "", Array(parts.dropFirst()))
        }
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let own = n > 0 ? String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "corrald"
        let directory = own.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        return (directory + "/corral-worker", [])
    }
}

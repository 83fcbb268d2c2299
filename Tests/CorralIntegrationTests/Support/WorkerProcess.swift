import Foundation
import Testing

/// A worker started the systemd way by `systemd-socket-activate`, which listens on a free
/// loopback port and execs the worker with LISTEN_FDS (same pid, so signals reach the worker).
final class WorkerProcess: @unchecked Sendable {
    let port: UInt16
    private let directory = TemporaryDirectory()
    private let process: TestProcess

    var pid: Int32 { process.pid }

    init(_ executable: String = "corral-worker", arguments: [String] = [], environment: [String: String] = [:],
         port: UInt16? = nil) throws {
        self.port = port ?? freePort()
        var args = ["/usr/bin/systemd-socket-activate", "-l", "127.0.0.1:\(self.port)"]
        for (key, value) in environment { args += ["-E", "\(key)=\(value)"] }
        process = try TestProcess(args + [Binaries.path(executable)] + arguments, logPath: directory.file("worker.log"))
        // systemd-socket-activate execs the worker on the first connection: make one (and close
        // it without a request, so no access-log line), then wait until the worker serves.
        eventually { self.log.contains("Listening on") || !self.process.isRunning }
        _ = try? RawClient(port: self.port)
        let ready = eventually { self.log.contains("inherited socket") || !self.process.isRunning }
        guard ready, process.isRunning else {
            throw WorkerFailed(description: "worker did not start: \(log)")
        }
    }

    /// Everything the worker printed so far.
    var log: String { process.log }

    func signal(_ signal: Int32) { process.signal(signal) }

    /// Waits for the process to exit and returns its status (nil if it did not within `timeout`).
    func waitForExit(timeout: TimeInterval = 20) -> Int32? { process.waitForExit(timeout: timeout) }
}

struct WorkerFailed: Error, CustomStringConvertible {
    let description: String
}

/// A port that was free a moment ago (bind to 0, read it back, close).
func freePort() -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            _ = bind(fd, $0, length)
            _ = getsockname(fd, $0, &length)
        }
    }
    return UInt16(bigEndian: address.sin_port)
}

/// Every process a test started, killed when the test process exits, so that no worker outlives
/// the run even if a test's cleanup did not happen.
enum LaunchedProcesses {
    nonisolated(unsafe) private static var pids: Set<Int32> = []
    private static let lock = NSLock()
    private static let installExitHook: Void = {
        atexit {
            LaunchedProcesses.lock.lock()
            for pid in LaunchedProcesses.pids { kill(pid, SIGKILL) }
            LaunchedProcesses.lock.unlock()
        }
    }()

    static func register(_ pid: Int32) {
        _ = installExitHook
        lock.lock()
        pids.insert(pid)
        lock.unlock()
    }

    static func unregister(_ pid: Int32) {
        lock.lock()
        pids.remove(pid)
        lock.unlock()
    }
}

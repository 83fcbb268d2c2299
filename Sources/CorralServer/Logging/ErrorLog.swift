import CorralEventLoop
import CorralSystemd
import Glibc
import Synchronization

/// The error log with gunicorn's line format (`[2026-11-28 15:20:08 +0000] [pid] [INFO] text`),
/// to stderr (`-`), a file (reopened on SIGUSR1 for logrotate) or the journal (`journal`, one
/// entry per message with PRIORITY). Not on the request path: it writes at once.
public final class ErrorLog: @unchecked Sendable {
    public enum Level: Int, Comparable, Sendable, CaseIterable {
        case debug = 7, info = 6, warning = 4, error = 3, critical = 2

        public static func < (a: Level, b: Level) -> Bool { a.rawValue > b.rawValue }

        public init?(name: String) {
            switch name.lowercased() {
            case "debug": self = .debug
            case "info": self = .info
            case "warning", "warn": self = .warning
            case "error": self = .error
            case "critical": self = .critical
            default: return nil
            }
        }

        var label: String {
            switch self {
            case .debug: "DEBUG"
            case .info: "INFO"
            case .warning: "WARNING"
            case .error: "ERROR"
            case .critical: "CRITICAL"
            }
        }
    }

    public let destination: String
    public var level: Level
    private var fd: Int32 = 2
    private var health: LogWriteHealth
    private var journal = JournalWriter()
    private let identifier: String
    /// Other threads log too (corral-python's Python threads): the journal's iovecs and the file
    /// descriptor, which reopen() replaces, are touched under this lock.
    private let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        return lock
    }()

    /// `destination`: "-" (stderr), "journal", or a file path opened for appending.
    public init(destination: String = "-", level: Level = .info, identifier: String = "corral-worker") throws(SystemError) {
        self.destination = destination
        self.level = level
        self.identifier = identifier
        health = LogWriteHealth("error log", destination: destination)
        try reopen()
    }

    /// Reopens a file destination (logrotate moved the old one away).
    public func reopen() throws(SystemError) {
        guard destination != "-", destination != "journal" else { return }
        let newFD = open(destination, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard newFD >= 0 else { throw SystemError("open \(destination)") }
        pthread_mutex_lock(lock)
        if fd != 2 { close(fd) }
        fd = newFD
        pthread_mutex_unlock(lock)
    }

    /// Lines logged at warning and above, counted for statsd's `gunicorn.log.*` (any thread logs).
    public final class LevelCounts: Sendable {
        public struct Snapshot: Equatable, Sendable {
            public var warning = 0, error = 0, critical = 0
        }
        private let warning = Atomic<Int>(0), error = Atomic<Int>(0), critical = Atomic<Int>(0)

        func count(_ level: Level) {
            switch level {
            case .warning: warning.add(1, ordering: .relaxed)
            case .error: error.add(1, ordering: .relaxed)
            case .critical: critical.add(1, ordering: .relaxed)
            case .debug, .info: break
            }
        }

        public var snapshot: Snapshot {
            Snapshot(warning: warning.load(ordering: .relaxed), error: error.load(ordering: .relaxed),
                     critical: critical.load(ordering: .relaxed))
        }
    }
    public let counts = LevelCounts()

    /// Sees every line written (corrald keeps the recent ones for `maintail`).
    public var observer: ((String) -> Void)?

    public func log(_ level: Level, _ message: @autoclosure () -> String) {
        counts.count(level)
        guard level >= self.level else { return }
        let text = message()
        let line = line(level, text)
        observer?(line)
        if destination == "journal" {
            sendToJournal(["MESSAGE=\(text)", "PRIORITY=\(level.rawValue)", "SYSLOG_IDENTIFIER=\(identifier)"])
        } else {
            write(Array(line.utf8))
        }
    }

    /// A line another process (a worker) wrote to its stderr, passed on as it is: to the file or
    /// stderr, or as a journal entry of its own that names the worker's pid and slot.
    public func relay(_ line: String, from pid: Int32, slot: Int) {
        if destination == "journal" {
            sendToJournal(["MESSAGE=\(line)", "PRIORITY=\(Level.error.rawValue)", "SYSLOG_IDENTIFIER=corral-worker",
                           "CORRAL_WORKER_PID=\(pid)", "CORRAL_WORKER_SLOT=\(slot)"])
        } else {
            write(Array((line + "\n").utf8))
        }
    }

    private func sendToJournal(_ assignments: [String]) {
        pthread_mutex_lock(lock)
        journal.send(assignments)
        pthread_mutex_unlock(lock)
    }

    private func write(_ bytes: [UInt8]) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        let failure = Self.writeAll(bytes, to: fd)
        guard fd != 2 else { return }   // stderr itself: nowhere else to say it
        // A file that cannot be written (a full disk) is said once on stderr, which corrald (or
        // systemd) keeps; its return is said in the file itself.
        if failure != 0 {
            let lost = bytes.withUnsafeBytes { LogWriteHealth.lines(in: $0) }
            if let message = health.failed(errno: failure, lines: lost) {
                _ = Self.writeAll(Array(line(.warning, message).utf8), to: 2)
            }
        } else if health.failing, let message = health.succeeded() {
            _ = Self.writeAll(Array(line(.warning, message).utf8), to: fd)
        }
    }

    /// 0, or the errno of the write that failed.
    private static func writeAll(_ bytes: [UInt8], to fd: Int32) -> Int32 {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return n < 0 ? errno : EIO }
            offset += n
        }
        return 0
    }

    private func line(_ level: Level, _ text: String) -> String {
        "[\(Self.timestamp())] [\(getpid())] [\(level.label)] \(text)\n"
    }

    public func debug(_ message: @autoclosure () -> String) { log(.debug, message()) }
    public func info(_ message: @autoclosure () -> String) { log(.info, message()) }
    public func warning(_ message: @autoclosure () -> String) { log(.warning, message()) }
    public func error(_ message: @autoclosure () -> String) { log(.error, message()) }
    public func critical(_ message: @autoclosure () -> String) { log(.critical, message()) }

    /// `2026-11-28 15:20:08 +0000` in local time.
    static func timestamp() -> String { localTime(time(nil), "%Y-%m-%d %H:%M:%S %z") }

    /// `epoch` in local time, formatted by strftime.
    public static func localTime(_ epoch: time_t, _ format: String) -> String {
        var seconds = epoch
        var parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, format, &parts)
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

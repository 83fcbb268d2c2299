import CorralHTTP
import Glibc

/// corrald's pidfile, done so that a stale one never blocks a start (gunicorn #3383): written
/// atomically (temporary file + rename); a pid that is dead, or alive but no longer a corrald
/// (reused), is stale; removed at exit only while it still holds our pid.
public struct Pidfile: Sendable {
    public let path: String
    /// The program name a live owner must have to count as "already running".
    public let processName: String

    public struct AlreadyRunning: Error, CustomStringConvertible, Sendable {
        public let path: String
        public let pid: pid_t
        public var description: String { "already running as pid \(pid) (pidfile \(path))" }
    }

    public struct WriteFailed: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public init(path: String, processName: String = "corrald") {
        self.path = path
        self.processName = processName
    }

    /// The pid the file holds, if it holds one.
    public func read() -> pid_t? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 32)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return pid_t(text.trimmingWhitespace)
    }

    /// Writes our pid, unless a live process named `processName` holds the file.
    public func claim(pid: pid_t = getpid()) throws -> Void {
        if let owner = read(), owner != pid, Self.isAlive(owner), Self.programName(of: owner) == processName {
            throw AlreadyRunning(path: path, pid: owner)
        }
        let temporary = "\(path).\(pid).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WriteFailed(description: "cannot write pidfile \(temporary): \(String(cString: strerror(errno)))") }
        let text = Array("\(pid)\n".utf8)
        let written = write(fd, text, text.count)
        close(fd)
        guard written == text.count, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw WriteFailed(description: "cannot write pidfile \(path): \(reason)")
        }
    }

    /// Removes the file if it still holds `pid` (a successor may have claimed it meanwhile).
    public func release(pid: pid_t = getpid()) {
        if read() == pid { unlink(path) }
    }

    static func isAlive(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// The name of the executable a process runs (/proc/PID/exe), which proc_name does not
    /// change; its command name (/proc/PID/comm) when the link cannot be read.
    static func programName(of pid: pid_t) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/\(pid)/exe", &buffer, buffer.count - 1)
        if n > 0 {
            var path = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if path.hasSuffix(" (deleted)") { path.removeLast(10) }   // the binary was upgraded in place
            return String(path.split(separator: "/").last ?? "")
        }
        guard let file = fopen("/proc/\(pid)/comm", "r") else { return nil }
        defer { fclose(file) }
        buffer = [CChar](repeating: 0, count: 64)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).trimmingWhitespace
    }
}

import CCorral
import CorralEventLoop
import Glibc

/// The receiving end of sd_notify, as systemd has it for services: corrald binds one and points
/// its workers' NOTIFY_SOCKET at it. Senders are identified by their kernel-checked credentials
/// (SO_PASSCRED), not by anything they write.
public final class NotifyListener: @unchecked Sendable {
    public let fd: Int32
    public let path: String

    public struct Message: Equatable, Sendable {
        public var pid: pid_t
        /// NAME=value assignments in order (READY=1, WATCHDOG=1, STATUS=…).
        public var assignments: [(name: String, value: String)]

        public static func == (a: Message, b: Message) -> Bool {
            a.pid == b.pid && a.assignments.elementsEqual(b.assignments) { $0 == $1 }
        }

        public func value(_ name: String) -> String? {
            assignments.last { $0.name == name }?.value
        }
    }

    /// Binds a datagram socket at `path` (a stale socket file is replaced), or in the abstract
    /// namespace when `path` starts with `@`, as NOTIFY_SOCKET allows.
    public init(path: String) throws(SystemError) {
        let fd = try UnixSocket.bound(at: path, type: Int32(SOCK_DGRAM.rawValue))
        guard corral_set_int_option(fd, SOL_SOCKET, SO_PASSCRED, 1) == 0 else {
            let error = SystemError("SO_PASSCRED on \(path)")
            close(fd)
            throw error
        }
        self.fd = fd
        self.path = path
    }

    /// A socket bound before (handed over across a re-exec upgrade, SO_PASSCRED already set):
    /// datagrams workers sent during the exec are waiting in it.
    public init(adopting fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit {
        close(fd)
        if !path.hasPrefix("@") { unlink(path) }
    }

    /// The next waiting datagram, or nil when none is waiting.
    public func receive() -> Message? {
        var buffer = [CChar](repeating: 0, count: 4096)
        var pid: Int32 = 0
        while true {
            let n = corral_receive_notification(fd, &buffer, Int32(buffer.count), &pid)
            guard n > 0 else { return nil }
            guard pid > 0 else { continue }   // no credentials: ignore, as systemd does
            let text = String(decoding: buffer[..<Int(n)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let assignments = text.split(separator: "\n").compactMap { line -> (name: String, value: String)? in
                let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else { return nil }
                return (name: String(parts[0]), value: String(parts[1]))
            }
            return Message(pid: pid, assignments: assignments)
        }
    }
}

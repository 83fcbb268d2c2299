import CCorral
import CorralEventLoop
import Glibc

/// Starts a worker executable the way systemd starts a socket-activated service, so any such
/// server can be a corral worker: the listening sockets as fds 3, 4, … with LISTEN_FDS,
/// LISTEN_FDNAMES and LISTEN_PID (the child's own pid, set between fork and exec).
public struct WorkerSpawner: Sendable {
    public var executable: String
    public var arguments: [String]
    /// NAME=value pairs; LISTEN_* entries here are replaced.
    public var environment: [String: String]
    public var umask: mode_t = 0o022
    public var uid: uid_t?
    public var gid: gid_t?

    public init(executable: String, arguments: [String] = [], environment: [String: String] = [:]) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
    }

    /// Tries for an executable that is busy (ETXTBSY), 10 ms apart.
    static let busyRetries = 10

    /// Forks and execs; `stdout`/`stderr` are the child's (pipes corrald reads), or -1 to inherit.
    /// `extraFDs` follow the sockets (fds 3 + sockets.count, …), outside LISTEN_FDS.
    public func spawn(sockets: [ListenFD], extraFDs: [Int32] = [], stdout: Int32 = -1, stderr: Int32 = -1) throws(SystemError) -> pid_t {
        var environment = self.environment.filter { !$0.key.hasPrefix("LISTEN_") }
        environment["LISTEN_FDS"] = String(sockets.count)
        environment["LISTEN_FDNAMES"] = sockets.map(\.name).joined(separator: ":")
        // Room for any pid; the child writes its own over it.
        environment["LISTEN_PID"] = String(repeating: "0", count: 20)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        let fds = sockets.map(\.fd) + extraFDs
        var pid: pid_t = 0
        // ETXTBSY: the executable is still open for writing somewhere (a deploy that has just
        // written it, or a process forked while it was written): it passes within milliseconds.
        for attempt in 1...Self.busyRetries {
            pid = fds.withUnsafeBufferPointer { fdPointer in
                corral_spawn(executable, argv, envp, fdPointer.baseAddress, Int32(fds.count), stdout, stderr,
                             Int32(umask), uid.map { Int32(bitPattern: $0) } ?? -1, gid.map { Int32(bitPattern: $0) } ?? -1)
            }
            if pid != -ETXTBSY || attempt == Self.busyRetries { break }
            usleep(10_000)
        }
        guard pid > 0 else { throw SystemError("spawn \(executable)", errno: -pid) }
        return pid
    }
}

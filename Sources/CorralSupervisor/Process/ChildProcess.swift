import Glibc

/// A short-lived helper process run to completion, its output captured: python3 reading a gunicorn
/// config file, the new binary's check before a re-exec upgrade.
public enum ChildProcess {
    public struct Finished: Sendable {
        public let status: WaitStatus
        /// Its stdout, and its stderr too when asked for.
        public let output: String
    }

    public struct SpawnFailed: Error, CustomStringConvertible {
        public let description: String
    }

    public static func run(_ argv: [String], captureStderr: Bool = false) throws(SpawnFailed) -> Finished {
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw SpawnFailed(description: "pipe: \(String(cString: strerror(errno)))") }
        for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }  // the dup2s below stay open in the child
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        if captureStderr { posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2) }
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ)
        close(pipeFDs[1])
        guard spawned == 0 else {
            close(pipeFDs[0])
            throw SpawnFailed(description: "cannot run \(argv[0]): \(String(cString: strerror(spawned)))")
        }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = Glibc.read(pipeFDs[0], &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            output += chunk[..<n]
        }
        close(pipeFDs[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return Finished(status: WaitStatus(raw: status), output: String(decoding: output, as: UTF8.self))
    }
}

import Foundation

/// corrald started for a test: its own scratch directory, a free port (unless the arguments bind
/// elsewhere), stdout and stderr (its log and its workers' output) collected in a file. It is
/// killed with its workers when the test ends.
final class CorraldProcess: @unchecked Sendable {
    let directory = TemporaryDirectory()
    let port: UInt16
    /// What was started: corrald, or the `wrapper` that runs it.
    private let launched: pid_t
    private let wrapped: Bool
    private var exitStatus: Int32?

    var logPath: String { directory.file("corrald.log") }
    var pidfile: String { directory.file("corrald.pid") }
    var configPath: String { directory.file("corral.toml") }

    /// `config` is written to `configPath` and passed with -c; `-p` is added, and
    /// `-b 127.0.0.1:PORT` unless `bindFlag` is false (the config binds the port). `wrapper` is a
    /// command that runs corrald as its only child (e.g. `unshare --pid --fork`).
    init(_ arguments: [String] = [], config: String? = nil, environment: [String: String] = [:],
         port: UInt16 = freePort(), bindFlag: Bool = true, wrapper: [String] = []) throws {
        self.port = port
        wrapped = !wrapper.isEmpty
        var argv = wrapper + [Binaries.path("corrald")]
        if let config {
            directory.write("corral.toml", config)
            argv += ["-c", directory.file("corral.toml")]
        }
        argv += ["-p", directory.file("corrald.pid")]
        if bindFlag { argv += ["-b", "127.0.0.1:\(port)"] }
        argv += arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, directory.file("corrald.log"), O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        let cArguments = argv.map { strdup($0) } + [nil]
        let cEnvironment = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArguments + cEnvironment).forEach { free($0) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, argv[0], &actions, nil, cArguments, cEnvironment)
        guard result == 0 else { throw WorkerFailed(description: "cannot start corrald: \(String(cString: strerror(result)))") }
        launched = child
        LaunchedProcesses.register(child)
    }

    /// corrald's pid (as seen from the tests' pid namespace).
    var pid: pid_t {
        guard wrapped else { return launched }
        var child: pid_t = 0
        eventually { child = Self.children(of: launched).first ?? 0; return child != 0 }
        return child
    }

    static func children(of pid: pid_t) -> [pid_t] {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return text.split(separator: " ").compactMap { pid_t($0) }
    }

    /// Everything corrald and its workers printed so far.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// How many times `text` occurs in the log.
    func count(_ text: String) -> Int { log.components(separatedBy: text).count - 1 }

    /// The live worker processes (corrald's children).
    var workers: Set<pid_t> { Set(Self.children(of: pid)) }

    /// Waits for `count` workers that all answer on the port.
    func waitUntilServing(workers count: Int) -> Bool {
        eventually { workers.count == count && (try? RawClient.get(port: port, "/"))??.status == 200 }
    }

    func signal(_ signal: Int32) { kill(pid, signal) }

    var isRunning: Bool { status(waiting: false) == nil }

    /// The exit status once corrald has exited (nil while it runs, or after `timeout`).
    func waitForExit(timeout: TimeInterval = 30) -> Int32? {
        eventually(timeout: timeout) { !isRunning }
        return status(waiting: false)
    }

    private func status(waiting: Bool) -> Int32? {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        guard waitpid(launched, &status, waiting ? 0 : WNOHANG) == launched else { return nil }
        exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return exitStatus
    }

    deinit {
        if isRunning {
            // The workers die with it (PR_SET_PDEATHSIG).
            if wrapped { Self.children(of: launched).forEach { kill($0, SIGKILL) } }
            kill(launched, SIGKILL)
            _ = status(waiting: true)
        }
        LaunchedProcesses.unregister(launched)
    }
}

/// A small executable script in `directory` (for workers that misbehave on purpose).
func script(_ name: String, in directory: TemporaryDirectory, _ body: String) -> String {
    directory.write(name, body)
    let path = directory.file(name)
    chmod(path, 0o755)
    return path
}

import Foundation

/// A process started for a test with posix_spawn and waited for with waitpid (Foundation's
/// Process can miss a child's exit while other children come and go, and then waits forever).
/// Its stdout and stderr go to a file; it is killed when the test ends, however it ends.
final class TestProcess: @unchecked Sendable {
    let pid: pid_t
    let logPath: String
    private var exitStatus: Int32?
    private let lock = NSLock()

    init(_ argv: [String], environment: [String: String] = [:], logPath: String, workingDirectory: String? = nil) throws {
        self.logPath = logPath
        // sh changes directory, then becomes the process (Glibc's module lacks posix_spawn's chdir).
        let argv = workingDirectory.map { ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", $0] + argv } ?? argv
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        let cArguments = argv.map { strdup($0) } + [nil]
        let cEnvironment = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArguments + cEnvironment).forEach { free($0) } }
        // A clean signal state: test threads may block signals (signalfd), and a blocked mask is
        // inherited across exec.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var child: pid_t = 0
        let result = posix_spawn(&child, argv[0], &actions, &attributes, cArguments, cEnvironment)
        guard result == 0 else { throw WorkerFailed(description: "cannot start \(argv[0]): \(String(cString: strerror(result)))") }
        pid = child
        LaunchedProcesses.register(child)
    }

    /// Everything it printed so far.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func signal(_ signal: Int32) { kill(pid, signal) }

    var isRunning: Bool { status(waiting: false) == nil }

    /// The exit status (128 + N when killed by signal N), or nil if it did not exit within `timeout`.
    func waitForExit(timeout: TimeInterval = 30) -> Int32? {
        eventually(timeout: timeout) { !isRunning }
        return status(waiting: false)
    }

    private func status(waiting: Bool) -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        guard waitpid(pid, &status, waiting ? 0 : WNOHANG) == pid else { return nil }
        exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return exitStatus
    }

    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            _ = status(waiting: true)
        }
        LaunchedProcesses.unregister(pid)
    }
}

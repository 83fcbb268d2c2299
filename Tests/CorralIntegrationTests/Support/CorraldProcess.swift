import Foundation

/// corrald started for a test: its own scratch directory, a free port (unless the arguments bind
/// elsewhere), stdout and stderr (its log and its workers' output) collected in a file. It is
/// killed with its workers when the test ends.
final class CorraldProcess: @unchecked Sendable {
    let directory = TemporaryDirectory()
    let port: UInt16
    /// corrald, or the `wrapper` that runs it.
    private let process: TestProcess
    private let wrapped: Bool

    var logPath: String { directory.file("corrald.log") }
    var pidfile: String { directory.file("corrald.pid") }
    var configPath: String { directory.file("corral.toml") }

    /// `config` is written to `configPath` and passed with -c; `-p` is added unless `pidfileFlag` is
    /// false (the config names the pidfile), and `-b 127.0.0.1:PORT` unless `bindFlag` is false
    /// (the config binds the port). `wrapper` is a command that runs corrald as its only child
    /// (e.g. `unshare --pid --fork`). With `setUp` (which fills the scratch directory first),
    /// corrald runs in the scratch directory, so that the config's relative paths land there.
    init(_ arguments: [String] = [], config: String? = nil, environment: [String: String] = [:],
         port: UInt16 = freePort(), bindFlag: Bool = true, pidfileFlag: Bool = true, wrapper: [String] = [],
         executable: String = Binaries.path("corrald"), setUp: ((TemporaryDirectory) -> Void)? = nil) throws {
        self.port = port
        wrapped = !wrapper.isEmpty
        var argv = wrapper + [executable]
        if let config {
            directory.write("corral.toml", config)
            argv += ["-c", directory.file("corral.toml")]
        }
        if pidfileFlag { argv += ["-p", directory.file("corrald.pid")] }
        if bindFlag { argv += ["-b", "127.0.0.1:\(port)"] }
        setUp?(directory)
        process = try TestProcess(argv + arguments, environment: environment, logPath: directory.file("corrald.log"),
                                  workingDirectory: setUp == nil ? nil : directory.path)
    }

    /// corrald's pid (as seen from the tests' pid namespace).
    var pid: pid_t {
        guard wrapped else { return process.pid }
        var child: pid_t = 0
        eventually { child = Self.children(of: process.pid).first ?? 0; return child != 0 }
        return child
    }

    static func children(of pid: pid_t) -> [pid_t] {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return text.split(separator: " ").compactMap { pid_t($0) }
    }

    /// Everything corrald and its workers printed so far.
    var log: String { process.log }

    /// How many times `text` occurs in the log.
    func count(_ text: String) -> Int { log.components(separatedBy: text).count - 1 }

    /// The live worker processes (corrald's children but its helpers: preload_app's preloading
    /// processes and the server hooks' process).
    var workers: Set<pid_t> { Set(Self.children(of: pid).filter { !["corral-preload", "corral-hooks"].contains(Self.name(of: $0)) }) }

    /// preload_app's preloading processes (named corral-preload).
    var preloaders: Set<pid_t> { Set(Self.children(of: pid).filter { Self.name(of: $0) == "corral-preload" }) }

    static func name(of pid: pid_t) -> String {
        ((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .newlines)
    }

    /// Waits for `count` workers that all answer on the port.
    func waitUntilServing(workers count: Int) -> Bool {
        eventually { workers.count == count && (try? RawClient.get(port: port, "/"))??.status == 200 }
    }

    func signal(_ signal: Int32) { kill(pid, signal) }

    var isRunning: Bool { process.isRunning }

    func waitForExit(timeout: TimeInterval = 30) -> Int32? { process.waitForExit(timeout: timeout) }

    deinit {
        // Its workers die with it (PR_SET_PDEATHSIG); a wrapper's child is killed first.
        if wrapped && process.isRunning { Self.children(of: process.pid).forEach { kill($0, SIGKILL) } }
    }
}

/// True when `pid` has exited (no such process, or a zombie nobody reaped yet).
func isGone(_ pid: pid_t) -> Bool {
    !FileManager.default.fileExists(atPath: "/proc/\(pid)/stat") || isZombie(pid)
}

/// True when `pid` has exited and its parent has not reaped it.
func isZombie(_ pid: pid_t) -> Bool {
    ((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "").contains(") Z ")
}

/// How many descriptors `pid` holds (-1 when it cannot be read).
func openDescriptorCount(_ pid: pid_t) -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
}

/// A small executable script in `directory` (for workers that misbehave on purpose).
func script(_ name: String, in directory: TemporaryDirectory, _ body: String) -> String {
    directory.write(name, body)
    let path = directory.file(name)
    chmod(path, 0o755)
    return path
}

import CCorral
import CorralGunicornPython
import CorralSupervisor
import CorralSystemd
import Glibc

/// The supervisor's server hooks of a gunicorn config file (on_starting, when_ready, on_reload,
/// pre_fork, pre_exec, child_exit, nworkers_changed, on_exit), run by a python3 of corral's
/// (corral_gunicorn.py's `hooks` mode), since corrald has no interpreter. Events go to it as
/// JSON lines on its stdin, in order; those gunicorn runs before going on (on_starting,
/// pre_fork, pre_exec, on_exit) are waited for, up to a bound. What the hooks print, and the
/// traceback of one that raises, go to corrald's stderr.
final class HookRunner {
    let pid: pid_t
    /// The supervisor's hooks the file defines.
    let defined: Set<String>
    private let input: Int32
    private let output: Int32
    private var nextID = 0
    private var pending: [UInt8] = []

    struct Failed: Error, CustomStringConvertible {
        let description: String
    }

    /// Starts the runner for `file` with `python` and waits (up to `timeout`) until it has
    /// executed the file and said which hooks it defines.
    init(file: String, python: String, settingsJSON: String, timeout: Double) throws(Failed) {
        let toChild: (read: Int32, write: Int32), fromChild: (read: Int32, write: Int32)
        do {
            toChild = try WorkerOutput.makePipe()
            fromChild = try WorkerOutput.makePipe()
        } catch {
            throw Failed(description: "\(error)")
        }
        var spawner = WorkerSpawner(executable: python, arguments: ["-c", String(cString: corral_gunicorn_source()), "hooks", file])
        spawner.environment = ProcessEnvironment.current.filter { !$0.key.hasPrefix("LISTEN_") && $0.key != "NOTIFY_SOCKET" }
        spawner.environment["CORRAL_SETTINGS"] = settingsJSON
        spawner.environment["CORRAL_HOOKS_FD"] = "3"   // the events' pipe, after no sockets
        let spawned: pid_t
        do {
            spawned = try spawner.spawn(sockets: [], extraFDs: [toChild.read], stdout: fromChild.write)
        } catch {
            for fd in [toChild.read, toChild.write, fromChild.read, fromChild.write] { close(fd) }
            throw Failed(description: "cannot run \(python) for the server hooks: \(error)")
        }
        close(toChild.read)
        close(fromChild.write)
        guard let first = Self.readLine(from: fromChild.read, into: &pending, timeout: timeout), first.hasPrefix("hooks ") else {
            kill(spawned, SIGKILL)
            close(toChild.write)
            close(fromChild.read)
            throw Failed(description: "\(python) could not load the server hooks of \(file) (its traceback is above)")
        }
        pid = spawned
        input = toChild.write
        output = fromChild.read
        defined = Set(first.dropFirst(6).split(separator: ",").map(String.init))
    }

    deinit {
        close(input)
        close(output)
    }

    /// Sends `hook` with `args` (numbers) if the file defines it. With `waiting`, returns once it
    /// ran (or after `timeout`): what it raised, if anything.
    @discardableResult
    func fire(_ hook: String, _ args: [String: Int] = [:], waiting: Bool = false, timeout: Double = 30) -> String? {
        guard defined.contains(hook) else { return nil }
        nextID += 1
        let fields = args.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
        let line = Array("{\"id\": \(nextID), \"hook\": \"\(hook)\", \"ack\": \(waiting), \"args\": {\(fields)}}\n".utf8)
        var written = 0
        while written < line.count {
            let n = line.withUnsafeBytes { write(input, $0.baseAddress! + written, line.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return "the hooks process is gone" }
            written += n
        }
        guard waiting else { return nil }
        while let answer = Self.readLine(from: output, into: &pending, timeout: timeout) {
            let words = answer.split(separator: " ", maxSplits: 2)
            guard words.count >= 2, Int(words[1]) == nextID else { continue }
            return words[0] == "done" ? nil : (words.count > 2 ? String(words[2]) : "it raised")
        }
        return "no answer from the hooks process within \(timeout) s"
    }

    /// One line from the runner, waiting up to `timeout`; nil at its end or past the deadline.
    private static func readLine(from output: Int32, into pending: inout [UInt8], timeout: Double) -> String? {
        let deadline = corral_monotonic_ns() + Int64(timeout * 1e9)
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let newline = pending.firstIndex(of: 10) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeFirst(newline + 1)
                return line
            }
            let left = deadline - corral_monotonic_ns()
            guard left > 0 else { return nil }
            var poller = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(left / 1_000_000 + 1, Int64(Int32.max))))
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { return nil }
            let n = read(output, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            pending += chunk[..<n]
        }
    }
}

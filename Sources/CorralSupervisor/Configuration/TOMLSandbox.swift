import CCorral
import Glibc
import TOMLKit

/// The bundled toml++ keeps failing assertions (and so aborting the process) on malformed input
/// that fuzzing finds faster than TOMLGuard can list it. So a configuration file is parsed in a
/// child process first: if the parser kills the child, the file is refused, with the first line
/// at which it does, and corrald lives on. Forking for a config file (at start, --check-config,
/// each reload) costs about a millisecond.
enum TOMLSandbox {
    /// A parse that has not returned by then is refused as a hang (SIGALRM).
    static let deadlineSeconds: UInt32 = 5

    /// The signal that killed a child parsing `text`, or nil when the parser returned (whether
    /// the text is valid TOML or not) or no child could be made.
    static func crashSignal(parsing text: String) -> Int32? {
        let pid = fork()
        if pid == 0 {
            corral_become_disposable_child(Self.deadlineSeconds)
            _ = try? TOMLTable(string: text)
            _exit(0)
        }
        guard pid > 0 else { return nil }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return nil }
        }
        let signal = status & 0x7f
        return signal == 0 ? nil : signal
    }

    /// The first line (from 1) such that the text up to its end kills the parser: where to look.
    static func firstCrashingLine(in text: String) -> Int {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var (low, high) = (1, lines.count)   // the whole text crashes: the answer is at most `high`
        while low < high {
            let middle = (low + high) / 2
            if crashSignal(parsing: lines[..<middle].joined(separator: "\n")) != nil { high = middle } else { low = middle + 1 }
        }
        return high
    }
}

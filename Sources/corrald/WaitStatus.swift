/// A child's status as waitpid reports it: an exit code, or the signal that killed it.
struct WaitStatus {
    let raw: Int32

    var signal: Int32? { raw & 0x7f == 0 ? nil : raw & 0x7f }
    var exitCode: Int32? { signal == nil ? (raw >> 8) & 0xff : nil }

    /// "exited with status 4", "was killed by signal 9"
    var description: String { signal.map { "was killed by signal \($0)" } ?? "exited with status \(exitCode!)" }
    /// For journal fields: "4", "signal 9".
    var field: String { signal.map { "signal \($0)" } ?? "\(exitCode!)" }
    /// As a shell reports it: the exit code, or 128 + the signal.
    var shellCode: Int32 { signal.map { 128 + $0 } ?? exitCode! }
}

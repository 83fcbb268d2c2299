/// A child's status as waitpid reports it: an exit code, or the signal that killed it.
public struct WaitStatus: Sendable {
    public let raw: Int32

    public init(raw: Int32) { self.raw = raw }

    public var signal: Int32? { raw & 0x7f == 0 ? nil : raw & 0x7f }
    public var exitCode: Int32? { signal == nil ? (raw >> 8) & 0xff : nil }

    /// "exited with status 4", "was killed by signal 9"
    public var description: String { signal.map { "was killed by signal \($0)" } ?? "exited with status \(exitCode!)" }
    /// For journal fields: "4", "signal 9".
    public var field: String { signal.map { "signal \($0)" } ?? "\(exitCode!)" }
    /// As a shell reports it: the exit code, or 128 + the signal.
    public var shellCode: Int32 { signal.map { 128 + $0 } ?? exitCode! }
}

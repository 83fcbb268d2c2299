import Glibc

/// Whether a log destination takes writes. A full disk (or any failing write) is said once, not
/// once per line, and its end is said too, with the number of lines lost meanwhile.
struct LogWriteHealth: Equatable {
    private(set) var failing = false
    private(set) var droppedLines = 0
    /// "access log", "error log".
    let what: String
    let destination: String

    init(_ what: String, destination: String) {
        self.what = what
        self.destination = destination
    }

    /// A write failed with `error`, losing `lines`: what to say, the first time only.
    mutating func failed(errno error: Int32, lines: Int) -> String? {
        droppedLines += lines
        guard !failing else { return nil }
        failing = true
        return "\(what) \(destination): \(String(cString: strerror(error))); its lines are dropped until it can be written again"
    }

    /// A write went through: what to say when it had been failing, else nil.
    mutating func succeeded() -> String? {
        guard failing else { return nil }
        defer { (failing, droppedLines) = (false, 0) }
        return "\(what) \(destination) is written again; \(droppedLines) line(s) were dropped while it could not be"
    }

    /// The lines (newlines) in bytes that were not written.
    static func lines(in bytes: UnsafeRawBufferPointer) -> Int {
        var count = 0
        for byte in bytes where byte == 0x0A { count += 1 }
        return count
    }
}

import CSystemd
import Glibc

/// Native journald entries through sd_journal_sendv: one entry per call, newlines kept inside
/// MESSAGE. Fields are "NAME=value" byte strings; the iovec array is reused, so sending
/// allocates nothing once it has grown.
public struct JournalWriter {
    private var vectors: [iovec] = []

    public init() { vectors.reserveCapacity(16) }

    /// `fields` is one buffer holding every "NAME=value" field back to back; `ends` the end offset
    /// of each field in it. Returns false when journald could not be reached.
    @discardableResult
    public mutating func send(_ fields: UnsafeRawBufferPointer, ends: UnsafeBufferPointer<Int>) -> Bool {
        vectors.removeAll(keepingCapacity: true)
        var start = 0
        for end in ends {
            vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: fields.baseAddress! + start),
                                 iov_len: end - start))
            start = end
        }
        return vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) } >= 0
    }

    /// Sends "NAME=value" assignments as one entry (not for hot paths: it builds one buffer).
    @discardableResult
    public mutating func send(_ assignments: [String]) -> Bool {
        var fields: [UInt8] = []
        var ends: [Int] = []
        for field in assignments {
            fields.append(contentsOf: field.utf8)
            ends.append(fields.count)
        }
        return fields.withUnsafeBytes { bytes in ends.withUnsafeBufferPointer { send(bytes, ends: $0) } }
    }

    /// Whether this process's stderr is connected to the journal (JOURNAL_STREAM matches fd 2).
    public static var stderrIsJournal: Bool {
        guard let value = getenv("JOURNAL_STREAM") else { return false }
        var st = stat()
        guard fstat(2, &st) == 0 else { return false }
        return String(cString: value) == "\(st.st_dev):\(st.st_ino)"
    }
}

import CCorral
import CorralEventLoop
import CorralHTTP
import CorralSystemd
import Glibc

/// Access-log lines in gunicorn's format language, to a file (O_APPEND: workers sharing one file
/// never tear each other's lines, since each flush is one write of whole lines), stdout (`-`), or
/// the journal (`journal`: one entry per request with structured fields). File and stdout lines
/// are buffered and written once per loop iteration; `flush()` at exit loses none.
public final class AccessLog: @unchecked Sendable {
    public let destination: String
    /// Whether lines show response headers (`{name}o`): only then does a connection keep them.
    let usesResponseHeaders: Bool
    private var renderer: AccessLogRenderer
    private var fd: Int32 = 1
    private var pending: [UInt8] = []
    private var journal = JournalWriter()
    private var journalFields: [UInt8] = []
    private var journalEnds: [Int] = []
    private let pid = getpid()
    private static let flushThreshold = 64 * 1024
    private var health: LogWriteHealth
    /// Told when writes start failing (a full disk) and when they go through again: once each.
    public var onWriteProblem: ((String) -> Void)?

    public init(destination: String, format: AccessLogFormat) throws(SystemError) {
        self.destination = destination
        health = LogWriteHealth("access log", destination: destination == "-" ? "(stdout)" : destination)
        renderer = AccessLogRenderer(format: format)
        usesResponseHeaders = format.usesResponseHeaders
        pending.reserveCapacity(Self.flushThreshold * 2)
        journalFields.reserveCapacity(1024)
        journalEnds.reserveCapacity(8)
        try reopen()
    }

    private var isJournal: Bool { destination == "journal" }

    /// Reopens a file destination (SIGUSR1 after logrotate); buffered lines go to the old file.
    public func reopen() throws(SystemError) {
        guard destination != "-", !isJournal else { return }
        flush()
        let newFD = open(destination, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard newFD >= 0 else { throw SystemError("open \(destination)") }
        if fd != 1 { close(fd) }
        fd = newFD
    }

    func record(_ connection: Connection, head: RequestHead, now: Int, durationMicroseconds: Int) {
        let record = AccessRecord(connection: connection, head: head, pid: pid, durationMicroseconds: durationMicroseconds)
        if isJournal {
            sendToJournal(record, now: now)
            return
        }
        renderer.render(record, now: now, into: &pending)
        if pending.count >= Self.flushThreshold { flush() }
    }

    /// Writes the buffered lines in one write(2). Lines a failing write (ENOSPC…) could not take
    /// are dropped: serving goes on, and the failure is told once.
    public func flush() {
        guard !pending.isEmpty else { return }
        var offset = 0
        var failure: Int32 = 0
        pending.withUnsafeBytes { bytes in
            while offset < bytes.count {
                let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n > 0 {
                    offset += n
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    failure = n < 0 ? errno : EIO
                    break
                }
            }
            if failure != 0 {
                let lost = LogWriteHealth.lines(in: UnsafeRawBufferPointer(rebasing: bytes[offset...]))
                if let message = health.failed(errno: failure, lines: lost) { onWriteProblem?(message) }
            }
        }
        if failure == 0, health.failing, let message = health.succeeded() { onWriteProblem?(message) }
        pending.removeAll(keepingCapacity: true)
    }

    private func sendToJournal(_ record: AccessRecord, now: Int) {
        journalFields.removeAll(keepingCapacity: true)
        journalEnds.removeAll(keepingCapacity: true)
        ResponseHead.append("MESSAGE=", to: &journalFields)
        renderer.render(record, now: now, into: &journalFields)
        if journalFields.last == 0x0A { journalFields.removeLast() }
        journalEnds.append(journalFields.count)
        field("REMOTE_ADDR=", record.remoteAddress)
        field("REQUEST_METHOD=", record.head.methodBytes.bytes(in: record.requestBuffer))
        field("REQUEST_PATH=", record.head.path.bytes(in: record.requestBuffer))
        field("QUERY_STRING=", record.head.query?.bytes(in: record.requestBuffer) ?? UnsafeRawBufferPointer(start: nil, count: 0))
        number("STATUS=", Int(record.status))
        number("RESPONSE_BYTES=", record.bodyBytesSent)
        number("DURATION_USEC=", record.durationMicroseconds)
        ResponseHead.append("SYSLOG_IDENTIFIER=corral-access", to: &journalFields)
        journalEnds.append(journalFields.count)
        journalFields.withUnsafeBytes { bytes in
            journalEnds.withUnsafeBufferPointer { _ = journal.send(bytes, ends: $0) }
        }
    }

    private func field(_ name: StaticString, _ value: UnsafeRawBufferPointer) {
        ResponseHead.append(name, to: &journalFields)
        journalFields.append(contentsOf: value)
        journalEnds.append(journalFields.count)
    }

    private func number(_ name: StaticString, _ value: Int) {
        ResponseHead.append(name, to: &journalFields)
        ResponseHead.appendDecimal(value, to: &journalFields)
        journalEnds.append(journalFields.count)
    }
}

/// One finished request as the access-log formatter sees it. The views are read from the
/// connection once, so rendering touches no reference counts.
struct AccessRecord: AccessLogEntry {
    unowned(unsafe) let connection: Connection
    let head: RequestHead
    let pid: Int32
    let durationMicroseconds: Int
    let requestBuffer: UnsafeRawBufferPointer
    let fields: UnsafeBufferPointer<HeaderField>
    let remoteAddress: UnsafeRawBufferPointer
    let remotePort: Int32
    let status: UInt16
    let bodyBytesSent: Int

    init(connection: Connection, head: RequestHead, pid: Int32, durationMicroseconds: Int) {
        self.connection = connection
        self.head = head
        self.pid = pid
        self.durationMicroseconds = durationMicroseconds
        requestBuffer = connection.requestBytes
        fields = connection.requestFields(count: head.fieldCount)
        remoteAddress = connection.remoteAddress
        remotePort = connection.remotePort
        status = connection.status
        bodyBytesSent = connection.bodyBytesSent
    }

    func responseHeader(_ lowercasedName: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        connection.responseHeader(lowercasedName)
    }

    func isSecure() -> Bool {
        connection.transportTLS != nil || connection.server.configuration.forwarded.isSecure(peerTrusted: connection.peerTrustedForScheme, fields: fields, buffer: requestBuffer)
    }
}

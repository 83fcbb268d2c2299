import Glibc
import Logging

/// A swift-log handler that writes native journald entries: MESSAGE (newlines kept: one entry),
/// PRIORITY from the level, SYSLOG_IDENTIFIER, CODE_FILE/LINE/FUNC, and each metadata key as a
/// field of its own (`event` → `CORRAL_EVENT`), so operators can filter with journalctl.
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let identifier: String
    private let fieldPrefix: String
    /// Also sees each entry as a text line (corrald keeps the recent ones for `maintail`).
    private let mirror: (@Sendable (String) -> Void)?

    public init(identifier: String, level: Logger.Level, fieldPrefix: String = "CORRAL_", mirror: (@Sendable (String) -> Void)? = nil) {
        self.identifier = identifier
        self.logLevel = level
        self.fieldPrefix = fieldPrefix
        self.mirror = mirror
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var assignments = ["MESSAGE=\(event.message)", "PRIORITY=\(Self.priority(event.level))",
                           "SYSLOG_IDENTIFIER=\(identifier)", "CODE_FILE=\(event.file)", "CODE_LINE=\(event.line)",
                           "CODE_FUNC=\(event.function)"]
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let own = event.metadata { all.merge(own) { $1 } }
        for (key, value) in all.sorted(by: { $0.key < $1.key }) {
            if let name = Self.fieldName(fieldPrefix + key) { assignments.append("\(name)=\(value)") }
        }
        var journal = JournalWriter()
        journal.send(assignments)
        mirror?("[\(event.level)] \(event.message)\n")
    }

    /// syslog priorities, as journald stores them.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// A journald field name: upper-case letters, digits and `_`, not starting with `_` or a
    /// digit (journald silently drops others), at most 64 characters.
    public static func fieldName(_ key: String) -> String? {
        var name = String(key.uppercased().unicodeScalars.map { scalar -> Character in
            ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) ? Character(scalar) : "_"
        }.prefix(64))
        while name.first == "_" || name.first?.isNumber == true { name.removeFirst() }
        return name.isEmpty ? nil : name
    }
}

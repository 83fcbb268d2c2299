import CorralHTTP
/// A setting's value as it was written, before the setting's kind checks it: typed when it comes
/// from the TOML file, text when it comes from a command line (where `--workers 4` is text).
public enum SettingValue: Equatable, Sendable {
    case text(String)
    case integer(Int)
    case number(Double)
    case boolean(Bool)
    case list([SettingValue])
    /// A table of strings (secure_scheme_headers).
    case table([String: String])
    /// A nested table, as JSON text (logconfig_dict).
    case document(String)

    /// What the value is, for "expected …, got …" messages.
    var kindDescription: String {
        switch self {
        case .text(let text): "the string \"\(text)\""
        case .integer(let value): "the integer \(value)"
        case .number(let value): "the number \(value)"
        case .boolean(let value): "the boolean \(value)"
        case .list: "an array"
        case .table, .document: "a table"
        }
    }

    /// The value as JSON (for the server hooks' `server.cfg`).
    var json: String {
        switch self {
        case .text(let text): JSONText.quoted(text)
        case .integer(let value): String(value)
        case .number(let value): value.isFinite ? "\(value)" : "null"
        case .boolean(let value): value ? "true" : "false"
        case .list(let items): "[" + items.map(\.json).joined(separator: ", ") + "]"
        case .table(let entries):
            "{" + entries.sorted { $0.key < $1.key }.map { JSONText.quoted($0.key) + ": " + JSONText.quoted($0.value) }
                .joined(separator: ", ") + "}"
        case .document(let json): json
        }
    }
}

/// Where a setting's value came from, in precedence order: defaults < file < CORRAL_CMD_ARGS <
/// command line.
public enum SettingOrigin: Equatable, Sendable, CustomStringConvertible {
    case file(path: String, line: Int?)
    case environment
    case commandLine

    public var description: String {
        switch self {
        case .file(let path, let line?): "\(path):\(line)"
        case .file(let path, nil): path
        case .environment: "CORRAL_CMD_ARGS"
        case .commandLine: "command line"
        }
    }

    /// Command-line text is converted to the setting's type; a file's values must have it.
    var isText: Bool { if case .file = self { false } else { true } }
}

/// One `name = value`, from a file line or a flag.
public struct SettingAssignment: Equatable, Sendable {
    public var name: String
    public var value: SettingValue
    public var origin: SettingOrigin
    /// Text is converted to the setting's type: command-line text, and gunicorn config files'
    /// values (gunicorn converts them); a TOML file's values must have the type.
    public var convertsText: Bool

    public init(name: String, value: SettingValue, origin: SettingOrigin, convertsText: Bool? = nil) {
        self.name = name
        self.value = value
        self.origin = origin
        self.convertsText = convertsText ?? origin.isText
    }
}

/// A problem in the configuration, with where it is: `corral.toml:12: workers: expected …`.
public struct ConfigurationIssue: Error, Equatable, Sendable, CustomStringConvertible {
    public var origin: SettingOrigin?
    public var message: String

    public init(_ message: String, at origin: SettingOrigin?) {
        self.message = message
        self.origin = origin
    }

    public var description: String { origin.map { "\($0): \(message)" } ?? message }
}

/// Every error found while loading, so that one run shows them all.
public struct ConfigurationErrors: Error, Sendable, CustomStringConvertible {
    public var issues: [ConfigurationIssue]

    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

import TOMLKit

/// `corrald --from-gunicorn`: a gunicorn config file's module globals (as the Python that ran it
/// reported them) turned into corral.toml. Each setting corral applies is written with its value;
/// each it does not is a comment saying why, so nothing in the file goes silently missing.
public enum GunicornConversion {
    /// One module global of the config file.
    public struct Entry: Equatable, Sendable {
        public enum Value: Equatable, Sendable {
            /// A value written as TOML (strings, numbers, booleans, lists, tables of strings).
            case toml(String)
            /// `None`: gunicorn's default.
            case none
            /// A function or class: a server hook, or a helper.
            case callable
            /// Anything else (its Python repr).
            case object(String)
        }
        public var name: String
        public var value: Value
        /// The line of the file that assigns it, when known.
        public var line: Int?

        public init(name: String, value: Value, line: Int? = nil) {
            self.name = name
            self.value = value
            self.line = line
        }
    }

    /// The corral.toml text for `entries`, in the file's order.
    public static func toml(_ entries: [Entry], source: String, defaults: Configuration) -> String {
        var lines = [
            "# corral.toml converted by `corrald --from-gunicorn \(source)`.",
            "# The file was run as gunicorn runs it; values it computed are written as computed here.",
        ]
        var configuration = defaults
        for entry in entries {
            lines += convert(entry, &configuration)
        }
        if let note = ConfigurationLoader.threadsNote(configuration) {
            lines.append("# Note: \(note).")
        }
        if !entries.contains(where: { $0.name == "wsgi_app" }) {
            lines.append("# The app is not in the file (gunicorn takes it on its command line): add")
            lines.append("# wsgi_app = \"module:variable\", or pass it: corrald -c corral.toml module:variable")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func convert(_ entry: Entry, _ configuration: inout Configuration) -> [String] {
        let name = entry.name
        let written: String = switch entry.value {
        case .toml(let text): text
        case .none: "None"
        case .callable: "<a function>"
        case .object(let repr): repr
        }
        if let current = GunicornSettings.aliases[name] {
            return ["# \(current) = \(written)",
                    "#   ^ from `\(name)`, gunicorn's old name for \(current): gunicorn ignores it, so this stays a comment; uncomment to apply it"]
        }
        if let setting = Setting.named(name) {
            switch entry.value {
            case .none:
                return ["# \(name): None in the file, the default"]
            case .toml(let text):
                guard let value = settingValue(text) else { return ["# \(name) = \(text)  # not converted: not a value corral reads"] }
                do {
                    try setting.apply(&configuration, value, false)
                } catch {
                    return ["# \(name) = \(text)  # not applied: \(error.message)"]
                }
                // A nested table is written as the file wrote it, not as render's JSON text.
                if case .document = value { return ["\(name) = \(text)"] }
                let table = TOMLTable()
                table[name] = setting.render(configuration)
                var line = table.convert(to: .toml).trimmingNewlines
                if name == "workers", configuration.workers == Configuration.automaticWorkerCount {
                    line += "  # 2 × cores + 1 on this machine; workers = \"auto\" computes it on each host"
                }
                return [line]
            case .callable, .object:
                return ["# \(name) = \(written)  # not applied: corral takes a plain value here"]
            }
        }
        if let reason = GunicornSettings.reasonIgnored(name) {
            return ["# \(name) = \(written)  # not applied: \(reason)"]
        }
        if case .callable = entry.value { return [] }  // a helper function of the file's own
        let hint = ConfigurationLoader.nearest(to: name).map { "; did you mean \($0)?" } ?? ""
        return ["# \(name) = \(written)  # not a gunicorn setting: gunicorn ignores it too\(hint)"]
    }

    static func settingValue(_ text: String) -> SettingValue? {
        guard let table = try? TOMLTable(string: "value = \(text)"), let value = table["value"] else { return nil }
        return ConfigurationLoader.settingValue(value)
    }
}

private extension String {
    var trimmingNewlines: String {
        var text = self
        while text.last == "\n" { text.removeLast() }
        return text
    }
}

import CorralHTTP
import CorralHTTP2
import CorralWSGI
import Glibc
import TOMLKit

/// Builds the effective configuration from its layers, gunicorn's precedence: defaults < the TOML
/// file < CORRAL_CMD_ARGS < the command line. Loading again (SIGHUP) re-reads the file; the two
/// command lines stay as they were at start.
public struct ConfigurationLoader: Sendable {
    public var defaults: Configuration
    public var file: String?
    public var environmentArguments: [SettingAssignment]
    public var commandLine: [SettingAssignment]
    /// The venv's Python picks the corral-python that serves it (corrald's loader; corralctl
    /// starts no workers).
    public var choosesPythonWorker = false

    public struct Loaded: Sendable {
        public var configuration: Configuration
        /// Settings accepted but not applied (gunicorn settings that mean nothing here), old names.
        public var warnings: [ConfigurationIssue]
    }

    public init(defaults: Configuration, file: String?, environmentArguments: [SettingAssignment] = [],
                commandLine: [SettingAssignment] = []) {
        self.defaults = defaults
        self.file = file
        self.environmentArguments = environmentArguments
        self.commandLine = commandLine
    }

    public func load() throws(ConfigurationErrors) -> Loaded {
        var issues: [ConfigurationIssue] = []
        var warnings: [ConfigurationIssue] = []
        var assignments: [SettingAssignment] = []
        var pythonFile: String?
        if let file {
            do {
                let read = try readFile(file)
                assignments = read.assignments
                issues += read.issues
                warnings += read.warnings
                if read.isPython { pythonFile = file }
            } catch {
                issues.append(error)
            }
        }
        var configuration = defaults
        var origins: [String: SettingOrigin] = [:]
        for assignment in assignments + environmentArguments + commandLine {
            var name = assignment.name
            if let current = GunicornSettings.aliases[name] {
                warnings.append(ConfigurationIssue("\(name) is gunicorn's old name for \(current); applied as \(current)", at: assignment.origin))
                name = current
            }
            if let setting = Setting.named(name) {
                do {
                    try setting.apply(&configuration, assignment.value, assignment.convertsText)
                    origins[name] = assignment.origin
                } catch {
                    issues.append(ConfigurationIssue("\(name): \(error.message)", at: assignment.origin))
                }
            } else if let reason = GunicornSettings.reasonIgnored(name) {
                warnings.append(ConfigurationIssue("\(name) is ignored: \(reason)", at: assignment.origin))
            } else {
                let hint = Self.nearest(to: name).map { "; did you mean \($0)?" } ?? ""
                issues.append(ConfigurationIssue("unknown setting \"\(name)\"\(hint)", at: assignment.origin))
            }
        }
        if let file = pythonFile {
            configuration.gunicornConfigFile = file.hasPrefix("/") || file.hasPrefix("python:") ? file
                : (getcwd(nil, 0).map { directory in defer { free(directory) }; return String(cString: directory) + "/" + file } ?? file)
        }
        if choosesPythonWorker && configuration.wsgiApp != nil && origins["worker_cmd"] == nil {
            choosePythonWorker(&configuration, origin: origins["virtualenv"], issues: &issues)
        }
        // An app with no worker_cmd of its own is served by corral-python.
        if configuration.wsgiApp != nil && origins["worker_cmd"] == nil {
            configuration.workerCommand = configuration.wsgiWorkerCommand
        }
        if issues.isEmpty { applyPythonLogging(&configuration, origins: &origins, issues: &issues, warnings: &warnings) }
        // Checks of the final values (a value rejected above left the previous one in place).
        for setting in Setting.all {
            if let problem = setting.check(configuration) {
                let origin = origins[setting.name]
                issues.append(ConfigurationIssue("\(setting.name): \(problem)\(origin == nil ? " (the default)" : "")", at: origin))
            }
        }
        guard issues.isEmpty else { throw ConfigurationErrors(issues: issues.sorted { Self.lineNumber($0.origin) < Self.lineNumber($1.origin) }) }
        if configuration.preloadApp && (configuration.wsgiApp == nil || configuration.workerCommand != configuration.wsgiWorkerCommand) {
            warnings.append(ConfigurationIssue("preload_app applies to corral-python's workers (an app given, no worker_cmd of its own); these workers are started one by one as usual",
                                               at: origins["preload_app"]))
        }
        if let note = Self.threadsNote(configuration), let origin = origins["threads"] {
            warnings.append(ConfigurationIssue(note, at: origin))
        }
        if let note = Self.http2Note(configuration) {
            warnings.append(ConfigurationIssue(note, at: origins["http2_cleartext"] ?? origins["http_protocols"]))
        }
        for note in HTTPLimits.adjustments(requestLine: configuration.limitRequestLine, fieldCount: configuration.limitRequestFields) {
            warnings.append(ConfigurationIssue(note.message, at: origins[note.setting]))
        }
        return Loaded(configuration: configuration, warnings: warnings)
    }

    /// The corral-python for the venv's Python (PythonWorkerChoice), or an issue saying why there is
    /// none. Without a venv, the default worker serves with the Python it embeds.
    private func choosePythonWorker(_ configuration: inout Configuration, origin: SettingOrigin?, issues: inout [ConfigurationIssue]) {
        guard let venv = configuration.virtualenv ?? getenv("VIRTUAL_ENV").map({ String(cString: $0) }),
              let defaultWorker = configuration.wsgiWorkerCommand.first else { return }
        // A venv without a python3 (not made yet, when the config is only printed) is the
        // worker's to report when it starts.
        let python = venv + "/bin/python3"
        guard access(python, X_OK) == 0 else { return }
        let chosen = PythonWorkerChoice.Interpreter.describing(python).flatMap { interpreter in
            PythonWorkerChoice.choose(for: interpreter, venv: venv, defaultWorker: configuration.wsgiWorkerCommand,
                                      installed: PythonWorkerChoice.installed(besides: defaultWorker, wanting: interpreter.minor),
                                      inheritedLibraryPath: getenv("LD_LIBRARY_PATH").map { String(cString: $0) })
        }
        switch chosen {
        case .success(let choice):
            configuration.wsgiWorkerCommand = choice.command
            configuration.pythonWorkerEnvironment = choice.environment
        case .failure(let refusal):
            issues.append(ConfigurationIssue("virtualenv: \(refusal.message)", at: origin))
        }
    }

    /// logconfig_dict, logconfig_json or logconfig: checked as gunicorn would at start, and what
    /// it says about gunicorn's own loggers applied to corral's logs where no setting says otherwise.
    private func applyPythonLogging(_ configuration: inout Configuration, origins: inout [String: SettingOrigin],
                                    issues: inout [ConfigurationIssue], warnings: inout [ConfigurationIssue]) {
        guard let logging = configuration.pythonLogging else { return }
        let origin = origins[logging.setting]
        for ignored in ["logconfig_json", "logconfig"] where ignored != logging.setting && origins[ignored] != nil {
            warnings.append(ConfigurationIssue("\(ignored) is ignored: \(logging.setting) is set, and comes first (gunicorn's order: logconfig_dict, logconfig_json, logconfig)",
                                               at: origins[ignored]))
        }
        guard configuration.wsgiApp != nil && configuration.workerCommand == configuration.wsgiWorkerCommand else {
            warnings.append(ConfigurationIssue("\(logging.setting) configures the Python logging of corral-python's workers; these workers are not corral-python", at: origin))
            return
        }
        let check = GunicornConfigFile.checkLogging(configuration)
        if let failure = check.failure {
            issues.append(ConfigurationIssue(failure, at: origin))
            return
        }
        warnings += check.warnings.map { ConfigurationIssue($0, at: origin) }
        for (name, value) in check.mapped {
            guard let setting = Setting.named(name) else { continue }
            let logger = name == "accesslog" ? "gunicorn.access" : "gunicorn.error"
            if let set = origins[name] {
                var mapped = configuration
                try? setting.apply(&mapped, value, false)
                if "\(setting.render(mapped))" != "\(setting.render(configuration))" {
                    warnings.append(ConfigurationIssue("\(logging.setting): what it says for \(logger) is not applied as \(name): \(name) is set at \(set)", at: origin))
                }
                continue
            }
            do {
                let before = "\(setting.render(configuration))"
                try setting.apply(&configuration, value, false)
                origins[name] = origin
                if "\(setting.render(configuration))" != before {
                    let what = name == "loglevel" ? "gunicorn.error's level" : "\(logger)'s handler"
                    warnings.append(ConfigurationIssue("\(logging.setting): \(what) applies to corral's own log: \(name) = \(value.json)", at: origin))
                }
            } catch {
                warnings.append(ConfigurationIssue("\(logging.setting): \(logger) cannot be applied as \(name): \(error.message)", at: origin))
            }
        }
    }

    // MARK: The file

    /// The python3 that reads a gunicorn config file: the virtualenv's given on a command line
    /// (or in $VIRTUAL_ENV), since the file may import the app's packages.
    var interpreter: String {
        let virtualenv = (commandLine + environmentArguments).last { $0.name == "virtualenv" }.flatMap { assignment in
            if case .text(let path) = assignment.value { path } else { nil }
        } ?? getenv("VIRTUAL_ENV").map { String(cString: $0) }
        return GunicornConfigFile.interpreter(virtualenv: virtualenv)
    }

    /// What a config file says: its assignments, and what is wrong or worth a warning.
    struct FileSettings {
        var assignments: [SettingAssignment]
        var issues: [ConfigurationIssue] = []
        var warnings: [ConfigurationIssue] = []
        /// It was a gunicorn config file (Python).
        var isPython = false
    }

    /// The file's settings: TOML, or a gunicorn config file (Python), as its name says; a file
    /// named neither way that is not TOML is tried as Python before the TOML error is reported.
    func readFile(_ path: String) throws(ConfigurationIssue) -> FileSettings {
        func python() throws(GunicornConfigFile.Failure) -> FileSettings {
            let read = GunicornConfigFile.assignments(try GunicornConfigFile.read(path, python: interpreter), path: path)
            return FileSettings(assignments: read.assignments, issues: read.issues, warnings: read.warnings, isPython: true)
        }
        if GunicornConfigFile.isPython(path) {
            do { return try python() } catch { throw error.issue }
        }
        guard let text = FileText.read(path) else {
            throw ConfigurationIssue("cannot read the config file: \(String(cString: strerror(errno)))", at: .file(path: path, line: nil))
        }
        do {
            return FileSettings(assignments: try Self.assignments(fromTOML: text, path: path))
        } catch let tomlIssue {
            guard !path.hasSuffix(".toml") else { throw tomlIssue }
            do {
                return try python()
            } catch let failure where failure.notPython {
                var issue = tomlIssue
                issue.message += "; nor is it a gunicorn config file (name it .py to read it as one)"
                throw issue
            } catch {
                throw error.issue
            }
        }
    }

    /// The settings a TOML text assigns, each with its line in `path`.
    public static func assignments(fromTOML text: String, path: String) throws(ConfigurationIssue) -> [SettingAssignment] {
        if let line = TOMLGuard.lineToRefuse(in: text) {
            throw ConfigurationIssue("a date-time needs a time after its 'T' (1979-05-27T07:32:00), a table header a key ([name]); expected TOML such as `workers = 4`",
                                     at: .file(path: path, line: line))
        }
        if let signal = TOMLSandbox.crashSignal(parsing: text) {
            // A hang is not bisected: each step could take the whole deadline, with corrald's
            // loop waiting.
            let hang = signal == SIGALRM
            let what = hang ? "does not finish parsing this file (in \(TOMLSandbox.deadlineSeconds) s)"
                            : "crashes on this file (signal \(signal))"
            throw ConfigurationIssue("the TOML parser (toml++) \(what) instead of reporting what is wrong; check its syntax\(hang ? "" : " near this line"); expected TOML such as `workers = 4`",
                                     at: .file(path: path, line: hang ? nil : TOMLSandbox.firstCrashingLine(in: text)))
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigurationIssue("\(error.description) (column \(error.source.begin.column)); expected TOML such as `workers = 4`",
                                     at: .file(path: path, line: error.source.begin.line))
        } catch {
            throw ConfigurationIssue("\(error)", at: .file(path: path, line: nil))
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var assignments: [SettingAssignment] = []
        for (key, value) in table {
            let origin = SettingOrigin.file(path: path, line: line(of: key, in: lines))
            guard let settingValue = settingValue(value) else {
                let what = value.type == .table ? "a table; corral's settings are top-level keys" : "a \(value.type)"
                throw ConfigurationIssue("\(key): \(what) is not a setting value", at: origin)
            }
            assignments.append(SettingAssignment(name: key, value: settingValue, origin: origin))
        }
        return assignments.sorted { lineNumber($0.origin) < lineNumber($1.origin) }
    }

    static func settingValue(_ value: TOMLValueConvertible) -> SettingValue? {
        switch value.type {
        case .string: value.string.map(SettingValue.text)
        case .int: value.int.map(SettingValue.integer)
        case .double: value.double.map(SettingValue.number)
        case .bool: value.bool.map(SettingValue.boolean)
        case .array:
            value.array.flatMap { array in
                let items = array.map(settingValue)
                return items.contains { $0 == nil } ? nil : .list(items.compactMap { $0 })
            }
        case .table:
            value.table.map { table in
                var entries: [String: String] = [:]
                for (key, item) in table {
                    guard let text = item.string else { return .document(table.convert(to: .json)) }
                    entries[key] = text
                }
                return .table(entries)
            }
        default: nil
        }
    }

    /// The 1-based line where `key = …` is written (TOMLKit does not report keys' positions).
    private static func line(of key: String, in lines: [Substring]) -> Int? {
        for (index, line) in lines.enumerated() {
            var rest = line.drop { $0 == " " || $0 == "\t" }
            for spelling in [key, "\"\(key)\"", "'\(key)'"] where rest.hasPrefix(spelling) {
                rest = rest.dropFirst(spelling.count).drop { $0 == " " || $0 == "\t" }
                if rest.hasPrefix("=") { return index + 1 }
            }
        }
        return nil
    }

    private static func lineNumber(_ origin: SettingOrigin?) -> Int {
        if case .file(_, let line?) = origin { line } else { 0 }
    }

    /// HTTP/2 that can never be spoken (gunicorn warns of the first case too): h2 offered with no
    /// TLS and no h2c, or h2c asked for without h2 in http_protocols.
    static func http2Note(_ configuration: Configuration) -> String? {
        let speaksHTTP2 = (try? HTTP2Settings(protocols: configuration.httpProtocols))?.speaksHTTP2 ?? false
        let cleartext = configuration.http2Cleartext
        if speaksHTTP2 && configuration.certfile == nil && cleartext == .off {
            return "http_protocols offers h2, but there is no certfile and http2_cleartext is off: HTTP/2 will never be spoken"
        }
        if !speaksHTTP2 && cleartext != .off {
            return "http2_cleartext is \(cleartext.rawValue), but http_protocols (\(configuration.httpProtocols)) has no h2: h2c is not offered"
        }
        return nil
    }

    /// `threads` with a greenlet or asyncio worker class: gunicorn takes it silently and does
    /// nothing with it.
    static func threadsNote(_ configuration: Configuration) -> String? {
        guard configuration.threads > 1, let mode = WorkerClass(gunicornName: configuration.workerClass), mode != .threads else { return nil }
        let each = mode == .asgi ? "an asyncio task" : "a greenlet"
        return "threads = \(configuration.threads) does nothing with worker_class = \"\(configuration.workerClass)\": each request is \(each), as many at once as worker_connections (\(configuration.workerConnections)) allows"
    }

    // MARK: Suggestions

    /// The known setting closest to a misspelt one, if it is close enough to be a typo.
    static func nearest(to name: String) -> String? {
        let candidates = GunicornSettings.allNames.map { ($0, editDistance(name, $0)) }
        guard let best = candidates.min(by: { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }) else { return nil }
        return best.1 <= max(2, name.count / 3) ? best.0 : nil
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}

import CorralGunicornPython
import Glibc

/// A gunicorn config file (Python), read the way gunicorn reads it: executed as a module by a
/// python3 child (corral_gunicorn.py's `read`; corrald links no libpython), its public globals
/// reported back with the line each is assigned on.
public enum GunicornConfigFile {
    /// Why a file could not be read: it is not Python at all, or running it failed.
    public struct Failure: Error, Sendable {
        public var issue: ConfigurationIssue
        /// The file does not compile as Python (so a file of unknown kind is not a gunicorn config).
        public var notPython: Bool
    }

    /// `-c` names a gunicorn config file: a .py file, or gunicorn's `python:module.name`.
    public static func isPython(_ target: String) -> Bool {
        target.hasSuffix(".py") || target.hasPrefix("python:")
    }

    /// The python3 that reads the file: the app's virtualenv's when one is given (as gunicorn is
    /// run from it), else the first on PATH, else Debian's.
    public static func interpreter(virtualenv: String?) -> String {
        if let virtualenv, access("\(virtualenv)/bin/python3", X_OK) == 0 { return "\(virtualenv)/bin/python3" }
        for directory in (getenv("PATH").map { String(cString: $0) } ?? "").split(separator: ":") {
            let candidate = "\(directory)/python3"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return "/usr/bin/python3"
    }

    /// The file's public globals, in its order. The file's own output and a traceback it raises
    /// go to stderr.
    public static func read(_ target: String, python: String) throws(Failure) -> [GunicornConversion.Entry] {
        let origin = SettingOrigin.file(path: target, line: nil)
        if !target.hasPrefix("python:") && access(target, R_OK) != 0 {
            throw Failure(issue: ConfigurationIssue("cannot read the config file: \(String(cString: strerror(errno)))", at: origin),
                          notPython: false)
        }
        let finished: ChildProcess.Finished
        do {
            finished = try ChildProcess.run([python, "-c", String(cString: corral_gunicorn_source()), "read", target])
        } catch {
            throw Failure(issue: ConfigurationIssue("cannot run \(python) to read this gunicorn config file: \(error)", at: origin),
                          notPython: false)
        }
        var entries: [GunicornConversion.Entry] = []
        for line in finished.output.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(unescape)
            if fields.count == 5, fields[0] == "setting" {
                entries.append(GunicornConversion.Entry(name: fields[1], value: value(kind: fields[2], payload: fields[4]),
                                                        line: Int(fields[3]).flatMap { $0 > 0 ? $0 : nil }))
            } else if fields.count == 4, fields[0] == "error" {
                let line = Int(fields[2]).flatMap { $0 > 0 ? $0 : nil }
                let notPython = fields[1] == "syntax"
                let message = notPython ? "not valid Python: \(fields[3])"
                    : "\(fields[3]) (raised while running it with \(python) as gunicorn would; the traceback is above)"
                throw Failure(issue: ConfigurationIssue(message, at: .file(path: target, line: line)), notPython: notPython)
            }
        }
        guard finished.status.shellCode == 0 else {
            throw Failure(issue: ConfigurationIssue("\(python) reading this gunicorn config file \(finished.status.description)", at: origin),
                          notPython: false)
        }
        return entries
    }

    /// The settings the file's globals assign, for the configuration loader, and what it should
    /// hear about the rest. As gunicorn does, names that are no setting (the file's own helpers)
    /// are passed over, but one that looks like a misspelt setting is warned about.
    static func assignments(_ entries: [GunicornConversion.Entry], path: String)
        -> (assignments: [SettingAssignment], issues: [ConfigurationIssue], warnings: [ConfigurationIssue]) {
        var assignments: [SettingAssignment] = []
        var issues: [ConfigurationIssue] = []
        var warnings: [ConfigurationIssue] = []
        for entry in entries {
            let origin = SettingOrigin.file(path: path, line: entry.line)
            let known = Setting.named(entry.name) != nil || GunicornSettings.aliases[entry.name] != nil
                || GunicornSettings.reasonIgnored(entry.name) != nil
            guard known else {
                if case .callable = entry.value { continue }
                if let nearest = ConfigurationLoader.nearest(to: entry.name) {
                    warnings.append(ConfigurationIssue("\(entry.name) is not a setting, so gunicorn ignores it and so does corral; did you mean \(nearest)?", at: origin))
                }
                continue
            }
            if let current = GunicornSettings.aliases[entry.name] {
                warnings.append(ConfigurationIssue("\(entry.name) is gunicorn's old name for \(current), which gunicorn ignores in a config file, so corral does too; write \(current) to apply it", at: origin))
                continue
            }
            switch entry.value {
            case .none:
                continue  // gunicorn's None: the default
            case .toml(let text):
                guard let value = GunicornConversion.settingValue(text) else {
                    issues.append(ConfigurationIssue("\(entry.name): \(text) is not a value corral reads", at: origin))
                    continue
                }
                // gunicorn converts strings to the setting's type ("30" for timeout), as corral
                // does for command-line text.
                assignments.append(SettingAssignment(name: entry.name, value: value, origin: origin, convertsText: true))
            case .callable where GunicornSettings.hooks.contains(entry.name) && entry.name != "ssl_context":
                continue  // a server hook: the workers and corrald's hooks process run it
            case .callable, .object:
                guard Setting.named(entry.name) != nil else {
                    warnings.append(ConfigurationIssue("\(entry.name) is ignored: \(GunicornSettings.reasonIgnored(entry.name) ?? "")", at: origin))
                    continue
                }
                let written = if case .object(let repr) = entry.value { repr } else { "a function" }
                issues.append(ConfigurationIssue("\(entry.name): \(written) is not a value corral reads; write a string, number, boolean, list or dict", at: origin))
            }
        }
        return (assignments, issues, warnings)
    }

    /// What checking a Python logging configuration found: corral settings for gunicorn's loggers
    /// (gunicorn.error's level and destination, gunicorn.access's), what cannot be mapped, or why
    /// the configuration does not apply (naming the setting).
    public struct LoggingCheck: Sendable {
        public var mapped: [(name: String, value: SettingValue)] = []
        public var warnings: [String] = []
        public var failure: String?
    }

    /// Applies `configuration`'s logconfig in a python3 child, as gunicorn's arbiter does before
    /// it forks (with the app's directory and path, so its handler classes import), and maps what
    /// it says about gunicorn's own loggers.
    public static func checkLogging(_ configuration: Configuration) -> LoggingCheck {
        guard let logging = configuration.pythonLogging else { return LoggingCheck() }
        let python = interpreter(virtualenv: configuration.virtualenv)
        var check = LoggingCheck()
        let finished: ChildProcess.Finished
        do {
            finished = try ChildProcess.run([python, "-c", String(cString: corral_gunicorn_source()), "logconfig", logging.setting,
                                             logging.value, configuration.chdir ?? ""] + configuration.pythonpath)
        } catch {
            check.failure = "\(logging.setting): cannot run \(python) to check it: \(error)"
            return check
        }
        for line in finished.output.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(unescape)
            switch fields.first {
            case "setting" where fields.count == 5:
                if let value = GunicornConversion.settingValue(fields[4]) { check.mapped.append((fields[1], value)) }
            case "warning" where fields.count == 2: check.warnings.append(fields[1])
            case "error" where fields.count == 4: check.failure = fields[3]
            default: break
            }
        }
        if check.failure == nil && finished.status.shellCode != 0 {
            check.failure = "\(logging.setting): \(python) checking it \(finished.status.description)"
        }
        return check
    }

    private static func value(kind: String, payload: String) -> GunicornConversion.Entry.Value {
        switch kind {
        case "none": .none
        case "callable": .callable
        case "toml": .toml(payload)
        default: .object(payload)
        }
    }

    static func unescape(_ text: Substring) -> String {
        var result = ""
        var escaped = false
        for character in text {
            if escaped {
                result.append(character == "n" ? "\n" : character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                result.append(character)
            }
        }
        return result
    }
}

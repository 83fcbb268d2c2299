import CorralSupervisor
import Glibc

/// Runs a gunicorn config file with python3 the way gunicorn loads it (a module named
/// `__config__` executed from its path) and reads back its module globals. The file's own
/// output goes to stderr, as does a traceback when it raises; then the read fails.
enum GunicornConfigReader {
    struct Failed: Error, CustomStringConvertible {
        let description: String
    }

    /// The Python half: one line per global, `name TAB kind TAB payload` (kinds: toml, none,
    /// callable, object); strings in the payload are TOML basic strings.
    private static let script = #"""
        import importlib.machinery, importlib.util, inspect, json, math, os, sys, types
        path = sys.argv[1]
        out = os.fdopen(os.dup(1), "w")
        os.dup2(2, 1)  # what the config file prints goes to stderr, not into the conversion

        def toml(value):
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, int):
                return str(value)
            if isinstance(value, float):
                return repr(value) if math.isfinite(value) else None
            if isinstance(value, str):
                return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
            if isinstance(value, (list, tuple)):
                items = [toml(item) for item in value]
                return None if None in items else "[" + ", ".join(items) + "]"
            if isinstance(value, dict):
                pairs = []
                for key, item in value.items():
                    text = toml(item) if isinstance(key, str) else None
                    if text is None:
                        return None
                    pairs.append(toml(key) + " = " + text)
                return "{ " + ", ".join(pairs) + " }"
            return None

        loader = importlib.machinery.SourceFileLoader("__config__", path)
        spec = importlib.util.spec_from_file_location("__config__", path, loader=loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules["__config__"] = module
        loader.exec_module(module)
        for name, value in vars(module).items():
            if name.startswith("_") or isinstance(value, types.ModuleType):
                continue
            if value is None:
                kind, payload = "none", ""
            elif callable(value):
                kind, payload = "callable", ""
            else:
                payload = toml(value)
                kind = "toml"
                if payload is None:
                    kind, payload = "object", repr(value)
            out.write(name + "\t" + kind + "\t" + payload.replace("\\", "\\\\").replace("\n", "\\n") + "\n")
        out.flush()
        """#

    /// python3 from PATH (the user's, perhaps a virtualenv's, as gunicorn would run), else Debian's.
    static var python: String {
        for directory in (getenv("PATH").map { String(cString: $0) } ?? "").split(separator: ":") {
            let candidate = "\(directory)/python3"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return "/usr/bin/python3"
    }

    static func read(_ path: String) throws(Failed) -> [GunicornConversion.Entry] {
        guard access(path, R_OK) == 0 else {
            throw Failed(description: "\(path): cannot read the gunicorn config file: \(String(cString: strerror(errno)))")
        }
        let python = Self.python
        let finished: ChildProcess.Finished
        do {
            finished = try ChildProcess.run([python, "-c", script, path])
        } catch {
            throw Failed(description: "\(error)")
        }
        guard finished.status.shellCode == 0 else {
            throw Failed(description: "\(path): running it with \(python) failed (the traceback is above); gunicorn would not start with it either")
        }
        return finished.output.split(separator: "\n").compactMap(entry)
    }

    private static func entry(_ line: Substring) -> GunicornConversion.Entry? {
        let parts = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        let payload = unescape(parts[2])
        let value: GunicornConversion.Entry.Value = switch parts[1] {
        case "none": .none
        case "callable": .callable
        case "toml": .toml(payload)
        default: .object(payload)
        }
        return GunicornConversion.Entry(name: String(parts[0]), value: value)
    }

    private static func unescape(_ text: Substring) -> String {
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

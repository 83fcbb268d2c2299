import CorralGunicornPython
import CorralWSGI
import Glibc

/// The corral-python build that serves a virtualenv, and how: the one built for the venv's Python
/// (corral-python3.X beside the default worker, from `make python-worker` or the corral-python3.X
/// package; else the default when it embeds that X.Y), run on the venv's own interpreter's
/// libpython, not merely the same X.Y from elsewhere: a pyenv 3.11.7 venv runs on pyenv's
/// libpython3.11, whichever 3.11 the worker was built against, since CPython keeps its ABI within
/// an X.Y. corrald asks the venv's python3 what it is (corral_gunicorn.py's `interpreter`).
public struct PythonWorkerChoice: Equatable, Sendable {
    /// The worker's command line.
    public var command: [String]
    /// For the worker: LD_LIBRARY_PATH led by the interpreter's LIBDIR (which the worker takes out
    /// of its environment again, so the app does not inherit it), and the sys.version the worker's
    /// libpython must report.
    public var environment: [String: String]

    /// What the venv's python3 says of itself.
    public struct Interpreter: Equatable, Sendable {
        /// sys.version: also what Py_GetVersion() says in the libpython that ran it.
        public var version: String
        /// "3.12".
        public var minor: String
        public var shared: Bool
        public var freeThreaded: Bool
        public var libdir: String
        public var soname: String
        /// The base interpreter (the one `make python-worker PYTHON=` wants).
        public var executable: String

        /// `interpreter` record: the fields tab-separated, newlines escaped as \n.
        public init?(record: String) {
            let fields = record.split(separator: "\t", omittingEmptySubsequences: false).map(GunicornConfigFile.unescape)
            guard fields.count == 8, fields[0] == "interpreter" else { return nil }
            version = fields[1]
            minor = fields[2]
            shared = fields[3] == "1"
            freeThreaded = fields[4] == "1"
            libdir = fields[5]
            soname = fields[6]
            executable = fields[7]
        }

        /// The X.Y.Z at the start of the version.
        public var release: String { String(version.prefix { $0 != " " }) }

        /// Asks `python` (a venv's bin/python3).
        public static func describing(_ python: String) -> Result<Interpreter, PythonWorkerRefusal> {
            let finished: ChildProcess.Finished
            do {
                finished = try ChildProcess.run([python, "-c", String(cString: corral_gunicorn_source()), "interpreter"])
            } catch {
                return .failure(PythonWorkerRefusal("cannot run \(python) to learn its Python: \(error)"))
            }
            guard finished.status.shellCode == 0,
                  let line = finished.output.split(separator: "\n").first, let interpreter = Interpreter(record: String(line)) else {
                return .failure(PythonWorkerRefusal("\(python) did not say which Python it is (exit status \(finished.status.shellCode)); is it a CPython 3.10 or later?"))
            }
            return .success(interpreter)
        }
    }

    /// A worker that could serve Python `minor`, as installed.
    public struct Installed: Equatable, Sendable {
        public var path: String
        public var minor: String
    }

    /// The worker for `interpreter` (the venv at `venv`'s): `defaultWorker` followed by the X.Y when
    /// that is among `installed`, else the default one when it embeds that X.Y.
    public static func choose(for interpreter: Interpreter, venv: String, defaultWorker: [String], installed: [Installed],
                              inheritedLibraryPath: String?) -> Result<PythonWorkerChoice, PythonWorkerRefusal> {
        let made = "the virtualenv \(venv) was made with \(interpreter.executable) (Python \(interpreter.release))"
        if interpreter.freeThreaded {
            return .failure(PythonWorkerRefusal("""
                \(made), a free-threaded build: corral-python's bridge relies on the GIL (ARCHITECTURE.md, "Free-threaded Python"); \
                make the venv with the same version's default build
                """))
        }
        if !interpreter.shared || access(interpreter.libdir + "/" + interpreter.soname, R_OK) != 0 {
            return .failure(PythonWorkerRefusal("""
                \(made), which has no shared libpython (built without --enable-shared), and corral-python embeds one: \
                rebuild that Python with it (pyenv: PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install \(interpreter.release)) \
                and make the venv again, or make it with a Python that has one (Debian's, uv's)
                """))
        }
        guard let worker = installed.first(where: { $0.minor == interpreter.minor }) else {
            let listed = installed.isEmpty ? "none" : installed.map { "\($0.path) (Python \($0.minor))" }.joined(separator: ", ")
            return .failure(PythonWorkerRefusal("""
                \(made), and no corral-python for Python \(interpreter.minor) is installed (installed: \(listed)). \
                Build it: make python-worker PYTHON=\(interpreter.executable) CONFIG=release (in corral's source tree; \
                it makes corral-python\(interpreter.minor)), or install the corral-python\(interpreter.minor) package where \
                the Debian release has that Python; or make the venv with the Python of a worker that is installed
                """))
        }
        let libraryPath = [interpreter.libdir] + (inheritedLibraryPath.map { [$0] } ?? []).filter { !$0.isEmpty }
        return .success(PythonWorkerChoice(command: [worker.path] + defaultWorker.dropFirst(), environment: [
            "LD_LIBRARY_PATH": libraryPath.joined(separator: ":"),
            EmbeddedPython.libraryDirectoryVariable: interpreter.libdir,
            EmbeddedPython.versionVariable: interpreter.version,
        ]))
    }

    /// The workers beside `defaultWorker` (its path followed by an X.Y), and the default itself,
    /// asked which X.Y it embeds (`--embedded-python`) when none beside it is named `minor`.
    public static func installed(besides defaultWorker: String, wanting minor: String) -> [Installed] {
        let parent = defaultWorker.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let directory = defaultWorker.contains("/") ? (parent.isEmpty ? "/" : parent) : "."
        let prefix = String(defaultWorker.split(separator: "/").last ?? "")
        var workers: [Installed] = []
        if let listing = opendir(directory) {
            defer { closedir(listing) }
            while let entry = readdir(listing) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                guard name.hasPrefix(prefix + "3."), case let suffix = name.dropFirst(prefix.count),
                      suffix.split(separator: ".").count == 2, suffix.split(separator: ".").allSatisfy({ Int($0) != nil }),
                      access(directory + "/" + name, X_OK) == 0 else { continue }
                workers.append(Installed(path: directory + "/" + name, minor: String(suffix)))
            }
        }
        workers.sort { $0.path < $1.path }
        if !workers.contains(where: { $0.minor == minor }),
           let finished = try? ChildProcess.run([defaultWorker, "--embedded-python"]), finished.status.shellCode == 0 {
            let embedded = VirtualenvConfig.minor(of: finished.output.prefix { $0 != "\n" })
            if !embedded.isEmpty { workers.append(Installed(path: defaultWorker, minor: embedded)) }
        }
        return workers
    }
}

/// Why no corral-python can serve the venv, with what to do.
public struct PythonWorkerRefusal: Error, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

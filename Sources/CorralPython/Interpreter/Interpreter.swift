import CPython
import CorralWSGI
import CorralPythonRuntime
import Glibc

/// A Python error: its traceback as Python prints it.
public struct PythonError: Error, CustomStringConvertible {
    public let description: String

    /// The pending Python exception, formatted with its traceback (and cleared).
    static func fetch() -> PythonError {
        guard PyErr_Occurred() != nil else { return PythonError(description: "unknown Python error") }
        var type: PyRef?, value: PyRef?, traceback: PyRef?
        PyErr_Fetch(&type, &value, &traceback)
        PyErr_NormalizeException(&type, &value, &traceback)
        defer { corral_py_xdecref(type); corral_py_xdecref(value); corral_py_xdecref(traceback) }
        if let module = PyImport_ImportModule("traceback"),
           let format = PyObject_GetAttrString(module, "format_exception") {
            defer { corral_py_decref(format); corral_py_decref(module) }
            let arguments = PyTuple_New(3)!
            for (index, part) in [type, value, traceback].enumerated() {
                let object = part ?? corral_py_none()
                if part != nil { corral_py_incref(object) }
                PyTuple_SetItem(arguments, index, object)
            }
            defer { corral_py_decref(arguments) }
            if let lines = PyObject_CallObject(format, arguments) {
                defer { corral_py_decref(lines) }
                let text = (0..<PyList_Size(lines)).compactMap { CorralModule.string(PyList_GetItem(lines, $0)) }.joined()
                return PythonError(description: String(text.dropLast(text.hasSuffix("\n") ? 1 : 0)))
            }
        }
        PyErr_Clear()
        return PythonError(description: value.flatMap { CorralModule.string(PyObject_Str($0)) } ?? "Python error")
    }
}

/// The worker's one interpreter (greenlet and so gevent need the main interpreter). Started on
/// the main thread, which then lets go of the GIL for good: the loop never takes it.
public enum Interpreter {
    nonisolated(unsafe) private static var mainThread: UnsafeMutablePointer<PyThreadState>?

    /// Takes out of LD_LIBRARY_PATH the directory corrald put first for this worker to load the
    /// venv's libpython (done by then), so that the app and its children inherit what corrald was given.
    public static func forgetLibraryDirectory() {
        guard let directory = getenv(EmbeddedPython.libraryDirectoryVariable).map({ String(cString: $0) }) else { return }
        unsetenv(EmbeddedPython.libraryDirectoryVariable)
        guard let path = getenv("LD_LIBRARY_PATH").map({ String(cString: $0) }) else { return }
        var entries = path.split(separator: ":", omittingEmptySubsequences: false)
        if entries.first.map(String.init) == directory { entries.removeFirst() }
        if entries.isEmpty { unsetenv("LD_LIBRARY_PATH") } else { setenv("LD_LIBRARY_PATH", entries.joined(separator: ":"), 1) }
    }

    /// Starts Python; `virtualenv` (a directory with bin/python and pyvenv.cfg) sets sys.prefix
    /// so that the app's packages come from it.
    public static func start(virtualenv: String?) throws(PythonError) {
        let executable = virtualenv.map { ($0.hasSuffix("/") ? String($0.dropLast()) : $0) + "/bin/python3" }
        if let executable, access(executable, X_OK) != 0 {
            throw PythonError(description: "virtualenv: \(executable) is not an executable python")
        }
        if let virtualenv, let problem = mismatch(of: virtualenv) { throw PythonError(description: problem) }
        unsetenv(EmbeddedPython.versionVariable)
        if let reason = corral_py_initialize(executable) {
            throw PythonError(description: "Python failed to start: \(String(cString: reason))")
        }
        try CorralModule.install()
    }

    /// The Python this worker embeds, as `sys.version` says it: "3.11.2 (main, …) [GCC 12.2.0]".
    public static var embeddedVersion: String { String(cString: Py_GetVersion()) }

    /// Why `virtualenv` was made by another interpreter than the embedded one, or nil: corrald
    /// says which (the venv's python3's sys.version, whose libpython it put on LD_LIBRARY_PATH);
    /// without corrald, the venv's pyvenv.cfg says.
    private static func mismatch(of virtualenv: String) -> String? {
        if let expected = getenv(EmbeddedPython.versionVariable).map({ String(cString: $0) }) {
            guard expected != embeddedVersion else { return nil }
            return """
                the virtualenv \(virtualenv)'s python3 is Python \(expected.replacing("\n", with: " ")), but the libpython this worker \
                loaded is Python \(embeddedVersion.replacing("\n", with: " ")): its libpython was not found where that \
                interpreter says it is (sysconfig's LIBDIR), or was changed since corrald read the configuration; reload corrald
                """
        }
        guard let file = fopen(virtualenv + "/pyvenv.cfg", "r") else { return nil }  // not a venv: a plain prefix
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while case let count = fread(&chunk, 1, chunk.count, file), count > 0 { bytes += chunk[..<count] }
        let config = VirtualenvConfig(parsing: String(decoding: bytes, as: UTF8.self))
        let embedded = String(embeddedVersion.prefix { $0 != " " })
        let minor = VirtualenvConfig.minor(of: embedded)
        let recreate = access("/usr/bin/python\(minor)", X_OK) == 0 ? "/usr/bin/python\(minor)" : "python\(minor)"
        return config.mismatch(embedded: embedded, venv: virtualenv, recreate: recreate)
    }

    /// Runs corral_runtime.py (built in) as module `corral_runtime` and returns the module.
    static func loadRuntime() throws(PythonError) -> PyRef {
        try loadModule("corral_runtime", source: corral_runtime_source(), file: "corral_runtime.py")
    }

    /// Runs built-in source as module `name` (in sys.modules, so Python code imports it).
    @discardableResult
    static func loadModule(_ name: String, source: UnsafePointer<CChar>, file: String) throws(PythonError) -> PyRef {
        guard let code = Py_CompileString(source, file, Py_file_input),
              let module = PyImport_ExecCodeModule(name, code) else { throw PythonError.fetch() }
        corral_py_decref(code)
        return module
    }

    /// Calls `module.name(*arguments)`, taking over the references in `arguments`; the result is
    /// a new reference.
    static func invoke(_ module: PyRef, _ name: String, _ arguments: [PyRef]) throws(PythonError) -> PyRef {
        guard let function = PyObject_GetAttrString(module, name) else { throw PythonError.fetch() }
        defer { corral_py_decref(function) }
        let tuple = PyTuple_New(arguments.count)!
        for (index, argument) in arguments.enumerated() { PyTuple_SetItem(tuple, index, argument) }
        defer { corral_py_decref(tuple) }
        guard let result = PyObject_CallObject(function, tuple) else { throw PythonError.fetch() }
        return result
    }

    /// `invoke`, its result dropped.
    static func call(_ module: PyRef, _ name: String, _ arguments: [PyRef]) throws(PythonError) {
        corral_py_decref(try invoke(module, name, arguments))
    }

    /// The str items of a list, taking over the reference to it.
    static func strings(_ list: PyRef) -> [String] {
        defer { corral_py_decref(list) }
        guard corral_py_is_list(list) != 0 else { return [] }
        return (0..<PyList_Size(list)).compactMap { CorralModule.string(PyList_GetItem(list, $0)) }
    }

    static func string(_ text: String) -> PyRef { PyUnicode_FromString(text) }
    static func integer(_ value: Int) -> PyRef { PyLong_FromLong(value) }
    static func list(_ items: [String]) -> PyRef {
        let list = PyList_New(0)!
        for item in items {
            let object = string(item)
            PyList_Append(list, object)
            corral_py_decref(object)
        }
        return list
    }

    /// The main thread lets go of the GIL; the application's threads take it from here.
    public static func releaseMainThread() {
        mainThread = PyEval_SaveThread()
    }

    /// Takes the GIL back on the main thread and runs the app's exit handlers when every thread
    /// of the runtime has finished; otherwise (one is stuck in the app) leaves Python as it is.
    public static func finish(threadsDone: Bool) {
        guard threadsDone, let mainThread else { return }
        PyEval_RestoreThread(mainThread)
        runExitHandlers()
    }

    /// The app's atexit handlers and a flush of its stdout and stderr, but not Py_FinalizeEx,
    /// which would wait for every non-daemon thread the app started: the worker must exit even
    /// when one of those never ends.
    static func runExitHandlers() {
        _ = PyRun_SimpleStringFlags("""
            import atexit, sys
            atexit._run_exitfuncs()
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    pass
            """, nil)
    }
}

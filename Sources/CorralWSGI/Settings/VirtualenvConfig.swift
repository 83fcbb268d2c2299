import CorralHTTP

/// A virtualenv's pyvenv.cfg: which interpreter made it. corral-python embeds one libpython, and a
/// venv made by another interpreter runs its packages on that one's standard library (a pyenv
/// 3.11.7 venv on Debian's 3.11.2 fails on `undefined symbol: _PyModule_Add`; a 3.12 venv's
/// site-packages are not even on the path), so such a venv is refused with a way out.
public struct VirtualenvConfig: Equatable, Sendable {
    /// `version` (venv) or `version_info` (virtualenv): "3.11.7".
    public var version: String?
    /// The interpreter that made it: `executable`, else `home` (its bin directory).
    public var madeBy: String?

    public init(version: String?, madeBy: String?) {
        self.version = version
        self.madeBy = madeBy
    }

    /// Reads pyvenv.cfg's `key = value` lines.
    public init(parsing text: String) {
        var values: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingWhitespace.lowercased()
            values[key] = line[line.index(after: equals)...].trimmingWhitespace
        }
        // virtualenv writes version_info = 3.11.7.final.0; keep major.minor.micro.
        version = (values["version"] ?? values["version_info"]).map { $0.split(separator: ".").prefix(3).joined(separator: ".") }
        madeBy = values["executable"] ?? values["home"].map { "\($0)/python3" }
    }

    /// "3.12" for "3.12.1" (or "3.12.1 (main, …)"): the X.Y a corral-python build is for.
    public static func minor(of version: some StringProtocol) -> String {
        version.prefix { $0 != " " }.split(separator: ".").prefix(2).joined(separator: ".")
    }

    /// Why this venv cannot serve with the embedded Python (`embedded`: "3.11.2", from
    /// Py_GetVersion), or nil when it can. `recreate` is the embedded interpreter's executable.
    public func mismatch(embedded: String, venv: String, recreate: String) -> String? {
        guard let version, version != embedded else { return nil }
        let minor = Self.minor(of: version)
        return """
            the virtualenv \(venv) was made by \(madeBy ?? "another interpreter") (Python \(version), says its pyvenv.cfg), \
            but corral-python embeds Python \(embedded): the venv's packages would run on another interpreter's standard library. \
            Recreate it with the Python corral-python embeds: \(recreate) -m venv --clear \(venv), then install the app's packages again; \
            or build corral-python for the venv's interpreter and serve the venv with it: \
            make python-worker PYTHON=\(madeBy ?? "/path/to/python\(minor)") (in corral's source tree; it makes corral-python\(minor))
            """
    }
}

/// What corrald tells corral-python of the venv's interpreter (PythonWorkerChoice): the worker may
/// embed another build's libpython of the same X.Y, loaded through LD_LIBRARY_PATH.
public enum EmbeddedPython {
    /// The directory corrald put first in LD_LIBRARY_PATH: the worker takes it out again, so the
    /// app's environment is what corrald was given.
    public static let libraryDirectoryVariable = "CORRAL_PYTHON_LIBDIR"
    /// The venv's interpreter's sys.version: the embedded libpython must say the same.
    public static let versionVariable = "CORRAL_PYTHON_VERSION"
}

/// The settings that shape a request's environ beyond what the engine knows: gunicorn's
/// `root_path`. (The scheme comes from the engine's `forwarded_allow_ips` and
/// `secure_scheme_headers`, as `Request.isSecure`.)
public struct WSGISettings: Sendable {
    /// SCRIPT_NAME: where the application is mounted ("" at the root, else "/app" without a
    /// trailing slash).
    public var scriptName: String

    public init(scriptName: String = "") throws(WSGISettingError) {
        var name = scriptName
        while name.hasSuffix("/") { name.removeLast() }
        guard name.isEmpty || name.hasPrefix("/") else {
            throw WSGISettingError("root_path must start with \"/\", got \"\(scriptName)\"")
        }
        self.scriptName = name
    }
}

public struct WSGISettingError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The settings that shape a request's environ: gunicorn's `root_path`, `forwarded_allow_ips`
/// and `secure_scheme_headers`, with gunicorn's defaults.
public struct WSGISettings: Sendable {
    /// SCRIPT_NAME: where the application is mounted ("" at the root, else "/app" without a
    /// trailing slash).
    public var scriptName: String
    public var forwardedAllowIPs: ForwardedAllowList
    /// Header (lowercase) and value that mean the client spoke https to the proxy.
    public var secureSchemeHeaders: [(name: [UInt8], value: [UInt8])]

    public static let defaultSecureSchemeHeaders = "X-FORWARDED-PROTOCOL=ssl,X-FORWARDED-PROTO=https,X-FORWARDED-SSL=on"

    public init(scriptName: String = "", forwardedAllowIPs: ForwardedAllowList = ForwardedAllowList("127.0.0.1,::1"),
                secureSchemeHeaders: String = Self.defaultSecureSchemeHeaders) throws(WSGISettingError) {
        var name = scriptName
        while name.hasSuffix("/") { name.removeLast() }
        guard name.isEmpty || name.hasPrefix("/") else {
            throw WSGISettingError("root_path must start with \"/\", got \"\(scriptName)\"")
        }
        self.scriptName = name
        self.forwardedAllowIPs = forwardedAllowIPs
        self.secureSchemeHeaders = try Self.headerTable(secureSchemeHeaders).sorted { $0.key < $1.key }
            .map { (Array($0.key.lowercased().utf8), Array($0.value.utf8)) }
    }

    /// `HEADER=value,…` (the command-line and CORRAL_SECURE_SCHEME_HEADERS form) as a table.
    public static func headerTable(_ text: String) throws(WSGISettingError) -> [String: String] {
        var table: [String: String] = [:]
        for entry in text.split(separator: ",") where !entry.allSatisfy({ $0 == " " }) {
            let parts = entry.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].trimmingSpaces.isEmpty else {
                throw WSGISettingError("secure_scheme_headers entries are HEADER=value, got \"\(entry)\"")
            }
            table[String(parts[0].trimmingSpaces)] = String(parts[1].trimmingSpaces)
        }
        return table
    }

    /// The table back in that form, sorted.
    public static func headerText(_ table: [String: String]) -> String {
        table.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }
}

public struct WSGISettingError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// gunicorn's `forwarded_allow_ips`: the peers whose proxy headers are believed. A list of
/// addresses, or `*` for every peer. (gunicorn 22+ also takes networks; corral matches addresses.)
public struct ForwardedAllowList: Sendable, Equatable {
    public let allowsAll: Bool
    private let addresses: [[UInt8]]

    public init(_ text: String) {
        let entries = text.split(separator: ",").map { String($0.trimmingSpaces) }.filter { !$0.isEmpty }
        allowsAll = entries.contains("*")
        addresses = entries.map { Array($0.utf8) }
    }

    /// Whether the peer `address` (as the engine formats it; empty for a unix socket, which is
    /// trusted as gunicorn trusts it) is allowed.
    public func allows(_ address: UnsafeRawBufferPointer) -> Bool {
        if allowsAll || address.isEmpty { return true }
        return addresses.contains { $0.elementsEqual(address) }
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return text
    }
}

/// gunicorn's `forwarded_allow_ips` and `secure_scheme_headers`: a request is https when a peer in
/// the allow list sent one of the headers with its value (`X-Forwarded-Proto: https` from the
/// balancer that terminated TLS). Anyone else's headers are ignored.
public struct ForwardedScheme: Sendable {
    public var allowList: AddressAllowList
    /// Header names lowercased, with the value that means https.
    public var secureHeaders: [(name: [UInt8], value: [UInt8])]

    public static let defaultAllowList = "127.0.0.1,::1"
    public static let defaultSecureSchemeHeaders = "X-FORWARDED-PROTOCOL=ssl,X-FORWARDED-PROTO=https,X-FORWARDED-SSL=on"

    public init(forwardedAllowIPs: String = Self.defaultAllowList,
                secureSchemeHeaders: String = Self.defaultSecureSchemeHeaders) throws(ProxySettingError) {
        allowList = try AddressAllowList(forwardedAllowIPs)
        secureHeaders = try Self.headerTable(secureSchemeHeaders).sorted { $0.key < $1.key }
            .map { (Array($0.key.lowercased().utf8), Array($0.value.utf8)) }
    }

    /// Whether the request in `buffer` is https by its proxy headers. `peerTrusted`: the socket's
    /// peer is in `allowList` (the machine that connected, not a PROXY-protocol client address);
    /// the engine decides it once per connection.
    public func isSecure(peerTrusted: Bool, fields: UnsafeBufferPointer<HeaderField>,
                         buffer: UnsafeRawBufferPointer) -> Bool {
        guard peerTrusted, !secureHeaders.isEmpty else { return false }
        for field in fields {
            let name = field.name.bytes(in: buffer)
            for header in secureHeaders where header.name.count == name.count {
                if zip(name, header.name).allSatisfy({ HTTPGrammar.lowercased($0) == $1 }),
                   field.value.bytes(in: buffer).elementsEqual(header.value) { return true }
            }
        }
        return false
    }

    /// `HEADER=value,…` (the command-line and CORRAL_SECURE_SCHEME_HEADERS form) as a table.
    public static func headerTable(_ text: String) throws(ProxySettingError) -> [String: String] {
        var table: [String: String] = [:]
        for entry in text.split(separator: ",") where !entry.allSatisfy({ $0 == " " }) {
            let parts = entry.split(separator: "=", maxSplits: 1)
            let name = parts.first.map { String($0.filter { $0 != " " }) } ?? ""
            guard parts.count == 2, !name.isEmpty else {
                throw ProxySettingError("secure_scheme_headers entries are HEADER=value, got \"\(entry)\"")
            }
            table[name] = String(parts[1].drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
        }
        return table
    }

    /// The table back in that form, sorted.
    public static func headerText(_ table: [String: String]) -> String {
        table.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }
}

/// A proxy setting that cannot be read, with what was expected.
public struct ProxySettingError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

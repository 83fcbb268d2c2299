/// gunicorn's `forwarded_allow_ips` and `proxy_allow_ips`: the peers whose word about the client
/// is believed. Comma-separated addresses and networks (`10.0.0.0/8`, `fd00::/8`), or `*` for every
/// peer. Peers are matched as the engine formats them; an IPv4-mapped IPv6 peer (`::ffff:10.1.2.3`,
/// from a `[::]` listener) matches as its IPv4 address, and a unix-socket peer (empty) is trusted,
/// as gunicorn trusts it.
public struct AddressAllowList: Sendable, Equatable {
    public let allowsAll: Bool
    private let networks: [Network]

    struct Network: Sendable, Equatable {
        var address: ProxyAddress
        var prefix: Int

        func contains(_ candidate: ProxyAddress) -> Bool {
            guard candidate.isIPv6 == address.isIPv6 else { return false }
            let width = address.isIPv6 ? 128 : 32
            // Compare big-endian bit strings: the bytes are in network order.
            return withUnsafeBytes(of: address.bytes) { a in
                withUnsafeBytes(of: candidate.bytes) { b in
                    var remaining = prefix
                    for index in 0..<(width / 8) where remaining > 0 {
                        let bits = min(8, remaining)
                        let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                        if a[index] & mask != b[index] & mask { return false }
                        remaining -= bits
                    }
                    return true
                }
            }
        }
    }

    public init(_ text: String) throws(ProxySettingError) {
        var networks: [Network] = []
        var all = false
        for entry in text.split(separator: ",") {
            let item = entry.filter { $0 != " " }
            if item.isEmpty { continue }
            if item == "*" { all = true; continue }
            let parts = item.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            let ipv6 = parts[0].contains(":")
            let parsed = Array(parts[0].utf8).withUnsafeBytes { ProxyAddress(text: $0, ipv6: ipv6) }
            let width = ipv6 ? 128 : 32
            let prefix = parts.count == 2 ? Int(parts[1]) : width
            guard let address = parsed, let prefix, (0...width).contains(prefix) else {
                throw ProxySettingError("expected addresses or networks (127.0.0.1, 10.0.0.0/8, ::1) or *, got \"\(item)\"")
            }
            networks.append(Network(address: address, prefix: prefix))
        }
        allowsAll = all
        self.networks = networks
    }

    /// Whether the peer `address` (the engine's text form; empty for a unix socket) is allowed.
    public func allows(_ address: UnsafeRawBufferPointer) -> Bool {
        if address.isEmpty { return allows(nil) }
        var text = address
        let mappedPrefix = "::ffff:".utf8
        if text.count > mappedPrefix.count, text.prefix(mappedPrefix.count).elementsEqual(mappedPrefix),
           text.contains(UInt8(ascii: ".")) {
            text = UnsafeRawBufferPointer(rebasing: text[mappedPrefix.count...])
        }
        guard let peer = ProxyAddress(text: text, ipv6: text.contains(UInt8(ascii: ":"))) else { return allowsAll }
        return allows(peer)
    }

    /// Whether the peer is allowed; nil is a unix-socket peer. The engine asks with the address
    /// accept() gave, so nothing is formatted or parsed.
    public func allows(_ peer: ProxyAddress?) -> Bool {
        guard let peer, !allowsAll else { return true }
        return networks.contains { $0.contains(peer) }
    }
}

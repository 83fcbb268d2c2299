import Glibc

/// Whether this kernel can take over TLS encryption (kTLS: the `tls` module, CONFIG_TLS).
/// OpenSSL tries it on every connection (SSL_OP_ENABLE_KTLS) and carries on in user space
/// when it cannot; this answers once, for the log line at start, the same way OpenSSL asks:
/// the `tls` upper-layer protocol on a connected TCP socket (a loopback pair made for it).
public enum KernelTLS {
    public static let available: Bool = probe()

    private static func probe() -> Bool {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { return false }
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(listener, address, length) == 0 && Glibc.listen(listener, 1) == 0
                    && getsockname(listener, address, &length) == 0
            }
        }
        guard bound else { return false }
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard client >= 0 else { return false }
        defer { close(client) }
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) == 0 }
        }
        guard connected else { return false }
        let name = "tls"
        return setsockopt(client, Int32(IPPROTO_TCP), TCP_ULP, name, socklen_t(name.utf8.count)) == 0
    }
}

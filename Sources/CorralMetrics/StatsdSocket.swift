import Glibc

/// Where statsd metrics go (gunicorn's `statsd_host`: `HOST:PORT`, `[V6]:PORT`, or `unix:PATH` for
/// a datagram socket): a connected, non-blocking datagram socket. A send that cannot go at once
/// is dropped, as statsd over UDP is meant to be: metrics never hold up the loop.
public final class StatsdSocket: @unchecked Sendable {
    public let target: String
    private let fd: Int32

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// `statsd_host` read, without resolving or connecting (corrald checks configs with it).
    public enum Target: Equatable, Sendable {
        case unix(path: String)
        case inet(host: String, port: UInt16)

        public init(parsing text: String) throws(Failure) {
            if text.hasPrefix("unix:") {
                self = .unix(path: String(text.dropFirst(5)))
                return
            }
            guard let colon = text.lastIndex(of: ":"), colon != text.startIndex,
                  let port = UInt16(text[text.index(after: colon)...]) else {
                throw Failure(description: "expected HOST:PORT or unix:PATH, got \"\(text)\"")
            }
            var host = String(text[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            self = .inet(host: host, port: port)
        }
    }

    public init(_ target: String) throws(Failure) {
        self.target = target
        let host: String, port: UInt16
        let parsed: Target
        do { parsed = try Target(parsing: target) } catch { throw Failure(description: "statsd_host: \(error.description)") }
        switch parsed {
        case .unix(let path):
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw Failure(description: "statsd_host: path too long") }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (index, byte) in bytes.enumerated() { raw[index] = byte }
            }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard connected == 0 else {
                close(fd)
                throw Failure(description: "statsd_host \(target): \(String(cString: strerror(errno)))")
            }
            return
        case .inet(let name, let number):
            (host, port) = (name, number)
        }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &found)
        guard status == 0, let info = found else {
            throw Failure(description: "statsd_host \(target): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(found) }
        fd = socket(info.pointee.ai_family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0, connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            throw Failure(description: "statsd_host \(target): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    /// One datagram; dropped if the socket buffer is full or nobody listens.
    public func send(_ packet: UnsafeRawBufferPointer) {
        _ = Glibc.send(fd, packet.baseAddress, packet.count, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL))
    }
}

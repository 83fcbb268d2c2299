import CCorral
import CorralEventLoop
import Glibc

/// A `bind` value in gunicorn's forms: `HOST`, `HOST:PORT`, `[V6]:PORT`, `unix:PATH`, `fd://N`.
public enum BindAddress: Equatable, Sendable, CustomStringConvertible {
    case tcp(host: String, port: UInt16)
    case unix(path: String)
    case fd(Int32)

    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public init(parsing text: String) throws(ParseError) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { throw ParseError(description: "bind '\(text)': unix: needs a socket path") }
            self = .unix(path: path)
            return
        }
        if text.hasPrefix("fd://") {
            guard let fd = Int32(text.dropFirst(5)), fd >= 0 else {
                throw ParseError(description: "bind '\(text)': fd:// needs a descriptor number")
            }
            self = .fd(fd)
            return
        }
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw ParseError(description: "bind '\(text)': missing ']' after the IPv6 address")
            }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else {
                    throw ParseError(description: "bind '\(text)': expected ':PORT' after ']'")
                }
                portText = rest.dropFirst()
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") {
                throw ParseError(description: "bind '\(text)': write IPv6 addresses in brackets, e.g. [::1]:8000")
            }
        } else {
            host = Substring(text)
        }
        var port: UInt16 = 8000
        if let portText {
            guard let value = UInt16(portText) else {
                throw ParseError(description: "bind '\(text)': port '\(portText)' is not a number from 0 to 65535")
            }
            port = value
        }
        if host.isEmpty { host = "0.0.0.0" }
        self = .tcp(host: String(host), port: port)
    }

    /// Its socket's name in LISTEN_FDNAMES, where ':' separates names.
    public var socketName: String { String(description.map { $0 == ":" ? "_" : $0 }) }

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): "unix:\(path)"
        case .fd(let fd): "fd://\(fd)"
        }
    }

    /// Creates, binds and listens a socket for this address (CLOEXEC, non-blocking).
    /// TCP sockets get SO_REUSEADDR (and SO_REUSEPORT when asked); a stale unix socket file is
    /// replaced and the new one gets `unixMode`.
    public func listen(backlog: Int32, reusePort: Bool = false, unixMode: mode_t = 0o660) throws(SystemError) -> Int32 {
        switch self {
        case .fd(let fd):
            return fd
        case .unix(let path):
            let fd = try UnixSocket.bound(at: path, type: Int32(SOCK_STREAM.rawValue))
            chmod(path, unixMode)
            guard Glibc.listen(fd, backlog) == 0 else {
                let error = SystemError("listen \(self)")
                close(fd)
                throw error
            }
            return fd
        case .tcp(let host, let port):
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
            var results: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, String(port), &hints, &results)
            guard status == 0, let first = results else {
                throw SystemError("resolve \(self): \(String(cString: gai_strerror(status)))", errno: EINVAL)
            }
            defer { freeaddrinfo(results) }
            let fd = socket(first.pointee.ai_family,
                            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { throw SystemError("socket") }
            _ = corral_set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            if reusePort { _ = corral_set_int_option(fd, SOL_SOCKET, SO_REUSEPORT, 1) }
            if first.pointee.ai_family == AF_INET6 {
                _ = corral_set_int_option(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1)
            }
            guard bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
                let error = SystemError("bind \(self)")
                close(fd)
                throw error
            }
            guard Glibc.listen(fd, backlog) == 0 else {
                let error = SystemError("listen \(self)")
                close(fd)
                throw error
            }
            return fd
        }
    }
}

import CorralHTTP
import Glibc

/// The client end of the control socket (corralctl's): XML-RPC calls over HTTP/1.1 on a unix
/// socket, and the raw log streams. Blocking: a command-line tool has nothing else to do.
public final class ControlClient {
    public let path: String
    private let authorization: String?
    private var fd: Int32 = -1
    private var pending: [UInt8] = []

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// `credentials`: "user:password" for Basic auth.
    public init(path: String, credentials: String? = nil) {
        self.path = path
        authorization = credentials.map { "Basic " + Base64.encode(Array($0.utf8)) }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Calls a method; a fault comes back as the thrown XMLRPCFault.
    /// A call on the kept-alive connection; after a failure the next call connects again (corrald
    /// re-executing in an upgrade closes it, then listens again at the same path).
    public func call(_ method: String, _ params: [XMLRPCValue] = []) throws -> XMLRPCValue {
        do {
            return try callOnce(method, params)
        } catch {
            if fd >= 0 { close(fd) }
            fd = -1
            pending = []
            throw error
        }
    }

    private func callOnce(_ method: String, _ params: [XMLRPCValue]) throws -> XMLRPCValue {
        let body = Array(XMLRPC.call(method, params).utf8)
        try send("POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: \(body.count)\r\n"
                 + (authorization.map { "Authorization: \($0)\r\n" } ?? "") + "\r\n", body: body)
        let (status, length, chunked) = try readHead()
        guard status == 200 else {
            throw Failure(description: status == 401 ? "the control socket wants a username and password (control_username)"
                                                      : "the control socket answered HTTP \(status)")
        }
        var response: [UInt8] = []
        if chunked {
            try readChunked { response += $0 }
        } else {
            response = try readBytes(length ?? 0)
        }
        return try XMLRPC.parseResponse(response)
    }

    /// Streams `GET path` (a log tail) to `output` until the server or `output` ends it.
    public func follow(_ target: String, output: ([UInt8]) -> Bool) throws {
        try send("GET \(target) HTTP/1.1\r\nHost: localhost\r\n" + (authorization.map { "Authorization: \($0)\r\n" } ?? "") + "\r\n", body: [])
        let (status, _, chunked) = try readHead()
        guard status == 200 else { throw Failure(description: "the control socket answered HTTP \(status) for \(target)") }
        if chunked {
            try readChunked { bytes in
                if !output(bytes) { throw Failure(description: "stopped") }
            }
        }
    }

    // MARK: Wire

    private func connectIfNeeded() throws {
        guard fd < 0 else { return }
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw Failure(description: "socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            fd = -1
            throw Failure(description: "cannot connect to the control socket \(path): \(reason)")
        }
    }

    private func send(_ head: String, body: [UInt8]) throws {
        try connectIfNeeded()
        let bytes = Array(head.utf8) + body
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "the control socket closed the connection") }
            offset += n
        }
    }

    private func fill() throws {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &buffer, buffer.count, 0)
        guard n > 0 else { throw Failure(description: "the control socket closed the connection") }
        pending += buffer[..<n]
    }

    /// Status, Content-Length and whether the body is chunked.
    private func readHead() throws -> (Int, Int?, Bool) {
        let terminator: [UInt8] = [13, 10, 13, 10]
        while true {
            if let end = pending.indices.dropLast(3).first(where: { pending[$0..<$0 + 4].elementsEqual(terminator) }) {
                let lines = String(decoding: pending[..<end], as: UTF8.self).split(separator: "\r\n")
                pending.removeFirst(end + 4)
                let status = lines.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
                var length: Int?
                var chunked = false
                for line in lines.dropFirst() {
                    let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingWhitespace.lowercased() }
                    guard parts.count == 2 else { continue }
                    if parts[0] == "content-length" { length = Int(parts[1]) }
                    if parts[0] == "transfer-encoding" && parts[1].contains("chunked") { chunked = true }
                }
                return (status, length, chunked)
            }
            try fill()
        }
    }

    private func readBytes(_ count: Int) throws -> [UInt8] {
        while pending.count < count { try fill() }
        defer { pending.removeFirst(count) }
        return Array(pending[..<count])
    }

    private func readChunked(_ deliver: ([UInt8]) throws -> Void) throws {
        var decoder = ChunkedDecoder(bodyLimit: 0)
        while true {
            if pending.isEmpty { try fill() }
            let step = pending.withUnsafeBytes { decoder.next($0) }
            switch step {
            case .data(let range, let consumed):
                try deliver(Array(pending[Int(range.start)..<Int(range.start) + Int(range.count)]))
                pending.removeFirst(consumed)
            case .needMore(let consumed):
                pending.removeFirst(consumed)
                try fill()
            case .done(let consumed):
                pending.removeFirst(consumed)
                return
            case .failed:
                throw Failure(description: "the control socket sent a malformed chunked body")
            }
        }
    }
}

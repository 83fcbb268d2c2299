import Foundation

/// A blocking HTTP/1.1 client over a raw socket, so tests can send exactly the bytes they mean
/// (pipelining, malformed requests, slow heads) and read exactly what comes back.
final class RawClient: @unchecked Sendable {
    let fd: Int32
    private var pending: [UInt8] = []

    /// Connects to 127.0.0.1:`port`, from `source` (another loopback address such as 127.0.0.2,
    /// to be told apart from a proxy on 127.0.0.1) when given.
    init(port: UInt16, from source: String? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            _ = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            throw WorkerFailed(description: "connect to port \(port) failed: errno \(errno)")
        }
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Reads one response (head + body framed by Content-Length or chunked); nil on close/timeout.
    func readResponse(forHead: Bool = false) -> HTTPResponse? {
        while true {
            if let (response, used) = HTTPResponse.parse(pending, bodyless: forHead) {
                pending.removeFirst(used)
                return response
            }
            guard fill() else { return nil }
        }
    }

    /// Every byte until the server closes the connection (nil if it did not before the timeout).
    func readUntilClosed() -> [UInt8]? {
        guard isClosedByServer() else { return nil }
        defer { pending = [] }
        return pending
    }

    /// True when the server closed the connection (reads EOF) before `timeout`.
    func isClosedByServer() -> Bool {
        while true {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
            pending += buffer[..<n]
        }
    }

    private func fill() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return false }
        pending += buffer[..<n]
        return true
    }

    /// One request on a fresh connection.
    static func get(port: UInt16, _ path: String, headers: String = "") throws -> HTTPResponse? {
        let client = try RawClient(port: port)
        client.send("GET \(path) HTTP/1.1\r\nHost: test\r\n\(headers)\r\n")
        return client.readResponse()
    }
}

struct HTTPResponse {
    var statusLine: String
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    static func parse(_ bytes: [UInt8], bodyless: Bool) -> (HTTPResponse, Int)? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let headEnd = bytes.firstRange(of: separator)?.upperBound else { return nil }
        let lines = String(decoding: bytes[..<(headEnd - 4)], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { return nil }
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var response = HTTPResponse(statusLine: lines[0], status: status, headers: headers, body: [])
        if bodyless || status == 304 || status == 204 || status < 200 { return (response, headEnd) }
        if let length = response.header("content-length").flatMap(Int.init) {
            guard bytes.count >= headEnd + length else { return nil }
            response.body = Array(bytes[headEnd..<(headEnd + length)])
            return (response, headEnd + length)
        }
        if response.header("transfer-encoding")?.lowercased() == "chunked" {
            var cursor = headEnd
            while true {
                guard let lineEnd = bytes[cursor...].firstRange(of: [13, 10])?.lowerBound else { return nil }
                guard let size = Int(String(decoding: bytes[cursor..<lineEnd], as: UTF8.self), radix: 16) else { return nil }
                let dataStart = lineEnd + 2
                guard bytes.count >= dataStart + size + 2 else { return nil }
                if size == 0 { return (response, dataStart + 2) }
                response.body += bytes[dataStart..<(dataStart + size)]
                cursor = dataStart + size + 2
            }
        }
        return (response, headEnd)
    }
}

import CorralEventLoop
import CorralHTTP
import CorralServer
import Glibc

/// The control socket: supervisord's HTTP interface (XML-RPC at POST /RPC2, and the raw log
/// streams GET /logtail/NAME/CHANNEL and GET /mainlogtail that `tail -f` reads), served by
/// corral's own HTTP engine inside corrald's loop. Small limits and short timeouts, so a slow or
/// hostile client cannot hold the supervisor; the socket file is 0600 (0660 with a group).
public final class ControlServer {
    public let path: String
    private let server: HTTPServer
    /// The listening socket, which a re-exec upgrade hands over.
    public let fd: Int32

    /// `credentials`: "user:password" that Basic auth must present, or nil for none. `adopting`:
    /// the socket already listening at `path` (handed over across a re-exec upgrade).
    public init(path: String, group: gid_t?, credentials: String?, service: ControlService, target: ControlTarget,
                loop: EventLoop, log: ErrorLog, adopting listening: Int32? = nil) throws {
        self.path = path
        fd = try listening ?? Self.listen(at: path, group: group)
        let configuration = ServerConfiguration.supervisorEndpoint(bodySize: 1 << 20, keepalive: 60)
        let expected = credentials.map { "Basic " + Base64.encode(Array($0.utf8)) }
        server = HTTPServer(loop: loop, configuration: configuration, log: log, accessLog: nil) { request in
            if let expected, request.header("authorization") != expected {
                return Response(status: 401, headers: ["WWW-Authenticate": "Basic realm=\"corral\""], body: .string("Unauthorized\n"))
            }
            return try await Self.route(request, service: service, target: target)
        }
        try server.listen(on: [fd])
    }

    deinit {
        unlink(path)
    }

    private static func listen(at path: String, group: gid_t?) throws -> Int32 {
        // Created with no access for others from the first instant, then opened to the group.
        let previous = umask(0o177)
        defer { umask(previous) }
        let fd = try UnixSocket.bound(at: path, type: Int32(SOCK_STREAM.rawValue))
        if let group {
            chown(path, uid_t.max, group)
            chmod(path, 0o660)
        }
        guard Glibc.listen(fd, 64) == 0 else {
            let error = SystemError("listen \(path)")
            close(fd)
            throw error
        }
        return fd
    }

    private static func route(_ request: Request, service: ControlService, target: ControlTarget) async throws -> Response {
        let path = request.path
        switch (request.method, path) {
        case (.post, "/RPC2"), (.post, "/"):
            let body = try await request.body.collect(upTo: 1 << 20)
            let text: String
            do {
                switch await service.handle(try XMLRPC.parseCall(body)) {
                case .success(let value): text = XMLRPC.response(value)
                case .failure(let fault): text = XMLRPC.response(fault)
                }
            } catch {
                text = XMLRPC.response(error)
            }
            return Response(headers: ["Content-Type": "text/xml"], body: .string(text))
        case (.get, "/mainlogtail"):
            return follow(target) { target.mainLog() }
        case (.get, _) where path.hasPrefix("/logtail/"):
            let parts = path.dropFirst(9).split(separator: "/")
            guard let name = parts.first, let slot = slot(String(name), group: target.groupName),
                  slot < target.snapshot().count else {
                return Response(status: 404, body: .string("No such process\n"))
            }
            let channel = parts.count > 1 ? OutputChannel(rawValue: String(parts[1])) ?? .stdout : .stdout
            return follow(target) { target.output(slot: slot, channel: channel) }
        default:
            return Response(status: 404, body: .string("Not found\n"))
        }
    }

    private static func slot(_ name: String, group: String) -> Int? {
        name.hasPrefix("\(group):") ? Int(name.dropFirst(group.count + 1)) : nil
    }

    /// The last 1600 bytes, then whatever is added, until the client goes away (noticed at the
    /// next write that fails).
    private static func follow(_ target: ControlTarget, _ read: @escaping () -> (bytes: [UInt8], total: Int)) -> Response {
        Response(headers: ["Content-Type": "text/plain"], body: .stream { writer in
            let (bytes, total) = read()
            var sent = total
            try await writer.write(Array(bytes.suffix(1600)))
            while true {
                await target.pause(seconds: 0.2)
                let (recent, total) = read()
                if total > sent {
                    try await writer.write(Array(recent.suffix(min(recent.count, total - sent))))
                    sent = total
                }
            }
        })
    }
}

/// RFC 4648 base64, for comparing a Basic Authorization header (no Foundation here).
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            let value = chunk.enumerated().reduce(0) { $0 | Int($1.element) << (16 - 8 * $1.offset) }
            for position in 0..<4 {
                out.append(position <= chunk.count ? alphabet[(value >> (18 - 6 * position)) & 63] : UInt8(ascii: "="))
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}

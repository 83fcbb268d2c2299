import CCorral
import CorralEventLoop
import CorralHTTP
import Glibc

/// Serves files under one directory: GET and HEAD, index.html for directories, MIME types,
/// ETag and Last-Modified with 304s, single byte ranges (206/416), sendfile. Nothing outside
/// the root is ever served: the request path is decoded and checked (`..`, encoded slashes, NUL
/// are refused) and the kernel opens it with RESOLVE_BENEATH, so a symlink cannot leave the root.
public struct StaticFiles: Sendable {
    private let rootFD: Int32
    public let root: String

    public init(root: String) throws(SystemError) {
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open document root \(root)") }
        self.root = root
        rootFD = fd
    }

    /// Where a directory without its trailing slash redirects: absolute, with the scheme the client
    /// used (https behind a trusted TLS-terminating proxy, by `secure_scheme_headers`), and the
    /// query kept. A Host that is not a plain host[:port] gets a relative Location instead.
    static func directoryLocation(_ request: Request, path: UnsafeRawBufferPointer) -> String {
        var location = ""
        if let host = request.headerBytes("host"), !host.isEmpty, host.allSatisfy({ byte in
            switch byte {
            case UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"): true
            default: HTTPGrammar.isAlpha(byte) || HTTPGrammar.isDigit(byte)
            }
        }) {
            location = (request.isSecure ? "https://" : "http://") + String(decoding: host, as: UTF8.self)
        }
        location += String(decoding: path, as: UTF8.self) + "/"
        if let query = request.head.query { location += "?" + String(decoding: query.bytes(in: request.buffer), as: UTF8.self) }
        return location
    }

    private static let allow: HTTPFields = ["Allow": "GET, HEAD", "Content-Type": "text/plain; charset=utf-8"]

    public func respond(to request: Request) async throws -> Response {
        guard request.method == .get || request.method == .head else {
            return Response(status: 405, headers: Self.allow, body: .string("405 Method Not Allowed\n"))
        }
        var relative: [UInt8] = []
        let pathBytes = request.head.path.bytes(in: request.buffer)
        guard let safe = StaticPath.relativePath(fromRequestPath: pathBytes, into: &relative) else {
            return Self.notFound
        }
        var fd = openBeneath(rootFD, relative.isEmpty ? [UInt8(ascii: ".")] : relative)
        guard fd >= 0 else { return Self.failure(errno) }
        var info = stat()
        fstat(fd, &info)
        if (info.st_mode & S_IFMT) == S_IFDIR {
            guard safe.isDirectory || relative.isEmpty else {
                close(fd)
                // Relative links inside the index page need the trailing slash.
                var location = HTTPFields()
                location.add("Location", Self.directoryLocation(request, path: pathBytes))
                return Response(status: 301, headers: location)
            }
            let index = openBeneath(fd, Array("index.html".utf8))
            close(fd)
            guard index >= 0 else { return Self.failure(errno) }
            fd = index
            fstat(fd, &info)
            relative.append(contentsOf: "/index.html".utf8)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            return Self.notFound
        }
        return fileResponse(fd: fd, info: info, name: relative, request: request)
    }

    private func fileResponse(fd: Int32, info: stat, name: [UInt8], request: Request) -> Response {
        let size = Int(info.st_size)
        let modified = Int(info.st_mtim.tv_sec)
        var etag: [UInt8] = []
        EntityTag.append(modified: modified, size: size, to: &etag)
        var lastModified: [UInt8] = []
        HTTPDate.format(epochSeconds: modified, into: &lastModified)
        var headers = HTTPFields()
        let contentType = name.withUnsafeBytes { MIMEType.forPath($0) }
        headers.add("Content-Type", contentType.description)
        headers.add("ETag", String(decoding: etag, as: UTF8.self))
        headers.add("Last-Modified", String(decoding: lastModified, as: UTF8.self))
        headers.add("Accept-Ranges", "bytes")

        let notModified = etag.withUnsafeBytes { tag in
            Conditional.isNotModified(ifNoneMatch: request.headerBytes("if-none-match"),
                                      ifModifiedSince: request.headerBytes("if-modified-since"),
                                      etag: tag, lastModified: modified)
        }
        if notModified {
            close(fd)
            return Response(status: 304, headers: headers)
        }
        let range: RangeRequest = etag.withUnsafeBytes { tag in
            guard let value = request.headerBytes("range"),
                  Conditional.ifRangeAllows(request.headerBytes("if-range"), etag: tag, lastModified: modified)
            else { return .none }
            return RangeRequest.parse(value, fileSize: size)
        }
        switch range {
        case .none:
            return Response(status: 200, headers: headers, body: .file(fd: fd, offset: 0, count: size))
        case .satisfiable(let start, let end):
            var contentRange: [UInt8] = []
            RangeRequest.appendContentRange(start: start, end: end, size: size, into: &contentRange)
            headers.add("Content-Range", String(decoding: contentRange, as: UTF8.self))
            return Response(status: 206, headers: headers, body: .file(fd: fd, offset: start, count: end - start + 1))
        case .unsatisfiable:
            close(fd)
            var contentRange: [UInt8] = []
            RangeRequest.appendContentRange(start: nil, end: nil, size: size, into: &contentRange)
            var unsatisfiable: HTTPFields = ["Content-Type": "text/plain; charset=utf-8"]
            unsatisfiable.add("Content-Range", String(decoding: contentRange, as: UTF8.self))
            return Response(status: 416, headers: unsatisfiable, body: .string("416 Range Not Satisfiable\n"))
        }
    }

    private func openBeneath(_ directory: Int32, _ path: [UInt8]) -> Int32 {
        var path = path
        path.append(0)
        return path.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) {
                corral_open_beneath(directory, $0.baseAddress, O_RDONLY)
            }
        }
    }

    private static var notFound: Response {
        Response(status: 404, headers: ["Content-Type": "text/plain; charset=utf-8"], body: .string("404 Not Found\n"))
    }

    private static func failure(_ error: Int32) -> Response {
        switch error {
        case EACCES, EPERM:
            Response(status: 403, headers: ["Content-Type": "text/plain; charset=utf-8"], body: .string("403 Forbidden\n"))
        default:
            // ENOENT, and EXDEV/ELOOP when resolution would leave the root: not found, either way.
            notFound
        }
    }
}

import CCorral
import CorralEventLoop
import CorralHTTP
import Glibc

/// Serves files under one directory: GET and HEAD, index.html for directories, MIME types,
/// ETag and Last-Modified with 304s, single byte ranges (206/416), precompressed siblings
/// (`file.br`, `file.gz`) by Accept-Encoding, small files from memory with the head in one send,
/// large ones by sendfile, hot ones from the open-file cache (FileCache). Nothing outside the root
/// is ever served: the request path is decoded and checked (`..`, encoded slashes, NUL are
/// refused) and the kernel opens it with RESOLVE_BENEATH, so a symlink cannot leave the root.
/// Used on the loop thread only.
public final class StaticFiles: @unchecked Sendable {
    private let rootFD: Int32
    public let root: String
    private let cache: FileCache?
    /// `static_max_age` for a `static_map` mount (with immutable caching for hashed names), nil
    /// for corral-worker's document root (no Cache-Control).
    private let maxAge: Int?

    /// The open-file cache's bounds unless told otherwise (corral-worker's --cache-entries and
    /// --cache-bytes): files held, and bytes of small files held in memory.
    public static let defaultCacheEntries = 1024
    public static let defaultCacheBytes = 32 << 20

    public init(root: String, cacheEntries: Int = defaultCacheEntries, cacheBytes: Int = defaultCacheBytes,
                maxAge: Int? = nil) throws(SystemError) {
        let fd = Glibc.open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open document root \(root)") }
        self.root = root
        self.maxAge = maxAge
        rootFD = fd
        // Watches are added by path, without following symlinks: a symlinked root (a release
        // directory's `current`) is watched where it leads.
        let resolved = realpath(root, nil).map { path in defer { free(path) }; return String(cString: path) } ?? root
        cache = FileCache(root: resolved, rootFD: fd, limits: .init(entries: cacheEntries, bytes: cacheBytes))
    }

    /// Whether the open-file cache is on (off when asked, or when the root is on a file system
    /// whose changes inotify may not see).
    public var caches: Bool { cache != nil }

    /// The cache's hit rate and size, as words for the worker's STATUS=.
    public var statusWords: String { cache?.statusWords ?? "" }

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

    /// Answers `request` from the file its path names, the path read from byte `pathStart` on (a
    /// `static_map` mount's prefix left out).
    public func respond(to request: Request, pathStart: Int = 0) async throws -> Response {
        guard request.method == .get || request.method == .head else {
            return Response(status: 405, headers: Self.allow, body: .string("405 Method Not Allowed\n"))
        }
        let fullPath = request.head.path.bytes(in: request.buffer)
        guard pathStart < fullPath.count else {
            // The mount's own URL: its index, once the slash relative links need is there.
            var location = HTTPFields()
            location.add("Location", Self.directoryLocation(request, path: fullPath))
            return Response(status: 301, headers: location)
        }
        let pathBytes = UnsafeRawBufferPointer(rebasing: fullPath[pathStart...])
        guard let cache else {
            var relative: [UInt8] = []
            guard let safe = StaticPath.relativePath(fromRequestPath: pathBytes, into: &relative) else { return Self.notFound }
            return respond(opening: relative, directoryRequested: safe.isDirectory, to: request)
        }
        cache.key.removeAll(keepingCapacity: true)
        guard let safe = StaticPath.relativePath(fromRequestPath: pathBytes, into: &cache.key) else { return Self.notFound }
        if safe.isDirectory { cache.key.append(UInt8(ascii: "/")) }
        if let file = cache.lookup(socketReads: request.connection.server.socketReads) {
            return response(for: file, to: request)
        }
        let relative = safe.isDirectory ? Array(cache.key.dropLast()) : cache.key
        return respond(opening: relative, directoryRequested: safe.isDirectory, to: request)
    }

    /// A miss: opens the file (watching its directories first, when it may be cached), answers,
    /// and caches it if nothing about it escapes what inotify on those directories can see.
    private func respond(opening relative: [UInt8], directoryRequested: Bool, to request: Request) -> Response {
        var path = relative
        var cacheable = cache?.watchDirectories(above: path, loop: request.connection.server.loop) ?? false
        var fd = open(beneath: rootFD, path.isEmpty ? [UInt8(ascii: ".")] : path, cacheable: &cacheable)
        guard fd >= 0 else { return Self.failure(errno) }
        var info = stat()
        fstat(fd, &info)
        if (info.st_mode & S_IFMT) == S_IFDIR {
            guard directoryRequested || path.isEmpty else {
                close(fd)
                // Relative links inside the index page need the trailing slash.
                var location = HTTPFields()
                location.add("Location", Self.directoryLocation(request, path: request.head.path.bytes(in: request.buffer)))
                return Response(status: 301, headers: location)
            }
            path.append(contentsOf: path.isEmpty ? "index.html".utf8 : "/index.html".utf8)
            if cacheable { cacheable = cache!.watchDirectories(above: path, loop: request.connection.server.loop) }
            let index = open(beneath: fd, Array("index.html".utf8), cacheable: &cacheable)
            let error = errno
            close(fd)
            guard index >= 0 else { return Self.failure(error) }
            fd = index
            fstat(fd, &info)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            return Self.notFound
        }
        cacheable = cacheable && info.st_nlink == 1 && corral_filesystem_notifies(fd) == 1
        let contentType = path.withUnsafeBytes { MIMEType.forPath($0) }
        // Siblings are looked for even for a client that takes none: its answer says Vary too.
        var encoded: [(coding: ContentCoding, file: OpenFile)] = []
        for coding in ContentCoding.allCases {
            if let sibling = openSibling(path + coding.suffix.utf8, coding: coding, contentType: contentType,
                                         cacheControl: maxAge.flatMap { StaticMount.cacheControl(forPath: path, maxAge: $0) },
                                         cacheable: &cacheable) {
                encoded.append((coding, sibling))
            }
        }
        let cacheControl = maxAge.flatMap { StaticMount.cacheControl(forPath: path, maxAge: $0) }
        guard let file = OpenFile(fd: fd, info: info, contentType: contentType, coding: nil, encoded: encoded,
                                  cacheControl: cacheControl) else {
            return Connection.errorResponse(500)
        }
        if cacheable, let cache {
            cache.insert(file, dependencies: [path] + ContentCoding.allCases.map { path + $0.suffix.utf8 })
        }
        return response(for: file, to: request)
    }

    private func openSibling(_ path: [UInt8], coding: ContentCoding, contentType: StaticString, cacheControl: String?,
                             cacheable: inout Bool) -> OpenFile? {
        let fd = open(beneath: rootFD, path, cacheable: &cacheable)
        guard fd >= 0 else {
            // Only an absent sibling is knowledge worth caching; EMFILE, EIO, EACCES are not.
            if errno != ENOENT && errno != ENOTDIR { cacheable = false }
            return nil
        }
        var info = stat()
        fstat(fd, &info)
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            return nil
        }
        if info.st_nlink != 1 { cacheable = false }
        return OpenFile(fd: fd, info: info, contentType: contentType, coding: coding, encoded: [], cacheControl: cacheControl)
    }

    /// The response for `file`, or for the precompressed sibling the request's Accept-Encoding takes.
    private func response(for file: OpenFile, to request: Request) -> Response {
        let file = file.variant(acceptEncoding: request.headerBytes("accept-encoding"))
        let notModified = file.etag.withUnsafeBytes { tag in
            Conditional.isNotModified(ifNoneMatch: request.headerBytes("if-none-match"),
                                      ifModifiedSince: request.headerBytes("if-modified-since"),
                                      etag: tag, lastModified: file.modified)
        }
        if notModified { return Response(status: 304, headers: file.fields) }
        let range: RangeRequest = file.etag.withUnsafeBytes { tag in
            guard let value = request.headerBytes("range"),
                  Conditional.ifRangeAllows(request.headerBytes("if-range"), etag: tag, lastModified: file.modified)
            else { return .none }
            return RangeRequest.parse(value, fileSize: file.size)
        }
        switch range {
        case .none:
            return Response(status: 200, headers: file.fields, body: .openFile(file, offset: 0, count: file.size))
        case .satisfiable(let start, let end):
            var contentRange: [UInt8] = []
            RangeRequest.appendContentRange(start: start, end: end, size: file.size, into: &contentRange)
            var headers = file.fields
            headers.add("Content-Range", String(decoding: contentRange, as: UTF8.self))
            return Response(status: 206, headers: headers, body: .openFile(file, offset: start, count: end - start + 1))
        case .unsatisfiable:
            var contentRange: [UInt8] = []
            RangeRequest.appendContentRange(start: nil, end: nil, size: file.size, into: &contentRange)
            var unsatisfiable: HTTPFields = ["Content-Type": "text/plain; charset=utf-8"]
            unsatisfiable.add("Content-Range", String(decoding: contentRange, as: UTF8.self))
            return Response(status: 416, headers: unsatisfiable, body: .string("416 Range Not Satisfiable\n"))
        }
    }

    /// Opens `path` beneath `directory`. While `cacheable`, no symlink may be on the way; a path
    /// with one is opened again as usual (symlinks inside the root are served) and not cached.
    private func open(beneath directory: Int32, _ path: [UInt8], cacheable: inout Bool) -> Int32 {
        var path = path
        path.append(0)
        return path.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { name in
                if cacheable {
                    let fd = corral_open_beneath_no_symlinks(directory, name.baseAddress, O_RDONLY)
                    if fd >= 0 || errno != ELOOP { return fd }
                    cacheable = false
                }
                return corral_open_beneath(directory, name.baseAddress, O_RDONLY)
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
        case EMFILE, ENFILE:
            // Out of descriptors is the server's state, not the file's: try again shortly.
            Response(status: 503, headers: ["Content-Type": "text/plain; charset=utf-8", "Retry-After": "1"],
                     body: .string("503 Service Unavailable\n"))
        default:
            // ENOENT, and EXDEV/ELOOP when resolution would leave the root: not found, either way.
            notFound
        }
    }
}

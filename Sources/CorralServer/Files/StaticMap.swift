import CorralEventLoop
import CorralHTTP

/// `static_map`: URL prefixes the engine serves from directories before the application sees
/// the request, each with everything `StaticFiles` does (open-file cache, sendfile, one send for
/// small files, precompressed siblings, ETag/Range/304, RESOLVE_BENEATH), plus Cache-Control.
/// The longest matching prefix wins. Used on the loop thread only.
public final class StaticMap: @unchecked Sendable {
    private let mounts: [(mount: StaticMount, files: StaticFiles)]

    /// Opens each mount's directory (relative ones from the current directory).
    public init(_ mounts: [StaticMount], maxAge: Int) throws(SystemError) {
        var opened: [(mount: StaticMount, files: StaticFiles)] = []
        for mount in mounts.sorted(by: { $0.prefix.utf8.count > $1.prefix.utf8.count }) {
            do {
                opened.append((mount, try StaticFiles(root: mount.directory, maxAge: maxAge)))
            } catch {
                throw SystemError("static_map \(mount.prefix): open directory \(mount.directory)", errno: error.errno)
            }
        }
        self.mounts = opened
    }

    public var isEmpty: Bool { mounts.isEmpty }

    /// The response when the request's path is under a mount, else nil (the application's).
    public func respond(to request: Request) async throws -> Response? {
        let path = request.head.path.bytes(in: request.buffer)
        for (mount, files) in mounts {
            if let start = mount.restStart(in: path) { return try await files.respond(to: request, pathStart: start) }
        }
        return nil
    }
}

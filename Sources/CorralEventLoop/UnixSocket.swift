import Glibc

/// A unix socket bound at a path: the one place that fills a sockaddr_un.
public enum UnixSocket {
    /// Creates a CLOEXEC, non-blocking unix socket of `type` bound at `path`, replacing a stale
    /// socket file there (never another kind of file); `@name` binds in the abstract namespace.
    /// The caller owns the returned fd.
    public static func bound(at path: String, type: Int32) throws(SystemError) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SystemError("unix socket path too long: \(path)", errno: ENAMETOOLONG)
        }
        let abstract = path.hasPrefix("@")
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
            if abstract { raw[0] = 0 }   // Linux's abstract namespace: no file, gone with the socket
        }
        let fd = socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket(AF_UNIX)") }
        var st = stat()
        if !abstract && lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK { unlink(path) }
        // An abstract name is exactly its bytes long; a path is NUL-terminated.
        let length = abstract ? MemoryLayout<sa_family_t>.size + bytes.count : MemoryLayout<sockaddr_un>.size
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(length))
            }
        }
        guard result == 0 else {
            let error = SystemError("bind unix:\(path)")
            close(fd)
            throw error
        }
        return fd
    }
}

import Glibc

/// An inotify instance, non-blocking, and the reading of its queue: each event's watch, mask and
/// name (a view into the read buffer, valid during the call). The file cache and the source
/// watcher keep their own bookkeeping of what each watch means.
public final class InotifyQueue {
    public let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)

    /// nil when inotify is not available.
    public init?() {
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return nil }
    }

    deinit { close(fd) }

    /// Watches `path` for `events`; the watch descriptor, or -1 (errno set).
    public func watch(_ path: String, events: UInt32) -> Int32 { inotify_add_watch(fd, path, events) }

    public func unwatch(_ wd: Int32) { inotify_rm_watch(fd, wd) }

    /// Reads every queued event; whether there was any.
    @discardableResult
    public func drain(_ event: (_ wd: Int32, _ mask: UInt32, _ name: UnsafeRawBufferPointer) -> Void) -> Bool {
        var any = false
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return any }
            any = true
            buffer.withUnsafeBytes { bytes in
                var offset = 0
                while offset + 16 <= n {
                    let wd = bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                    let mask = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                    let length = Int(bytes.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                    var name = UnsafeRawBufferPointer(rebasing: bytes[(offset + 16)..<(offset + 16 + length)])
                    if let end = name.firstIndex(of: 0) { name = UnsafeRawBufferPointer(rebasing: name[..<end]) }
                    event(wd, mask, name)
                    offset += 16 + length
                }
            }
        }
    }
}

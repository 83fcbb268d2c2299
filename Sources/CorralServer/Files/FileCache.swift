import CCorral
import CorralEventLoop
import CorralHTTP
import Glibc

/// The open-file cache of a document root: OpenFiles by request path, bounded in entries and
/// bytes, and never stale. inotify watches every directory on the way to a cached file (each
/// watched before the file is opened), and a change to any path an entry depends on (the file,
/// its siblings, a directory above it) drops the entry. The event queue is read before a hit
/// whenever a socket read happened since it was last read: a change made before a client sent
/// its request is queued before that request's bytes can be read, so it is always seen first.
/// Files reached through a symlink, files with other hard links, and files on network or FUSE
/// file systems (whose changes inotify may not report) are served but not cached.
final class FileCache: FDWatcher {
    struct Limits: Sendable {
        /// 0 turns the cache off.
        var entries: Int
        var bytes: Int
    }

    private static let events = UInt32(IN_MODIFY) | UInt32(IN_ATTRIB) | UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_FROM)
        | UInt32(IN_MOVED_TO) | UInt32(IN_CREATE) | UInt32(IN_DELETE) | UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF)
        | UInt32(IN_ONLYDIR) | UInt32(IN_DONT_FOLLOW)

    private var index: FileCacheIndex<OpenFile>
    private let inotify: InotifyQueue
    private let root: String
    private var directories: [Int32: [UInt8]] = [:]
    private var watches: [[UInt8]: Int32] = [:]
    /// The socket-read count when the queue was last read.
    private var readsWhenDrained = -1
    private var registered = false
    /// The root directory itself was moved or deleted: nothing is cached any more.
    private var rootGone = false
    /// Descriptors of large files the cache may keep open.
    private let descriptorBudget: Int
    private var descriptorsHeld = 0
    /// The key being looked up, reused so a lookup allocates nothing.
    var key: [UInt8] = []

    /// nil when `limits` turn it off, inotify is not available, or the root's file system may not
    /// report its changes. `root` is the resolved path (watches are added by path).
    init?(root: String, rootFD: Int32, limits: Limits) {
        guard limits.entries > 0, limits.bytes > 0, corral_filesystem_notifies(rootFD) == 1,
              let inotify = InotifyQueue() else { return nil }
        self.inotify = inotify
        self.root = root
        index = FileCacheIndex(capacity: limits.entries, byteBudget: limits.bytes)
        descriptorBudget = max(0, Int(corral_fd_limit()) / 4)
        key.reserveCapacity(256)
        super.init()
    }

    var hits: Int { index.hits }
    var misses: Int { index.misses }
    var count: Int { index.count }

    /// The entry for `key`, after reading the change queue if a request may have arrived since.
    func lookup(socketReads: Int) -> OpenFile? {
        if socketReads != readsWhenDrained {
            drain()
            readsWhenDrained = socketReads
        }
        return index.value(for: key)
    }

    /// Watches each directory on the way to `path` (relative, its last component a file or a
    /// directory still to be opened); false when one cannot be watched. Called before opening.
    func watchDirectories(above path: [UInt8], loop: EventLoop) -> Bool {
        if rootGone { return false }
        if !registered {
            guard (try? loop.register(inotify.fd, events: EventLoop.readable, watcher: self)) != nil else { return false }
            registered = true
        }
        var directory: [UInt8] = []
        guard watch(directory) else { return false }
        for (position, byte) in path.enumerated() where byte == UInt8(ascii: "/") {
            directory = Array(path[..<position])
            guard watch(directory) else { return false }
        }
        return true
    }

    /// Caches `file` for the current key, if it fits: `dependencies` are every path whose change
    /// must drop it (the file and its siblings, present or not).
    func insert(_ file: OpenFile, dependencies: [[UInt8]]) {
        guard descriptorsHeld + file.descriptorsHeld <= descriptorBudget else { return }
        index.insert(file, for: key, dependencies: dependencies, bytes: file.bytesHeld)
        recountDescriptors()
    }

    override func ready(fd: Int32, events: UInt32) { drain() }

    /// Reads every queued change and drops what it touches.
    func drain() {
        if inotify.drain(changed) { recountDescriptors() }
    }

    private func changed(wd: Int32, mask: UInt32, name: UnsafeRawBufferPointer) {
        if mask & UInt32(IN_Q_OVERFLOW) != 0 {
            forget([])   // events were lost: no watch can be trusted to be where it was
            return
        }
        guard let directory = directories[wd] else { return }
        if directory.isEmpty && mask & (UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF)) != 0 {
            rootGone = true   // files are opened beneath the directory that moved, not what took its path
        }
        if mask & (UInt32(IN_IGNORED) | UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF)) != 0 || name.isEmpty {
            forget(directory)
            return
        }
        var path = directory
        if !path.isEmpty { path.append(UInt8(ascii: "/")) }
        path.append(contentsOf: name)
        if mask & UInt32(IN_ISDIR) != 0 || watches[path] != nil {
            forget(path)   // a directory replaced, moved or removed: what was watched there is not what is there now
        } else {
            index.invalidate(path)
        }
    }

    /// Drops the entries under `directory` and stops watching it and what is under it.
    private func forget(_ directory: [UInt8]) {
        index.invalidate(directory)
        for (path, wd) in watches where FileCacheIndex<OpenFile>.isAtOrUnder(path, directory) {
            inotify.unwatch(wd)
            watches[path] = nil
            directories[wd] = nil
        }
    }

    private func watch(_ directory: [UInt8]) -> Bool {
        if watches[directory] != nil { return true }
        let path = directory.isEmpty ? root : root + "/" + String(decoding: directory, as: UTF8.self)
        let wd = inotify.watch(path, events: Self.events)
        // A directory reachable by two paths (a bind mount) would report under one of them only.
        guard wd >= 0, directories[wd] == nil else { return false }
        directories[wd] = directory
        watches[directory] = wd
        return true
    }

    private func recountDescriptors() {
        descriptorsHeld = index.values.reduce(0) { $0 + $1.descriptorsHeld }
    }

    /// ` cache_hit_rate=0.993 cache_entries=12` for STATUS=.
    var statusWords: String {
        let lookups = hits + misses
        let rate = lookups == 0 ? 0 : Double(hits) / Double(lookups)
        return " cache_hit_rate=\((rate * 1000).rounded() / 1000) cache_entries=\(count)"
    }
}

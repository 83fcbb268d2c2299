import CorralEventLoop
import Glibc

/// `reload` for development: watches the app's source files (and `reload_extra_files`) with
/// inotify on the worker's loop and, once changes have settled for `settle`, reports the first
/// changed path. Each directory is watched once; events for other names in it are ignored.
/// Editors that save by renaming a new file over the old one are seen (IN_MOVED_TO). Used on
/// the loop thread only.
public final class SourceWatcher: FDWatcher, @unchecked Sendable {
    private static let events = UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO) | UInt32(IN_MOVED_FROM)
        | UInt32(IN_CREATE) | UInt32(IN_DELETE) | UInt32(IN_ONLYDIR)

    private let queue: InotifyQueue
    private let loop: EventLoop
    private let settle: Duration
    private let changed: (String) -> Void
    /// Per watched directory: its path and the names in it that matter.
    private var directories: [Int32: (path: String, names: Set<[UInt8]>)] = [:]
    /// The first change since the last report, while waiting for changes to settle.
    private var pending: String?

    /// Watches `files` (absolute paths); nil when inotify is unavailable. Directories that cannot
    /// be watched are skipped (what is in them is not watched).
    public init?(files: [String], loop: EventLoop, settle: Duration = .milliseconds(300), changed: @escaping (String) -> Void) {
        guard let queue = InotifyQueue() else { return nil }
        self.queue = queue
        self.loop = loop
        self.settle = settle
        self.changed = changed
        super.init()
        var byDirectory: [String: Set<[UInt8]>] = [:]
        for file in files {
            guard let slash = file.lastIndex(of: "/") else { continue }
            let directory = slash == file.startIndex ? "/" : String(file[..<slash])
            byDirectory[directory, default: []].insert(Array(file[file.index(after: slash)...].utf8))
        }
        for (directory, names) in byDirectory {
            let wd = queue.watch(directory, events: Self.events)
            if wd >= 0 { directories[wd] = (directory, names) }
        }
        guard (try? loop.register(queue.fd, events: EventLoop.readable, watcher: self)) != nil else { return nil }
    }

    /// How many directories are watched.
    public var watchedDirectories: Int { directories.count }

    override public func ready(fd: Int32, events: UInt32) {
        queue.drain { wd, _, name in
            guard pending == nil, let directory = directories[wd], directory.names.contains(Array(name)) else { return }
            pending = directory.path + "/" + String(decoding: name, as: UTF8.self)
            loop.spawn { [self] in
                await loop.sleep(for: settle)
                if let path = pending {
                    pending = nil
                    changed(path)
                }
            }
        }
    }
}

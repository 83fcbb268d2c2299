import CorralSupervisor
import CorralSystemd
import Glibc

/// The listening sockets, which live as long as corrald: inherited from systemd (used as they
/// are, never listen()ed again or renumbered), or opened here for the configured binds. A reload
/// keeps the sockets whose bind is unchanged, opens added ones, and closes removed ones once no
/// worker uses them. Under systemd each socket opened here is also kept in systemd's fd store
/// (named `bind-ADDRESS`), and taken back from LISTEN_FDS at the next start: a crash or restart
/// of corrald leaves the port bound and its backlog queued.
final class ListeningSockets {
    /// From a socket unit (corral.socket): every worker gets these, whatever `bind` says.
    private let inherited: [ListenFD]
    /// Own sockets systemd's fd store gave back, by name, until a bind takes them.
    private var stored: [String: ListenFD]
    /// Own sockets by their address (`BindAddress.description`).
    private var open: [String: ListenFD] = [:]
    private var backlogs: [String: Int32] = [:]
    private let systemd: Notifier
    static let storePrefix = "bind-"

    init(inherited fds: [ListenFD], systemd: Notifier) {
        inherited = fds.filter { !$0.name.hasPrefix(Self.storePrefix) }
        stored = Dictionary(fds.filter { $0.name.hasPrefix(Self.storePrefix) }.map { ($0.name, $0) }) { first, _ in first }
        self.systemd = systemd
    }

    var isInherited: Bool { !inherited.isEmpty }

    /// The sockets a configuration's workers get, in `bind` order, then `insecure_bind`'s: existing ones (with the
    /// backlog updated if it changed), new ones opened. New unix sockets are owned by the
    /// workers' user and group, as gunicorn does. Nothing is closed here.
    func sockets(for configuration: Configuration, owner: (uid: uid_t?, gid: gid_t?)) throws -> [ListenFD] {
        if isInherited { return inherited }
        let backlog = Int32(configuration.backlog)
        return try (configuration.bind + configuration.insecureBind).map { text in
            let address = try BindAddress(parsing: text)
            let key = address.description
            if let socket = open[key] {
                if backlogs[key] != backlog {
                    listen(socket.fd, backlog)   // Linux updates a listening socket's backlog
                    backlogs[key] = backlog
                }
                return socket
            }
            let name = address.socketName
            if let kept = stored.removeValue(forKey: Self.storePrefix + name) {
                listen(kept.fd, backlog)
                let socket = ListenFD(fd: kept.fd, name: name)
                open[key] = socket
                backlogs[key] = backlog
                adopted.append(key)
                return socket
            }
            let socket = ListenFD(fd: try address.listen(backlog: backlog, reusePort: configuration.reusePort), name: name)
            if case .unix(let path) = address, owner.uid != nil || owner.gid != nil {
                chown(path, owner.uid ?? uid_t.max, owner.gid ?? gid_t.max)   // -1 leaves it unchanged
            }
            systemd.store(socket.fd, name: Self.storePrefix + name)
            open[key] = socket
            backlogs[key] = backlog
            return socket
        }
    }

    /// Every socket, named as LISTEN_FDNAMES would name it (`bind-ADDRESS` for corrald's own), to
    /// hand over across a re-exec: the new image takes its own ones back as from the fd store.
    var handover: [ListenFD] {
        inherited + open.values.map { ListenFD(fd: $0.fd, name: Self.storePrefix + $0.name) }
    }

    /// Binds whose socket came back from systemd's fd store (for the start-up log line).
    private(set) var adopted: [String] = []

    /// Closes stored sockets no bind took (the configuration changed while corrald was down) and
    /// drops them from the store; returns their names.
    func closeUnclaimed() -> [String] {
        let names = stored.keys.sorted()
        for (name, socket) in stored {
            Glibc.close(socket.fd)
            systemd.removeStored(name: name)
        }
        stored = [:]
        return names
    }

    /// Closes the sockets not in `keep`, removing unix socket files and their fd-store copies;
    /// returns their addresses. `forget: false` (corrald stopping) leaves the store as it is:
    /// systemd flushes it when the service stops, and keeps it across a restart.
    @discardableResult
    func close(allBut keep: [ListenFD], forget: Bool = true) -> [String] {
        let kept = Set(keep.map(\.fd))
        var closed: [String] = []
        for (key, socket) in open where !kept.contains(socket.fd) {
            Glibc.close(socket.fd)
            if forget { systemd.removeStored(name: Self.storePrefix + socket.name) }
            // A stored unix socket keeps its file for the next start.
            if key.hasPrefix("unix:") && (forget || !systemd.isEnabled) { unlink(String(key.dropFirst(5))) }
            open[key] = nil
            backlogs[key] = nil
            closed.append(key)
        }
        return closed.sorted()
    }
}

import CorralSupervisor
import CorralSystemd
import Glibc

/// The listening sockets, which live as long as corrald: inherited from systemd (used as they
/// are, never listen()ed again or renumbered), or opened here for the configured binds. A reload
/// keeps the sockets whose bind is unchanged, opens added ones, and closes removed ones once no
/// worker uses them.
final class ListeningSockets {
    private let inherited: [ListenFD]
    /// Own sockets by their address (`BindAddress.description`).
    private var open: [String: ListenFD] = [:]
    private var backlogs: [String: Int32] = [:]

    init(inherited: [ListenFD]) {
        self.inherited = inherited
    }

    var isInherited: Bool { !inherited.isEmpty }

    /// The sockets a configuration's workers get, in `bind` order: existing ones (with the
    /// backlog updated if it changed), new ones opened. New unix sockets are owned by the
    /// workers' user and group, as gunicorn does. Nothing is closed here.
    func sockets(for configuration: Configuration, owner: (uid: uid_t?, gid: gid_t?)) throws -> [ListenFD] {
        if isInherited { return inherited }
        let backlog = Int32(configuration.backlog)
        return try configuration.bind.map { text in
            let address = try BindAddress(parsing: text)
            let key = address.description
            if let socket = open[key] {
                if backlogs[key] != backlog {
                    listen(socket.fd, backlog)   // Linux updates a listening socket's backlog
                    backlogs[key] = backlog
                }
                return socket
            }
            // LISTEN_FDNAMES is colon-separated: a name cannot contain ':'.
            let socket = ListenFD(fd: try address.listen(backlog: backlog, reusePort: configuration.reusePort),
                                  name: String(key.map { $0 == ":" ? "_" : $0 }))
            if case .unix(let path) = address, owner.uid != nil || owner.gid != nil {
                chown(path, owner.uid ?? uid_t.max, owner.gid ?? gid_t.max)   // -1 leaves it unchanged
            }
            open[key] = socket
            backlogs[key] = backlog
            return socket
        }
    }

    /// Closes the sockets not in `keep`, removing unix socket files; returns their addresses.
    @discardableResult
    func close(allBut keep: [ListenFD]) -> [String] {
        let kept = Set(keep.map(\.fd))
        var closed: [String] = []
        for (key, socket) in open where !kept.contains(socket.fd) {
            Glibc.close(socket.fd)
            if key.hasPrefix("unix:") { unlink(String(key.dropFirst(5))) }
            open[key] = nil
            backlogs[key] = nil
            closed.append(key)
        }
        return closed.sorted()
    }
}

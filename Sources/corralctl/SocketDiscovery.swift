import CorralControl
import CorralSupervisor
import Glibc

/// With neither -s nor -c, corralctl looks where corrald puts its control socket, in this order,
/// and says where it looked when none is there.
enum SocketDiscovery {
    static let systemdSocket = "/run/corral/corral.sock"
    static let packagedConfig = "/etc/corral/corral.toml"

    static func find() throws -> ControlClient {
        var looked: [String] = []
        if isSocket(systemdSocket) { return ControlClient(path: systemdSocket, credentials: nil) }
        looked.append("\(systemdSocket) (corrald under systemd): \(why(systemdSocket))")
        if access(packagedConfig, R_OK) == 0 {
            let configuration = try Connection.load(packagedConfig)
            if let path = configuration.controlSocketPath(underSystemd: false) {
                if isSocket(path) { return ControlClient(path: path, credentials: configuration.credentials) }
                looked.append("\(path) (named by \(packagedConfig)): \(why(path))")
            } else {
                looked.append("\(packagedConfig): names no control_socket and no pidfile")
            }
        } else {
            looked.append("\(packagedConfig): \(String(cString: strerror(errno)))")
        }
        // Beside the pidfile in the current directory (`corrald -p corrald.pid`), or `make run`'s.
        for path in ["corrald.sock", ".build/corrald.sock"] {
            if isSocket(path) { return ControlClient(path: path, credentials: nil) }
            looked.append("./\(path) (beside ./\(path.dropLast(5)).pid): \(why(path))")
        }
        throw CommandFailure("cannot find corrald's control socket; looked at:\n"
                             + looked.map { "  \($0)" }.joined(separator: "\n")
                             + "\npass -s unix:///path/to/corral.sock, or -c with corrald's config file", Exit.unreachable)
    }

    private static func isSocket(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK
    }

    private static func why(_ path: String) -> String {
        var info = stat()
        if stat(path, &info) != 0 { return String(cString: strerror(errno)) }
        return "not a socket"
    }
}

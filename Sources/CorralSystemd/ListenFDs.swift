import CSystemd
import Glibc

/// Sockets passed the systemd way (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES), as systemd, a socket
/// unit, `systemd-socket-activate` or corrald hand them over.
public struct ListenFD: Equatable, Sendable {
    public var fd: Int32
    public var name: String

    public init(fd: Int32, name: String) {
        self.fd = fd
        self.name = name
    }
}

public enum ListenFDs {
    /// The inherited sockets, fds 3, 4, … with their names; empty when none were passed to this
    /// process. The variables are removed so that children do not inherit them by mistake.
    public static func take() -> [ListenFD] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil
        let count = sd_listen_fds_with_names(1, &names)
        guard count > 0 else { return [] }
        defer { free(names) }
        return (0..<Int(count)).map { i in
            let name = names?[i].map { String(cString: $0) } ?? "unknown"
            names?[i].map { free($0) }
            return ListenFD(fd: SD_LISTEN_FDS_START + Int32(i), name: name)
        }
    }
}

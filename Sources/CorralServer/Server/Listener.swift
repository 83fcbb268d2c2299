import CorralEventLoop
import CorralTLS

/// A listening socket in the loop: readiness means connections to accept.
final class Listener: FDWatcher {
    let fd: Int32
    unowned(unsafe) let server: HTTPServer
    /// Connections accepted here speak TLS with this context; nil for plain HTTP.
    let tls: TLSContext?
    var accepting = false

    init(fd: Int32, server: HTTPServer, tls: TLSContext?) {
        self.fd = fd
        self.server = server
        self.tls = tls
    }

    override func ready(fd: Int32, events: UInt32) {
        server.acceptConnections(from: self)
    }
}

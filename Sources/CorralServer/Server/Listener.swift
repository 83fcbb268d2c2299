import CorralEventLoop

/// A listening socket in the loop: readiness means connections to accept.
final class Listener: FDWatcher {
    let fd: Int32
    unowned(unsafe) let server: HTTPServer
    var accepting = false

    init(fd: Int32, server: HTTPServer) {
        self.fd = fd
        self.server = server
    }

    override func ready(fd: Int32, events: UInt32) {
        server.acceptConnections(from: self)
    }
}

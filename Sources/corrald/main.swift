import Glibc

// corrald: see README ("corrald") and ARCHITECTURE.md.
let options = DaemonOptions.parseOrExit()
let daemon: Daemon
do {
    daemon = try Daemon(options: options)
} catch {
    let message = Array("corrald: \(error)\n".utf8)
    _ = write(2, message, message.count)
    exit(1)
}
daemon.run()

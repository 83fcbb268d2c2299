import Glibc
import CorralWorker

/// corral-worker: serves the static files under --root (or a built-in welcome page) as a worker
/// of corrald, of systemd (socket activation), or on its own (--bind).
let (options, root) = WorkerCommand.settings()
let handler: Handler
if let root {
    let files: StaticFiles
    do {
        files = try StaticFiles(root: root)
    } catch {
        print("corral-worker: \(error)")
        exit(1)
    }
    handler = { request in try await files.respond(to: request) }
} else {
    handler = { request in try await WelcomePage.respond(to: request) }
}
let worker: Worker
do {
    worker = try Worker(options: options, handler: handler)
} catch {
    print("corral-worker: \(error)")
    exit(1)
}
worker.run()

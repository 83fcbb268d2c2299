import Glibc
import CorralWorker

/// corral-worker: serves the static files under --root (or a built-in welcome page) as a worker
/// of corrald, of systemd (socket activation), or on its own (--bind).
let (command, root) = WorkerCommand.settings()
let files: StaticFiles?
do {
    files = try root.map { try StaticFiles(root: $0, cacheEntries: command.cacheEntries, cacheBytes: command.cacheBytes) }
} catch {
    print("corral-worker: \(error)")
    exit(1)
}
let handler: Handler
if let files {
    handler = { request in try await files.respond(to: request) }
} else {
    handler = { request in try await WelcomePage.respond(to: request) }
}
let worker: Worker
do {
    worker = try Worker(options: command.worker, handler: handler)
} catch {
    print("corral-worker: \(error)")
    exit(1)
}
if let files {
    worker.statusDetails = { files.statusWords }
    if command.cacheEntries > 0 && command.cacheBytes > 0 && !files.caches {
        worker.log.warning("open-file cache off: \(files.root) is on a file system whose changes inotify may not report, or inotify is not available (fs.inotify.max_user_instances)")
    }
}
worker.run()

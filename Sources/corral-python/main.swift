import CCorral
import CorralCommandLine
import CorralPython
import CorralServer
import CorralWSGI
import CorralWorker
import Glibc

/// corral-python: a corral worker that serves a WSGI application from an embedded CPython.
/// Exit status 1: bad settings; 3: Python could not start; 4: the application could not be
/// loaded (gunicorn's codes), with the traceback on stderr.
func fail(_ status: Int32, _ message: String) -> Never {
    let text = Array("corral-python: \(message)\n".utf8)
    _ = write(2, text, text.count)
    exit(status)
}

func absolutePath(_ path: String) -> String {
    guard !path.hasPrefix("/"), let directory = getcwd(nil, 0) else { return path }
    defer { free(directory) }
    return String(cString: directory) + "/" + path
}

Interpreter.forgetLibraryDirectory()
let command = WSGICommand.parseOrExitWithUsage()
if command.embeddedPython {
    print(Interpreter.embeddedVersion.prefix { $0 != " " })
    exit(0)
}
var settings: WSGIWorkerSettings
do {
    settings = try WSGIWorkerSettings(command)
} catch {
    fail(1, "\(error)")
}
// Relative paths mean the directory corral-python was started in, not --chdir's.
settings.virtualenv = settings.virtualenv.map(absolutePath)
settings.pythonpath = settings.pythonpath.map(absolutePath)
settings.reloadExtraFiles = settings.reloadExtraFiles.map(absolutePath)
if let directory = settings.chdir, chdir(directory) != 0 {
    fail(1, "chdir \(directory): \(String(cString: strerror(errno)))")
}
// static_map's directories, relative ones from --chdir's.
let staticMap: StaticMap
do {
    staticMap = try StaticMap(settings.staticMounts, maxAge: settings.staticMaxAge)
} catch {
    fail(1, "\(error)")
}
let bridge = WSGIBridge(mode: settings.mode, settings: settings.environ,
                        capacity: (try? command.worker.serverConfiguration().requestsInFlightLimit) ?? 1000)

/// Starts Python and loads the app (and starts it: its threads, ASGI's lifespan startup, unless it
/// is being preloaded or only checked), or exits 3 (Python cannot start) or 4 (with the traceback).
@MainActor func loadApplication(threads: Int, timeout: Double, preloading: Bool = false, starting: Bool = true) {
    do {
        try Interpreter.start(virtualenv: settings.virtualenv)
    } catch {
        fail(3, "\(error)")
    }
    do {
        try bridge.load(app: settings.app, threads: threads, pythonpath: settings.pythonpath, timeout: timeout, preloading: preloading)
        if !preloading && starting { try bridge.start(threads: threads) }
    } catch {
        fail(4, "failed to load the application \(settings.app):\n\(error)")
    }
}

if command.checkConfig {
    // Only the app: no sockets, no serving.
    do {
        bridge.log = try ErrorLog(destination: "-", identifier: "corral-python")
    } catch {
        fail(1, "\(error)")
    }
    loadApplication(threads: 1, timeout: 0, starting: false)   // the import, not the app's startup
    print("application \(settings.app) loaded (\(WorkerClass.explanation(of: settings.workerClassName, threads: settings.threads)))")
    exit(0)
}
// preload_app: corrald started this process to import the app once and fork the workers it
// asks for (copy-on-write); only those forked workers go on past this point.
let preloadControl = getenv("CORRAL_PRELOAD_FD").flatMap { Int32(String(cString: $0)) }
if let preloadControl {
    do {
        bridge.log = try ErrorLog(destination: "-", identifier: "corral-python")
    } catch {
        fail(1, "\(error)")
    }
    corral_set_process_name("corral-preload")
    loadApplication(threads: settings.threads, timeout: settings.timeout, preloading: true)
    bridge.log.info("application \(settings.app) preloaded; forking workers for corrald")
    let supervisor = getppid()
    do {
        guard try bridge.preload(controlFD: preloadControl) != nil else { exit(0) }
    } catch {
        fail(1, "preload_app: \(error)")
    }
    // A forked worker: once its parent has exited, corrald (a child subreaper) is its parent.
    unsetenv("CORRAL_PRELOAD_FD")
    setenv("LISTEN_PID", String(getpid()), 1)
    if let name = getenv("CORRAL_PROC_NAME") { corral_set_process_name(name) } else { corral_set_process_name("corral-python") }
    guard corral_await_adoption(supervisor, 5000) == 0 else { fail(1, "preload_app: corrald did not adopt this worker") }
}
bridge.webSocketSettings = settings.webSocket
bridge.perMessageDeflate = settings.perMessageDeflate
let handler = WSGIHandler(bridge: bridge)
// The worker first: it blocks the signals its loop reads before Python or the app start threads.
let worker: Worker
do {
    worker = try Worker(options: command.worker, identifier: "corral-python") { request in
        if !staticMap.isEmpty, let response = try await staticMap.respond(to: request) { return response }
        return try await handler.respond(to: request)
    }
} catch {
    fail(1, "\(error)")
}
bridge.log = worker.log
// Threads mode: the main thread runs the loop. gevent mode: it runs gevent's hub (the default
// loop, which subprocess and signal handling need), asgi mode the asyncio loop, and the
// worker's loop gets a thread of its own.
let loopThread: LoopThread?
do {
    loopThread = settings.mode != .threads && !bridge.inline ? try LoopThread { worker.run() } : nil
    try worker.forwardSignalsFromOtherThreads(to: loopThread?.thread ?? pthread_self())
} catch {
    fail(1, "\(error)")
}
worker.log.info(WorkerClass.explanation(of: settings.workerClassName, threads: settings.threads))
if preloadControl == nil {
    loadApplication(threads: settings.threads, timeout: settings.timeout)
    worker.log.info("application \(settings.app) loaded")
} else {
    do {
        try bridge.start(threads: settings.threads)
    } catch {
        fail(4, "failed to start the application's threads:\n\(error)")
    }
    worker.log.info("application \(settings.app) loaded (forked from the preloading process)")
}
let sourceWatcher = settings.reload ? watchSources() : nil

/// `reload`: the app's source files and the extra ones, watched on the worker's loop.
@MainActor func watchSources() -> SourceWatcher? {
    let files: [String]
    do {
        files = try bridge.sourceFiles() + settings.reloadExtraFiles
    } catch {
        worker.log.error("reload: cannot list the app's source files:\n\(error)")
        return nil
    }
    let watcher = SourceWatcher(files: files, loop: worker.loop) { path in
        if worker.askSupervisorToReload(because: "\(path) changed") {
            worker.log.info("reload: \(path) changed; corrald reloads the workers")
        } else {
            worker.log.warning("reload: \(path) changed, but only corrald can reload workers (run corral-python under corrald)")
        }
    }
    if let watcher {
        worker.log.info("reload: watching \(files.count) files in \(watcher.watchedDirectories) directories")
    } else {
        worker.log.error("reload: inotify is not available; source changes are not watched")
    }
    return watcher
}
let timeoutSeconds = settings.timeout
let overdueWatch: LoopThread?
if timeoutSeconds > 0 {
    let drainForOverdue: @Sendable () -> Void = { worker.drain(reason: "a request ran past timeout (\(timeoutSeconds)s)", replaced: true) }
    if bridge.inline {
        // The loop thread also runs the app's coroutines, so one that blocks blocks it: the
        // check runs on a thread of its own, and the drain waits for the loop to be free. The
        // blocked loop also stops the heartbeat, and corrald's SIGABRT may come before the
        // check sees the request past timeout: then every request in flight is reported at
        // once (corrald's SIGKILL follows a second later).
        var abortPipe: [Int32] = [-1, -1]
        if pipe(&abortPipe) == 0 {
            _ = fcntl(abortPipe[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(abortPipe[1], F_SETFD, FD_CLOEXEC)
            _ = corral_report_abort_to(abortPipe[1])
        }
        let aborted = abortPipe[0]
        overdueWatch = try? LoopThread {
            while true {
                var entry = pollfd(fd: aborted, events: Int16(POLLIN), revents: 0)
                if aborted >= 0 && poll(&entry, 1, 1000) == 1 {
                    var byte: UInt8 = 0
                    _ = read(aborted, &byte, 1)
                    worker.log.critical("SIGABRT: no heartbeat reached corrald within timeout (\(timeoutSeconds)s); the requests in flight follow")
                    bridge.reportOverdue(now: corral_monotonic_ns(), timeout: 0)
                    continue
                }
                if aborted < 0 { sleep(1) }
                if bridge.reportOverdue(now: corral_monotonic_ns(), timeout: Int64(timeoutSeconds * 1_000_000_000)) > 0 {
                    worker.loop.spawn { drainForOverdue() }
                }
            }
        }
        overdueWatch?.start()
    } else {
        overdueWatch = nil
        worker.loop.spawn {
            while true {
                await worker.loop.sleep(for: .seconds(1))
                if bridge.reportOverdue(now: worker.loop.now, timeout: Int64(timeoutSeconds * 1_000_000_000)) > 0 {
                    drainForOverdue()
                }
            }
        }
    }
} else {
    overdueWatch = nil
}
worker.statusDetails = { " in_flight=\(bridge.inFlight)" }
worker.closeTakenWebSockets = { code, reason in bridge.closeTakenWebSockets(code: code, reason: reason) }
worker.beforeExit = {
    bridge.interrupted = worker.interrupted
    if bridge.inline {
        bridge.finishInline()
        return
    }
    Interpreter.finish(threadsDone: bridge.shutdown(waitingUpTo: 5))
}
if let loopThread {
    loopThread.start()
    do {
        try bridge.serveOnMainThread()
    } catch {
        worker.log.critical("\(settings.mode == .asgi ? "the asyncio loop" : "gevent's hub") failed:\n\(error)")
        exit(3)
    }
    while true { pause() }   // the loop thread ends the process
} else if bridge.inline {
    do {
        try bridge.startInline(loop: worker.loop)
    } catch {
        fail(3, "the asyncio loop failed to start:\n\(error)")
    }
    worker.run()
} else {
    Interpreter.releaseMainThread()
    worker.run()
}

import CorralCommandLine
import CorralSupervisor
import CorralSystemd
import Glibc

// corrald: see README ("corrald") and ARCHITECTURE.md.
let options = DaemonOptions.parseOrExitWithUsage()

func fail(_ message: String) -> Never {
    let text = Array("corrald: \(message)\n".utf8)
    _ = write(2, text, text.count)
    exit(1)
}

/// Runs the worker command with `--check-config` (corral-python imports the app, then exits 0, or
/// 4 with the traceback on stderr) in the environment the workers get; its exit status.
func checkApplication(_ configuration: Configuration) -> Int32 {
    var spawner = WorkerSpawner(executable: configuration.workerCommand[0],
                                arguments: Array(configuration.workerCommand.dropFirst()) + ["--check-config"])
    spawner.environment = Daemon.workerEnvironment(for: configuration)
    spawner.umask = mode_t(configuration.umask)
    let pid: pid_t
    do {
        pid = try spawner.spawn(sockets: [])
    } catch {
        fail("\(error)")
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return WaitStatus(raw: status).shellCode
}

if let gunicornConfig = options.fromGunicorn {
    do {
        let virtualenv = options.virtualenv ?? getenv("VIRTUAL_ENV").map { String(cString: $0) }
        let entries = try GunicornConfigFile.read(gunicornConfig, python: GunicornConfigFile.interpreter(virtualenv: virtualenv))
        let defaults = Configuration(defaultWorkerCommand: ["corral-worker"], wsgiWorkerCommand: ["corral-python"])
        print(GunicornConversion.toml(entries, source: gunicornConfig, defaults: defaults), terminator: "")
        exit(0)
    } catch {
        fail("\(error.issue)")
    }
}

let loader: ConfigurationLoader
let loaded: ConfigurationLoader.Loaded
do {
    loader = try options.loader()
    loaded = try loader.load()
} catch let errors as ConfigurationErrors {
    fail("invalid configuration:\n" + errors.issues.map { "  \($0)" }.joined(separator: "\n"))
} catch {
    fail("\(error)")
}
if options.checkUpgrade {
    // The running corrald's check before it re-executes this binary in place.
    print("upgrade state format \(UpgradeHandover.format)")
    exit(0)
}
if options.printConfig || options.checkConfig {
    for warning in loaded.warnings { print("warning: \(warning)") }
    if options.checkConfig, let app = loaded.configuration.wsgiApp,
       let worker = loaded.configuration.workerCommand.first,
       loaded.configuration.workerCommand == loaded.configuration.wsgiWorkerCommand
           || worker.hasSuffix("/corral-python") || worker.hasSuffix("/corral-wsgi") {
        // As gunicorn's --check-config does, the app is loaded too: by the worker that would serve it.
        let status = checkApplication(loaded.configuration)
        guard status == 0 else { fail("the application \(app) failed to load (the worker exited with status \(status))") }
    }
    print(options.printConfig ? loaded.configuration.printed : "configuration OK", terminator: "")
    if !options.printConfig { print("") }
    exit(0)
}
do {
    try Daemon(loader: loader, loaded: loaded).run()
} catch {
    fail("\(error)")
}

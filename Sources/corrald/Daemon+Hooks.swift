import CorralSupervisor
import Glibc

/// gunicorn's server hooks for the supervisor's events, when the configuration is a gunicorn
/// config file: corrald's part (the workers run theirs in corral-python).
extension Daemon {
    /// (Re)starts the hooks' runner for `configuration`'s file, at start and after each reload
    /// (the file may have changed); none for a TOML configuration.
    func startHooks(for configuration: Configuration) {
        hooks = nil   // the old runner reads the end of its events and exits
        guard let file = configuration.gunicornConfigFile else { return }
        do {
            hooks = try HookRunner(file: file, python: GunicornConfigFile.interpreter(virtualenv: configuration.virtualenv),
                                   settingsJSON: configuration.settingsJSON, timeout: configuration.bootTimeout)
        } catch {
            logger.error("server hooks: \(error); the supervisor's hooks do not run until the next reload")
        }
        reportedWorkerCount = state.settings.workers
    }

    /// Runs hook `name` if the file defines it, with the number of workers. `waiting` for those
    /// gunicorn runs before it goes on: what it raised, if anything (logged, with the traceback
    /// on stderr).
    @discardableResult
    func hook(_ name: String, _ args: [String: Int] = [:], waiting: Bool = false) -> String? {
        guard let hooks else { return nil }
        var args = args
        args["num_workers"] = state.settings.workers
        let failure = hooks.fire(name, args, waiting: waiting)
        if let failure { logger.error("the \(name) hook failed: \(failure)") }
        return failure
    }

    /// TTIN, TTOU, `corralctl workers`: one more or fewer, and nworkers_changed.
    func changeWorkerCount(by delta: Int) {
        perform(state.changeWorkerCount(by: delta, now: loop.now))
        reportWorkerCount()
    }

    /// nworkers_changed, when the number of workers is not the one last reported.
    func reportWorkerCount() {
        guard state.settings.workers != reportedWorkerCount else { return }
        hook("nworkers_changed", ["new_value": state.settings.workers, "old_value": reportedWorkerCount])
        reportedWorkerCount = state.settings.workers
    }
}

import Glibc
import ArgumentParser
import CorralWorker

/// corral-worker's own flags on top of the worker flags every corral worker understands.
struct WorkerCommand: ParsableArguments {
    static let configuration = CommandConfiguration(
        commandName: "corral-worker",
        abstract: "Serve static files (or a welcome page) as a corral worker.")

    @OptionGroup var worker: WorkerOptions

    @Option(help: "Serve the files under this directory (env CORRAL_ROOT). Without it, a welcome page.")
    var root: String?

    static func settings() -> (WorkerOptions, String?) {
        let command = parseOrExit()
        let root = command.root ?? getenv("CORRAL_ROOT").map { String(cString: $0) }
        return (command.worker, root)
    }
}

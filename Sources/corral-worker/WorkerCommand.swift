import Glibc
import ArgumentParser
import CorralCommandLine
import CorralWorker

/// corral-worker's own flags on top of the worker flags every corral worker understands.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corral-worker",
        abstract: "Serve static files (or a welcome page) as a corral worker.")

    @OptionGroup var worker: WorkerOptions

    @Option(help: "Serve the files under this directory (env CORRAL_ROOT). Without it, a welcome page.")
    var root: String?

    @Option(help: "Most files the open-file cache holds, 0 = no cache.")
    var cacheEntries: Int = StaticFiles.defaultCacheEntries

    @Option(help: "Most bytes of small files the open-file cache holds in memory (32 MiB).")
    var cacheBytes: Int = StaticFiles.defaultCacheBytes

    func validate() throws {
        guard cacheEntries >= 0 else { throw ValidationError("--cache-entries must be 0 or more, not \(cacheEntries)") }
        guard cacheBytes >= 0 else { throw ValidationError("--cache-bytes must be 0 or more, not \(cacheBytes)") }
    }

    static func settings() -> (command: WorkerCommand, root: String?) {
        let command = parseOrExitWithUsage()
        let root = command.root ?? getenv("CORRAL_ROOT").map { String(cString: $0) }
        return (command, root)
    }
}

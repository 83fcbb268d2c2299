import CorralSupervisor
import Glibc

// corrald: see README ("corrald") and ARCHITECTURE.md.
let options = DaemonOptions.parseOrExit()

func fail(_ message: String) -> Never {
    let text = Array("corrald: \(message)\n".utf8)
    _ = write(2, text, text.count)
    exit(1)
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
if options.printConfig || options.checkConfig {
    for warning in loaded.warnings { print("warning: \(warning)") }
    print(options.printConfig ? loaded.configuration.printed : "configuration OK", terminator: "")
    if !options.printConfig { print("") }
    exit(0)
}
do {
    try Daemon(loader: loader, loaded: loaded).run()
} catch {
    fail("\(error)")
}

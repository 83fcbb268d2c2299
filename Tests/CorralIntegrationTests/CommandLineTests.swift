import Foundation
import Testing

/// What every corral command says about its own usage: its real name, and exit status 2 for bad
/// usage (gunicorn's, and what README and --help promise), not swift-argument-parser's 64.
struct CommandLineTests {
    @Test(arguments: ["corrald", "corralctl", "corral-worker", "corral-python"])
    func badUsageExits2UnderTheCommandsOwnName(_ name: String) {
        let bad = shell("\(Binaries.path(name)) --no-such-flag 2>&1")
        #expect(bad.status == 2, "\(bad.output)")
        #expect(bad.output.contains("Unknown option '--no-such-flag'"), "\(bad.output)")
        let help = shell("\(Binaries.path(name)) --help 2>&1")
        #expect(help.status == 0)
        #expect(help.output.contains("USAGE: \(name) "), "\(help.output)")
        #expect(!help.output.contains("_command") && !help.output.contains("<subcommand>") || name == "corralctl", "\(help.output)")
    }
}

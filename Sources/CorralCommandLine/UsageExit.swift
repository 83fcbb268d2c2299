import ArgumentParser
import Glibc

/// Bad usage exits 2, as gunicorn's (argparse's) does and corral's documentation says, where
/// swift-argument-parser would exit 64 (EX_USAGE).
public let usageExitCode: Int32 = 2

extension ParsableArguments {
    /// `parseOrExit()`, with bad usage exiting `usageExitCode`.
    public static func parseOrExitWithUsage(_ arguments: [String]? = nil) -> Self {
        do {
            return try parse(arguments)
        } catch {
            exitReporting(error)
        }
    }

    /// `exit(withError:)`, with bad usage exiting `usageExitCode`.
    public static func exitReporting(_ error: Error) -> Never {
        let status = status(for: error)
        let message = fullMessage(for: error)
        if !message.isEmpty {
            let text = Array((message + "\n").utf8)
            _ = write(status == 0 ? 1 : 2, text, text.count)
        }
        Glibc.exit(status)
    }

    /// The exit status for an error from parsing or running a command.
    public static func status(for error: Error) -> Int32 {
        let code = exitCode(for: error)
        return code == .validationFailure ? usageExitCode : code.rawValue
    }
}

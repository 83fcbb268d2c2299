import ArgumentParser
import CEdit
import CorralCommandLine
import CorralSupervisor
import Glibc

/// `corralctl` with no verb: supervisorctl's prompt. It shows the status first, then reads verbs
/// (with line editing and a history kept in ~/.corralctl_history on a terminal; plain lines from a
/// pipe), runs each against the same corrald, and keeps going after a failed one.
struct InteractiveShell {
    /// The -s / -c / --json the shell was started with, given to every verb.
    let connectionArguments: [String]
    private let onTerminal = isatty(0) == 1
    private static let prompt = "corral> "

    private var historyFile: String? {
        getenv("HOME").map { String(cString: $0) + "/.corralctl_history" }
    }

    func run() -> Int32 {
        if onTerminal {
            stifle_history(1000)
            if let historyFile { _ = read_history(historyFile) }
        }
        _ = Corralctl.execute(["status"] + connectionArguments)
        while let line = nextLine() {
            let words = Configuration.words(of: line)
            guard let verb = words.first else { continue }
            if onTerminal { add_history(line) }
            switch verb {
            case "quit", "exit":
                return finish()
            case "help", "?":
                help(words.dropFirst().first)
            case _ where !Corralctl.configuration.subcommands.contains(where: { Self.name(of: $0) == verb }):
                print("*** unknown verb: \(verb) (help lists them)")
            default:
                _ = Corralctl.execute(ArgumentOrder.verbFirst(words + connectionArguments))
            }
            fflush(nil)
        }
        if onTerminal { print("") }
        return finish()
    }

    private func finish() -> Int32 {
        if onTerminal, let historyFile { _ = write_history(historyFile) }
        return 0
    }

    private func nextLine() -> String? {
        guard onTerminal else { return readLine() }
        guard let line = readline(Self.prompt) else { return nil }
        defer { free(line) }
        return String(cString: line)
    }

    private func help(_ verb: String?) {
        let commands = Corralctl.configuration.subcommands
        if let verb {
            guard let command = commands.first(where: { Self.name(of: $0) == verb }) else {
                return print("*** no such verb: \(verb) (help lists them)")
            }
            return print(Corralctl.helpMessage(for: command))
        }
        print("verbs (help VERB for its arguments; quit or Ctrl-D to leave):")
        for command in commands {
            let name = Self.name(of: command)
            print("  " + name + String(repeating: " ", count: max(1, 10 - name.count)) + command.configuration.abstract)
        }
    }

    private static func name(of command: ParsableCommand.Type) -> String {
        command.configuration.commandName ?? String(describing: command).lowercased()
    }
}

extension Corralctl {
    /// Parses and runs one verb; its exit code. Failures are reported on stderr, help on stdout.
    static func execute(_ arguments: [String]) -> Int32 {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            return 0
        } catch let failure as CommandFailure {
            failure.report()
            return failure.code
        } catch {
            let code = status(for: error)
            let message = fullMessage(for: error)
            if !message.isEmpty {
                if code == 0 { print(message) } else { CommandFailure(message, code).report() }
            }
            return code
        }
    }
}

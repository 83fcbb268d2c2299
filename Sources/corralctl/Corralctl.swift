import ArgumentParser
import CorralControl
import CorralHTTP
import CorralServer
import CorralSupervisor
import Glibc

/// corralctl's exit codes.
enum Exit {
    static let failed: Int32 = 1
    static let notAllRunning: Int32 = 3
    static let unreachable: Int32 = 4
}

struct Corralctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corralctl",
        abstract: "Control a running corrald through its control socket.",
        discussion: """
            Exit codes: 0 done; 1 the operation failed (a reload that did not take, a fault); \
            2 bad usage; 3 status found a worker that is not RUNNING; 4 corrald cannot be reached.
            """,
        subcommands: [Status.self, Reload.self, Upgrade.self, Restart.self, Stop.self, Start.self, Signal.self, Tail.self,
                      Maintail.self, Pid.self, Workers.self, Shutdown.self, Version.self])
}

/// Where corrald is: `-s unix:///path`, else the control socket its config file (`-c`) names.
struct Connection: ParsableArguments {
    @Option(name: [.short, .customLong("config")], help: "corrald's TOML config file (to find its control socket).")
    var config: String?

    @Option(name: [.short, .customLong("socket")], help: "The control socket: unix:///path or a path.")
    var socket: String?

    @Flag(name: .customLong("json"), help: "Output for scripts.")
    var json = false

    func client() throws -> ControlClient {
        if let socket, config == nil {
            return ControlClient(path: socket.hasPrefix("unix://") ? String(socket.dropFirst(7)) : socket, credentials: nil)
        }
        if let config {
            let loaded = try Self.load(config)
            let path = socket.map { $0.hasPrefix("unix://") ? String($0.dropFirst(7)) : $0 }
                ?? loaded.controlSocketPath(underSystemd: false) ?? "/run/corral/corral.sock"
            return ControlClient(path: path, credentials: loaded.credentials)
        }
        return try SocketDiscovery.find()
    }

    static func load(_ config: String) throws -> Configuration {
        let defaults = Configuration(defaultWorkerCommand: ["/bin/true"], wsgiWorkerCommand: ["/bin/true"])
        return try ConfigurationLoader(defaults: defaults, file: config).load().configuration
    }

    /// Runs `body` with a client; unreachable → exit 4, faults and failures → exit 1.
    func run(_ body: (ControlClient) throws -> Void) throws {
        let client: ControlClient
        do { client = try self.client() } catch let failure as CommandFailure { throw failure } catch {
            throw CommandFailure("\(error)", Exit.failed)
        }
        do {
            try body(client)
        } catch let failure as ControlClient.Failure {
            throw CommandFailure(failure.description, failure.description.hasPrefix("cannot connect") ? Exit.unreachable : Exit.failed)
        } catch let fault as XMLRPCFault {
            throw CommandFailure(fault.string, Exit.failed)
        }
    }

    /// `all`, `N` or `group:N` as the control socket names it.
    func name(_ text: String, group: String) -> String {
        Int(text) != nil ? "\(group):\(text)" : text
    }
}

/// A verb that did not succeed: the message for stderr and the exit code. At the prompt it is
/// printed and the prompt goes on.
struct CommandFailure: Error {
    let message: String
    let code: Int32

    init(_ message: String, _ code: Int32) {
        self.message = message
        self.code = code
    }

    func report() {
        fflush(nil)  // in order with what the verb printed before it failed
        let text = Array("corralctl: \(message)\n".utf8)
        _ = write(2, text, text.count)
    }
}

extension Configuration {
    /// `control_username:control_password` when the config sets them.
    var credentials: String? { controlUsername.map { "\($0):\(controlPassword ?? "")" } }
}

func printJSON(_ value: XMLRPCValue) {
    print(JSONRendering.render(value))
}

/// XML-RPC values as JSON (no Foundation).
enum JSONRendering {
    static func render(_ value: XMLRPCValue) -> String {
        switch value {
        case .string(let text): return JSONText.quoted(text)
        case .int(let number): return String(number)
        case .bool(let flag): return String(flag)
        case .double(let number): return number.isFinite ? String(number) : "null"
        case .array(let items): return "[" + items.map(render).joined(separator: ",") + "]"
        case .struct(let members): return "{" + members.map { JSONText.quoted($0.0) + ":" + render($0.1) }.joined(separator: ",") + "}"
        }
    }
}

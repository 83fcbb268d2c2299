import Foundation
import Testing
@testable import CorralSupervisor

/// Loading gunicorn's settings from a TOML file and command lines: precedence, types, and errors
/// that say where and what was expected.
@Suite final class ConfigurationTests {
    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent("corral-config-\(UUID().uuidString)")
    private let defaults = Configuration(defaultWorkerCommand: ["/bin/true"], wsgiWorkerCommand: ["/bin/echo"])

    deinit { try? FileManager.default.removeItem(at: directory) }

    private func file(_ text: String) throws -> String {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("corral.toml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func flags(_ pairs: [(String, String)], _ origin: SettingOrigin) -> [SettingAssignment] {
        pairs.map { SettingAssignment(name: $0.0, value: .text($0.1), origin: origin) }
    }

    private func load(_ text: String? = nil, environment: [(String, String)] = [],
                      commandLine: [(String, String)] = []) throws -> ConfigurationLoader.Loaded {
        try ConfigurationLoader(defaults: defaults, file: text.map(file),
                                environmentArguments: flags(environment, .environment),
                                commandLine: flags(commandLine, .commandLine)).load()
    }

    private func errors(_ text: String? = nil, commandLine: [(String, String)] = []) throws -> [String] {
        do {
            _ = try load(text, commandLine: commandLine)
            Issue.record("expected the configuration to be rejected")
            return []
        } catch let errors as ConfigurationErrors {
            return errors.issues.map(\.description)
        }
    }

    @Test func theDefaultsAreGunicorns() throws {
        let configuration = try load().configuration
        #expect(configuration.bind == ["127.0.0.1:8000"])
        #expect(configuration.backlog == 2048)
        #expect(configuration.workers == 1)
        #expect(configuration.workerConnections == 1000)
        #expect(configuration.timeout == 30 && configuration.gracefulTimeout == 30 && configuration.keepalive == 2)
        #expect(configuration.limitRequestLine == 4094 && configuration.limitRequestFields == 100)
        #expect(configuration.limitRequestFieldSize == 8190)
        #expect(configuration.accessLogFormat == #"%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s""#)
        #expect(configuration.errorlog == "-" && configuration.loglevel == "info" && configuration.umask == 0)
        #expect(Configuration(defaultWorkerCommand: [], wsgiWorkerCommand: [], webConcurrency: "6").workers == 6, "$WEB_CONCURRENCY")
    }

    @Test func theSeedSettingsLoadFromTheExampleFile() throws {
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/corral.toml").path
        let loaded = try ConfigurationLoader(defaults: defaults, file: example).load()
        let configuration = loaded.configuration
        #expect(configuration.bind == ["0.0.0.0:5000"])
        #expect(configuration.workers == Configuration.automaticWorkerCount)
        #expect(configuration.backlog == 2048 && configuration.workerConnections == 1200)
        #expect(configuration.pidfile != nil && configuration.loglevel == "debug")
        #expect(configuration.accessLogFormat == "%(h)s %(t)s %(U)s %(q)s")
        #expect(loaded.warnings.isEmpty)
    }

    @Test func laterLayersWin() throws {
        let text = "workers = 2\nkeepalive = 5\nbacklog = 100\nbind = \"127.0.0.1:9000\"\n"
        let configuration = try load(text, environment: [("workers", "3"), ("keepalive", "6")],
                                     commandLine: [("workers", "4")]).configuration
        #expect(configuration.workers == 4, "command line over CORRAL_CMD_ARGS over file")
        #expect(configuration.keepalive == 6, "CORRAL_CMD_ARGS over file")
        #expect(configuration.backlog == 100, "file over defaults")
        #expect(configuration.bind == ["127.0.0.1:9000"], "a single string is a one-address list")
    }

    @Test func anUnknownKeyNamesTheFileLineAndNearestKey() throws {
        let found = try errors("workers = 2\n\n  worker_conections = 10\n")
        #expect(found.count == 1)
        #expect(found.first?.hasSuffix("corral.toml:3: unknown setting \"worker_conections\"; did you mean worker_connections?") == true,
                "\(found)")
        #expect(try errors("zzzzzzzz = 1\n").first?.contains("did you mean") == false, "no far-fetched suggestion")
    }

    @Test func aWrongTypeNamesTheExpectedType() throws {
        let found = try errors("workers = 2\ntimeout = \"soon\"\nreuse_port = 1\nworkers_x = 1\n")
        #expect(found.contains { $0.hasSuffix(":2: timeout: expected a number of seconds, 0 or more, got the string \"soon\"") }, "\(found)")
        #expect(found.contains { $0.hasSuffix(":3: reuse_port: expected true or false, got the integer 1") }, "\(found)")
        #expect(found.count == 3, "every error at once: \(found)")
        #expect(try errors("workers = 0\n").first?.contains("expected a positive integer or \"auto\"") == true)
        #expect(try errors("limit_request_line = -1\n").first?.contains("expected an integer at least 0, got the integer -1") == true)
        #expect(try errors(commandLine: [("backlog", "lots")]).first == "command line: backlog: expected an integer from 1 to 65535, got the string \"lots\"")
    }

    @Test func maxWorkerRSSTakesMiBOrASizeWithAUnit() throws {
        #expect(try load("max_worker_rss = 512\n").configuration.maxWorkerRSS == 512)
        #expect(try load("max_worker_rss = \"2G\"\n").configuration.maxWorkerRSS == 2048)
        #expect(try load(commandLine: [("max_worker_rss", "300M")]).configuration.maxWorkerRSS == 300)
        #expect(try load().configuration.maxWorkerRSS == 0, "off by default")
        #expect(try load("max_worker_rss = 256\n").configuration.supervisorSettings.maxWorkerRSS == 256 << 20)
        #expect(try errors("max_worker_rss = \"lots\"\n").first?.hasSuffix(":1: max_worker_rss: expected MiB as an integer, or a size such as \"512M\" or \"2G\", got the string \"lots\"") == true)
        #expect(try errors("max_worker_rss = -1\n").count == 1)
    }

    @Test func limitsGunicornAcceptsLoadAndTheirClampsAreWarnings() throws {
        let loaded = try load("workers = 1\nlimit_request_line = 9000\nlimit_request_fields = 40000\nlimit_request_field_size = 100000\n")
        #expect(loaded.configuration.limitRequestFieldSize == 100_000)
        let warnings = loaded.warnings.map(\.description)
        #expect(warnings.contains { $0.hasSuffix(":2: limit_request_line 9000 is clamped to 8190, gunicorn's maximum") }, "\(warnings)")
        #expect(warnings.contains { $0.hasSuffix(":3: limit_request_fields 40000 is clamped to 32768, gunicorn's maximum") }, "\(warnings)")
        #expect(warnings.count == 2)
        #expect(try load("limit_request_line = 0\nlimit_request_fields = 0\nlimit_request_field_size = 0\n").warnings.isEmpty)
    }

    @Test func aSyntaxErrorNamesTheLine() throws {
        let found = try errors("workers = 2\nbind = [\"127.0.0.1:8000\"\nbacklog = 5\n")
        #expect(found.count == 1)
        #expect(found.first?.contains("corral.toml:3:") == true || found.first?.contains("corral.toml:2:") == true, "\(found)")
    }

    @Test func anUnparsableBindSaysWhy() throws {
        let found = try errors("bind = [\"127.0.0.1:80x\"]\n")
        #expect(found.first?.contains(":1: bind:") == true && found.first?.contains("port '80x' is not a number") == true, "\(found)")
        #expect(try errors("bind = [\"::1:8000\"]\n").first?.contains("brackets") == true)
    }

    @Test func aWSGIAppIsServedByCorralWSGIWithItsSettingsInTheWorkersEnvironment() throws {
        let loaded = try load("wsgi_app = \"flask_server:app\"\npythonpath = \"/srv/a, /srv/b\"\nthreads = 8\n"
                              + "worker_class = \"gthread\"\nroot_path = \"/shop\"\nsecure_scheme_headers = { \"X-Proto\" = \"https\" }\n")
        let configuration = loaded.configuration
        #expect(configuration.workerCommand == ["/bin/echo"], "corral-python is the worker when an app is given")
        #expect(configuration.pythonpath == ["/srv/a", "/srv/b"], "gunicorn's comma-separated form")
        let environment = configuration.workerEnvironment
        #expect(environment["CORRAL_WSGI_APP"] == "flask_server:app")
        #expect(environment["CORRAL_PYTHONPATH"] == "/srv/a,/srv/b")
        #expect(environment["CORRAL_THREADS"] == "8")
        #expect(environment["CORRAL_WORKER_CLASS"] == "gthread")
        #expect(environment["CORRAL_ROOT_PATH"] == "/shop")
        #expect(environment["CORRAL_SECURE_SCHEME_HEADERS"] == "X-Proto=https")
        #expect(environment["CORRAL_TIMEOUT"] == "30.0")
        // An explicit worker_cmd wins; without an app, nothing WSGI reaches the workers.
        #expect(try load("wsgi_app = \"a:b\"\nworker_cmd = \"/bin/true\"\n").configuration.workerCommand == ["/bin/true"])
        #expect(try load("workers = 1\n").configuration.workerEnvironment["CORRAL_WSGI_APP"] == nil)
        #expect(try load("workers = 1\n").configuration.workerCommand == ["/bin/true"])
    }

    @Test func wsgiSettingsAreChecked() throws {
        #expect(try errors("worker_class = \"tornado\"\n").first?.contains("unknown worker_class \"tornado\"; expected one of: sync") == true)
        #expect(try errors("threads = 0\n").first?.contains("threads: expected an integer from 1") == true)
        #expect(try errors("root_path = \"shop\"\n").first?.contains("starting with \"/\"") == true)
        #expect(try errors("secure_scheme_headers = { \"X\" = 1 }\n").first?.contains("secure_scheme_headers") == true)
    }

    @Test func gunicornSettingsThatDoNotApplyAreWarnedAbout() throws {
        let loaded = try load("workers = 2\nspew = true\nworker_class = \"gevent\"\npreload_app = true\non_starting = \"x\"\nlogfile = \"-\"\n")
        #expect(loaded.configuration.workers == 2)
        #expect(loaded.configuration.workerClass == "gevent")
        let warnings = loaded.warnings.map(\.description)
        #expect(warnings.count == 4, "\(warnings)")
        #expect(warnings.contains { $0.contains(":2: spew is ignored: Python tracing does not apply") })
        #expect(warnings.contains { $0.contains(":4: preload_app applies to corral-python's workers") }, "no app here: \(warnings)")
        #expect(warnings.contains { $0.contains(":6: logfile is gunicorn's old name for errorlog") })
    }

    @Test func valuesInTheirGunicornForms() throws {
        let configuration = try load("workers = \"auto\"\numask = 0o027\nraw_env = [\"A=1\", \"B=x=y\"]\nworker_cmd = \"/bin/echo 'two words' x\"\n")
            .configuration
        #expect(configuration.workers == Configuration.automaticWorkerCount)
        #expect(configuration.umask == 0o027)
        #expect(configuration.workerCommand == ["/bin/echo", "two words", "x"])
        #expect(configuration.workerEnvironment["A"] == "1" && configuration.workerEnvironment["B"] == "x=y")
        for (text, mask) in [("022", 0o022), ("0o22", 0o022), ("0x12", 0o022), ("18", 0o022)] {
            #expect(try load(commandLine: [("umask", text)]).configuration.umask == mask, "umask \(text)")
        }
        #expect(try errors("raw_env = [\"NOEQUALS\"]\n").first?.contains("expected KEY=VALUE") == true)
    }

    @Test func theWorkerCommandMustBeExecutable() throws {
        let found = try errors("worker_cmd = [\"/nonexistent/worker\", \"--x\"]\n")
        #expect(found.first?.contains(":1: worker_cmd: \"/nonexistent/worker\" is not an executable file") == true, "\(found)")
    }

    @Test func printedConfigurationLoadsBackUnchanged() throws {
        let original = try load("workers = 3\nbind = [\"127.0.0.1:9\", \"unix:/tmp/x \\\"q\\\".sock\"]\numask = 0o007\npidfile = \"/tmp/p\"\ntimeout = 2.5\n")
            .configuration
        let printed = original.printed
        let lines = printed.split(separator: "\n")
        #expect(lines == lines.sorted(), "sorted by name")
        #expect(lines.contains("workers = 3") && lines.contains("umask = 0o7") && lines.contains("timeout = 2.5"))
        #expect(lines.contains("proc_name = ''"), "unset settings print as empty strings")
        #expect(try load(printed).configuration == original)
    }

    @Test func settingsReachTheWorkersEnvironment() throws {
        let environment = try load("keepalive = 5\nworker_connections = 7\nlimit_request_fields = 0\naccesslog = \"-\"\nraw_env = [\"CORRAL_KEEPALIVE=9\"]\n")
            .configuration.workerEnvironment
        #expect(environment["CORRAL_WORKER_CONNECTIONS"] == "7")
        #expect(environment["CORRAL_LIMIT_REQUEST_FIELDS"] == "0", "the worker reads 0 as gunicorn's maximum")
        #expect(environment["CORRAL_ACCESSLOG"] == "-")
        #expect(environment["CORRAL_KEEPALIVE"] == "9", "raw_env wins")
    }

    @Test func wordsSplitLikeAShell() {
        #expect(Configuration.words(of: #"a "b c" 'd "e"' f\ g"#) == ["a", "b c", #"d "e""#, "f g"])
        #expect(Configuration.words(of: "  ") == [])
        #expect(Configuration.words(of: #"x """#) == ["x", ""])
    }
}

import Foundation
import Testing

/// `corrald -c gunicorn_config.py`: a gunicorn config file is read as gunicorn reads it (run by
/// python3 as a module), at start and on every reload, and its errors name the file and line.
@Suite(.serialized) struct GunicornConfigFileTests {
    private let corrald = Binaries.path("corrald")
    private let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))

    /// The article's two configs, unchanged, with its command line: workers, pidfile, the access
    /// log in its format, and a reload under load that fails no request.
    @Test(arguments: ["gevent_config.py", "meinheld_config.py"])
    func theArticlesConfigsServeUnchanged(_ name: String) throws {
        try WSGIApps.requireVirtualenv()
        let repository = WSGIApps.repository
        let config = try String(contentsOf: repository.appendingPathComponent("tests/gunicorn/\(name)"), encoding: .utf8)
        let lines = config.split(separator: "\n", omittingEmptySubsequences: false)
        func line(_ start: String) -> Int { (lines.firstIndex { $0.hasPrefix(start) } ?? -1) + 1 }
        let daemon = try CorraldProcess(["-c", "gunicorn_config.py", "--virtualenv", WSGIApps.virtualenv, "flask_server:app"],
                                        pidfileFlag: false) { directory in
            directory.write("gunicorn_config.py", config)
            directory.write("flask_server.py", try! String(contentsOf: repository.appendingPathComponent("config/flask/flask_server.py"), encoding: .utf8))
        }
        let workers = cores * 2 + 1
        #expect(daemon.waitUntilServing(workers: workers), "\(daemon.log)")
        let pidfile = try? String(contentsOfFile: daemon.directory.file("app_run.log"), encoding: .utf8)
        #expect(pidfile?.trimmingCharacters(in: .whitespacesAndNewlines) == "\(daemon.pid)", "the file's pidfile")
        #expect(try request(port: daemon.port, "GET", "/?from=article")?.text == "Hello, World!")
        let accessLog = daemon.directory.file("access.log")
        #expect(eventually { ((try? String(contentsOfFile: accessLog, encoding: .utf8)) ?? "").contains("] / from=article\n") },
                "%(h)s %(t)s %(U)s %(q)s: \((try? String(contentsOfFile: accessLog, encoding: .utf8)) ?? "no access.log")")
        // What gunicorn would do differently, or silently, is said.
        #expect(daemon.log.contains("gunicorn_config.py:\(line("logfile =")): logfile is gunicorn's old name for errorlog, which gunicorn ignores"), "\(daemon.log)")
        #expect(daemon.log.contains("gunicorn_config.py:\(line("threads =")): threads = \(cores * 2) does nothing with worker_class"), "\(daemon.log)")

        let before = daemon.workers
        let load = LoadClients(port: daemon.port, clients: 4)
        daemon.signal(SIGHUP)
        #expect(eventually(timeout: 60) { daemon.workers.count == workers && daemon.workers.isDisjoint(with: before) }, "\(daemon.log)")
        let result = load.stop()
        #expect(result.failures == 0, "\(result)")
        #expect(result.responses > 0)
    }

    /// The file is run again on each reload: a change applies, a file that now raises fails the
    /// reload (the old workers serve on) with the file and line.
    @Test func aReloadRunsTheFileAgain() throws {
        try WSGIApps.requireVirtualenv()
        func config(workers: String) -> String {
            """
            import os
            wsgi_app = "flask_app:app"
            chdir = \(String(reflecting: WSGIApps.directory))
            virtualenv = \(String(reflecting: WSGIApps.virtualenv))
            workers = \(workers)
            boot_timeout = 20

            """
        }
        let daemon = try CorraldProcess(["-c", "corral.conf.py"]) { $0.write("corral.conf.py", config(workers: "1")) }
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        daemon.directory.write("corral.conf.py", config(workers: "int(os.environ.get('NO_SUCH_VARIABLE', '2'))"))
        let first = daemon.workers
        daemon.signal(SIGHUP)
        #expect(eventually { daemon.workers.count == 2 && daemon.workers.isDisjoint(with: first) }, "\(daemon.log)")
        let serving = daemon.workers
        daemon.directory.write("corral.conf.py", config(workers: "int(os.environ['NO_SUCH_VARIABLE'])"))
        daemon.signal(SIGHUP)
        #expect(eventually { daemon.log.contains("corral.conf.py:5: KeyError: 'NO_SUCH_VARIABLE'") }, "\(daemon.log)")
        #expect(daemon.log.contains("reload failed"), "\(daemon.log)")
        #expect(daemon.workers == serving, "the old workers serve on")
        #expect(try request(port: daemon.port, "GET", "/")?.status == 200)
    }

    @Test func errorsNameTheFileAndLine() throws {
        let directory = TemporaryDirectory()
        func check(_ name: String, _ text: String) -> (status: Int32, output: String) {
            directory.write(name, text)
            let result = shell("cd \(directory.path) && \(corrald) -c \(name) --check-config 2>&1")
            return (result.status, result.output)
        }
        let raised = check("raises.py", "workers = 4\nthreads = workers / 0\n")
        #expect(raised.status == 1)
        #expect(raised.output.contains("raises.py:2: ZeroDivisionError: division by zero (raised while running it with"), "\(raised.output)")
        #expect(raised.output.contains("File \"raises.py\", line 2, in <module>"), "the traceback: \(raised.output)")

        let syntax = check("syntax.py", "workers = 4\nif True\n    threads = 2\n")
        #expect(syntax.status == 1)
        #expect(syntax.output.contains("syntax.py:2: not valid Python: expected ':'"), "\(syntax.output)")

        let values = check("values.py", "worker = 3\ntimeout = \"45\"\nworkers = \"many\"\nmax_requests = object()\n")
        #expect(values.status == 1)
        let lines = values.output.split(separator: "\n").map(String.init)
        let three = try #require(lines.firstIndex { $0.contains("values.py:3: workers: expected a positive integer or \"auto\", got the string \"many\"") },
                                 "\(values.output)")
        let four = try #require(lines.firstIndex { $0.contains("values.py:4: max_requests: <object object at") && $0.contains("is not a value corral reads") },
                                "\(values.output)")
        #expect(three < four, "in the file's order")

        // As gunicorn does, strings become the setting's type, and the file's own names are
        // passed over; a name one letter from a setting is a typo worth a warning.
        let typo = check("typo.py", "worker = 3\ntimeout = \"45\"\nbind_host = \"127.0.0.1\"\nbind = bind_host + \":9000\"\n")
        #expect(typo.status == 0, "\(typo.output)")
        #expect(typo.output.contains("typo.py:1: worker is not a setting, so gunicorn ignores it and so does corral; did you mean workers?"), "\(typo.output)")
        #expect(!typo.output.contains("bind_host"), "\(typo.output)")
        let printed = shell("cd \(directory.path) && \(corrald) -c typo.py --print-config 2>/dev/null").output
        #expect(printed.contains("timeout = 45.0") && printed.contains("bind = [ '127.0.0.1:9000' ]"), "\(printed)")

        // A file not named .py is read as TOML first, then as Python; neither is said plainly.
        let python = check("gunicorn.conf", "import os\nworkers = 3\n")
        #expect(python.status == 0, "\(python.output)")
        let neither = check("server.conf", "workers = 3\nbind = \n")
        #expect(neither.status == 1)
        #expect(neither.output.contains("server.conf:2: ") && neither.output.contains("expected TOML such as `workers = 4`; nor is it a gunicorn config file (name it .py to read it as one)"),
                "\(neither.output)")

        // gunicorn's python:MODULE form, from the directory corrald starts in.
        directory.write("settings_module.py", "workers = 6\n")
        let module = shell("cd \(directory.path) && \(corrald) -c python:settings_module --print-config 2>&1")
        #expect(module.status == 0 && module.output.contains("workers = 6"), "\(module.output)")
    }

    /// The app's virtualenv's python3 reads the file, so it may import what the app imports.
    @Test func theFileRunsWithTheVirtualenvsInterpreter() throws {
        try WSGIApps.requireVirtualenv()
        let directory = TemporaryDirectory()
        directory.write("gunicorn_config.py", "import flask\nimport sys\nproc_name = 'flask-' + flask.__name__ + '-' + sys.prefix\n")
        let printed = shell("cd \(directory.path) && \(corrald) -c gunicorn_config.py --virtualenv \(WSGIApps.virtualenv) --print-config 2>&1")
        #expect(printed.status == 0, "\(printed.output)")
        #expect(printed.output.contains("proc_name = 'flask-flask-\(WSGIApps.virtualenv)'"), "\(printed.output)")
    }
}

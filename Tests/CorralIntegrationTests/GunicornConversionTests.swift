import Foundation
import Testing

/// `corrald --from-gunicorn`: the article's gunicorn_config.py files, run with python3 as gunicorn
/// runs them, become a corral.toml that loads and means the same; errors show the traceback.
@Suite(.serialized) struct GunicornConversionTests {
    private let corrald = Binaries.path("corrald")
    private let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))

    private func convert(_ file: String, into directory: TemporaryDirectory) -> (toml: String, status: Int32, stderr: String) {
        let stderr = directory.file("stderr.txt")
        let result = shell("\(corrald) --from-gunicorn \(shellQuoted(file)) 2>\(stderr)")
        return (result.output, result.status, (try? String(contentsOfFile: stderr, encoding: .utf8)) ?? "")
    }

    @Test(arguments: [("gevent_config.py", "gevent"), ("meinheld_config.py", "egg:meinheld#gunicorn_worker")])
    func theArticlesConfigsConvertLoadAndMeanTheSame(_ name: String, _ workerClass: String) throws {
        let directory = TemporaryDirectory()
        let source = WSGIApps.repository.appendingPathComponent("tests/gunicorn/\(name)").path
        let converted = convert(source, into: directory)
        #expect(converted.status == 0, "\(converted.stderr)")
        directory.write("corral.toml", converted.toml)
        let check = shell("\(corrald) -c \(directory.file("corral.toml")) --check-config")
        #expect(check.status == 0, "\(converted.toml)\n\(check.output)")

        // gunicorn's reading of the same file, setting by setting.
        let printed = Set(shell("\(corrald) -c \(directory.file("corral.toml")) --print-config").output.split(separator: "\n").map(String.init))
        for line in ["bind = [ '0.0.0.0:5000' ]", "workers = \(cores * 2 + 1)", "threads = \(cores * 2)", "backlog = 2048",
                     "worker_class = '\(workerClass)'", "worker_connections = 1200", "preload_app = true", "proc_name = 'gunicorn.pid'",
                     "pidfile = 'app_run.log'", "loglevel = 'debug'", "accesslog = 'access.log'",
                     "access_log_format = '%(h)s %(t)s %(U)s %(q)s'",
                     "errorlog = '-'"] {  // gunicorn ignores `logfile`: errors stay on stderr
            #expect(printed.contains(line), "\(line) in \(converted.toml)")
        }
        // What corral does not apply is said, not dropped.
        #expect(converted.toml.contains("\npreload_app = true\n"), "applied: \(converted.toml)")
        #expect(converted.toml.contains("# errorlog = \"debug.log\"\n#   ^ from `logfile`, gunicorn's old name for errorlog: gunicorn ignores it"))
        #expect(!converted.toml.contains("multiprocessing"), "imported modules are not settings")
        #expect(converted.toml.contains("# Note: threads = \(cores * 2) does nothing with worker_class = \"\(workerClass)\": each request is a greenlet"),
                "\(converted.toml)")
    }

    @Test func hooksUnknownNamesAndTablesAreAccountedFor() throws {
        let directory = TemporaryDirectory()
        directory.write("gunicorn.conf.py", """
            import os
            print("config loading")  # a config's own output must not end up in the TOML
            bind = ["127.0.0.1:8001", "unix:/tmp/app.sock"]
            raw_env = ["MODE=prod"]
            secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
            logconfig_dict = {"version": 1, "root": {"level": "INFO"}}
            pidfile = None
            timeout = 45.5
            def on_starting(server):
                pass
            def helper():
                return 3
            max_requests = helper() * 1000
            favourite_colour = "blue"
            worker = 3

            """)
        let converted = convert(directory.file("gunicorn.conf.py"), into: directory)
        #expect(converted.status == 0, "\(converted.stderr)")
        #expect(converted.stderr.contains("config loading"))
        let toml = converted.toml
        for expected in ["bind = [ '127.0.0.1:8001', 'unix:/tmp/app.sock' ]", "raw_env = [ 'MODE=prod' ]",
                         "secure_scheme_headers = { X-FORWARDED-PROTO = 'https' }", "timeout = 45.5", "max_requests = 3000",
                         "# pidfile: None in the file, the default",
                         "# on_starting = <a function>  # not applied: server hooks are Python functions: they run when corrald reads the gunicorn config file itself (-c gunicorn_config.py)",
                         "logconfig_dict = { \"version\" = 1, \"root\" = { \"level\" = \"INFO\" } }",
                         "# favourite_colour = \"blue\"  # not a gunicorn setting: gunicorn ignores it too\n",
                         "# worker = 3  # not a gunicorn setting: gunicorn ignores it too; did you mean workers?"] {
            #expect(toml.contains(expected), "\(expected) in\n\(toml)")
        }
        #expect(!toml.contains("helper") && !toml.contains("config loading"))
        directory.write("corral.toml", toml)
        let check = shell("\(corrald) -c \(directory.file("corral.toml")) --check-config")
        #expect(check.status == 0, "\(toml)\n\(check.output)")
    }

    @Test func aFileThatRaisesShowsItsTracebackAndExits1() {
        let directory = TemporaryDirectory()
        directory.write("broken.py", "workers = 4\nthreads = workers / 0\n")
        let converted = convert(directory.file("broken.py"), into: directory)
        #expect(converted.status == 1)
        #expect(converted.toml.isEmpty, "nothing half-converted on stdout: \(converted.toml)")
        #expect(converted.stderr.contains("Traceback"), "\(converted.stderr)")
        #expect(converted.stderr.contains("broken.py\", line 2"), "\(converted.stderr)")
        #expect(converted.stderr.contains("ZeroDivisionError"), "\(converted.stderr)")
        #expect(converted.stderr.contains("corrald: \(directory.file("broken.py")):2: ZeroDivisionError: division by zero (raised while running it with"),
                "\(converted.stderr)")
        #expect(!converted.stderr.contains("File \"<string>\""), "the reader's own frames are not the user's: \(converted.stderr)")

        let missing = convert(directory.file("absent.py"), into: directory)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("absent.py: cannot read the config file: No such file or directory"), "\(missing.stderr)")
    }
}

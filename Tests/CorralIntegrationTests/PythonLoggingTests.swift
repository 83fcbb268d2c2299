import Foundation
import Testing

/// gunicorn's logconfig_dict, logconfig_json and logconfig: the app's Python logging configured in
/// each worker before the app is imported; what they say about gunicorn's own loggers applied to
/// corral's logs where it can be, and said where it cannot; a broken one refused at start.
@Suite(.serialized) struct PythonLoggingTests {
    private let corrald = Binaries.path("corrald")

    /// corrald run with `arguments`: what it printed (stdout only when `stdoutOnly`) and its status.
    private func corraldOutput(_ arguments: [String], stdoutOnly: Bool = false) -> (output: String, status: Int32) {
        shell(([corrald] + arguments).map(shellQuoted).joined(separator: " ") + (stdoutOnly ? " 2>/dev/null" : ""))
    }

    private func contents(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// The shape of logging config gunicorn users write: the app's logger to a file, gunicorn.error
    /// to stdout at a level, gunicorn.access to a file.
    private func loggingDict(_ directory: TemporaryDirectory, errorLevel: String = "DEBUG") -> String {
        """
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
            "handlers": {
                "app": {"class": "logging.FileHandler", "filename": \(String(reflecting: directory.file("app.log"))), "formatter": "plain"},
                "console": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "plain"},
                "access": {"class": "logging.FileHandler", "filename": \(String(reflecting: directory.file("access.log")))},
            },
            "loggers": {
                "app": {"level": "INFO", "handlers": ["app"], "propagate": False},
                "gunicorn.error": {"level": \(String(reflecting: errorLevel)), "handlers": ["console"], "propagate": False},
                "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
            },
        }
        """
    }

    @Test func logconfigDictInAGunicornConfigFile() throws {
        try WSGIApps.requireVirtualenv()
        let daemon = try CorraldProcess(["-c", "gunicorn_config.py", "--chdir", WSGIApps.directory, "--virtualenv", WSGIApps.virtualenv,
                                         "flask_app:app"]) { directory in
            directory.write("gunicorn_config.py", "workers = 2\nlogconfig_dict = \(loggingDict(directory))\nlogconfig_json = 'ignored.json'\n")
        }
        #expect(daemon.waitUntilServing(workers: 2), "\(daemon.log)")
        // The app's logger, configured in every worker: its handler and formatter.
        for message in ["first", "second", "third"] {
            #expect(try request(port: daemon.port, "GET", "/log?message=\(message)")?.status == 200)
        }
        let appLog = daemon.directory.file("app.log")
        #expect(eventually { contents(appLog).contains("INFO app logged third\n") }, "app.log: \(contents(appLog))\n\(daemon.log)")
        #expect(contents(appLog).contains("INFO app logged first\n"))
        // gunicorn.access's file is corral's access log; gunicorn.error's level is loglevel.
        let accessLog = daemon.directory.file("access.log")
        #expect(eventually { contents(accessLog).contains("\"GET /log?message=third HTTP/1.1\" 200") }, "access.log: \(contents(accessLog))")
        #expect(daemon.log.contains("gunicorn_config.py:2: logconfig_dict: gunicorn.access's handler applies to corral's own log: accesslog = \"\(accessLog)\""),
                "\(daemon.log)")
        #expect(daemon.log.contains("logconfig_dict: gunicorn.error's level applies to corral's own log: loglevel = \"debug\""), "\(daemon.log)")
        #expect(daemon.log.contains("logconfig_json is ignored: logconfig_dict is set, and comes first (gunicorn's order"), "\(daemon.log)")
        // What cannot be mapped is said: corral writes its own lines, not Python's formatter's.
        #expect(daemon.log.contains("logconfig_dict: the formatter of gunicorn.error's handler does not apply: corral writes its own lines there"),
                "\(daemon.log)")
    }

    /// gunicorn's level for its error log is corral's: a WARNING there silences corrald's INFO lines.
    @Test func gunicornErrorsLevelIsTheLogLevel() throws {
        try WSGIApps.requireVirtualenv()
        let daemon = try CorraldProcess(["-c", "gunicorn_config.py", "--chdir", WSGIApps.directory, "--virtualenv", WSGIApps.virtualenv,
                                         "flask_app:app"]) { directory in
            directory.write("gunicorn_config.py", "workers = 1\nlogconfig_dict = \(loggingDict(directory, errorLevel: "WARNING"))\n")
        }
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        #expect(daemon.log.contains("loglevel = \"warning\""), "\(daemon.log)")
        #expect(!daemon.log.contains("[INFO]"), "\(daemon.log)")
        // A loglevel set in the file wins, and the difference is said.
        let check = corraldOutput(["-c", daemon.directory.file("gunicorn_config.py"), "--chdir", WSGIApps.directory,
                                    "--virtualenv", WSGIApps.virtualenv, "--log-level", "info", "--check-config", "flask_app:app"])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("logconfig_dict: what it says for gunicorn.error is not applied as loglevel: loglevel is set at command line"),
                "\(check.output)")
    }

    /// logconfig (an ini file for fileConfig) and logconfig_json, from corral.toml and flags.
    @Test(arguments: ["logconfig", "logconfig_json"])
    func logconfigFiles(_ setting: String) throws {
        try WSGIApps.requireVirtualenv()
        let directory = TemporaryDirectory()
        let appLog = directory.file("app.log")
        if setting == "logconfig" {
            directory.write("logging.ini", """
                [loggers]
                keys = root, app

                [handlers]
                keys = app

                [formatters]
                keys = plain

                [logger_root]
                handlers =

                [logger_app]
                level = INFO
                handlers = app
                qualname = app
                propagate = 0

                [handler_app]
                class = FileHandler
                args = (\(String(reflecting: appLog)),)
                formatter = plain

                [formatter_plain]
                format = ini %(levelname)s %(message)s

                """)
        } else {
            directory.write("logging.json", """
                {"version": 1, "disable_existing_loggers": false,
                 "formatters": {"plain": {"format": "json %(levelname)s %(message)s"}},
                 "handlers": {"app": {"class": "logging.FileHandler", "filename": \(String(reflecting: appLog)), "formatter": "plain"}},
                 "loggers": {"app": {"level": "INFO", "handlers": ["app"], "propagate": false}}}
                """)
        }
        let file = directory.file(setting == "logconfig" ? "logging.ini" : "logging.json")
        let daemon = try CorraldProcess(config: """
            wsgi_app = "flask_app:app"
            chdir = \(String(reflecting: WSGIApps.directory))
            virtualenv = \(String(reflecting: WSGIApps.virtualenv))
            workers = 1
            \(setting) = \(String(reflecting: file))
            """)
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        #expect(try request(port: daemon.port, "GET", "/log?message=hello")?.status == 200)
        let prefix = setting == "logconfig" ? "ini" : "json"
        #expect(eventually { contents(appLog).contains("\(prefix) INFO logged hello\n") }, "\(contents(appLog))\n\(daemon.log)")
    }

    /// A configuration Python's logging refuses fails the start (as gunicorn's does), naming the
    /// setting and where it was set; so does a file that is not there.
    @Test func aBrokenConfigurationIsRefusedAtStart() throws {
        try WSGIApps.requireVirtualenv()
        let directory = TemporaryDirectory()
        directory.write("gunicorn_config.py", """
            workers = 1
            logconfig_dict = {"version": 1, "handlers": {"broken": {"class": "logging.NoSuchHandler"}}}
            """)
        let common = ["--chdir", WSGIApps.directory, "--virtualenv", WSGIApps.virtualenv, "--check-config", "flask_app:app"]
        let broken = corraldOutput(["-c", directory.file("gunicorn_config.py")] + common)
        #expect(broken.status != 0)
        #expect(broken.output.contains("gunicorn_config.py:2: logconfig_dict: ValueError: Unable to configure handler 'broken'"), "\(broken.output)")

        let missing = corraldOutput(["--log-config", directory.file("missing.ini")] + common)
        #expect(missing.status != 0)
        #expect(missing.output.contains("command line: logconfig: \(directory.file("missing.ini")): FileNotFoundError"), "\(missing.output)")
    }

    /// --print-config writes logconfig_dict so that the printed file loads back.
    @Test func printedConfigurationLoadsBack() throws {
        try WSGIApps.requireVirtualenv()
        let directory = TemporaryDirectory()
        directory.write("corral.toml", """
            wsgi_app = "flask_app:app"
            chdir = \(String(reflecting: WSGIApps.directory))
            virtualenv = \(String(reflecting: WSGIApps.virtualenv))

            [logconfig_dict]
            version = 1
            loggers = { app = { level = "INFO" } }
            """)
        let printed = corraldOutput(["-c", directory.file("corral.toml"), "--print-config"], stdoutOnly: true)
        #expect(printed.status == 0, "\(printed.output)")
        directory.write("printed.toml", printed.output)
        let check = corraldOutput(["-c", directory.file("printed.toml"), "--check-config"])
        #expect(check.status == 0, "\(check.output)")
    }
}

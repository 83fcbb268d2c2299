/// gunicorn's settings that mean nothing for corral, with the reason the warning gives, so that a
/// gunicorn config translated line by line loads. (The ones corral applies are in `Setting.all`.)
enum GunicornSettings {
    static func reasonIgnored(_ name: String) -> String? {
        if let reason = ignored[name] { return reason }
        if name == "ssl_context" { return "it builds a Python SSLContext, and corral's workers speak TLS with OpenSSL directly: use certfile, keyfile, ca_certs, cert_reqs, ciphers and ssl_protocol_min" }
        if hooks.contains(name) { return "server hooks are Python functions: they run when corrald reads the gunicorn config file itself (-c gunicorn_config.py)" }
        if logging.contains(name) { return "corral's logs are not Python loggers; use errorlog (a file, \"-\" or \"journal\") and loglevel (logconfig_dict configures the app's Python logging)" }
        if parsing.contains(name) { return "corral's HTTP parser is strict and has no lenient modes" }
        return nil
    }

    /// Old names applied under their current one.
    static let aliases = ["logfile": "errorlog"]

    /// Every name corrald knows, for "did you mean" suggestions.
    static var allNames: [String] {
        Setting.all.map(\.name) + Array(ignored.keys) + Array(aliases.keys) + hooks + logging + parsing
    }

    private static let ignored: [String: String] = [
        "spew": "Python tracing does not apply",
        "check_config": "a command-line flag (--check-config)",
        "print_config": "a command-line flag (--print-config)",
        "daemon": "corrald stays in the foreground; run it under systemd or a container runtime",
        "raw_paste_global_conf": "PasteDeploy does not apply",
        "paste": "PasteDeploy does not apply",
        "initgroups": "workers get the group of `group` only",
        "tmp_upload_dir": "request bodies are streamed to the handler, not spooled to files",
        "worker_tmp_dir": "heartbeats are WATCHDOG=1 notifications, not temporary files",
        "capture_output": "workers' stdout and stderr always reach corrald's own",
        "enable_stdio_inheritance": "workers' stdout and stderr always reach corrald's own",
        "sendfile": "corral-worker always uses sendfile for large file bodies",
        "default_proc_name": "set by gunicorn itself",
        "forwarder_headers": "SCRIPT_NAME and PATH_INFO are not taken from proxy headers; set root_path",
        "user_group": "use user and group",
        "ssl_version": "deprecated in gunicorn, and corral speaks TLS 1.2 and 1.3 only: set the lowest with ssl_protocol_min",
        "do_handshake_on_connect": "the handshake always runs in the worker's event loop without blocking it, within header_timeout of the connection",
    ]

    static let hooks = [
        "on_starting", "on_reload", "when_ready", "pre_fork", "post_fork", "post_worker_init", "worker_int",
        "worker_abort", "pre_exec", "pre_request", "post_request", "child_exit", "worker_exit",
        "nworkers_changed", "on_exit", "ssl_context",
    ]
    private static let logging = [
        "logger_class", "syslog", "syslog_addr", "syslog_prefix",
        "syslog_facility", "disable_redirect_access_to_syslog",
    ]
    private static let parsing = [
        "strip_header_spaces", "permit_unconventional_http_method", "permit_unconventional_http_version",
        "casefold_http_method", "header_map", "permit_obsolete_folding", "tolerate_dangerous_framing",
    ]
}

"""gunicorn's Python side, for corral: reading a gunicorn config file as gunicorn does, and its
server hooks. corrald links no libpython, so it runs this with the app's python3:

    python3 -c SOURCE read TARGET     the file's public globals, one record per line
    python3 -c SOURCE hooks TARGET    the supervisor's hooks, run as corrald reports its events
    python3 -c SOURCE logconfig SETTING VALUE CHDIR [PYTHONPATH...]
                                      a logconfig setting checked, gunicorn's loggers mapped
    python3 -c SOURCE interpreter     this interpreter and its libpython, for corrald to pick
                                      the corral-python built for it (one record, below)

corral-python imports it as module `corral_gunicorn` for the workers' hooks (WorkerHooks) and
logging configuration (configure_logging).

TARGET is a file path or gunicorn's `python:module.name`. `read` executes it as a module named
`__config__` (a module name is imported) and reports each public global on the original stdout,
tab-separated:

    setting NAME KIND LINE PAYLOAD   KIND: toml, none, callable or object; LINE: 0 if unknown
    error   KIND LINE MESSAGE        KIND: syntax (the file is not Python) or raised
    warning MESSAGE                  (logconfig) what corral cannot do as the configuration says
    interpreter VERSION X.Y SHARED FREE_THREADED LIBDIR SONAME EXECUTABLE
                                     VERSION is sys.version (Py_GetVersion() in the libpython
                                     that runs it); SHARED and FREE_THREADED are 0 or 1

Payloads of kind toml are TOML values; of kind object, the Python repr. Backslashes and newlines
in payloads are escaped as \\\\ and \\n. What the file prints itself goes to stderr, as does the
traceback of an exception it raises.

`hooks` reads one JSON event per line on fd $CORRAL_HOOKS_FD ({"id", "hook", "args", "ack"}) and, for one that
asks, answers "done ID" or "failed ID MESSAGE" on the original stdout. It first says which of
the supervisor's hooks the file defines: "hooks NAME,NAME,...".
"""

import ast
import importlib
import importlib.machinery
import importlib.util
import json
import math
import os
import sys
import traceback
import types


def toml(value):
    """The TOML text for value, or None if TOML cannot say it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        items = [toml(item) for item in value]
        return None if None in items else "[" + ", ".join(items) + "]"
    if isinstance(value, dict):
        pairs = []
        for key, item in value.items():
            text = toml(item) if isinstance(key, str) else None
            if text is None:
                return None
            pairs.append(toml(key) + " = " + text)
        return "{ " + ", ".join(pairs) + " }"
    return None


def assignment_lines(source):
    """The last line at module level where each name is bound (functions' bodies do not count)."""
    lines = {}

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                lines[child.name] = child.lineno
                continue
            if isinstance(child, ast.Lambda):
                continue
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                lines[child.id] = child.lineno
            visit(child)

    visit(ast.parse(source))
    return lines


def escape(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", " ")


def report(out, *fields):
    out.write("\t".join(escape(str(field)) for field in fields) + "\n")


def line_in(path, error):
    """The line of path where error was raised (its innermost frame in that file), or 0."""
    line = 0
    for frame in traceback.extract_tb(error.__traceback__):
        if os.path.abspath(frame.filename) == os.path.abspath(path):
            line = frame.lineno or 0
    return line


def print_traceback(error):
    """The traceback from the config file's first frame on (this module's are not the user's)."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_globals.get("__name__") in ("__main__", "corral_gunicorn"):
        tb = tb.tb_next
    traceback.print_exception(type(error), error, tb, file=sys.stderr)


def load_module(target):
    """The config file (or module) executed as gunicorn does; what it raises propagates."""
    if target.startswith("python:"):
        return importlib.import_module(target[len("python:"):])
    with open(target, "rb") as file:
        code = compile(file.read(), target, "exec")
    loader = importlib.machinery.SourceFileLoader("__config__", target)
    spec = importlib.util.spec_from_file_location("__config__", target, loader=loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["__config__"] = module
    exec(code, vars(module))
    return module


def load(target, out):
    """load_module, its failure reported as a record: the module, or None."""
    try:
        return load_module(target)
    except SyntaxError as error:
        where = "" if error.filename in (None, target) else "%s: " % error.filename
        report(out, "error", "syntax", error.lineno or 0, where + str(error.msg))
    except ValueError as error:  # NUL bytes in the source
        report(out, "error", "syntax", 0, str(error))
    except BaseException as error:
        print_traceback(error)
        where = "importing %s: " % target[len("python:"):] if target.startswith("python:") else ""
        report(out, "error", "raised", line_in(target, error), "%s%s: %s" % (where, type(error).__name__, error))
    return None


def read(target):
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # what the config file prints goes to stderr, not into the records
    module = load(target, out)
    if module is not None:
        try:
            with open(module.__file__, "rb") as file:
                lines = assignment_lines(file.read())
        except (OSError, TypeError, SyntaxError):
            lines = {}
        for name, value in vars(module).items():
            if name.startswith("_") or isinstance(value, types.ModuleType):
                continue
            if value is None:
                kind, payload = "none", ""
            elif callable(value):
                kind, payload = "callable", ""
            else:
                kind, payload = "toml", toml(value)
                if payload is None:
                    kind, payload = "object", repr(value)
            report(out, "setting", name, kind, lines.get(name, 0), payload)
    out.flush()


# MARK: Server hooks

LEVELS = {"debug": 7, "info": 6, "warning": 4, "error": 3, "critical": 2}
WORKER_HOOKS = ("post_fork", "post_worker_init", "pre_request", "post_request", "worker_int", "worker_abort", "worker_exit")
SUPERVISOR_HOOKS = ("on_starting", "when_ready", "on_reload", "pre_fork", "pre_exec", "child_exit", "nworkers_changed", "on_exit")


class CorralObject:
    """An object a hook receives: what hooks use in practice, and a clear error for the rest."""
    _offers = ()

    def __getattr__(self, name):
        raise AttributeError("%s has no attribute %r under corral (it offers %s)"
                             % (type(self).__name__, name, ", ".join(self._offers)))


class Log(CorralObject):
    """worker.log and server.log: gunicorn's logger methods, into corral's error log."""
    _offers = ("debug", "info", "warning", "error", "critical", "exception", "log")

    def __init__(self, write):
        self._write = write

    def log(self, level, message, *args, **kwargs):
        text = str(message) % args if args else str(message)
        if kwargs.get("exc_info"):
            text += "\n" + traceback.format_exc().rstrip("\n")
        self._write(level if isinstance(level, int) else LEVELS.get(str(level).lower(), 6), text)

    def debug(self, message, *args, **kwargs): self.log(7, message, *args, **kwargs)
    def info(self, message, *args, **kwargs): self.log(6, message, *args, **kwargs)
    def warning(self, message, *args, **kwargs): self.log(4, message, *args, **kwargs)
    warn = warning
    def error(self, message, *args, **kwargs): self.log(3, message, *args, **kwargs)
    def critical(self, message, *args, **kwargs): self.log(2, message, *args, **kwargs)

    def exception(self, message, *args, **kwargs):
        self.log(3, message, *args, exc_info=True)


class Settings(CorralObject):
    """server.cfg: every effective setting by gunicorn's name (corral's JSON of them)."""

    def __init__(self, settings):
        self.__dict__.update(settings)
        self._offers = tuple(sorted(settings))

    @property
    def settings(self):
        return {name: value for name, value in vars(self).items() if not name.startswith("_")}


class Server(CorralObject):
    """The arbiter as hooks see it: corrald."""
    _offers = ("cfg", "pid", "num_workers", "log", "app")

    def __init__(self, cfg, pid, log):
        self.cfg, self.pid, self.log = cfg, pid, log
        self.num_workers = getattr(cfg, "workers", 1)
        self.app = self


class Worker(CorralObject):
    _offers = ("pid", "ppid", "age", "log", "cfg", "alive", "booted", "aborted")

    def __init__(self, pid, age, log, cfg):
        self._pid, self.age, self.log, self.cfg = pid, age, log, cfg
        self.alive, self.booted, self.aborted = True, False, False

    @property
    def pid(self):
        return self._pid if self._pid is not None else os.getpid()

    @property
    def ppid(self):
        return os.getppid()


class Request(CorralObject):
    """pre_request's and post_request's `req`, from the request's environ."""
    _offers = ("method", "uri", "path", "query", "version", "headers", "scheme", "remote_addr")

    def __init__(self, environ):
        self.method = environ.get("REQUEST_METHOD", "")
        self.path = environ.get("PATH_INFO", "")
        self.query = environ.get("QUERY_STRING", "")
        self.uri = environ.get("RAW_URI", self.path)
        protocol = environ.get("SERVER_PROTOCOL", "HTTP/1.1")
        self.version = tuple(int(part) for part in protocol[5:].split(".")) if protocol.startswith("HTTP/") else (1, 1)
        self.scheme = environ.get("wsgi.url_scheme", "http")
        self.remote_addr = environ.get("REMOTE_ADDR")
        self.headers = [(name[5:].replace("_", "-"), value) for name, value in environ.items() if name.startswith("HTTP_")]
        for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(name):
                self.headers.append((name.replace("_", "-"), environ[name]))

    @classmethod
    def from_scope(cls, scope):
        """The same from an ASGI HTTP scope (worker_class asgi)."""
        request = cls.__new__(cls)
        request.method, request.path, request.scheme = scope["method"], scope["path"], scope["scheme"]
        request.query = scope["query_string"].decode("latin-1")
        request.uri = scope["raw_path"].decode("latin-1") + ("?" + request.query if request.query else "")
        request.version = tuple(int(part) for part in scope["http_version"].split("."))
        request.remote_addr = scope["client"][0] if scope.get("client") else None
        request.headers = [(name.decode("latin-1").upper(), value.decode("latin-1")) for name, value in scope["headers"]]
        return request


class Response(CorralObject):
    """post_request's `resp`: what the app answered."""
    _offers = ("status", "status_code", "headers")

    def __init__(self, status, headers):
        self.status = status or ""
        self.status_code = int(self.status.split(" ", 1)[0]) if self.status[:3].isdigit() else None
        self.headers = list(headers or ())


def hook_functions(module, names):
    return {name: getattr(module, name) for name in names if callable(getattr(module, name, None))}


class WorkerHooks:
    """The config file's worker hooks, in a corral-python worker, with the objects they receive."""

    def __init__(self, target, settings, supervisor_pid, write_log):
        module = load_module(target)
        self.functions = hook_functions(module, WORKER_HOOKS)
        self.log = Log(write_log)
        self.cfg = Settings(settings)
        self.server = Server(self.cfg, supervisor_pid, self.log)
        self.worker = Worker(None, int(os.environ.get("CORRAL_WORKER_AGE", "0")), self.log, self.cfg)

    def run(self, name, *args, raising=False):
        """Runs hook `name` if the file has it. An exception is logged with its traceback, or
        raised where gunicorn's would take the worker down."""
        function = self.functions.get(name)
        if function is None:
            return
        try:
            function(*args)
        except BaseException:
            if raising:
                raise
            self.log.error("the %s hook raised:\n%s" % (name, traceback.format_exc().rstrip("\n")))

    def post_fork(self):
        self.worker.age = int(os.environ.get("CORRAL_WORKER_AGE", "0"))
        self.run("post_fork", self.server, self.worker, raising=True)

    def post_worker_init(self):
        self.run("post_worker_init", self.worker, raising=True)
        self.worker.booted = True

    def has(self, name):
        return name in self.functions


def serve_supervisor_hooks(target):
    """`hooks`: runs the supervisor's hooks as corrald reports its events, in order."""
    import json
    try:
        with open("/proc/self/comm", "w") as comm:
            comm.write("corral-hooks")   # what ps and corrald's tests see
    except OSError:
        pass
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    settings = json.loads(os.environ.get("CORRAL_SETTINGS", "{}"))
    module = load_module(target)
    functions = hook_functions(module, SUPERVISOR_HOOKS)
    out.write("hooks %s\n" % ",".join(sorted(functions)))
    out.flush()

    def write_log(level, text):
        name = {7: "DEBUG", 6: "INFO", 4: "WARNING", 3: "ERROR", 2: "CRITICAL"}.get(level, "INFO")
        for line in text.split("\n"):
            sys.stderr.write("[hooks] [%s] %s\n" % (name, line))
        sys.stderr.flush()
    log = Log(write_log)
    cfg = Settings(settings)
    server = Server(cfg, os.getppid(), log)
    for line in os.fdopen(int(os.environ.get("CORRAL_HOOKS_FD", "0")), "r"):
        event = json.loads(line)
        hook, args = event["hook"], event.get("args", {})
        server.num_workers = args.get("num_workers", server.num_workers)
        function = functions.get(hook)
        failure = None
        if function is not None:
            try:
                if hook in ("pre_fork", "child_exit"):
                    function(server, Worker(args.get("pid"), args.get("age", 0), log, cfg))
                elif hook == "nworkers_changed":
                    function(server, args["new_value"], args["old_value"])
                else:
                    function(server)
            except BaseException as error:
                log.error("the %s hook raised:\n%s" % (hook, traceback.format_exc().rstrip("\n")))
                failure = "%s: %s" % (type(error).__name__, error)
        if event.get("ack"):
            out.write(("failed %d %s\n" % (event["id"], failure.replace("\n", " "))) if failure else "done %d\n" % event["id"])
            out.flush()


# MARK: Python logging configuration

LOGCONFIG_SETTINGS = (("logconfig_dict", "CORRAL_LOGCONFIG_DICT"), ("logconfig_json", "CORRAL_LOGCONFIG_JSON"),
                      ("logconfig", "CORRAL_LOGCONFIG"))


def configure_logging(environ):
    """Applies the logging configuration corrald passed, as gunicorn does (dictConfig, or
    fileConfig keeping existing loggers); returns the setting's name, or None when there is none."""
    import logging.config
    for name, variable in LOGCONFIG_SETTINGS:
        value = environ.get(variable)
        if not value:
            continue
        try:
            if name == "logconfig_dict":
                logging.config.dictConfig(json.loads(value))
            elif name == "logconfig_json":
                with open(value, encoding="utf-8") as file:
                    logging.config.dictConfig(json.load(file))
            else:
                if not os.path.exists(value):
                    raise FileNotFoundError("no such file")
                logging.config.fileConfig(value, defaults={"__file__": value, "here": os.path.dirname(value)},
                                          disable_existing_loggers=False)
        except Exception as error:
            where = name if name == "logconfig_dict" else "%s: %s" % (name, value)
            raise ValueError("%s: %s: %s" % (where, type(error).__name__, error)) from error
        return name
    return None


def map_gunicorn_loggers(name, out):
    """What the configuration says about gunicorn's own loggers, as corral settings where it can
    be said (setting records: the level of gunicorn.error is loglevel, a file or stream handler
    of gunicorn.error or gunicorn.access is errorlog or accesslog) and warnings where it cannot:
    corral's own lines are not Python log records, so handlers' formatters and filters and other
    handler kinds do not apply to them."""
    import logging
    error_log = logging.getLogger("gunicorn.error")
    level = logging.getLevelName(error_log.level).lower()
    if level in ("debug", "info", "warning", "error", "critical"):
        report(out, "setting", "loglevel", "toml", 0, toml(level))
    elif error_log.level != logging.NOTSET:
        report(out, "warning", "%s: gunicorn.error's level %s is not one of corral's log levels" % (name, error_log.level))
    for logger_name, setting in (("gunicorn.error", "errorlog"), ("gunicorn.access", "accesslog")):
        mapped = False
        for handler in logging.getLogger(logger_name).handlers:
            if isinstance(handler, logging.FileHandler):
                destination = handler.baseFilename
            elif type(handler) is logging.StreamHandler and handler.stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
                destination = "-"
            else:
                report(out, "warning", "%s: %s's handler %s does not apply to corral's lines (a file or a stdout/stderr "
                       "handler does, as %s)" % (name, logger_name, type(handler).__name__, setting))
                continue
            if mapped:
                report(out, "warning", "%s: %s has more than one handler; corral writes its lines to the first one's "
                       "destination only" % (name, logger_name))
                continue
            mapped = True
            report(out, "setting", setting, "toml", 0, toml(destination))
            if handler.formatter is not None and handler.formatter._fmt not in (None, "%(message)s"):
                what = "access_log_format" if setting == "accesslog" else "corral's error log format"
                report(out, "warning", "%s: the formatter of %s's handler does not apply: corral writes its own lines "
                       "there (%s)" % (name, logger_name, what))
            if handler.filters or logging.getLogger(logger_name).filters:
                report(out, "warning", "%s: the filters on %s do not apply to corral's lines" % (name, logger_name))


def check_logging(name, value, chdir, *pythonpath):
    """`logconfig`: applies the configuration here, as gunicorn's arbiter does before it forks
    (an error is a configuration error, reported as gunicorn would at start), then maps what it
    says about gunicorn's loggers."""
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    if chdir:
        os.chdir(chdir)
    sys.path[:0] = list(pythonpath) + [os.getcwd()]
    try:
        configure_logging({dict(LOGCONFIG_SETTINGS)[name]: value})
    except ValueError as error:
        report(out, "error", "raised", 0, str(error))
    else:
        map_gunicorn_loggers(name, out)
    out.flush()


def describe_interpreter():
    """`interpreter`: what corrald needs to serve a venv of this Python with its own libpython."""
    import sysconfig
    get = sysconfig.get_config_var
    report(sys.stdout, "interpreter", sys.version, "%d.%d" % sys.version_info[:2], int(bool(get("Py_ENABLE_SHARED"))),
           int(bool(get("Py_GIL_DISABLED"))), get("LIBDIR") or "", get("INSTSONAME") or "",
           getattr(sys, "_base_executable", None) or sys.executable)


if __name__ == "__main__":
    if sys.argv[1] == "interpreter":
        describe_interpreter()
    elif sys.argv[1] == "logconfig":
        check_logging(*sys.argv[2:])
    else:
        {"read": read, "hooks": serve_supervisor_hooks}[sys.argv[1]](sys.argv[2])

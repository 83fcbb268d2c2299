"""The Python half of corral-python's bridge, run in the worker's interpreter as module
`corral_runtime`: loading the app as gunicorn does, and PEP 3333's rules (wsgi.input,
start_response with exc_info, write(), close() on every path, file_wrapper). It talks to the
loop only through `_corral` (Sources/CorralPython/Runtime/CorralModule.swift)."""
import array, ast, gc, importlib, os, sys, traceback, _socket, _thread
from _thread import get_ident as thread_ident   # bound before gevent patches _thread (greenlet ids)
_start_thread = _thread.start_new_thread
_fork = os.fork   # the interpreter's, bound before gevent patches os (preload_app)
_FDS = array.array('i')
import _corral

ERROR, CRITICAL = 3, 2
HOP_BY_HOP = frozenset(('connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization',
                        'te', 'trailers', 'transfer-encoding', 'upgrade'))


class AppLoadError(Exception):
    pass


class ClientGone(OSError):
    """The client went away, or the request body could not be read (malformed, too large)."""


class ErrorStream:
    """wsgi.errors: each line written reaches the worker's error log. Shared by every request
    and thread, so it keeps nothing between calls (a write is its own lines)."""
    def write(self, text):
        if not isinstance(text, str):
            raise TypeError('wsgi.errors.write() takes str, not %s' % type(text).__name__)
        for line in text.split('\n'):
            if line:
                _corral.log(ERROR, line)
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass


class FileWrapper:
    """wsgi.file_wrapper: served with sendfile when the file has a descriptor."""
    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, 'close'):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration


# gevent mode: token -> (serial, Waiter) of the greenlet waiting for the loop's reply to that
# request. A wait that gevent.Timeout interrupted stays here: its reply is still owed.
waiters = {}
Waiter = None


def take_reply(channel):
    """The loop's reply to the request's last call. Threads mode: `_corral.take_reply` blocks
    (GIL released). gevent mode: it answers at once when the reply is there, else None, and the
    reply comes later through the hub (serve_gevent) to this greenlet's Waiter."""
    token = channel.token
    entry = waiters.get(token)
    if entry is None:
        value = _corral.take_reply(token)
        if value is not None:
            return value
        entry = waiters[token] = (channel.serial, Waiter())
    try:
        value = entry[1].get()
    except ClientGone:
        del waiters[token]
        raise
    del waiters[token]                    # not on gevent.Timeout: the reply is still owed
    return value


class Channel:
    """One request's calls to the loop. A call that needs an answer (a body piece) waits for it;
    a piece of the response is posted without waiting and its answer (written, cut at the
    app's Content-Length, or the client gone) is taken before the next call, so the app makes
    the next piece while the last one is sent, and never runs further ahead of the client."""
    __slots__ = ('token', 'serial', 'owed', 'gone')

    def __init__(self, token, serial):
        self.token = token
        self.serial = serial
        self.owed = None                  # the _corral function whose reply is not taken yet
        self.gone = None                  # why the body or the client failed: raised again

    def ask(self, function, *args):
        if self.owed is function is _corral.read_body:
            return self._take()           # the piece an interrupted read asked for is this read's
        self.settle()
        function(self.token, *args)
        self.owed = function
        return self._take()

    def post(self, function, *args):
        """Posts a piece of the response; False (and nothing posted) once the body is cut."""
        if self.settle() is False:
            return False
        function(self.token, *args)
        self.owed = function
        return True

    def settle(self):
        """Takes the reply still owed, if any (None when there is none)."""
        if self.owed is not None:
            return self._take()
        if self.gone is not None:
            raise ClientGone(self.gone)
        return None

    def _take(self):
        try:
            value = take_reply(self)
        except ClientGone as error:
            self.owed = None
            self.gone = str(error)
            raise
        self.owed = None
        return value


class Input:
    """wsgi.input: the request body, read from the socket as the app asks, never past its end."""
    __slots__ = ('_channel', '_buffer', '_more')

    def __init__(self, channel, has_body):
        self._channel = channel
        self._buffer = b''
        self._more = has_body

    def _fill(self):
        if not self._more:
            return False
        piece = self._channel.ask(_corral.read_body)
        if not piece:
            self._more = False
            return False
        self._buffer = self._buffer + piece if self._buffer else piece
        return True

    def read(self, size=-1):
        if size is None or size < 0:
            while self._fill():
                pass
            data, self._buffer = self._buffer, b''
            return data
        while len(self._buffer) < size and self._fill():
            pass
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def readline(self, size=-1):
        if size is None:
            size = -1
        searched = 0
        while True:
            newline = self._buffer.find(b'\n', searched)
            if newline >= 0:
                end = newline + 1
                break
            if 0 <= size <= len(self._buffer):
                end = size
                break
            searched = len(self._buffer)
            if not self._fill():
                end = len(self._buffer)
                break
        if 0 <= size < end:
            end = size
        data, self._buffer = self._buffer[:end], self._buffer[end:]
        return data

    def readlines(self, hint=-1):
        lines, total = [], 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line


def _check_status(status):
    if type(status) is not str:
        raise TypeError('status must be str, not %s' % type(status).__name__)
    if len(status) < 4 or not status[:3].isdigit() or status[3] != ' ' or int(status[:3]) < 100:
        raise ValueError('status must be "NNN reason", got %r' % status)


def _checked_headers(headers):
    """The headers to send: refused when malformed (CR/LF could split the response); the
    hop-by-hop ones (Connection, Keep-Alive…) left out and values' surrounding spaces and tabs
    trimmed (Django's Set-Cookie has a leading one), as gunicorn does."""
    if type(headers) is not list:
        raise TypeError('headers must be a list, not %s' % type(headers).__name__)
    hop_by_hop = padded = False
    for header in headers:
        if type(header) is not tuple or len(header) != 2:
            raise TypeError('each header must be a (name, value) tuple, got %r' % (header,))
        name, value = header
        if type(name) is not str or type(value) is not str:
            raise TypeError('header names and values must be str: %r' % (header,))
        if not name or any(c in name for c in ' \t\r\n:\0') or any(c in value for c in '\r\n\0'):
            raise ValueError('invalid header %r' % (header,))
        if not (name.isascii() and value.isascii()):
            (name + value).encode('latin-1')     # PEP 3333: header text is latin-1
        hop_by_hop = hop_by_hop or name.lower() in HOP_BY_HOP
        padded = padded or (value and (value[0] in ' \t' or value[-1] in ' \t'))
    if padded:
        headers = [(name, value.strip(' \t')) for name, value in headers]
    if hop_by_hop:
        return [header for header in headers if header[0].lower() not in HOP_BY_HOP]
    return headers


def _declared_length(headers):
    for name, value in headers:
        if name.lower() == 'content-length' and value.isdigit():
            return int(value)
    return None


class Responder:
    __slots__ = ('channel', 'status', 'headers', 'sent', 'cut', 'head_only')

    def __init__(self, channel, head_only):
        self.channel = channel
        self.status = None
        self.headers = None
        self.sent = False
        self.cut = False                  # the body reached the app's Content-Length
        self.head_only = head_only

    def start_response(self, status, headers, exc_info=None):
        if exc_info is not None:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError('start_response() called a second time without exc_info')
        _check_status(status)
        self.status, self.headers = status, _checked_headers(headers)
        return self.write

    def write(self, data):
        if not isinstance(data, bytes):
            raise TypeError('the body must be bytes, not %s' % type(data).__name__)
        if self.status is None:
            raise AssertionError('body data before start_response()')
        if self.channel is None:
            raise RuntimeError('write() after the response ended')
        if not data or self.head_only or self.cut:
            return
        if self.sent:
            posted = self.channel.post(_corral.send, data)
        else:
            self.sent = True
            posted = self.channel.post(_corral.respond, self.status, self.headers, data, False)
        # Past the app's Content-Length nothing more is sent (the loop logs it, once).
        self.cut = not posted

    def final(self, result):
        """What ends the exchange, after the app's iterable is consumed (and before close()):
        a function of `_corral` and its arguments after the token."""
        if not self.sent and type(result) is FileWrapper and hasattr(result.filelike, 'fileno'):
            sendable = self._file(result.filelike)
            if sendable is not None:
                return sendable
        if not self.sent and type(result) in (list, tuple):
            # Whole when the app returns: head and body go in one write.
            body = b''.join(result)
            if self.status is None:
                raise AssertionError('the application returned without calling start_response()')
            return (_corral.respond, self.status, self.headers, body, True)
        # Anything else is sent as it is produced: each piece while the app makes the next.
        for chunk in result:
            self.write(chunk)
            if self.cut or (self.head_only and self.status is not None):
                break
        if self.status is None:
            raise AssertionError('the application returned without calling start_response()')
        if not self.sent:
            return (_corral.respond, self.status, self.headers, b'', True)
        return (_corral.finish,)

    def _file(self, filelike):
        if self.status is None:
            return None
        try:
            fd = filelike.fileno()
            offset = filelike.tell() if hasattr(filelike, 'tell') else 0
            count = os.fstat(fd).st_size - offset
        except (OSError, ValueError, AttributeError):
            return None
        declared = _declared_length(self.headers)
        if declared is not None:
            if declared > count:
                return None               # streamed: the client sees the short body, then the close
            count = declared
        return (_corral.send_file, self.status, self.headers, os.dup(fd), offset, max(count, 0))


application = None
running = {}
errors = ErrorStream()


def handle(token, serial, environ, has_body):
    channel = Channel(token, serial)
    responder = Responder(channel, environ['REQUEST_METHOD'] == 'HEAD')
    environ['wsgi.input'] = Input(channel, has_body)
    running[token] = (serial, thread_ident(), _current_greenlet(), environ.get('RAW_URI', ''))
    result = ending = None
    if hooks is not None and hooks.has('pre_request'):
        hooks.run('pre_request', hooks.worker, corral_gunicorn_request(environ))
    try:
        try:
            result = application(environ, responder.start_response)
            ending = responder.final(result)
        finally:
            close = getattr(result, 'close', None)
            if close is not None:
                close()
    except ClientGone:
        # The loop knows why (the client left, or the body was bad: it answers 400 or 413).
        ending = (_corral.finish,)
    except BaseException:
        if ending is not None and ending[0] is _corral.send_file:
            os.close(ending[3])           # the descriptor _file() duplicated for sendfile
        ending = (_corral.fail, _failure(environ))
    finally:
        del running[token]
        waiters.pop(token, None)          # a reply still owed is dropped by its serial
        responder.channel = None
    try:
        ending[0](token, *ending[1:])
    except Exception:                     # e.g. a header the engine cannot send: still a 500
        _corral.fail(token, _failure(environ))
    if hooks is not None and hooks.has('post_request'):
        import corral_gunicorn
        hooks.run('post_request', hooks.worker, corral_gunicorn_request(environ), environ,
                  corral_gunicorn.Response(responder.status, responder.headers))


def corral_gunicorn_request(environ):
    import corral_gunicorn
    return corral_gunicorn.Request(environ)


def _failure(environ):
    return 'Error handling request %s\n%s' % (environ.get('RAW_URI', ''), traceback.format_exc().rstrip('\n'))


gevent_mode = False


def _current_greenlet():
    if not gevent_mode:
        return None
    from greenlet import getcurrent
    return getcurrent()


def serve_threads():
    _corral.unblock_signals()
    try:
        while True:
            item = _corral.next_request()
            if item is None:
                return
            try:
                handle(*item)
            except BaseException:         # never lose a pool thread
                _corral.log(CRITICAL, 'corral-python runtime: %s' % traceback.format_exc())
    finally:
        _corral.thread_exited()


REQUEST, REPLY, FAILED, SHUTDOWN = range(4)


def take_events(fd):
    """gevent and asgi modes: the loop's events since the last wakeup (the eventfd drained)."""
    try:
        os.read(fd, 8)
    except BlockingIOError:
        pass
    return _corral.poll()


def serve_gevent():
    """gevent mode, on the main thread: gevent's default loop, which child watchers (subprocess)
    and signal handling need, as under gunicorn's gevent worker. Returns at shutdown."""
    _corral.unblock_signals()
    import gevent, gevent.event, gevent.pool
    hub = gevent.get_hub()
    group = gevent.pool.Group()
    stopped = gevent.event.Event()
    fd = _corral.event_fd()
    watcher = hub.loop.io(fd, 1)

    def ready():
        for kind, token, serial, value in take_events(fd):
            try:
                if kind == REQUEST:
                    group.spawn(handle, *value)
                elif kind == SHUTDOWN:
                    watcher.stop()
                    stopped.set()
                else:
                    entry = waiters.get(token)
                    if entry is None or entry[0] != serial:
                        continue          # for a request that has ended: nobody waits for it
                    if kind == REPLY:
                        entry[1].switch(value)
                    else:
                        entry[1].throw(ClientGone(value))
            except BaseException:         # one bad event must not lose the rest of the batch
                _corral.log(CRITICAL, 'corral-python runtime: %s' % traceback.format_exc())
    watcher.start(ready)
    stopped.wait()
    group.join()


def serve_asgi():
    """asgi mode, on the main thread: the asyncio loop, until the worker stops."""
    import corral_asgi
    corral_asgi.serve()


def monitor():
    """Writes the Python stack of each request that ran past `timeout` to the error log."""
    _corral.unblock_signals()
    while True:
        overdue = _corral.next_overdue()
        if overdue is None:
            return
        token, serial, seconds = overdue
        entry = running.get(token)
        if entry is None or entry[0] != serial:
            continue                      # it finished meanwhile (its slot may serve another)
        _, ident, greenlet, target = entry
        # A waiting greenlet keeps its frame; the running one (a view that hogs the hub) is
        # the hub thread's current frame.
        frame = greenlet.gr_frame if greenlet is not None else None
        if frame is None:
            frame = sys._current_frames().get(ident)
        stack = ''.join(traceback.format_stack(frame)).rstrip('\n') if frame is not None else '(no Python frame)'
        _corral.log(CRITICAL, 'request %s has run for more than %gs (timeout); its stack:\n%s'
                    % (target, seconds, stack))
        if hooks is not None:
            hooks.worker.aborted = True
            hooks.run('worker_abort', hooks.worker)   # gunicorn's: on timeout, before the worker goes


def import_app(spec):
    """gunicorn's rules: MODULE:NAME, MODULE:factory(literal args), or MODULE (NAME 'application')."""
    module_name, _, expression = spec.partition(':')
    expression = expression or 'application'
    try:
        node = ast.parse(expression.strip(), mode='eval').body
    except SyntaxError:
        raise AppLoadError('Failed to parse %r as an attribute name or function call.' % expression)
    if isinstance(node, ast.Name):
        name, args, kwargs = node.id, None, None
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        name = node.func.id
        try:
            args = [ast.literal_eval(arg) for arg in node.args]
            kwargs = {keyword.arg: ast.literal_eval(keyword.value) for keyword in node.keywords}
        except ValueError:
            raise AppLoadError('Failed to parse arguments as literal values: %r' % expression)
    else:
        raise AppLoadError('Failed to parse %r as an attribute name or function call.' % expression)
    module = importlib.import_module(module_name)
    try:
        app = getattr(module, name)
    except AttributeError:
        raise AppLoadError('Failed to find attribute %r in %r.' % (name, module_name))
    if args is not None:
        app = app(*args, **kwargs)
    if app is None:
        raise AppLoadError('Failed to find application object: %r' % expression)
    if not callable(app):
        raise AppLoadError('Application object must be callable.')
    return app


def source_files():
    """The files the loaded modules came from (sources, extension modules), for `reload`."""
    files = set()
    for module in list(sys.modules.values()):
        path = getattr(module, '__file__', None)
        if isinstance(path, str) and os.path.isabs(path):
            files.add(path)
    return sorted(files)


def configure_logging():
    """logconfig_dict, logconfig_json or logconfig, applied before the app is imported (corrald
    checked it already; a failure here is an app-load error)."""
    if 'corral_gunicorn' in sys.modules:
        try:
            sys.modules['corral_gunicorn'].configure_logging(os.environ)
        except ValueError as error:
            raise AppLoadError(str(error))


hooks = None   # corral_gunicorn.WorkerHooks when the config is a gunicorn config file


def load_hooks():
    """The server hooks of corrald's gunicorn config file, if it is one; worker_int and
    worker_exit run with the app's exit handlers."""
    global hooks
    path = os.environ.get('CORRAL_CONFIG_FILE')
    if not path:
        return
    import atexit, corral_gunicorn, json
    hooks = corral_gunicorn.WorkerHooks(path, json.loads(os.environ.get('CORRAL_SETTINGS', '{}')),
                                        int(os.environ.get('CORRAL_SUPERVISOR_PID', '0')), _corral.log)
    atexit.register(exiting)


def exiting():
    if _corral.interrupted():
        hooks.run('worker_int', hooks.worker)
    hooks.run('worker_exit', hooks.server, hooks.worker)


def load(spec, mode, threads, pythonpath, preloading=False):
    """Loads the app (an exception here is an app-load error: exit 4), starting no thread: with
    preload_app the process that loads it then forks the workers. post_fork runs first in a
    worker that imports the app itself (in a forked one, after the fork)."""
    global application, gevent_mode, Waiter, _start_thread
    sys.path.insert(0, os.getcwd())
    for path in reversed(pythonpath):
        sys.path.insert(0, path)
    configure_logging()
    load_hooks()
    if hooks is not None and not preloading:
        hooks.post_fork()
    if mode == 'gevent':
        try:
            from gevent import monkey
        except ImportError:
            raise AppLoadError('worker_class %s needs gevent installed in the application\'s environment' % mode)
        monkey.patch_all()
        _start_thread = monkey.get_original('_thread', 'start_new_thread')
        from gevent.hub import Waiter
        gevent_mode = True
    application = import_app(spec)
    kind = asgi_interface(application)
    if mode == 'asgi':
        if kind is None:
            raise AppLoadError('%s is a WSGI application (a plain callable, not a coroutine function); serve it with '
                               'worker_class = "sync", "gthread" or "gevent", not "asgi"' % spec)
        import corral_asgi
        corral_asgi.setup(application, kind)
        _corral.setup({}, ClientGone)
        return
    if kind == 'asgi3':                  # (a class may be a WSGI app too)
        raise AppLoadError('%s is an ASGI application (%s); serve it with worker_class = "asgi" (-k asgi, or uvicorn\'s '
                           'uvicorn.workers.UvicornWorker), not "%s"' % (spec, kind.upper(), os.environ.get('CORRAL_WORKER_CLASS', mode)))
    base = {
        'wsgi.version': (1, 0), 'wsgi.errors': errors, 'wsgi.multithread': mode == 'threads' and threads > 1,
        'wsgi.multiprocess': True, 'wsgi.run_once': False, 'wsgi.file_wrapper': FileWrapper,
        'wsgi.input_terminated': True,
    }
    _corral.setup(base, ClientGone)


def asgi_interface(app):
    """'asgi3', 'asgi2' or None (a WSGI app), as uvicorn tells them apart: a class is ASGI 2
    (instantiated with the scope) unless it is awaitable; a coroutine function, or an object
    whose __call__ is one, is ASGI 3."""
    import inspect
    if inspect.isclass(app):
        return 'asgi3' if hasattr(app, '__await__') else 'asgi2'
    if inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(getattr(app, '__call__', None)):
        return 'asgi3'
    return None


def start(threads):
    """Starts the app's threads and the hung-request monitor (gevent mode: the main thread runs
    serve_gevent next); asgi: runs lifespan startup (serve_asgi runs the loop next)."""
    if hooks is not None:
        hooks.post_worker_init()
    if 'corral_asgi' in sys.modules:
        sys.modules['corral_asgi'].start()
    elif not gevent_mode:
        for _ in range(threads):
            _corral.thread_started()
            _start_thread(serve_threads, ())
    _start_thread(monitor, ())


def preload_serve(control_fd):
    """preload_app: the app is imported; this process now forks the workers corrald asks for
    ('fork SLOT' on the control socket, with the worker's stdout and stderr as SCM_RIGHTS), twice,
    so that corrald (a child subreaper) adopts each, and reports its pid ('forked SLOT PID').
    Returns the slot in the worker; returns None here when corrald closes the socket."""
    warn_about_threads()
    # What the import made is moved out of the collector's reach: its passes would otherwise
    # write to every object's header in every worker and un-share the pages (copy-on-write).
    gc.collect()
    gc.freeze()
    control = _socket.socket(fileno=control_fd)
    control.send(b'ready')
    while True:
        try:
            message, ancillary, _, _ = control.recvmsg(64, _socket.CMSG_SPACE(2 * _FDS.itemsize))
        except InterruptedError:
            continue
        if not message:
            return None
        fds = array.array('i')
        for level, kind, data in ancillary:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
        words = message.split()
        slot = int(words[1])
        os.environ['CORRAL_WORKER_AGE'] = words[2].decode() if len(words) > 2 else '0'
        for stream in (sys.stdout, sys.stderr):
            stream.flush()   # else what is buffered would be written again by each worker
        child = _fork()
        if child == 0:
            try:
                worker = _fork()
            except OSError as error:
                control.send(b'failed %d %s' % (slot, str(error).encode()))
                os._exit(1)
            if worker:
                control.send(b'forked %d %d' % (slot, worker))
                os._exit(0)
            control.close()
            os.setpgid(0, 0)
            os.dup2(fds[0], 1)
            os.dup2(fds[1], 2)
            for fd in fds:
                os.close(fd)
            if gevent_mode:
                import gevent
                gevent.reinit()
            if hooks is not None:
                hooks.post_fork()
            return slot
        for fd in fds:
            os.close(fd)
        os.waitpid(child, 0)


def warn_about_threads():
    """Threads the app started while it was imported do not exist in the forked workers."""
    import threading
    others = [thread.name for thread in threading.enumerate() if thread is not threading.main_thread()]
    if others:
        sys.stderr.write('corral-python: preload_app: the app started %d thread(s) while it was imported (%s); fork '
                         'copies only the calling thread, so the workers do not have them: start them in a '
                         'post_fork hook instead\n' % (len(others), ', '.join(others)))

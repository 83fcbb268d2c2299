"""The Python half of corral-python's bridge, run in the worker's interpreter as module
`corral_runtime`: loading the app as gunicorn does (its hooks, its logging, preload_app's
forks), the threads or loop that serve it, the hung-request monitor (the response header rules
both interfaces share are the engine's: AppHeaders.swift). The interfaces' own halves are corral_wsgi.py and corral_asgi.py; all of it
talks to the loop only through `_corral` (Sources/CorralPython/Runtime/CorralModule.swift)."""
import array, ast, gc, importlib, os, sys, traceback, _socket, _thread
_start_thread = _thread.start_new_thread
_fork = os.fork   # the interpreter's, bound before gevent patches os (preload_app)
_FDS = array.array('i')
import _corral

ERROR, CRITICAL = 3, 2


class AppLoadError(Exception):
    pass


class ClientGone(OSError):
    """The client went away, or the request body could not be read (malformed, too large)."""


def _check_status(status):
    if type(status) is not str:
        raise TypeError('status must be str, not %s' % type(status).__name__)
    if len(status) < 4 or not status[:3].isdigit() or status[3] != ' ' or int(status[:3]) < 100:
        raise ValueError('status must be "NNN reason", got %r' % status)


application = None
running = {}          # token -> (serial, thread ident, greenlet, target): what the monitor reports
gevent_mode = False


def serve_threads():
    import corral_wsgi
    _corral.unblock_signals()
    try:
        while True:
            item = _corral.next_request()
            if item is None:
                return
            try:
                corral_wsgi.handle(*item)
            except BaseException:         # never lose a pool thread
                _corral.log(CRITICAL, 'corral-python runtime: %s' % traceback.format_exc())
    finally:
        _corral.thread_exited()


REQUEST, REPLY, FAILED, SHUTDOWN = range(4)
WS_MESSAGE, WS_CLOSED, WS_DRAINED = range(4, 7)   # an accepted WebSocket's (asgi mode)
DISCONNECTED = 7          # asgi mode: the client left while the app worked


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
    import corral_wsgi, gevent, gevent.event, gevent.pool
    hub = gevent.get_hub()
    group = gevent.pool.Group()
    stopped = gevent.event.Event()
    fd = _corral.event_fd()
    watcher = hub.loop.io(fd, 1)

    def ready():
        for kind, token, serial, value in take_events(fd):
            try:
                if kind == REQUEST:
                    group.spawn(corral_wsgi.handle, *value)
                elif kind == SHUTDOWN:
                    watcher.stop()
                    stopped.set()
                else:
                    entry = corral_wsgi.waiters.get(token)
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
    global application, gevent_mode, _start_thread
    sys.path.insert(0, os.getcwd())
    for path in reversed(pythonpath):
        sys.path.insert(0, path)
    configure_logging()
    load_hooks()
    if hooks is not None and not preloading:
        hooks.post_fork()
    if mode != 'asgi':
        import corral_wsgi                # (loaded beside this module for the WSGI classes)
    if mode == 'gevent':
        try:
            from gevent import monkey
        except ImportError:
            raise AppLoadError('worker_class %s needs gevent installed in the application\'s environment' % mode)
        monkey.patch_all()
        _start_thread = monkey.get_original('_thread', 'start_new_thread')
        from gevent.hub import Waiter
        corral_wsgi.Waiter = Waiter
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
        'wsgi.version': (1, 0), 'wsgi.errors': corral_wsgi.errors, 'wsgi.multithread': mode == 'threads' and threads > 1,
        'wsgi.multiprocess': True, 'wsgi.run_once': False, 'wsgi.file_wrapper': corral_wsgi.FileWrapper,
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

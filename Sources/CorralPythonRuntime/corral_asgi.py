"""The ASGI half of corral's Python worker (worker_class = "asgi"), run as module `corral_asgi`:
the app's coroutines on an asyncio loop (uvloop's when the app's environment has it) on the
worker's main thread, one task per request. corral's loop thread does every socket operation,
as for WSGI; requests and the loop's replies arrive in batches through an eventfd the asyncio
loop watches (`_corral.poll()`, as gevent's hub does in gevent mode), so one wakeup serves many.

asgiref's HTTP spec 2.4 and lifespan: `state` copied per request from what lifespan startup
stored; startup completes before the worker reports READY=1; shutdown after the worker drained.
"""
import asyncio
import http
import os
import sys
import threading
import traceback

import _corral
import corral_runtime as runtime

INFO, WARNING = 6, 4
ASGI = {'version': '3.0', 'spec_version': '2.4'}
REASONS = {status.value: status.phrase for status in http.HTTPStatus}

loop = None
application = None        # an ASGI 3 callable (an ASGI 2 app wrapped)
lifespan = None           # Lifespan, once started
state = {}                # what lifespan startup stored: copied into each request's scope
tasks = set()
MAIN_THREAD = threading.main_thread().ident   # whose stack the monitor logs for an overdue request
waiters = {}              # token -> (serial, future) of the request waiting for the loop's reply
sockets = {}              # token -> WebSocket, for the WebSocket scopes being served
responses = {}            # token -> Response, for the HTTP requests being served
# gunicorn's asgi_disconnect_grace_period: how long an app that ignores http.disconnect runs on.
GRACE = float(os.environ.get('CORRAL_ASGI_DISCONNECT_GRACE_PERIOD', '3'))


def setup(app, kind):
    global application
    if kind == 'asgi2':
        async def application(scope, receive, send):
            await app(scope)(receive, send)
    else:
        application = app


def new_loop(choice):
    """asgi_loop: auto and asyncio: asyncio's loop, which corral's loop thread drives (one thread
    per worker, measured fastest: see the README); uvloop: uvloop's, on a thread of its own
    (uvloop's loop cannot be driven a step at a time)."""
    if choice == 'uvloop':
        try:
            import uvloop
        except ImportError:
            raise runtime.AppLoadError('asgi_loop = "uvloop", but uvloop is not installed in the app\'s environment '
                                       '(pip install uvloop), or set asgi_loop = "auto"')
        return uvloop.new_event_loop(), 'uvloop event loop on its own thread'
    return asyncio.new_event_loop(), "asyncio event loop driven by the worker's loop thread"


def start():
    """Makes the loop and runs lifespan startup to its end (the worker reports READY=1 after):
    an app whose startup fails does not serve; the exception is an app-load error."""
    global loop, lifespan
    loop, name = new_loop(os.environ.get('CORRAL_ASGI_LOOP', 'auto'))
    asyncio.set_event_loop(loop)
    mode = os.environ.get('CORRAL_ASGI_LIFESPAN', 'auto')
    _corral.log(INFO, 'asgi: %s, lifespan %s' % (name, mode))
    lifespan = Lifespan(mode)
    loop.run_until_complete(lifespan.startup())


class LifespanFailed(Exception):
    pass


class Lifespan:
    """asgiref's lifespan protocol: one long-running call of the app with a 'lifespan' scope.
    Under 'auto' an app that raises before startup completes (Django's) is served without it,
    said once; under 'on' that is a failure; 'off' never calls it."""

    def __init__(self, mode):
        self.mode = mode
        self.supported = mode != 'off'
        self.messages = asyncio.Queue()
        self.started = loop.create_future()
        self.stopped = loop.create_future()
        self.task = None

    async def startup(self):
        if not self.supported:
            return
        scope = {'type': 'lifespan', 'asgi': dict(ASGI), 'state': state}
        self.task = loop.create_task(self._run(scope))
        self.messages.put_nowait({'type': 'lifespan.startup'})
        await self.started

    async def shutdown(self):
        if not self.supported or self.task is None or self.task.done():
            return
        self.messages.put_nowait({'type': 'lifespan.shutdown'})
        try:
            await self.stopped
        except LifespanFailed as error:
            _corral.log(runtime.ERROR, 'lifespan shutdown failed: %s' % error)

    async def _run(self, scope):
        try:
            await application(scope, self.messages.get, self._send)
        except BaseException as error:
            if not self.started.done():
                if self.mode == 'auto':
                    self.supported = False
                    _corral.log(INFO, "asgi: the app does not support lifespan (it raised %s: %s); serving without it"
                                % (type(error).__name__, error))
                    self.started.set_result(None)
                else:
                    self.started.set_exception(error)
            elif not self.stopped.done():
                self.stopped.set_exception(LifespanFailed(''.join(traceback.format_exception(error)).rstrip('\n')))
            return
        for future, when in ((self.started, 'startup'), (self.stopped, 'shutdown')):
            if not future.done():
                if self.mode == 'on' and when == 'startup':
                    future.set_exception(LifespanFailed('the app returned from lifespan before startup completed'))
                else:
                    self.supported = self.supported and when == 'shutdown'
                    future.set_result(None)

    async def _send(self, message):
        kind = message.get('type')
        if kind == 'lifespan.startup.complete':
            self.started.set_result(None)
        elif kind == 'lifespan.startup.failed':
            self.started.set_exception(LifespanFailed('lifespan startup failed: %s' % message.get('message', '')))
        elif kind == 'lifespan.shutdown.complete':
            self.stopped.set_result(None)
        elif kind == 'lifespan.shutdown.failed':
            self.stopped.set_exception(LifespanFailed(message.get('message', '')))
        else:
            raise RuntimeError('unexpected ASGI message %r in lifespan' % kind)


if sys.version_info >= (3, 12):
    def start_task(coroutine):
        """Eager (3.12+): the request runs here until it first waits, so an app that answers
        without waiting is done with no round through the loop's ready queue."""
        return asyncio.Task(coroutine, loop=loop, eager_start=True)
else:
    def start_task(coroutine):
        return loop.create_task(coroutine)


def dispatch(kind, token, serial, value):
    """One event from the engine: a request becomes a task; a reply wakes the task waiting for it."""
    try:
        if kind == runtime.REQUEST:
            task = start_task(handle(*value))
            if not task.done():           # (handle() takes it out as it ends: no done-callback to run)
                tasks.add(task)
        elif kind == runtime.DISCONNECTED:
            response = responses.get(token)
            if response is not None and response.channel.serial == serial:
                response.client_left()
        elif kind >= runtime.WS_MESSAGE:
            entry = sockets.get(token)
            if entry is not None and entry.serial == serial:
                entry.event(kind, value)
        else:
            entry = waiters.get(token)
            if entry is None or entry[0] != serial or entry[1].done():
                return                    # for a request that has ended: nobody waits for it
            if kind == runtime.REPLY:
                entry[1].set_result(value)
            else:
                entry[1].set_exception(runtime.ClientGone(value))
    except BaseException:                 # one bad event must not lose the rest of the batch
        _corral.log(runtime.CRITICAL, 'corral asgi runtime: %s' % traceback.format_exc())


def start_inline():
    """asyncio's loop without a thread of its own: corral's loop thread drives it (`drive`) and
    watches its selector's fd; the selector never waits (the engine's epoll does)."""
    select = loop._selector.select
    loop._selector.select = lambda timeout=None: select(0)
    asyncio.events._set_running_loop(loop)
    loop._thread_id = threading.get_ident()
    return loop._selector.fileno()


def drive():
    """Takes the engine's events and runs what is ready; returns 0 to be run again at once, else
    when asyncio's next timer is due on its clock (time.monotonic: CLOCK_MONOTONIC, as the
    engine's), or -1 for none."""
    for kind, token, serial, value in _corral.poll():
        if kind != runtime.SHUTDOWN:
            dispatch(kind, token, serial, value)
    for _ in range(16):
        loop._run_once()
        if not loop._ready:
            break
    if loop._ready:
        return 0.0
    if loop._scheduled:
        return loop._scheduled[0]._when
    return -1.0


def finish_inline():
    """At the end: what still runs is cancelled, then lifespan shutdown."""
    asyncio.events._set_running_loop(None)
    loop._thread_id = None
    loop._selector.select = type(loop._selector).select.__get__(loop._selector)

    async def until_done():
        if tasks:
            await asyncio.wait(set(tasks), timeout=1)
            for task in set(tasks):
                task.cancel()
        await lifespan.shutdown()
    loop.run_until_complete(until_done())


def serve():
    """On the main thread until the worker stops: requests become tasks, replies wake the task
    that waits for them. At shutdown (the engine drained the requests) lifespan shutdown runs."""
    _corral.unblock_signals()
    fd = _corral.event_fd()
    stopped = loop.create_future()

    def ready():
        for kind, token, serial, value in runtime.take_events(fd):
            if kind == runtime.SHUTDOWN:
                loop.remove_reader(fd)
                stopped.set_result(None)
            else:
                dispatch(kind, token, serial, value)

    async def until_stopped():
        await stopped
        # The engine drained the requests (up to graceful_timeout); what still runs is cancelled.
        if tasks:
            await asyncio.wait(set(tasks), timeout=1)
            for task in set(tasks):
                task.cancel()
            if tasks:
                await asyncio.wait(set(tasks), timeout=1)
        await lifespan.shutdown()

    loop.add_reader(fd, ready)
    loop.run_until_complete(until_stopped())


async def take_reply(channel):
    value = _corral.take_reply(channel.token)
    if value is not None:
        return value
    future = loop.create_future()
    waiters[channel.token] = (channel.serial, future)
    try:
        return await future
    finally:
        waiters.pop(channel.token, None)


class Channel:
    """One request's calls to the loop, awaited: corral_wsgi.Channel's rules (a response
    piece's reply is taken before the next call, so the app runs at most one piece ahead of a
    slow client). An app may receive() in one task while it sends in another: a call waits
    while another task of the request waits for the loop, so each reply reaches its caller."""
    __slots__ = ('token', 'serial', 'owed', 'gone', 'turn')

    def __init__(self, token, serial):
        self.token, self.serial = token, serial
        self.owed = self.gone = self.turn = None

    async def ask(self, function, *args):
        await self.settle()
        function(self.token, *args)
        self.owed = function
        return await self._take()

    async def post(self, function, *args):
        if await self.settle() is False:
            return False
        function(self.token, *args)
        self.owed = function
        return True

    def idle(self):
        """Nothing is owed to or waited from the loop, and the client is there: a call may go now."""
        return self.turn is None and self.owed is None and self.gone is None

    async def settle(self):
        while self.turn is not None:      # another task of this request waits for the loop
            await asyncio.shield(self.turn)
        if self.owed is not None:
            return await self._take()
        if self.gone is not None:
            raise runtime.ClientGone(self.gone)
        return None

    async def _take(self):
        turn = self.turn = loop.create_future()
        try:
            value = await take_reply(self)
        except runtime.ClientGone as error:
            self.gone = str(error)
            raise
        finally:
            self.owed = self.turn = None
            turn.set_result(None)
        return value


class Response:
    """One request's receive() and send(): the spec's rules for the messages, and corral's
    framing (the head waits for the first body message, so a whole response is one write)."""
    __slots__ = ('channel', 'head_only', 'body_left', 'status', 'headers', 'length', 'started', 'sent', 'ended', 'cut', 'done',
                 'end_posted', 'task', 'trailers', 'request_headers', 'body_done')

    def __init__(self, channel, has_body, head_only, request_headers=()):
        self.channel = channel
        self.request_headers = request_headers   # the scope's: whether the client takes trailers
        self.trailers = None              # the trailer fields so far, when http.response.start announced them
        self.body_done = False
        self.head_only = head_only
        self.body_left = has_body         # None once the last http.request was received
        self.status = self.headers = self.length = None   # length: the head's Content-Length
        self.started = self.sent = self.ended = self.cut = self.end_posted = False
        self.done = None                  # made when receive() waits: the response ended, or the client left
        self.task = None                  # the request's task, cancelled when the client left and the grace ran out

    async def receive(self):
        if self.body_left is not None:
            if self.body_left:
                try:
                    piece = await self.channel.ask(_corral.read_body)
                except runtime.ClientGone:
                    self.body_left = None
                    return {'type': 'http.disconnect'}
                if piece:
                    return {'type': 'http.request', 'body': piece, 'more_body': True}
            self.body_left = None         # the body is all read (a request without one: at once)
            return {'type': 'http.request', 'body': b'', 'more_body': False}
        # After the body: http.disconnect once the response is done or the client is gone.
        if self.done is None:
            self.done = loop.create_future()
            if self.ended:
                self.done.set_result(None)
        await asyncio.shield(self.done)
        return {'type': 'http.disconnect'}

    async def send(self, message):
        kind = message.get('type') if isinstance(message, dict) else None
        if self.ended:
            if self.channel.gone is not None:
                raise runtime.ClientGone(self.channel.gone)
            raise RuntimeError('ASGI message %r sent after the response ended' % kind)
        if kind == 'http.response.start':
            if self.started:
                raise RuntimeError('http.response.start sent twice')
            status = message.get('status')
            if type(status) is not int or not 100 <= status <= 599:
                raise ValueError('http.response.start needs an int status from 100 to 599, got %r' % (status,))
            headers = message.get('headers', ())
            self.length = _corral.head(self.channel.token, status, headers)   # checked there
            self.status, self.headers, self.started = status, headers, True
            if message.get('trailers'):
                self.trailers = []
        elif kind == 'http.response.body':
            if not self.started:
                raise RuntimeError('http.response.body before http.response.start')
            body = message.get('body', b'')
            if not isinstance(body, (bytes, bytearray, memoryview)):
                raise TypeError('http.response.body needs bytes, not %s' % type(body).__name__)
            more = bool(message.get('more_body', False))
            if not more and not self.sent and self.trailers is None and self.channel.idle():
                self.sent = True          # the whole response, in one write, with nothing to wait for
                self._end_now(_corral.respond, None, None, bytes(body) if not self.head_only else b'', True)
                return
            await self._body(bytes(body) if not self.head_only else b'', more)
        elif kind == 'http.response.early_hint':
            if self.started:
                raise RuntimeError('http.response.early_hint after http.response.start')
            links = message.get('links', ())
            if isinstance(links, (bytes, str)) or not all(isinstance(link, (bytes, bytearray)) for link in links):
                raise TypeError('http.response.early_hint needs a list of Link values as bytes, got %r' % (links,))
            if links:
                await self.channel.settle()
                _corral.early_hint(self.channel.token, [(b'Link', link) for link in links])
        elif kind == 'http.response.trailers':
            if self.trailers is None or not self.body_done:
                raise RuntimeError('http.response.trailers needs trailers=True in http.response.start, after the last body')
            self.trailers += message.get('headers', ())
            if not message.get('more_trailers', False):
                if self.trailers and not self.cut and _accepts_trailers(self.request_headers):
                    await self.channel.settle()
                    _corral.trailers(self.channel.token, self.trailers)
                await self._end(_corral.finish)
        elif kind == 'http.response.pathsend':
            await self._sendfile(os.open(_absolute(message.get('path')), os.O_RDONLY | os.O_CLOEXEC), 0, None)
        elif kind == 'http.response.zerocopysend':
            await self._zerocopysend(message)
        else:
            raise RuntimeError('unexpected ASGI message %r on an http scope' % (kind,))

    async def _zerocopysend(self, message):
        """The zerocopysend extension: `count` bytes (default: to the end) of an open file from
        `offset` (default: its position), which the app keeps; a duplicate goes to the loop."""
        source = message.get('file')
        fd = source if isinstance(source, int) else getattr(source, 'fileno', lambda: None)()
        if not isinstance(fd, int):
            raise TypeError('http.response.zerocopysend needs a file with fileno(), got %r' % (source,))
        if message.get('more_body'):
            raise RuntimeError('http.response.zerocopysend with more_body is not supported by corral; send the file whole')
        offset = message.get('offset')
        await self._sendfile(os.dup(fd), os.lseek(fd, 0, os.SEEK_CUR) if offset is None else offset, message.get('count'))

    async def _sendfile(self, fd, offset, count):
        """The pathsend and zerocopysend extensions (Starlette's FileResponse uses pathsend when
        offered): the file goes out with sendfile from the loop thread, which owns `fd` then."""
        try:
            if not self.started or self.sent:
                raise RuntimeError('a file response needs http.response.start and no body before it')
            self.sent = True
            if self.head_only:
                await self._end(_corral.respond, None, None, b'', True)
                return
            left = os.fstat(fd).st_size - offset
            count = left if count is None else min(count, left)
            declared = self.length
            await self._end(_corral.send_file, None, None, fd, offset,
                            max(0, min(count, declared) if declared is not None else count))
        finally:
            if not self.end_posted or self.head_only:
                os.close(fd)              # else the loop owns it

    async def _body(self, body, more):
        if self.body_done:
            raise RuntimeError('http.response.body after the last one; http.response.trailers was expected')
        if not self.sent:
            self.sent = True
            if not more and self.trailers is None:
                await self._end(_corral.respond, None, None, body, True)
                return
            # (Trailers announced: streamed, so that the response is chunked and they have a place.)
            self.cut = not await self._post(_corral.respond, None, None, body, False)
        elif body and not self.cut:
            self.cut = not await self._post(_corral.send, body)
        if not more:
            if self.trailers is not None:
                self.body_done = True     # the response ends with http.response.trailers
            else:
                await self._end(_corral.finish)

    async def _end(self, function, *args):
        """Posts the message that ends the exchange (it has no reply), once the reply still owed
        is taken; the client gone meanwhile raises, and handle() ends the exchange instead."""
        self.ended = True
        if not self.channel.idle():
            await self.channel.settle()
        self._end_now(function, *args)

    def _end_now(self, function, *args):
        self.ended = self.end_posted = True
        function(self.channel.token, *args)
        self._finish()

    async def _post(self, function, *args):
        """Posts a piece of the response; the client gone ends the response for receive() too
        (http.disconnect) before send() raises."""
        try:
            return await self.channel.post(function, *args)
        except runtime.ClientGone:
            self._finish()
            raise

    def _finish(self):
        self.ended = True
        if self.done is not None and not self.done.done():
            self.done.set_result(None)

    def client_left(self):
        """The engine saw the client go while the app worked: receive() gives http.disconnect, a
        send() raises, and the task is cancelled if it still runs after the grace period."""
        if self.channel.gone is None:
            self.channel.gone = 'the client went away'
        self._finish()
        task = self.task
        if task is not None and GRACE >= 0:
            loop.call_later(GRACE, lambda: task.done() or task.cancel())


def _absolute(path):
    if not isinstance(path, str) or not os.path.isabs(path):
        raise ValueError('http.response.pathsend needs an absolute path, got %r' % (path,))
    return path


def _accepts_trailers(headers):
    """The client sent TE: trailers (only then may a response end with trailer fields)."""
    return any(name == b'te' and b'trailers' in value.lower() for name, value in headers)


def _text_headers(headers):
    """ASGI's byte pairs as str pairs (latin-1: one byte a char), for gunicorn's hooks."""
    try:
        return [(bytes(name).decode('latin-1'), bytes(value).decode('latin-1')) for name, value in headers]
    except (TypeError, ValueError):
        raise TypeError('ASGI headers must be an iterable of [name, value] byte pairs, got %r' % (headers,))


async def handle(token, serial, scope, has_body):
    if scope['type'] == 'websocket':
        import corral_websocket           # loaded after this module, which it uses
        try:
            await corral_websocket.handle(token, serial, scope)
        finally:
            tasks.discard(asyncio.current_task())
        return
    channel = Channel(token, serial)
    response = Response(channel, has_body, scope['method'] == 'HEAD', scope['headers'])
    response.task = asyncio.current_task()
    responses[token] = response
    scope['state'] = state.copy()
    extensions = {'http.response.pathsend': {}, 'http.response.zerocopysend': {}, 'http.response.early_hint': {},
                  'http.response.trailers': {}}
    tls = scope.get('extensions')          # the engine's, on a TLS connection: {'tls': {...}}
    if tls is not None:
        extensions.update(tls)
    scope['extensions'] = extensions
    runtime.running[token] = (serial, MAIN_THREAD, None, scope['raw_path'].decode('latin-1'))
    hooks = runtime.hooks
    request = None
    if hooks is not None and (hooks.has('pre_request') or hooks.has('post_request')):
        import corral_gunicorn
        request = corral_gunicorn.Request.from_scope(scope)
        hooks.run('pre_request', hooks.worker, request)
    try:
        await application(scope, response.receive, response.send)
        if not response.ended:
            if not response.started:
                _corral.log(runtime.ERROR, 'the app returned without a response to %s' % scope['path'])
                await response._end(_corral.fail, 'the app returned without a response to %s' % scope['path'])
            elif response.body_done:
                await response._end(_corral.finish)   # trailers announced, none sent
            else:
                await response._body(b'', False)
    except runtime.ClientGone:
        pass                              # the loop knows why (the client left, or the body was bad)
    except BaseException:
        if channel.gone is not None:      # what the app raised because the client left
            return                        # (Starlette's ClientDisconnect) is not its error
        failure = 'Error handling request %s\n%s' % (scope['raw_path'].decode('latin-1'), traceback.format_exc().rstrip('\n'))
        if not response.end_posted:
            response.end_posted = True
            try:
                await channel.settle()
            except runtime.ClientGone:
                pass
            _corral.fail(token, failure)
        else:
            _corral.log(runtime.ERROR, failure)
    finally:
        if not response.end_posted:       # every exchange ends with exactly one message
            _corral.finish(token)
        response._finish()
        tasks.discard(response.task)
        response.task = None
        del runtime.running[token]
        responses.pop(token, None)
        waiters.pop(token, None)
        if request is not None:
            import corral_gunicorn
            hooks.run('post_request', hooks.worker, request, scope, corral_gunicorn.Response(
                '%d %s' % (response.status, REASONS.get(response.status, '')) if response.status else None,
                _text_headers(response.headers or ())))

"""The WSGI half of corral-python (worker_class sync, gthread, gevent…), run as module
`corral_wsgi`: PEP 3333's rules (wsgi.input, start_response with exc_info, write(), close() on
every path, file_wrapper) over each request's channel to the loop, which it reaches only
through `_corral` (Sources/CorralPython/Runtime/CorralModule.swift). corral_runtime loads the app
and runs the threads or gevent's hub that call handle()."""
import os, traceback
from _thread import get_ident as thread_ident   # loaded before gevent patches _thread (greenlet ids)

import _corral
import corral_runtime as runtime
from corral_runtime import ClientGone, _check_status, ERROR


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


class Responder:
    __slots__ = ('channel', 'status', 'headers', 'length', 'sent', 'cut', 'head_only')

    def __init__(self, channel, head_only):
        self.channel = channel
        self.status = None
        self.headers = None
        self.length = None                # the headers' Content-Length
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
        self.length = _corral.head(self.channel.token, status, headers)   # checked there
        self.status, self.headers = status, headers
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
            posted = self.channel.post(_corral.respond, None, None, data, False)
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
            return (_corral.respond, None, None, body, True)
        # Anything else is sent as it is produced: each piece while the app makes the next.
        for chunk in result:
            self.write(chunk)
            if self.cut or (self.head_only and self.status is not None):
                break
        if self.status is None:
            raise AssertionError('the application returned without calling start_response()')
        if not self.sent:
            return (_corral.respond, None, None, b'', True)
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
        declared = self.length
        if declared is not None:
            if declared > count:
                return None               # streamed: the client sees the short body, then the close
            count = declared
        return (_corral.send_file, None, None, os.dup(fd), offset, max(count, 0))


errors = ErrorStream()


def handle(token, serial, environ, has_body):
    channel = Channel(token, serial)
    responder = Responder(channel, environ['REQUEST_METHOD'] == 'HEAD')
    environ['wsgi.input'] = Input(channel, has_body)
    connection = None
    # The socket of a TLS connection carries records only this worker can decrypt: not offered.
    if 'websocket' in environ.get('HTTP_UPGRADE', '').lower() and 'HTTPS' not in environ:
        connection = environ['gunicorn.socket'] = _connection(token)
    runtime.running[token] = (serial, thread_ident(), _current_greenlet(), environ.get('RAW_URI', ''))
    result = ending = None
    if runtime.hooks is not None and runtime.hooks.has('pre_request'):
        runtime.hooks.run('pre_request', runtime.hooks.worker, corral_gunicorn_request(environ))
    try:
        try:
            result = runtime.application(environ, responder.start_response)
            ending = responder.final(result)
        finally:
            close = getattr(result, 'close', None)
            if close is not None:
                close()
    except ClientGone:
        # The loop knows why (the client left, or the body was bad: it answers 400 or 413).
        ending = (_corral.finish,)
    except StopIteration:
        # flask-sock's way to say, under gunicorn, that the connection was used and there is
        # no response to send.
        ending = (_corral.finish,) if connection is not None and connection.taken else (_corral.fail, _failure(environ))
    except BaseException:
        if ending is not None and ending[0] is _corral.send_file:
            os.close(ending[3])           # the descriptor _file() duplicated for sendfile
        ending = (_corral.fail, _failure(environ))
    finally:
        del runtime.running[token]
        waiters.pop(token, None)          # a reply still owed is dropped by its serial
        responder.channel = None
        if connection is not None and not connection.taken:
            connection.close()            # the engine's own descriptor is untouched
    try:
        ending[0](token, *ending[1:])
    except Exception:                     # e.g. a header the engine cannot send: still a 500
        _corral.fail(token, _failure(environ))
    if runtime.hooks is not None and runtime.hooks.has('post_request'):
        import corral_gunicorn
        runtime.hooks.run('post_request', runtime.hooks.worker, corral_gunicorn_request(environ), environ,
                  corral_gunicorn.Response(responder.status, responder.headers))


_connection_class = None


def _connection(token):
    """environ['gunicorn.socket'] for a request that asks for a WebSocket: the client's
    connection, for the libraries that speak the protocol themselves on the server's socket
    (flask-sock and Flask-SocketIO through simple-websocket, as under gunicorn). Its first use
    hands the connection over: the engine sends no response and forgets the connection once the
    app returns; the access log still gets its line (101). Unused, it is closed at the end and
    the app's response goes out as usual."""
    global _connection_class
    if _connection_class is None:
        import socket                     # gevent's, once the runtime patched the standard library

        class HandedOverSocket(socket.socket):
            __slots__ = ('token', 'taken')

            def _take(self):
                if not self.taken:
                    self.taken = True
                    if not runtime.gevent_mode:
                        self.setblocking(True)   # the app's thread waits on it; the loop is done with it
                    _corral.hand_over(self.token)

        def taking(name):
            """The socket's method `name`, whose first call takes the connection."""
            method = getattr(socket.socket, name)

            def call(self, *args, **kwargs):
                self._take()
                return method(self, *args, **kwargs)
            call.__name__ = name
            return call

        for name in ('send', 'sendall', 'recv', 'recv_into', 'makefile'):
            setattr(HandedOverSocket, name, taking(name))
        _connection_class = HandedOverSocket
    connection = _connection_class(fileno=_corral.connection_fd(token))
    connection.token, connection.taken = token, False
    return connection


def corral_gunicorn_request(environ):
    import corral_gunicorn
    return corral_gunicorn.Request(environ)


def _failure(environ):
    return 'Error handling request %s\n%s' % (environ.get('RAW_URI', ''), traceback.format_exc().rstrip('\n'))


def _current_greenlet():
    if not runtime.gevent_mode:
        return None
    from greenlet import getcurrent
    return getcurrent()

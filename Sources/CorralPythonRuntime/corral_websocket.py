"""ASGI WebSocket scopes for corral's Python worker (asgiref's websocket spec 2.4), run as module
`corral_websocket` beside `corral_asgi`. The engine speaks the protocol (frames, masking, UTF-8,
ping/pong, the close handshake, limits); this module turns what the app sends into the engine's
calls and what the engine reports into the app's messages.

Both directions are bounded: the engine hands over at most WINDOW messages the app has not
taken (then it stops reading and TCP slows the client), and send() waits for the engine to have
written everything after each WINDOW messages, so a slow client cannot make either side buffer
without end.
"""
import collections
import traceback

import _corral
import corral_asgi as asgi
import corral_runtime as runtime

WINDOW = 16               # WebSocketSession.window
CONNECTING, ACCEPTED, CLOSED, RESPONDING = range(4)


class WebSocket:
    """One WebSocket scope's receive() and send()."""
    __slots__ = ('token', 'serial', 'offered', 'phase', 'connect_given', 'messages', 'waiter', 'ended', 'taken',
                 'unflushed', 'drained', 'response')

    def __init__(self, token, serial, offered, response):
        self.token, self.serial, self.offered = token, serial, offered
        self.phase = CONNECTING
        self.connect_given = False
        self.messages = collections.deque()
        self.waiter = None        # the future receive() waits on
        self.ended = None         # (code, reason) once the engine reported the end
        self.taken = 0            # messages taken since the engine was last told
        self.unflushed = 0        # messages sent since the engine last said all was written
        self.drained = None       # the future send() waits on for that
        self.response = response  # an HTTP response instead (a denial)

    def event(self, kind, value):
        """What the engine reported (corral_asgi's event loop calls this)."""
        if kind == runtime.WS_MESSAGE:
            if isinstance(value, str):
                self.messages.append({'type': 'websocket.receive', 'bytes': None, 'text': value})
            else:
                self.messages.append({'type': 'websocket.receive', 'bytes': value, 'text': None})
        elif kind == runtime.WS_CLOSED:
            code, reason = value
            self.ended = value
            self.phase = CLOSED
            self.messages.append({'type': 'websocket.disconnect', 'code': code, 'reason': reason})
            if self.drained is not None and not self.drained.done():
                self.drained.set_result(None)
        elif kind == runtime.WS_DRAINED:
            if self.drained is not None and not self.drained.done():
                self.drained.set_result(None)
            return
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def receive(self):
        if not self.connect_given:
            self.connect_given = True
            return {'type': 'websocket.connect'}
        if self.phase == RESPONDING:
            # Denied with an HTTP response: there is no conversation.
            return {'type': 'websocket.disconnect', 'code': 1000, 'reason': ''}
        while not self.messages:
            if self.ended is not None:
                code, reason = self.ended
                return {'type': 'websocket.disconnect', 'code': code, 'reason': reason}
            self.waiter = asgi.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        message = self.messages.popleft()
        if message['type'] == 'websocket.receive':
            self.taken += 1
            if self.taken >= WINDOW // 2 and self.ended is None:
                _corral.ws_taken(self.token, self.taken)
                self.taken = 0
        return message

    async def send(self, message):
        kind = message.get('type') if isinstance(message, dict) else None
        if kind == 'websocket.send':
            if self.phase != ACCEPTED:
                if self.ended is not None:
                    raise runtime.ClientGone('the WebSocket is closed (%d)' % self.ended[0])
                raise RuntimeError('websocket.send %s' % ('before websocket.accept' if self.phase == CONNECTING
                                                          else 'after websocket.close'))
            data, text = message.get('bytes'), message.get('text')
            if (data is None) == (text is None):
                raise TypeError('websocket.send needs exactly one of bytes and text, got %r' % (message,))
            if data is not None:
                if not isinstance(data, (bytes, bytearray, memoryview)):
                    raise TypeError('websocket.send bytes must be bytes, not %s' % type(data).__name__)
                _corral.ws_send(self.token, bytes(data))
            else:
                if not isinstance(text, str):
                    raise TypeError('websocket.send text must be str, not %s' % type(text).__name__)
                _corral.ws_send(self.token, text)
            self.unflushed += 1
            if self.unflushed >= WINDOW:
                await self._drain()
        elif kind == 'websocket.accept':
            if self.phase != CONNECTING:
                raise RuntimeError('websocket.accept after the handshake was answered')
            subprotocol = message.get('subprotocol')
            if subprotocol is not None and not isinstance(subprotocol, str):
                raise TypeError('websocket.accept subprotocol must be str or None, got %r' % (subprotocol,))
            headers = list(message.get('headers', ()))
            for name, _ in headers:
                if isinstance(name, (bytes, bytearray)) and name.lower() == b'sec-websocket-protocol':
                    raise ValueError('websocket.accept: give the subprotocol as "subprotocol", not as a header')
            self.phase = ACCEPTED
            _corral.ws_accept(self.token, subprotocol, headers)   # checked there
        elif kind == 'websocket.close':
            code = message.get('code', 1000)
            reason = message.get('reason') or ''
            if type(code) is not int or not isinstance(reason, str):
                raise TypeError('websocket.close needs an int code and a str reason, got %r' % (message,))
            if self.phase == CONNECTING:
                # Before accepting: the handshake is refused with 403 (the spec's rule).
                self.phase = RESPONDING
                await self.response._end(_corral.respond, '403 Forbidden', [], b'', True)
            elif self.phase == ACCEPTED:
                self.phase = CLOSED
                if self.ended is None:
                    _corral.ws_close(self.token, code, reason)
            # A close after the end (the client's close crossed it) changes nothing.
        elif kind in ('websocket.http.response.start', 'websocket.http.response.body'):
            if self.phase not in (CONNECTING, RESPONDING):
                raise RuntimeError('%s after the handshake was answered' % kind)
            self.phase = RESPONDING
            await self.response.send(dict(message, type=kind[len('websocket.'):]))
        else:
            raise RuntimeError('unexpected ASGI message %r on a websocket scope' % (kind,))

    async def _drain(self):
        self.drained = asgi.loop.create_future()
        _corral.ws_flush(self.token)
        try:
            await self.drained
        finally:
            self.drained = None
        self.unflushed = 0
        if self.ended is not None:
            raise runtime.ClientGone('the WebSocket is closed (%d)' % self.ended[0])


async def handle(token, serial, scope):
    channel = asgi.Channel(token, serial)
    response = asgi.Response(channel, False, False)
    socket = WebSocket(token, serial, scope.get('subprotocols', []), response)
    scope['state'] = asgi.state.copy()
    scope['extensions'] = dict(scope.get('extensions', ()), **{'websocket.http.response': {}})
    runtime.running[token] = (serial, asgi.MAIN_THREAD, None, scope['raw_path'].decode('latin-1'))
    asgi.sockets[token] = socket
    try:
        await asgi.application(scope, socket.receive, socket.send)
        if socket.phase == CONNECTING:
            await response._end(_corral.fail, 'the app returned without accepting or closing the WebSocket %s'
                                % scope['path'])
        elif socket.phase == RESPONDING and not response.ended:
            await response._body(b'', False)
    except runtime.ClientGone:
        pass
    except BaseException:
        if socket.ended is not None:
            return                        # what the app raised because the client left is not its error
        failure = 'Error handling WebSocket %s\n%s' % (scope['raw_path'].decode('latin-1'), traceback.format_exc().rstrip('\n'))
        if not response.end_posted:
            response.end_posted = True
            if socket.phase in (CONNECTING, RESPONDING):
                try:
                    await channel.settle()
                except runtime.ClientGone:
                    pass
            _corral.fail(token, failure)  # logged by the loop; an accepted WebSocket closes with 1011
        else:
            _corral.log(runtime.ERROR, failure)
    finally:
        if not response.end_posted:       # every exchange ends with exactly one message
            response.end_posted = True
            _corral.finish(token)
        del runtime.running[token]
        asgi.sockets.pop(token, None)
        asgi.waiters.pop(token, None)

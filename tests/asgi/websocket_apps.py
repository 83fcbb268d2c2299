"""Bare ASGI WebSocket apps for corral's tests: echo, the ways to refuse a handshake, a server
that pushes while it listens, and the app's own close."""
import asyncio


async def echo(scope, receive, send):
    """Echoes each message as it came (text as text, bytes as bytes); answers "scope" with what
    the scope said, "close" by closing with 4000."""
    if scope['type'] != 'websocket':
        return await plain(scope, receive, send)
    assert (await receive())['type'] == 'websocket.connect'
    offered = scope['subprotocols']
    await send({'type': 'websocket.accept', 'subprotocol': offered[-1] if offered else None,
                'headers': [(b'x-accepted', b'yes')]})
    while True:
        message = await receive()
        if message['type'] == 'websocket.disconnect':
            print('disconnect %d %s' % (message['code'], message.get('reason', '')), flush=True)
            return
        if message.get('text') == 'scope':
            await send({'type': 'websocket.send', 'text': repr(sorted(
                (key, value) for key, value in scope.items() if key in ('type', 'scheme', 'path', 'raw_path', 'query_string',
                                                                       'subprotocols', 'http_version', 'root_path')))})
        elif message.get('text') == 'close':
            await send({'type': 'websocket.close', 'code': 4000, 'reason': 'asked to'})
        elif message.get('text') is not None:
            await send({'type': 'websocket.send', 'text': message['text']})
        else:
            await send({'type': 'websocket.send', 'bytes': message['bytes']})


async def plain(scope, receive, send):
    if scope['type'] == 'lifespan':
        while True:
            message = await receive()
            await send({'type': message['type'] + '.complete'})
            if message['type'] == 'lifespan.shutdown':
                return
    await send({'type': 'http.response.start', 'status': 200, 'headers': []})
    await send({'type': 'http.response.body', 'body': b'plain http'})


async def deny(scope, receive, send):
    """/close: closed before accepting (403); /custom: websocket.http.response (418 and a body);
    /return: returns without a word (500); /raise: raises before accepting (500)."""
    if scope['type'] != 'websocket':
        return await plain(scope, receive, send)
    await receive()
    if scope['path'] == '/close':
        await send({'type': 'websocket.close'})
    elif scope['path'] == '/custom':
        await send({'type': 'websocket.http.response.start', 'status': 418, 'headers': [(b'x-denied', b'custom')]})
        await send({'type': 'websocket.http.response.body', 'body': b'no websockets for you'})
    elif scope['path'] == '/raise':
        raise RuntimeError('refusing in a rude way')


async def push(scope, receive, send):
    """Sends "tick N" every 10 ms from its own task while the receiving task echoes: each send
    reaches the client while a receive() waits."""
    if scope['type'] != 'websocket':
        return await plain(scope, receive, send)
    await receive()
    await send({'type': 'websocket.accept'})

    async def ticker():
        for n in range(1000000):
            await send({'type': 'websocket.send', 'text': 'tick %d' % n})
            await asyncio.sleep(0.01)

    task = asyncio.get_running_loop().create_task(ticker())
    try:
        while True:
            message = await receive()
            if message['type'] == 'websocket.disconnect':
                return
            await send({'type': 'websocket.send', 'text': 'echo ' + (message.get('text') or '')})
    finally:
        task.cancel()


async def flood(scope, receive, send):
    """Sends messages of the size asked as fast as send() lets it, counting them, while the
    client reads slowly; answers "count" with how many went."""
    if scope['type'] != 'websocket':
        return await plain(scope, receive, send)
    await receive()
    await send({'type': 'websocket.accept'})
    size = int(scope['query_string'] or b'65536')
    sent = 0

    async def flooder():
        nonlocal sent
        chunk = b'x' * size
        while True:
            await send({'type': 'websocket.send', 'bytes': chunk})
            sent += 1

    task = asyncio.get_running_loop().create_task(flooder())
    try:
        while True:
            message = await receive()
            if message['type'] == 'websocket.disconnect':
                return
    finally:
        task.cancel()
        print('flood sent %d' % sent, flush=True)


async def autobahn(scope, receive, send):
    """A plain echo for the Autobahn cases: every message back as it came."""
    if scope['type'] != 'websocket':
        return await plain(scope, receive, send)
    await receive()
    await send({'type': 'websocket.accept'})
    while True:
        message = await receive()
        if message['type'] == 'websocket.disconnect':
            return
        await send({'type': 'websocket.send', 'bytes': message.get('bytes'), 'text': message.get('text')})

"""Bare ASGI apps for corral's tests: ASGI 3, ASGI 2, one without lifespan support, and the
misuses the server must refuse."""


async def hello(scope, receive, send):
    if scope['type'] == 'lifespan':
        while True:
            message = await receive()
            await send({'type': message['type'] + '.complete'})
            if message['type'] == 'lifespan.shutdown':
                return
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
    await send({'type': 'http.response.body', 'body': b'Hello, world!'})


async def echo(scope, receive, send):
    """Echoes the request body, read in pieces, with how many pieces it came in."""
    if scope['type'] != 'http':
        raise RuntimeError('no lifespan here')   # lifespan unsupported: auto goes on without it
    body, pieces = b'', 0
    while True:
        message = await receive()
        body += message.get('body', b'')
        pieces += 1
        if not message.get('more_body'):
            break
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'x-pieces', str(pieces).encode())]})
    await send({'type': 'http.response.body', 'body': body, 'more_body': True})
    await send({'type': 'http.response.body', 'body': b''})


class Legacy:
    """ASGI 2: instantiated with the scope, then called with receive and send."""

    def __init__(self, scope):
        self.scope = scope

    async def __call__(self, receive, send):
        if self.scope['type'] != 'http':
            raise RuntimeError('no lifespan here')
        await send({'type': 'http.response.start', 'status': 200, 'headers': []})
        await send({'type': 'http.response.body', 'body': b'asgi2'})


async def misuse(scope, receive, send):
    if scope['type'] != 'http':
        raise RuntimeError('no lifespan here')
    if scope['path'] == '/body-first':
        await send({'type': 'http.response.body', 'body': b'x'})
    elif scope['path'] == '/bad-status':
        await send({'type': 'http.response.start', 'status': '200', 'headers': []})
    elif scope['path'] == '/nothing':
        return
    elif scope['path'] == '/split-header':
        await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'x-split', b'a\r\nSet-Cookie: evil=1')]})
    elif scope['path'] == '/str-header':
        await send({'type': 'http.response.start', 'status': 200, 'headers': [('x-text', 'not bytes')]})
    elif scope['path'] == '/trimmed':
        # Hop-by-hop fields are left out, values trimmed, lists taken as pairs (as gunicorn does).
        await send({'type': 'http.response.start', 'status': 200,
                    'headers': [[b'x-padded', b' \tvalue\t'], (b'connection', b'close'), (b'keep-alive', b'timeout=1')]})
        await send({'type': 'http.response.body', 'body': b'trimmed'})
    elif scope['path'] == '/after-end':
        await send({'type': 'http.response.start', 'status': 204, 'headers': []})
        await send({'type': 'http.response.body', 'body': b''})
        try:
            await send({'type': 'http.response.body', 'body': b'late'})
        except RuntimeError as error:
            print('send after the end raised:', error, flush=True)


async def endless(scope, receive, send):
    """Streams until the client leaves; records what send() raised and what receive() gave then."""
    import os
    if scope['type'] != 'http':
        raise RuntimeError('no lifespan here')
    await send({'type': 'http.response.start', 'status': 200, 'headers': []})
    await receive()                       # the (empty) request body
    sent = 0
    try:
        while True:
            await send({'type': 'http.response.body', 'body': b'x' * 65536, 'more_body': True})
            sent += 1
    except OSError as error:
        after = await receive()
        with open(os.environ['ASGI_EVENTS'], 'a') as file:
            file.write('send raised %s (an OSError) after %d pieces; receive() then gave %s\n'
                       % (type(error).__name__, sent, after['type']))


async def zerocopy(scope, receive, send):
    """Sends 10 bytes of $ZEROCOPY_FILE from offset 5 with the zerocopysend extension."""
    import os
    if scope['type'] != 'http':
        raise RuntimeError('no lifespan here')
    assert 'http.response.zerocopysend' in scope['extensions']
    with open(os.environ['ZEROCOPY_FILE'], 'rb') as file:
        await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
        await send({'type': 'http.response.zerocopysend', 'file': file, 'offset': 5, 'count': 10})


async def duplex(scope, receive, send):
    """Streams a response in one task while another reads the request body (as an upload
    progress page might): every reply must reach the task that asked for it."""
    import asyncio
    if scope['type'] != 'http':
        raise RuntimeError('no lifespan here')
    await send({'type': 'http.response.start', 'status': 200, 'headers': []})

    async def read():
        size = 0
        while True:
            message = await receive()
            size += len(message.get('body', b''))
            if not message.get('more_body'):
                return size

    reader = asyncio.ensure_future(read())
    pieces = 0
    while not reader.done():
        await send({'type': 'http.response.body', 'body': b'.', 'more_body': True})
        pieces += 1
        await asyncio.sleep(0)
    await send({'type': 'http.response.body', 'body': b'\nread %d bytes\n' % reader.result()})


async def patient(scope, receive, send):
    """/listen awaits http.disconnect and records it; /ignore sleeps through it (and is cancelled
    after asgi_disconnect_grace_period); either writes to the file in $ASGI_EVENTS."""
    import asyncio, os
    if scope['type'] != 'http':
        raise RuntimeError('no lifespan here')
    def record(line):
        with open(os.environ['ASGI_EVENTS'], 'a') as events:
            events.write(line + '\n')
    await receive()
    if scope['path'] == '/listen':
        message = await receive()
        record('listen got %s' % message['type'])
        return
    if scope['path'] != '/ignore':
        await send({'type': 'http.response.start', 'status': 200, 'headers': []})
        await send({'type': 'http.response.body', 'body': b'ok'})
        return
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        record('ignore cancelled')
        raise


async def hints(scope, receive, send):
    """/hinted: 103 Early Hints with two Links, then a chunked response that ends with a trailer."""
    if scope['type'] != 'http':
        raise RuntimeError('no lifespan here')
    if scope['path'] != '/hinted':
        await send({'type': 'http.response.start', 'status': 200, 'headers': []})
        await send({'type': 'http.response.body', 'body': b'ok'})
        return
    await send({'type': 'http.response.early_hint', 'links': [b'</style.css>; rel=preload; as=style',
                                                              b'</app.js>; rel=preload; as=script']})
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')],
                'trailers': True})
    await send({'type': 'http.response.body', 'body': b'hinted ', 'more_body': True})
    await send({'type': 'http.response.body', 'body': b'body'})
    await send({'type': 'http.response.trailers', 'headers': [(b'x-checksum', b'c0ffee')]})

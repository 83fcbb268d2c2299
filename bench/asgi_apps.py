"""The ASGI apps bench/asgi.py serves: the bare 13-byte hello, FastAPI's JSON hello, a FastAPI
view that awaits 0.1 s; and bench/websocket.py's WebSocket echo."""
import asyncio
import os
import tempfile

from fastapi import FastAPI
from fastapi.responses import FileResponse

# The 1 MiB file the `file` row sends (made once, the same bytes for every server).
MEBIBYTE = os.path.join(tempfile.gettempdir(), 'corral-bench-1mib.bin')
if not os.path.exists(MEBIBYTE):
    with open(MEBIBYTE + '.part', 'wb') as out:
        out.write(bytes(range(256)) * 4096)
    os.replace(MEBIBYTE + '.part', MEBIBYTE)


async def bare(scope, receive, send):
    if scope['type'] != 'http':
        return
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [(b'content-type', b'text/plain'), (b'content-length', b'13')]})
    await send({'type': 'http.response.body', 'body': b'Hello, World!'})


app = FastAPI()


@app.get('/')
async def hello():
    return {'message': 'Hello, World!'}


@app.get('/file')
async def file():
    return FileResponse(MEBIBYTE)


@app.get('/sleep')
async def sleep():
    await asyncio.sleep(0.1)
    return {'message': 'Hello, World!'}


async def echo(scope, receive, send):
    """Every WebSocket message back as it came (bench/websocket.py)."""
    if scope['type'] != 'websocket':
        return await bare(scope, receive, send)
    await receive()
    await send({'type': 'websocket.accept'})
    while True:
        message = await receive()
        if message['type'] == 'websocket.disconnect':
            return
        await send({'type': 'websocket.send', 'bytes': message.get('bytes'), 'text': message.get('text')})

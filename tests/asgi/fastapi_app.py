"""A real FastAPI app for corral's ASGI tests: what FastAPI sites answer with, and lifespan."""
import asyncio, os
from contextlib import asynccontextmanager

from fastapi import BackgroundTasks, FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel

here = os.path.dirname(os.path.abspath(__file__))
events = os.environ.get('ASGI_EVENTS')   # a file each lifespan event and background task is appended to


def record(line):
    if events:
        with open(events, 'a') as file:
            file.write(line + '\n')


@asynccontextmanager
async def lifespan(app):
    flag = os.environ.get('ASGI_STARTUP_FAILS_IF')   # a file: while it exists, startup fails
    if flag and os.path.exists(flag):
        raise RuntimeError('the database is not there (startup fails on purpose)')
    record('startup %d' % os.getpid())
    yield {'pool': 'pool-%d' % os.getpid()}
    record('shutdown %d' % os.getpid())


app = FastAPI(lifespan=lifespan)


class Teapot(Exception):
    pass


@app.exception_handler(Teapot)
async def teapot(request, error):
    return PlainTextResponse("I'm a teapot", status_code=418)


class Item(BaseModel):
    name: str
    price: float


@app.get('/')
async def index():
    return {'hello': 'world'}


@app.post('/items')
async def create(item: Item):
    return {'name': item.name, 'price': item.price, 'taxed': round(item.price * 1.2, 2)}


@app.get('/scope')
async def scope(request: Request):
    scope = request.scope
    return {'http_version': scope['http_version'], 'method': scope['method'], 'scheme': scope['scheme'],
            'path': scope['path'], 'raw_path': scope['raw_path'].decode('latin-1'),
            'query_string': scope['query_string'].decode('latin-1'), 'root_path': scope['root_path'],
            'headers': [[name.decode('latin-1'), value.decode('latin-1')] for name, value in scope['headers']],
            'client': list(scope['client']), 'server': list(scope['server']),
            'state': request.state.pool, 'asgi': scope['asgi'], 'tls': scope['extensions'].get('tls')}


@app.get('/stream')
async def stream():
    async def pieces():
        for n in range(5):
            yield b'piece %d\n' % n
            await asyncio.sleep(0.01)
    return StreamingResponse(pieces(), media_type='text/plain')


@app.get('/endless')
async def endless():
    async def pieces():
        sent = 0
        try:
            while True:
                yield b'x' * 65536
                sent += 1
                await asyncio.sleep(0)
        finally:
            record('endless stopped after %d pieces' % sent)
    return StreamingResponse(pieces(), media_type='application/octet-stream')


@app.get('/file')
async def file(path: str):
    return FileResponse(path)


@app.get('/sleep')
async def sleep(s: float = 1.0):
    await asyncio.sleep(s)
    return {'slept': s}


@app.get('/block')
def block_sync_route():
    return {'sync': True}   # FastAPI runs a plain def in its thread pool


@app.get('/blocking')
async def blocking(s: float = 3.0):
    import time
    time.sleep(s)            # a sync call inside async def: it blocks the event loop
    return {'blocked': s}


@app.get('/background')
async def background(tasks: BackgroundTasks):
    tasks.add_task(record, 'background ran')
    return {'queued': True}


@app.get('/teapot')
async def raise_teapot():
    raise Teapot()


@app.get('/missing')
async def missing():
    raise HTTPException(status_code=404, detail='no such thing')


@app.get('/crash')
async def crash():
    raise RuntimeError('the view crashed on purpose')


@app.websocket('/ws')
async def chat(websocket: WebSocket, name: str = 'guest'):
    """A query parameter, lifespan state, JSON both ways; the disconnect is recorded."""
    await websocket.accept()
    try:
        while True:
            data = await websocket.receive_json()
            await websocket.send_json({'to': name, 'echo': data, 'pool': websocket.state.pool})
    except WebSocketDisconnect as gone:
        record('websocket closed %d' % gone.code)

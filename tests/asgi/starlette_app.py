"""A plain Starlette app for corral's ASGI tests: routes, a streamed body, lifespan state."""
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute


@asynccontextmanager
async def lifespan(app):
    yield {'greeting': 'hello from lifespan'}


async def index(request):
    return JSONResponse({'greeting': request.state.greeting, 'path': request.url.path})


async def upload(request):
    size = 0
    async for piece in request.stream():
        size += len(piece)
    return JSONResponse({'size': size})


async def numbers(request):
    async def count():
        for n in range(3):
            yield ('%d\n' % n).encode()
    return StreamingResponse(count())


async def shout(websocket):
    await websocket.accept(subprotocol='shout' if 'shout' in websocket.scope['subprotocols'] else None)
    async for text in websocket.iter_text():
        await websocket.send_text(text.upper())


app = Starlette(routes=[Route('/', index), Route('/upload', upload, methods=['POST']), Route('/numbers', numbers),
                        WebSocketRoute('/ws', shout)],
                lifespan=lifespan)

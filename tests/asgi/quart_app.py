"""A real Quart app for corral's ASGI tests: async views, a JSON body, startup and shutdown."""
import os

from quart import Quart, jsonify, request, websocket

app = Quart(__name__)
state = {}


@app.before_serving
async def startup():
    state['started'] = os.getpid()


@app.route('/')
async def index():
    return 'Hello from Quart'


@app.route('/echo', methods=['POST'])
async def echo():
    data = await request.get_json()
    return jsonify(received=data, started=state.get('started'))


@app.websocket('/ws')
async def reverse():
    while True:
        text = await websocket.receive()
        await websocket.send(text[::-1])

"""A real Quart app for corral's ASGI tests: async views, a JSON body, startup and shutdown."""
import os

from quart import Quart, jsonify, request

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

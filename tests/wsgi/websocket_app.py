"""Flask apps with WebSockets as Flask users add them: flask-sock (simple-websocket on the
server's socket) and Flask-SocketIO (python-socketio), for corral-python's threads and gevent
modes."""
import os

from flask import Flask
from flask_sock import Sock
from flask_socketio import SocketIO, emit

app = Flask(__name__)
sock = Sock(app)
# Flask-SocketIO takes gevent whenever it is installed; threads mode needs async_mode='threading',
# as under gunicorn's gthread.
socketio = SocketIO(app, async_mode=os.environ.get('SOCKETIO_ASYNC_MODE'))


@app.route('/')
def index():
    return 'plain flask'


@sock.route('/echo')
def echo(ws):
    while True:
        text = ws.receive()
        if text == 'bye':
            ws.close(reason=1000, message='see you')
            return
        ws.send('flask-sock: %s' % text)


@socketio.on('shout')
def shout(text):
    emit('shouted', text.upper())

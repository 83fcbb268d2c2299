"""The apps the WSGI benchmark serves with every server: the same code for all of them."""
import time

from flask import Flask


def bare(environ, start_response):
    """A bare WSGI hello (13 bytes): the server's cost, not the app's."""
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '13')])
    return [b'Hello, World!']


app = Flask(__name__)


@app.route('/')
def hello():
    return 'Hello, World!'


@app.route('/sleep')
def sleep():
    time.sleep(0.1)
    return 'Hello, World!'

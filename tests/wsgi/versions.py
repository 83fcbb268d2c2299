"""What interpreter serves: the Python version tests run it under each worker build, with a venv of
that Python (Flask for WSGI, FastAPI for ASGI: their compiled extensions must load)."""
import os
import platform
import sys

import markupsafe._speedups
from flask import Flask

# markupsafe's C extension, built for the venv's Python, is what was loaded.
assert markupsafe._speedups.__file__.endswith('.so'), markupsafe._speedups.__file__

app = Flask(__name__)


def interpreter():
    return '%s %s %s' % (platform.python_implementation(), sys.version.split()[0], sys.prefix)


@app.route('/')
def index():
    return interpreter()


@app.route('/environ')
def environ():
    """What corrald set for the worker to load the venv's libpython must not reach the app."""
    return ' '.join('%s=%s' % (name, os.environ.get(name)) for name in
                    ('LD_LIBRARY_PATH', 'CORRAL_PYTHON_LIBDIR', 'CORRAL_PYTHON_VERSION'))


async def asgi(scope, receive, send):
    if scope['type'] != 'http':
        return
    import pydantic_core._pydantic_core as core   # FastAPI's compiled core
    assert core.__file__.endswith('.so'), core.__file__
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
    await send({'type': 'http.response.body', 'body': interpreter().encode()})

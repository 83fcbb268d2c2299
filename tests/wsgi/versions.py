"""What interpreter serves: the Python version tests run it under each worker build, with a venv of
that Python (Flask for WSGI, FastAPI for ASGI: their compiled extensions must load)."""
import platform
import sys

import markupsafe._speedups  # noqa: F401  (markupsafe's C extension, built for the venv's Python)
from flask import Flask

app = Flask(__name__)


def interpreter():
    return '%s %s %s' % (platform.python_implementation(), sys.version.split()[0], sys.prefix)


@app.route('/')
def index():
    return interpreter()


async def asgi(scope, receive, send):
    if scope['type'] != 'http':
        return
    import pydantic_core  # noqa: F401  (FastAPI's compiled core)
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
    await send({'type': 'http.response.body', 'body': interpreter().encode()})

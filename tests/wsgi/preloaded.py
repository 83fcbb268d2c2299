"""An app for preload_app's tests: it records each import (a line in $PRELOAD_IMPORTS), holds
data built at import, and tells who imported it and who serves."""
import json, os, threading

if os.environ.get('PRELOAD_BROKEN') == '1':
    raise ImportError('this deploy is broken on purpose')
IMPORTED_BY = os.getpid()
with open(os.environ['PRELOAD_IMPORTS'], 'a') as imports:
    imports.write('%d\n' % IMPORTED_BY)
DATA = [bytes(1024) + str(i).encode() for i in range(int(os.environ.get('PRELOAD_DATA_KIB', '0')))]
VERSION = os.environ.get('PRELOAD_VERSION', '1')
if os.environ.get('PRELOAD_THREAD') == '1':
    threading.Thread(target=threading.Event().wait, name='cache-warmer', daemon=True).start()


def app(environ, start_response):
    body = json.dumps({'imported_by': IMPORTED_BY, 'pid': os.getpid(), 'version': VERSION}).encode()
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
    return [body]

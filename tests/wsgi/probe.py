"""Bare WSGI apps that probe corral-python's PEP 3333 rules."""
import io, os, sys, time, warnings, wsgiref.validate

warnings.simplefilter('error')      # a validator warning fails the request (500), not just a log line

def echo(environ, start_response):
    body = environ['wsgi.input'].read()
    lines = ['%s=%s' % (key, environ[key]) for key in sorted(environ) if isinstance(environ[key], str)]
    lines.append('body=%d' % len(body))
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return ['\n'.join(lines).encode('latin-1')]

def reader(environ, start_response):
    """Reads the body every way wsgi.input allows; answers what it read."""
    stream = environ['wsgi.input']
    mode = environ.get('QUERY_STRING', '')
    if mode == 'readline':
        parts = [stream.readline(), stream.readline(5), stream.readline()]
        rest = stream.read(1 << 20)
        data = b'|'.join(parts) + b'|' + rest
    elif mode == 'readlines':
        data = b'|'.join(stream.readlines())
    elif mode == 'iterate':
        data = b'|'.join(line for line in stream)
    elif mode == 'sized':
        chunks = []
        while True:
            chunk = stream.read(7)
            if not chunk:
                break
            chunks.append(chunk)
        data = b'|'.join(chunks)
    elif mode == 'whole':
        data = stream.read()
    else:
        data = stream.read(1 << 20)   # wsgiref's validator insists on a size
    start_response('200 OK', [('Content-Type', 'application/octet-stream')])
    return [data]

validated = wsgiref.validate.validator(reader)

closes = os.environ.get('PROBE_CLOSE_LOG')

class Tracked:
    """An iterable that records its close() in PROBE_CLOSE_LOG; with `read_from`, it reads that
    stream to its end first and yields how many bytes came."""
    def __init__(self, name, chunks, fail_at=None, delay=0, read_from=None):
        self.name, self.chunks, self.fail_at, self.delay, self.read_from = name, chunks, fail_at, delay, read_from
    def __iter__(self):
        if self.read_from is not None:
            yield b'%d' % len(self.read_from.read())
        for index, chunk in enumerate(self.chunks):
            if index == self.fail_at:
                raise RuntimeError('failed after the head')
            if self.delay and index:
                time.sleep(self.delay)
            yield chunk
    def close(self):
        with open(closes, 'a') as log:
            log.write(self.name + '\n')

def tracked(environ, start_response):
    name = environ['PATH_INFO'].strip('/')
    start_response('200 OK', [('Content-Type', 'text/plain')])
    if name == 'raise':
        raise ValueError('raised before returning')
    if name == 'fail-late':
        return Tracked(name, [b'first\n', b'second\n'], fail_at=1)
    if name == 'slow':
        return Tracked(name, [b'x' * 65536] * 200, delay=0.01)
    return Tracked(name, [b'one\n', b'two\n'])

def exc_info_app(environ, start_response):
    try:
        raise KeyError('lookup failed')
    except KeyError:
        start_response('200 OK', [('Content-Type', 'text/plain')])
        start_response('503 Service Unavailable', [('Content-Type', 'text/plain')], sys.exc_info())
        return [b'replaced after exc_info\n']

def exc_info_late(environ, start_response):
    write = start_response('200 OK', [('Content-Type', 'text/plain')])
    write(b'head is out\n')
    try:
        raise KeyError('too late')
    except KeyError:
        start_response('500 Internal Server Error', [('Content-Type', 'text/plain')], sys.exc_info())
    return [b'never sent\n']

def second_start_response(environ, start_response):
    start_response('200 OK', [])
    start_response('200 OK', [])
    return [b'no']

def writer(environ, start_response):
    write = start_response('200 OK', [('Content-Type', 'text/plain')])
    write(b'written ')
    write(b'with write()\n')
    return [b'and returned\n']

def bad_header(environ, start_response):
    start_response('200 OK', [('X-Evil', 'a\r\nSet-Cookie: pwned=1')])
    return [b'no']

def text_body(environ, start_response):
    start_response('200 OK', [])
    return ['str is not bytes']

def file_wrapper(environ, start_response):
    handle = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'static.txt'), 'rb')
    handle.seek(10)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return environ['wsgi.file_wrapper'](handle, 8192)

def errors(environ, start_response):
    environ['wsgi.errors'].write('a line for the error log\n')
    environ['wsgi.errors'].flush()
    start_response('200 OK', [])
    return [b'logged']

def sized(environ, start_response):
    """A streamed body (3 MiB) with its Content-Length, over the size sent whole; /lying states 2 MiB."""
    chunk = b'z' * 65536
    declared = str(2 << 20) if environ['PATH_INFO'] == '/lying' else str(len(chunk) * 48)
    start_response('200 OK', [('Content-Type', 'application/octet-stream'), ('Content-Length', declared)])
    return (chunk for _ in range(48))

def hop_by_hop(environ, start_response):
    """Hop-by-hop headers are the server's: gunicorn leaves them out, and so does corral."""
    start_response('200 OK', [('Connection', 'close'), ('Keep-Alive', 'timeout=99'), ('X-Kept', 'yes')])
    return [b'hop']

def header_text(environ, start_response):
    """/utf8: UTF-8 bytes in a latin-1 str (PEP 3333's way); /euro: not latin-1; /surrogate: an
    undecodable file name's lone surrogate (the last two are the app's errors: 500); /padded:
    values with spaces and tabs around them."""
    if environ['PATH_INFO'] == '/padded':   # Django writes Set-Cookie with a leading space
        start_response('200 OK', [('Set-Cookie', ' sessionid=abc; Path=/'), ('X-Tail', 'tab\t'), ('X-Plain', 'as is')])
        return [b'sent']
    values = {'/utf8': 'caf\u00e9'.encode('utf-8').decode('latin-1'), '/euro': '\u20ac', '/surrogate': '\udcff'}
    start_response('200 OK', [('X-Text', values[environ['PATH_INFO']])])
    return [b'sent']

def early_write(environ, start_response):
    """Writes before it reads the body (the head goes out first): 100 Continue must precede it."""
    write = start_response('200 OK', [('Content-Type', 'text/plain')])
    write(b'head\n')
    return [b'got %d' % len(environ['wsgi.input'].read(1 << 20))]

def timed_reader(environ, start_response):
    """gevent: a read interrupted by gevent.Timeout loses nothing; the next read gets it all."""
    import gevent
    stream = environ['wsgi.input']
    first = b''
    with gevent.Timeout(0.3, False):
        first = stream.read(1 << 20)
    start_response('200 OK', [])
    return [first + b'|' + stream.read(1 << 20)]

def slow_reader(environ, start_response):
    """Reads its body only after 2 s: HTTP/2's window stays closed until then."""
    time.sleep(2)
    body = environ['wsgi.input'].read()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'body=%d' % len(body)]

def late_stream(environ, start_response):
    """Answers after 1 s, with a body from a generator: a client gone by then must still end it."""
    time.sleep(1)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return (piece for piece in [b'late ', b'stream'])

def at_exit(environ, start_response):
    """Registers an atexit handler that writes PROBE_EXIT_FILE, and a thread that never ends."""
    import atexit, threading, time
    atexit.register(lambda: open(os.environ['PROBE_EXIT_FILE'], 'w').write('ran'))
    threading.Thread(target=time.sleep, args=(3600,)).start()   # not a daemon
    start_response('200 OK', [])
    return [b'registered']

def switching(environ, start_response):
    start_response('101 Switching Protocols', [('Upgrade', 'websocket'), ('Connection', 'Upgrade')])
    return [b'']

def counter(environ, start_response):
    """Reads the body in 64 KiB pieces and keeps none of it; answers how many bytes came."""
    stream, total = environ['wsgi.input'], 0
    while True:
        piece = stream.read(65536)
        if not piece:
            break
        total += len(piece)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'%d' % total]

def leaving(environ, start_response):
    """The paths where the body cannot be read or the client leaves. Each response's iterable
    records its close() in PROBE_CLOSE_LOG under the query string, for the test to find.
    /read reads the body while its iterable runs; /stream streams 64 MiB slowly (chunked, 10 s);
    /overwrite writes 6 bytes with write() past its Content-Length of 4."""
    name = environ.get('QUERY_STRING', '') or environ['PATH_INFO']
    path = environ['PATH_INFO']
    if path == '/read':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return Tracked(name, [], read_from=environ['wsgi.input'])
    if path == '/stream':
        start_response('200 OK', [('Content-Type', 'application/octet-stream')])
        return Tracked(name, [b'x' * 65536] * 1000, delay=0.01)
    write = start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '4')])
    write(b'abcdef')
    return Tracked(name, [])

def declared(environ, start_response):
    """Bodies that disagree with their Content-Length (PEP 3333: the server sends no more than
    it), and a slow generator that must not be held back."""
    path = environ['PATH_INFO']
    if path == '/slow':
        start_response('200 OK', [('Content-Length', '6')])
        def slowly():
            yield b'abc'
            time.sleep(float(environ['QUERY_STRING']))
            yield b'def'
        return slowly()
    if path == '/wrapper':
        data = b'w' * 45448
        start_response('200 OK', [('Content-Length', '1')])
        return environ['wsgi.file_wrapper'](io.BytesIO(data), 8192)
    length, body = {'/list-long': ('8', [b'abcdefghi']), '/tuple-long': ('8', (b'abcd', b'efghi')),
                    '/generator-long': ('8', (piece for piece in [b'abcd', b'efghi'])),
                    '/list-short': ('8', [b'abc']), '/generator-short': ('8', (piece for piece in [b'abc']))}[path]
    start_response('200 OK', [('Content-Length', length)])
    return body

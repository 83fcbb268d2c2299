"""RFC 9113's server MUSTs, checked frame by frame (hyperframe, hpack) against a server on
127.0.0.1:PORT over TLS: `python h2_conformance.py PORT CAFILE [SECTION...]` (CAFILE `-`: cleartext,
h2c with prior knowledge). Prints one line per
check, `pass 6.5 NAME` (a note in parentheses when the RFC allows more than one answer) or
`FAIL 6.5 NAME: what was expected, what came`; exits 0 only if all pass. SECTION runs that section
and its subsections only (`6.5` runs 6.5 and 6.5.2).

Each check has its own connection (preface, SETTINGS, the server's SETTINGS read and ACKed) and
every read is bounded (2 s). The server's root must hold hello.txt ("hello, world!\\n") and
large.bin (100,000 bytes). A connection error is a GOAWAY with its code (the connection may close
after it); a stream error is a RST_STREAM with its code, or a GOAWAY with it (noted: §5.4.1 lets
an endpoint treat a stream error as a connection error). A malformed request (§8.1.1) must end in
a stream error PROTOCOL_ERROR; a 400 answer passes, noted.
"""
import functools
import socket
import ssl
import struct
import sys
import time

import hpack
from h2.errors import ErrorCodes
from hyperframe.frame import (DataFrame, Frame, GoAwayFrame, HeadersFrame, PingFrame, PushPromiseFrame,
                              RstStreamFrame, SettingsFrame, WindowUpdateFrame)

PREFACE = b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
TIMEOUT = 2
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM = ACK = 0x1
END_HEADERS, PADDED, PRIORITY_FLAG = 0x4, 0x8, 0x20
(NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, STREAM_CLOSED,
 FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR) = range(10)
GET = [(':method', 'GET'), (':scheme', 'https'), (':path', '/hello.txt'), (':authority', 'localhost')]
POST = [(':method', 'POST')] + GET[1:]
LARGE = GET[:2] + [(':path', '/large.bin')] + GET[3:]
MARKER = PingFrame(0, opaque_data=b'marker!!').serialize()


def raw(kind, flags, stream, payload=b''):
    """Any frame, however wrong: the 9-byte header as given, then the payload."""
    return struct.pack('>I', len(payload))[1:] + bytes([kind, flags]) + struct.pack('>I', stream) + payload


def name(code):
    try:
        return ErrorCodes(code).name
    except ValueError:
        return 'code %d' % code


class Failure(Exception):
    pass


class Conn:
    """One TLS connection with ALPN h2: the preface and our SETTINGS sent, then (`handshake`) the
    server's first frame read, which must be its SETTINGS, and ACKed. `seen` keeps every frame."""

    def __init__(self, port, cafile, settings=None, preface=PREFACE, handshake=True):
        self.sock = socket.create_connection(('127.0.0.1', int(port)), timeout=TIMEOUT)
        if cafile != '-':
            context = ssl.create_default_context(cafile=cafile)
            context.set_alpn_protocols(['h2'])
            self.sock = context.wrap_socket(self.sock, server_hostname='localhost')
            if self.sock.selected_alpn_protocol() != 'h2':
                raise Failure('ALPN chose %s, not h2' % self.sock.selected_alpn_protocol())
        self.encoder, self.decoder = hpack.Encoder(), hpack.Decoder()
        self.buffer, self.block, self.seen, self.closed = b'', b'', [], False
        self.send(preface, SettingsFrame(0, settings=settings or {}).serialize())
        if handshake:
            first = self.wait(lambda f: True)
            if not isinstance(first, SettingsFrame) or 'ACK' in first.flags:
                raise Failure("expected the server's SETTINGS first, came %s" % self.what(first))
            self.server_settings = first.settings
            self.send(SettingsFrame(0, flags=['ACK']).serialize())

    def send(self, *frames):
        try:
            self.sock.sendall(b''.join(frames))
        except OSError:   # the server closed: what it sent before says why
            pass

    def headers(self, stream, fields, flags=END_HEADERS | END_STREAM):
        return raw(HEADERS, flags, stream, self.encoder.encode(fields))

    def next(self, deadline):
        """The next frame, or None at the deadline or the connection's end (then `closed`)."""
        while not self.closed:
            if len(self.buffer) >= 9:
                frame, length = Frame.parse_frame_header(memoryview(self.buffer[:9]))
                if len(self.buffer) >= 9 + length:
                    frame.parse_body(memoryview(self.buffer[9:9 + length]))
                    self.buffer = self.buffer[9 + length:]
                    if frame.type in (HEADERS, CONTINUATION):   # the decoder must see every block
                        self.block += frame.data
                        if 'END_HEADERS' in frame.flags:
                            frame.fields, self.block = dict(self.decoder.decode(self.block)), b''
                    self.seen.append(frame)
                    return frame
            if time.monotonic() >= deadline:
                return None
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            except OSError:
                data = b''
            self.buffer += data
            self.closed = not data
        return None

    def wait(self, until, seconds=TIMEOUT):
        """The first frame for which `until` holds, or a GOAWAY; None at the deadline or the end."""
        deadline = time.monotonic() + seconds
        while (frame := self.next(deadline)) is not None:
            if isinstance(frame, GoAwayFrame) or until(frame):
                return frame
        return None

    def what(self, frame):
        """Says what came instead of what was expected."""
        if isinstance(frame, GoAwayFrame):
            return 'GOAWAY %s' % name(frame.error_code)
        if isinstance(frame, RstStreamFrame):
            return 'RST_STREAM %s on stream %d' % (name(frame.error_code), frame.stream_id)
        if isinstance(frame, HeadersFrame):
            return 'a %s response on stream %d' % (frame.fields.get(':status'), frame.stream_id)
        if frame is not None:
            return '%s on stream %d' % (type(frame).__name__, frame.stream_id)
        if self.closed:
            return 'the connection closed with no GOAWAY'
        pinged = any(isinstance(f, PingFrame) and f.opaque_data == b'marker!!' for f in self.seen)
        return 'nothing within %d s%s' % (TIMEOUT, ' (a PING sent after was answered)' if pinged else '')

    def body(self, stream):
        return sum(f.flow_controlled_length for f in self.seen if isinstance(f, DataFrame) and f.stream_id == stream)


def connection_error(conn, code, *frames):
    """Sends `frames`, then a PING (to tell 'ignored' from 'slow'): a GOAWAY with `code` must come."""
    conn.send(*frames, MARKER)
    frame = conn.wait(lambda f: False)
    if frame is None or frame.error_code != code:
        raise Failure('expected GOAWAY %s, came %s' % (name(code), conn.what(frame)))


def stream_error(conn, stream, codes, *frames):
    """Sends `frames`, then a PING: a RST_STREAM on `stream` with one of `codes` must come (a GOAWAY with it: noted)."""
    conn.send(*frames, MARKER)
    frame = conn.wait(lambda f: isinstance(f, RstStreamFrame) and f.stream_id == stream)
    if frame is not None and frame.error_code in codes:
        return 'as a connection error, GOAWAY' if isinstance(frame, GoAwayFrame) else None
    raise Failure('expected RST_STREAM %s on stream %d, came %s' % (' or '.join(map(name, codes)), stream, conn.what(frame)))


def malformed(conn, stream, *frames):
    """Sends `frames`, a request the server must treat as malformed: RST_STREAM PROTOCOL_ERROR or a 400."""
    conn.send(*frames)
    ended = lambda f: f.stream_id == stream and (isinstance(f, (RstStreamFrame, HeadersFrame)) or 'END_STREAM' in f.flags)
    frame = conn.wait(ended)
    status = frame.fields.get(':status') if isinstance(frame, HeadersFrame) else None
    if status == '400':
        return 'a 400 response'
    if status is not None:   # answered before the body or trailers were read: a reset must follow
        frame = conn.wait(ended)
    if isinstance(frame, (RstStreamFrame, GoAwayFrame)) and frame.error_code == PROTOCOL_ERROR:
        how = 'as a connection error, GOAWAY' if isinstance(frame, GoAwayFrame) else 'RST_STREAM'
        return how + (' after a %s response head' % status if status else '')
    raise Failure('expected RST_STREAM PROTOCOL_ERROR or a 400, came %s%s'
                  % ('a %s response head, then ' % status if status else '', conn.what(frame)))


def alive(conn, *frames):
    """Sends `frames`, then a PING: its ACK must come, and no error before it."""
    conn.send(*frames, MARKER)
    frame = conn.wait(lambda f: isinstance(f, RstStreamFrame) or isinstance(f, PingFrame) and 'ACK' in f.flags)
    if not isinstance(frame, PingFrame) or frame.opaque_data != b'marker!!':
        raise Failure('expected the frames ignored and the PING answered, came %s' % conn.what(frame))


def response(conn, stream):
    """The response on `stream`, (status, body), once its END_STREAM came."""
    frame = conn.wait(lambda f: f.stream_id == stream and (isinstance(f, RstStreamFrame) or 'END_STREAM' in f.flags))
    if frame is None or isinstance(frame, (GoAwayFrame, RstStreamFrame)):
        raise Failure('expected a response, came %s' % conn.what(frame))
    head = next(f for f in conn.seen if isinstance(f, HeadersFrame) and f.stream_id == stream)
    return head.fields.get(':status'), b''.join(f.data for f in conn.seen if isinstance(f, DataFrame) and f.stream_id == stream)


def max_frame(conn):
    return conn.server_settings.get(SettingsFrame.MAX_FRAME_SIZE, 16384)


CHECKS = []


def check(section, title):
    def register(function):
        CHECKS.append((section, title, function))
        return function
    return register


@check('8.1', 'GET /hello.txt answered 200 with its body')
def sanity(connect):
    """Not a MUST: the server answers a plain request (else the other checks mean little)."""
    conn = connect()
    conn.send(conn.headers(1, GET))
    status, body = response(conn, 1)
    if (status, body) != ('200', b'hello, world!\n'):
        raise Failure('expected 200 "hello, world!\\n", came %s %r' % (status, body[:40]))


@check('3.4', 'invalid preface ends the connection')
def invalid_preface(connect):
    """§3.4: an invalid connection preface MUST be a connection error PROTOCOL_ERROR (its GOAWAY MAY be omitted)."""
    conn = connect(preface=b'PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n', handshake=False)
    frame = conn.wait(lambda f: False)
    if frame is None and conn.closed:
        return 'closed with no GOAWAY'
    if frame is None or frame.error_code != PROTOCOL_ERROR:
        raise Failure('expected the connection closed, came %s' % conn.what(frame))


@check('3.4', "server's first frame is SETTINGS")
def first_settings(connect):
    """§3.4: the server connection preface MUST be a SETTINGS frame, its first frame (connect checks)."""
    connect()


@check('4.1', 'unknown frame type ignored')
def unknown_type(connect):
    """§4.1: implementations MUST ignore and discard frames of unknown types."""
    alive(connect(), raw(0xfa, 0, 0, b'abc'))


@check('4.1', 'unknown flags ignored')
def unknown_flags(connect):
    """§4.1: unused flags MUST be ignored on receipt (a PING with every flag but ACK)."""
    conn = connect()
    conn.send(raw(PING, 0xfe, 0, b'flagged!'))
    frame = conn.wait(lambda f: isinstance(f, PingFrame))
    if not isinstance(frame, PingFrame) or frame.opaque_data != b'flagged!' or 'ACK' not in frame.flags:
        raise Failure('expected a PING ACK, came %s' % conn.what(frame))


@check('4.1', 'reserved stream-id bit ignored')
def reserved_bit(connect):
    """§4.1: the reserved bit of the stream identifier MUST be ignored when receiving."""
    conn = connect()
    conn.send(raw(HEADERS, END_HEADERS | END_STREAM, 0x80000001, conn.encoder.encode(GET)))
    status, _ = response(conn, 1)
    if status != '200':
        raise Failure('expected 200, came %s' % status)


@check('5.1', 'HEADERS on a stream closed by END_STREAM both ways')
def headers_closed(connect):
    """§5.1: a frame after receiving END_STREAM MUST be a connection error STREAM_CLOSED (a stream error: noted)."""
    conn = connect()
    conn.send(conn.headers(1, GET))
    response(conn, 1)
    as_stream_error = stream_error(conn, 1, (STREAM_CLOSED,), conn.headers(1, [('x-trailer', '1')])) is None
    return 'as a stream error, RST_STREAM' if as_stream_error else None


@check('5.1.2', 'beyond SETTINGS_MAX_CONCURRENT_STREAMS')
def too_many_streams(connect):
    """§5.1.2: HEADERS past the advertised stream limit MUST be a stream error PROTOCOL_ERROR or REFUSED_STREAM."""
    conn = connect()
    limit = conn.server_settings.get(SettingsFrame.MAX_CONCURRENT_STREAMS)
    if limit is None:
        return 'no limit advertised'
    opened = [conn.headers(2 * n + 1, GET, END_HEADERS) for n in range(limit)]   # none ends: all stay open
    return stream_error(conn, 2 * limit + 1, (REFUSED_STREAM, PROTOCOL_ERROR), *opened, conn.headers(2 * limit + 1, GET))


@check('6.5.3', 'server ACKs our SETTINGS')
def settings_acked(connect):
    """§6.5.3: on a SETTINGS frame the recipient MUST send a SETTINGS ACK."""
    conn = connect()
    frame = conn.wait(lambda f: isinstance(f, SettingsFrame) and 'ACK' in f.flags)
    if not isinstance(frame, SettingsFrame):
        raise Failure('expected a SETTINGS ACK, came %s' % conn.what(frame))


@check('6.5.2', 'unknown setting ignored')
def unknown_setting(connect):
    """§6.5.2: an endpoint MUST ignore a setting with an unknown identifier."""
    alive(connect(), raw(SETTINGS, 0, 0, struct.pack('>HI', 0xabc, 7)))


@check('6.7', 'PING answered with the same payload')
def ping(connect):
    """§6.7: a PING without ACK MUST be answered by a PING ACK with an identical payload."""
    alive(connect())


@check('6.7', 'PING ACK not answered')
def ping_ack(connect):
    """§6.7: receivers of a PING with the ACK flag MUST NOT respond with a PING."""
    conn = connect()
    alive(conn, raw(PING, ACK, 0, b'unasked!'))
    if any(isinstance(f, PingFrame) and f.opaque_data == b'unasked!' for f in conn.seen):
        raise Failure('the server answered a PING ACK')


def settle(conn, seconds=0.5):
    """Reads whatever comes for `seconds` (or until a GOAWAY)."""
    conn.wait(lambda f: False, seconds)


def windowed_get(conn, change=None):
    """GET /large.bin: after `change` (frames), DATA must stay within a stream window of 1000,
    and the rest must come after a WINDOW_UPDATE."""
    conn.send(WindowUpdateFrame(0, window_increment=1 << 20).serialize(), conn.headers(1, LARGE))
    if change:
        settle(conn)
        if conn.body(1):
            raise Failure('expected no DATA in a window of 0, came %d bytes' % conn.body(1))
        conn.send(change)
    settle(conn)
    if not 0 < conn.body(1) <= 1000:
        raise Failure('expected up to 1000 bytes in a window of 1000, came %d' % conn.body(1))
    conn.send(WindowUpdateFrame(1, window_increment=1 << 20).serialize())
    status, body = response(conn, 1)
    if (status, len(body)) != ('200', 100000):
        raise Failure('expected 200 and 100000 bytes, came %s and %d' % (status, len(body)))


@check('6.9.2', 'SETTINGS_INITIAL_WINDOW_SIZE bounds a stream')
def initial_window(connect):
    """§6.9.1: a sender MUST NOT send a flow-controlled frame beyond the window (initial window 1000)."""
    windowed_get(connect(settings={SettingsFrame.INITIAL_WINDOW_SIZE: 1000}))


@check('6.9.2', 'SETTINGS_INITIAL_WINDOW_SIZE change applies to an open stream')
def window_change(connect):
    """§6.9.2: a change of SETTINGS_INITIAL_WINDOW_SIZE MUST adjust every stream window (0, then 1000 mid-stream)."""
    change = SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 1000}).serialize()
    windowed_get(connect(settings={SettingsFrame.INITIAL_WINDOW_SIZE: 0}), change)


@check('8.2.2', 'te: trailers accepted')
def te_trailers(connect):
    """§8.2.2: TE MAY be present in a request with the value "trailers"."""
    conn = connect()
    conn.send(conn.headers(1, GET + [('te', 'trailers')]))
    status, _ = response(conn, 1)
    if status != '200':
        raise Failure('expected 200, came %s' % status)


@check('8.4', 'no PUSH_PROMISE')
def no_push(connect):
    """§8.4: a server MUST NOT push when SETTINGS_ENABLE_PUSH is 0 (and corral never pushes: with 1 either)."""
    for push in (0, 1):
        conn = connect(settings={SettingsFrame.ENABLE_PUSH: push})
        conn.send(conn.headers(1, GET))
        response(conn, 1)
        if any(isinstance(f, PushPromiseFrame) for f in conn.seen):
            raise Failure('expected no PUSH_PROMISE, came one with ENABLE_PUSH %d' % push)


# Each MUST be a connection error (a GOAWAY) with the code given. (section, title, code, frames(conn))
CONNECTION_ERRORS = [
    ('4.2', 'HEADERS over SETTINGS_MAX_FRAME_SIZE', FRAME_SIZE_ERROR,
     lambda c: [raw(HEADERS, END_HEADERS | END_STREAM, 1, c.encoder.encode(GET + [('x-a', 'a' * max_frame(c))], huffman=False))]),
    ('4.3', 'HPACK index 0', COMPRESSION_ERROR, lambda c: [raw(HEADERS, END_HEADERS | END_STREAM, 1, b'\x80')]),
    ('4.3', 'HPACK index past the tables', COMPRESSION_ERROR, lambda c: [raw(HEADERS, END_HEADERS | END_STREAM, 1, b'\xbf')]),
    ('5.1', 'DATA on an idle stream', PROTOCOL_ERROR, lambda c: [raw(DATA, 0, 1, b'x')]),
    ('5.1', 'RST_STREAM on an idle stream', PROTOCOL_ERROR, lambda c: [raw(RST_STREAM, 0, 1, struct.pack('>I', CANCEL))]),
    ('5.1', 'WINDOW_UPDATE on an idle stream', PROTOCOL_ERROR, lambda c: [raw(WINDOW_UPDATE, 0, 1, struct.pack('>I', 1))]),
    ('5.1.1', 'even-numbered stream from the client', PROTOCOL_ERROR, lambda c: [c.headers(2, GET)]),
    ('5.1.1', 'decreasing stream id', PROTOCOL_ERROR, lambda c: [c.headers(5, GET), c.headers(3, GET)]),
    ('5.5', 'unknown frame inside a field block', PROTOCOL_ERROR,
     lambda c: [c.headers(1, GET, END_STREAM), raw(0xfa, 0, 1, b'abc'), raw(CONTINUATION, END_HEADERS, 1)]),
    ('6.1', 'DATA on stream 0', PROTOCOL_ERROR, lambda c: [raw(DATA, 0, 0, b'x')]),
    ('6.1', 'DATA padding as long as the payload', PROTOCOL_ERROR,
     lambda c: [c.headers(1, POST, END_HEADERS), raw(DATA, PADDED, 1, b'\x05abcd')]),
    ('6.2', 'HEADERS on stream 0', PROTOCOL_ERROR, lambda c: [c.headers(0, GET)]),
    ('6.2', 'HEADERS padding as long as the payload', PROTOCOL_ERROR,
     lambda c: [raw(HEADERS, END_HEADERS | END_STREAM | PADDED, 1, b'\x03\x82\x87')]),
    ('6.3', 'PRIORITY on stream 0', PROTOCOL_ERROR, lambda c: [raw(PRIORITY, 0, 0, struct.pack('>IB', 1, 15))]),
    ('6.4', 'RST_STREAM on stream 0', PROTOCOL_ERROR, lambda c: [raw(RST_STREAM, 0, 0, struct.pack('>I', CANCEL))]),
    ('6.4', 'RST_STREAM of 3 octets', FRAME_SIZE_ERROR, lambda c: [c.headers(1, POST, END_HEADERS), raw(RST_STREAM, 0, 1, b'\0\0\x08')]),
    ('6.5', 'SETTINGS ACK with a payload', FRAME_SIZE_ERROR, lambda c: [raw(SETTINGS, ACK, 0, struct.pack('>HI', 4, 1))]),
    ('6.5', 'SETTINGS on a stream', PROTOCOL_ERROR, lambda c: [raw(SETTINGS, 0, 1, struct.pack('>HI', 4, 65535))]),
    ('6.5', 'SETTINGS length not a multiple of 6', FRAME_SIZE_ERROR, lambda c: [raw(SETTINGS, 0, 0, struct.pack('>HI', 4, 65535)[:5])]),
    ('6.5.2', 'ENABLE_PUSH 2', PROTOCOL_ERROR, lambda c: [raw(SETTINGS, 0, 0, struct.pack('>HI', 2, 2))]),
    ('6.5.2', 'INITIAL_WINDOW_SIZE 2^31', FLOW_CONTROL_ERROR, lambda c: [raw(SETTINGS, 0, 0, struct.pack('>HI', 4, 1 << 31))]),
    ('6.5.2', 'MAX_FRAME_SIZE 16383', PROTOCOL_ERROR, lambda c: [raw(SETTINGS, 0, 0, struct.pack('>HI', 5, 16383))]),
    ('6.5.2', 'MAX_FRAME_SIZE 2^24', PROTOCOL_ERROR, lambda c: [raw(SETTINGS, 0, 0, struct.pack('>HI', 5, 1 << 24))]),
    ('6.6', 'PUSH_PROMISE from the client', PROTOCOL_ERROR,
     lambda c: [c.headers(1, POST, END_HEADERS), raw(PUSH_PROMISE, END_HEADERS, 1, struct.pack('>I', 2) + c.encoder.encode(GET))]),
    ('6.7', 'PING on a stream', PROTOCOL_ERROR, lambda c: [raw(PING, 0, 1, b'12345678')]),
    ('6.7', 'PING of 7 octets', FRAME_SIZE_ERROR, lambda c: [raw(PING, 0, 0, b'1234567')]),
    ('6.8', 'GOAWAY on a stream', PROTOCOL_ERROR, lambda c: [raw(GOAWAY, 0, 1, struct.pack('>II', 0, NO_ERROR))]),
    ('6.9', 'WINDOW_UPDATE of 0 on the connection', PROTOCOL_ERROR, lambda c: [raw(WINDOW_UPDATE, 0, 0, struct.pack('>I', 0))]),
    ('6.9', 'WINDOW_UPDATE of 3 octets', FRAME_SIZE_ERROR, lambda c: [raw(WINDOW_UPDATE, 0, 0, b'\0\0\x01')]),
    ('6.9.1', 'connection window past 2^31-1', FLOW_CONTROL_ERROR,
     lambda c: [raw(WINDOW_UPDATE, 0, 0, struct.pack('>I', (1 << 31) - 1))]),
    ('6.10', 'CONTINUATION without HEADERS', PROTOCOL_ERROR, lambda c: [raw(CONTINUATION, END_HEADERS, 1, c.encoder.encode(GET))]),
    ('6.10', "another stream's HEADERS inside a field block", PROTOCOL_ERROR,
     lambda c: [c.headers(1, GET, END_STREAM), c.headers(3, GET), raw(CONTINUATION, END_HEADERS, 1)]),
    ('6.10', 'CONTINUATION of another stream', PROTOCOL_ERROR,
     lambda c: [c.headers(1, GET, END_STREAM), raw(CONTINUATION, END_HEADERS, 3)]),
]

# Each MUST be a stream error on stream 1 with one of the codes given. (section, title, codes, frames(conn))
STREAM_ERRORS = [
    ('4.2', 'DATA over SETTINGS_MAX_FRAME_SIZE', (FRAME_SIZE_ERROR,),
     lambda c: [c.headers(1, POST, END_HEADERS), raw(DATA, 0, 1, bytes(max_frame(c) + 1))]),
    ('5.1', 'DATA on a half-closed (remote) stream', (STREAM_CLOSED,), lambda c: [c.headers(1, GET), raw(DATA, 0, 1, b'late')]),
    ('5.3.1', 'HEADERS depending on itself', (PROTOCOL_ERROR,),
     lambda c: [raw(HEADERS, END_HEADERS | END_STREAM | PRIORITY_FLAG, 1, struct.pack('>IB', 1, 15) + c.encoder.encode(GET))]),
    ('5.3.1', 'PRIORITY depending on itself', (PROTOCOL_ERROR,), lambda c: [raw(PRIORITY, 0, 1, struct.pack('>IB', 1, 15))]),
    ('6.3', 'PRIORITY of 4 octets', (FRAME_SIZE_ERROR,),
     lambda c: [c.headers(1, POST, END_HEADERS), raw(PRIORITY, 0, 1, struct.pack('>I', 3))]),
    ('6.9', 'WINDOW_UPDATE of 0 on a stream', (PROTOCOL_ERROR,),
     lambda c: [c.headers(1, POST, END_HEADERS), raw(WINDOW_UPDATE, 0, 1, struct.pack('>I', 0))]),
    ('6.9.1', 'stream window past 2^31-1', (FLOW_CONTROL_ERROR,),
     lambda c: [c.headers(1, POST, END_HEADERS), raw(WINDOW_UPDATE, 0, 1, struct.pack('>I', (1 << 31) - 1))]),
]

# Each request on stream 1 MUST be treated as malformed (§8.1.1). (section, title, frames(conn))
MALFORMED = [
    ('8.1', 'trailers without END_STREAM', lambda c: [c.headers(1, POST, END_HEADERS), raw(DATA, 0, 1, b'body'),
                                                      c.headers(1, [('x-trailer', '1')], END_HEADERS)]),
    ('8.1.1', 'content-length above the DATA', lambda c: [c.headers(1, POST + [('content-length', '10')], END_HEADERS),
                                                          raw(DATA, END_STREAM, 1, b'body')]),
    ('8.1.1', 'content-length below the DATA', lambda c: [c.headers(1, POST + [('content-length', '2')], END_HEADERS),
                                                          raw(DATA, END_STREAM, 1, b'body')]),
    ('8.2', 'uppercase field name', lambda c: [c.headers(1, GET + [('X-Upper', '1')])]),
    ('8.2.1', 'LF in a field value', lambda c: [c.headers(1, GET + [('x-a', 'a\nb')])]),
    ('8.2.1', 'field value with leading space', lambda c: [c.headers(1, GET + [('x-a', ' a')])]),
    ('8.2.2', 'connection: keep-alive', lambda c: [c.headers(1, GET + [('connection', 'keep-alive')])]),
    ('8.2.2', 'te: gzip', lambda c: [c.headers(1, GET + [('te', 'gzip')])]),
    ('8.3.1', 'no :method', lambda c: [c.headers(1, GET[1:])]),
    ('8.3.1', 'no :scheme', lambda c: [c.headers(1, GET[:1] + GET[2:])]),
    ('8.3.1', 'no :path', lambda c: [c.headers(1, GET[:2] + GET[3:])]),
    ('8.3.1', 'empty :path', lambda c: [c.headers(1, GET[:2] + [(':path', '')] + GET[3:])]),
    ('8.3.1', 'two :path', lambda c: [c.headers(1, GET + [(':path', '/hello.txt')])]),
    ('8.3', 'unknown pseudo-header', lambda c: [c.headers(1, GET + [(':foo', 'bar')])]),
    ('8.3', 'response pseudo-header in a request', lambda c: [c.headers(1, GET + [(':status', '200')])]),
    ('8.3', 'pseudo-header after a regular field', lambda c: [c.headers(1, GET[:3] + [('x-a', '1')] + GET[3:])]),
    ('8.3', 'pseudo-header in trailers', lambda c: [c.headers(1, POST, END_HEADERS), raw(DATA, 0, 1, b'body'),
                                                    c.headers(1, [(':path', '/')])]),
]


def table(rows, expect, *args):
    for section, title, *codes, frames in rows:
        def run(connect, codes=codes, frames=frames):
            conn = connect()
            return expect(conn, *args, *codes, *frames(conn))
        check(section, title)(run)


table(CONNECTION_ERRORS, connection_error)
table(STREAM_ERRORS, stream_error, 1)
table(MALFORMED, malformed, 1)


def main(port, cafile, *sections):
    connect = functools.partial(Conn, port, cafile)
    failed = 0
    started = time.monotonic()
    for section, title, function in sorted(CHECKS, key=lambda c: (c[2] is not sanity, [int(n) for n in c[0].split('.')])):
        if sections and not any(section == s or section.startswith(s + '.') for s in sections):
            continue
        try:
            note = function(connect)
            print('pass %s %s%s' % (section, title, ' (%s)' % note if note else ''))
        except Failure as failure:
            failed += 1
            print('FAIL %s %s: %s' % (section, title, failure))
        sys.stdout.flush()
    print('%d failed, %.1f s' % (failed, time.monotonic() - started))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:]))

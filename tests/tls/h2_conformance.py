"""RFC 9113's server MUSTs, checked frame by frame (hyperframe, hpack) against a server on
127.0.0.1:PORT over TLS: `python h2_conformance.py PORT CAFILE [SECTION...]`. Prints one line per
check, `pass 6.5 NAME` (a note in parentheses when the RFC allows more than one answer) or
`FAIL 6.5 NAME: what was expected, what came`; exits 0 only if all pass. SECTION runs that section
and its subsections only (`6.5` runs 6.5 and 6.5.2).

Each check has its own connection (preface, SETTINGS, the server's SETTINGS read and ACKed) and
every read is bounded (2 s). The server's root must hold hello.txt ("hello, world!\\n") and
large.bin (100,000 bytes). A connection error is a GOAWAY with its code; a stream error is a
RST_STREAM with its code, or a GOAWAY with it (§5.4.1: an endpoint MAY treat a stream error as a
connection error; noted). A malformed request (§8.1.1) must end in a stream error PROTOCOL_ERROR;
a 400 answer passes, noted.
"""
import functools
import socket
import ssl
import struct
import sys
import time

import hpack
from h2.errors import ErrorCodes
from hyperframe.frame import (DataFrame, Frame, GoAwayFrame, HeadersFrame, PingFrame,
                              PushPromiseFrame, RstStreamFrame, SettingsFrame, WindowUpdateFrame)

PREFACE = b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
TIMEOUT = 2
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM = ACK = 0x1
END_HEADERS, PADDED, PRIORITY_FLAG = 0x4, 0x8, 0x20
(NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, STREAM_CLOSED,
 FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR) = range(10)
GET = [(':method', 'GET'), (':scheme', 'https'), (':path', '/hello.txt'), (':authority', 'localhost')]
POST = [(':method', 'POST'), (':scheme', 'https'), (':path', '/hello.txt'), (':authority', 'localhost')]


def raw(kind, flags, stream, payload=b''):
    """Any frame, however wrong: the 9-byte header as given, then the payload."""
    return struct.pack('>I', len(payload))[1:] + bytes([kind, flags]) + struct.pack('>I', stream) + payload


def name(code):
    try:
        return ErrorCodes(code).name
    except ValueError:
        return 'code %d' % code


def describe(frame):
    if isinstance(frame, GoAwayFrame):
        return 'GOAWAY %s' % name(frame.error_code)
    if isinstance(frame, RstStreamFrame):
        return 'RST_STREAM %s on stream %d' % (name(frame.error_code), frame.stream_id)
    if isinstance(frame, HeadersFrame):
        return 'a %s response on stream %d' % (frame.fields.get(':status'), frame.stream_id)
    return '%s on stream %d' % (type(frame).__name__, frame.stream_id)


class Failure(Exception):
    pass


class Conn:
    """One TLS connection with ALPN h2: the preface and our SETTINGS sent, then (`handshake`) the
    server's first frame read, which must be its SETTINGS, and ACKed. `seen` keeps every frame."""

    def __init__(self, port, cafile, settings=None, preface=PREFACE, handshake=True):
        context = ssl.create_default_context(cafile=cafile)
        context.set_alpn_protocols(['h2'])
        raw_sock = socket.create_connection(('127.0.0.1', int(port)), timeout=TIMEOUT)
        self.sock = context.wrap_socket(raw_sock, server_hostname='localhost')
        if self.sock.selected_alpn_protocol() != 'h2':
            raise Failure('ALPN chose %s, not h2' % self.sock.selected_alpn_protocol())
        self.encoder, self.decoder = hpack.Encoder(), hpack.Decoder()
        self.buffer, self.block, self.seen, self.closed = b'', b'', [], False
        self.send(preface + SettingsFrame(0, settings=settings or {}).serialize())
        if handshake:
            first = self.wait(lambda f: True)
            if not isinstance(first, SettingsFrame) or 'ACK' in first.flags:
                raise Failure('the server\'s first frame should be its SETTINGS, came %s' % self.what(first))
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
        """The next frame, or None at the deadline or the connection's end (`closed`)."""
        while not self.closed:
            if len(self.buffer) >= 9:
                frame, length = Frame.parse_frame_header(memoryview(self.buffer[:9]))
                if len(self.buffer) >= 9 + length:
                    frame.parse_body(memoryview(self.buffer[9:9 + length]))
                    self.buffer = self.buffer[9 + length:]
                    if isinstance(frame, HeadersFrame) or frame.type == CONTINUATION:
                        self.block += frame.data
                        if 'END_HEADERS' in frame.flags:
                            frame.fields = dict(self.decoder.decode(self.block))
                            self.block = b''
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
        """What came instead of what was expected."""
        if frame is not None:
            return describe(frame)
        if self.closed:
            return 'the connection closed with no GOAWAY'
        pinged = any(isinstance(f, PingFrame) and f.opaque_data == b'marker!!' for f in self.seen)
        return 'nothing within %d s%s' % (TIMEOUT, ' (a later PING was answered)' if pinged else '')

    def body(self, stream):
        return sum(f.flow_controlled_length for f in self.seen if isinstance(f, DataFrame) and f.stream_id == stream)


MARKER = PingFrame(0, opaque_data=b'marker!!').serialize()


def connection_error(conn, code, *frames):
    """Sends `frames` (then a PING, to tell 'ignored' from 'slow'): a GOAWAY with `code` must come."""
    conn.send(*frames, MARKER)
    frame = conn.wait(lambda f: False)
    if frame is None or frame.error_code != code:
        raise Failure('expected GOAWAY %s, came %s' % (name(code), conn.what(frame)))


def stream_error(conn, stream, codes, *frames):
    """Sends `frames`: a RST_STREAM on `stream` with one of `codes` must come (a GOAWAY with it: noted)."""
    codes = codes if isinstance(codes, tuple) else (codes,)
    conn.send(*frames, MARKER)
    frame = conn.wait(lambda f: isinstance(f, RstStreamFrame) and f.stream_id == stream)
    if frame is not None and frame.error_code in codes:
        return 'as a connection error, GOAWAY' if isinstance(frame, GoAwayFrame) else None
    raise Failure('expected RST_STREAM %s on stream %d, came %s' % ('/'.join(map(name, codes)), stream, conn.what(frame)))


def malformed(conn, stream, *frames):
    """Sends `frames`: a malformed request (§8.1.1) must end in RST_STREAM PROTOCOL_ERROR or a 400."""
    conn.send(*frames)
    ended = lambda f: f.stream_id == stream and (isinstance(f, (RstStreamFrame, HeadersFrame)) or 'END_STREAM' in f.flags)
    frame = conn.wait(ended)
    if isinstance(frame, HeadersFrame) and frame.fields.get(':status') == '400':
        return 'a 400 response'
    status = frame.fields.get(':status') if isinstance(frame, HeadersFrame) else None
    if status is not None:   # answered early (the body or trailers not yet read): a reset must follow
        frame = conn.wait(ended)
    if isinstance(frame, (RstStreamFrame, GoAwayFrame)) and frame.error_code == PROTOCOL_ERROR:
        after = ' after a %s response head' % status if status else ''
        return ('as a connection error, GOAWAY' if isinstance(frame, GoAwayFrame) else 'RST_STREAM') + after
    raise Failure('expected RST_STREAM PROTOCOL_ERROR or a 400, came %s%s'
                  % ('a %s response, then ' % status if status else '', conn.what(frame)))


def alive(conn, *frames):
    """Sends `frames`, then a PING: its ACK must come, and no error before it."""
    conn.send(*frames, MARKER)
    frame = conn.wait(lambda f: isinstance(f, (PingFrame, RstStreamFrame)) and not (isinstance(f, PingFrame) and 'ACK' not in f.flags))
    if not isinstance(frame, PingFrame) or frame.opaque_data != b'marker!!':
        raise Failure('expected the frames ignored and the PING answered, came %s' % conn.what(frame))


def response(conn, stream):
    """The response on `stream`: (status, body) once END_STREAM came."""
    frame = conn.wait(lambda f: f.stream_id == stream and (isinstance(f, RstStreamFrame) or 'END_STREAM' in f.flags))
    if frame is None or isinstance(frame, (GoAwayFrame, RstStreamFrame)):
        raise Failure('expected a response, came %s' % conn.what(frame))
    heads = [f for f in conn.seen if isinstance(f, HeadersFrame) and f.stream_id == stream]
    body = b''.join(f.data for f in conn.seen if isinstance(f, DataFrame) and f.stream_id == stream)
    return heads[0].fields.get(':status'), body


CHECKS = []


def check(section, title):
    def register(function):
        CHECKS.append((section, title, function))
        return function
    return register


@check('8.1', 'GET /hello.txt answered 200 with its body')
def sanity(connect):
    """Not a MUST: the server answers a plain request (else every other check means nothing)."""
    conn = connect()
    conn.send(conn.headers(1, GET))
    status, body = response(conn, 1)
    if (status, body) != ('200', b'hello, world!\n'):
        raise Failure('expected 200 "hello, world!\\n", came %s %r' % (status, body[:40]))


@check('3.4', 'invalid preface ends the connection')
def invalid_preface(connect):
    """An invalid connection preface MUST be a connection error PROTOCOL_ERROR (the GOAWAY MAY be omitted)."""
    conn = connect(preface=b'PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n', handshake=False)
    frame = conn.wait(lambda f: False)
    if frame is None and conn.closed:
        return 'closed with no GOAWAY'
    if frame is None or frame.error_code != PROTOCOL_ERROR:
        raise Failure('expected the connection closed, came %s' % conn.what(frame))


@check('3.4', 'server\'s first frame is SETTINGS')
def first_settings(connect):
    """The server connection preface MUST be a SETTINGS frame, its first frame (checked by connect)."""
    connect()


@check('4.1', 'unknown frame type ignored')
def unknown_type(connect):
    """Implementations MUST ignore and discard frames of unknown types."""
    alive(connect(), raw(0xfa, 0, 0, b'abc'), raw(0xfb, 0xff, 1, b'xyz'))


@check('4.1', 'unknown flags ignored')
def unknown_flags(connect):
    """Unused flags MUST be ignored on receipt (a PING with every flag but ACK set)."""
    conn = connect()
    conn.send(raw(PING, 0xfe, 0, b'flagged!'))
    frame = conn.wait(lambda f: isinstance(f, PingFrame))
    if not isinstance(frame, PingFrame) or frame.opaque_data != b'flagged!' or 'ACK' not in frame.flags:
        raise Failure('expected a PING ACK, came %s' % conn.what(frame))


@check('4.1', 'reserved stream-id bit ignored')
def reserved_bit(connect):
    """The reserved bit of the stream identifier MUST be ignored when receiving."""
    conn = connect()
    conn.send(raw(HEADERS, END_HEADERS | END_STREAM, 0x80000001, conn.encoder.encode(GET)))
    status, _ = response(conn, 1)
    if status != '200':
        raise Failure('expected 200, came %s' % status)


@check('4.2', 'DATA over SETTINGS_MAX_FRAME_SIZE')
def data_too_big(connect):
    """A frame larger than SETTINGS_MAX_FRAME_SIZE MUST be a FRAME_SIZE_ERROR (stream error for DATA)."""
    conn = connect()
    size = conn.server_settings.get(SettingsFrame.MAX_FRAME_SIZE, 16384) + 1
    return stream_error(conn, 1, FRAME_SIZE_ERROR, conn.headers(1, POST, END_HEADERS), raw(DATA, 0, 1, b'x' * size))


@check('4.2', 'HEADERS over SETTINGS_MAX_FRAME_SIZE')
def headers_too_big(connect):
    """A frame carrying a field block that is too large MUST be a connection error FRAME_SIZE_ERROR."""
    conn = connect()
    size = conn.server_settings.get(SettingsFrame.MAX_FRAME_SIZE, 16384) + 1
    block = conn.encoder.encode(GET)
    connection_error(conn, FRAME_SIZE_ERROR, raw(HEADERS, END_HEADERS | END_STREAM | PADDED, 1, bytes([255]) + block + bytes(size - len(block))))


@check('4.3', 'HPACK index 0')
def hpack_index_zero(connect):
    """A field block that cannot be decoded MUST be a connection error COMPRESSION_ERROR (index 0)."""
    connection_error(connect(), COMPRESSION_ERROR, raw(HEADERS, END_HEADERS | END_STREAM, 1, b'\x80'))


@check('4.3', 'HPACK index past the tables')
def hpack_index_range(connect):
    """A field block that cannot be decoded MUST be a connection error COMPRESSION_ERROR (index 63, table empty)."""
    connection_error(connect(), COMPRESSION_ERROR, raw(HEADERS, END_HEADERS | END_STREAM, 1, b'\xbf'))


@check('5.1', 'DATA on an idle stream')
def data_idle(connect):
    """A frame other than HEADERS or PRIORITY on an idle stream MUST be a connection error PROTOCOL_ERROR."""
    connection_error(connect(), PROTOCOL_ERROR, raw(DATA, 0, 1, b'x'))


@check('5.1', 'RST_STREAM on an idle stream')
def rst_idle(connect):
    """A frame other than HEADERS or PRIORITY on an idle stream MUST be a connection error PROTOCOL_ERROR."""
    connection_error(connect(), PROTOCOL_ERROR, RstStreamFrame(1, error_code=CANCEL).serialize())


@check('5.1', 'WINDOW_UPDATE on an idle stream')
def window_idle(connect):
    """A frame other than HEADERS or PRIORITY on an idle stream MUST be a connection error PROTOCOL_ERROR."""
    connection_error(connect(), PROTOCOL_ERROR, WindowUpdateFrame(1, window_increment=1).serialize())


@check('5.1', 'PRIORITY on an idle stream allowed')
def priority_idle(connect):
    """PRIORITY is allowed on an idle stream (§5.1: HEADERS or PRIORITY)."""
    alive(connect(), raw(PRIORITY, 0, 3, struct.pack('>IB', 1, 15)))


@check('5.1', 'DATA on a half-closed (remote) stream')
def data_half_closed(connect):
    """Frames other than WINDOW_UPDATE, PRIORITY or RST_STREAM on a half-closed (remote) stream MUST be a stream error STREAM_CLOSED."""
    conn = connect()
    return stream_error(conn, 1, STREAM_CLOSED, conn.headers(1, GET), raw(DATA, 0, 1, b'late'))


@check('5.1', 'HEADERS on a closed stream')
def headers_closed(connect):
    """A frame after END_STREAM was received MUST be a connection error STREAM_CLOSED (RFC 9113 §5.1, closed; noted if a stream error)."""
    conn = connect()
    conn.send(conn.headers(1, GET))
    response(conn, 1)
    note = stream_error(conn, 1, STREAM_CLOSED, conn.headers(1, [('x-trailer', '1')]))
    return note or 'as a stream error, RST_STREAM'


@check('5.1.1', 'even-numbered stream from the client')
def even_stream(connect):
    """A stream identifier the client may not open (an even one) MUST be a connection error PROTOCOL_ERROR."""
    conn = connect()
    connection_error(conn, PROTOCOL_ERROR, conn.headers(2, GET))


@check('5.1.1', 'decreasing stream id')
def decreasing_stream(connect):
    """A new stream's id MUST exceed all opened before; an unexpected one MUST be a connection error PROTOCOL_ERROR."""
    conn = connect()
    connection_error(conn, PROTOCOL_ERROR, conn.headers(5, GET), conn.headers(3, GET))


@check('5.1.2', 'beyond SETTINGS_MAX_CONCURRENT_STREAMS')
def too_many_streams(connect):
    """HEADERS past the advertised stream limit MUST be a stream error PROTOCOL_ERROR or REFUSED_STREAM."""
    conn = connect()
    limit = conn.server_settings.get(SettingsFrame.MAX_CONCURRENT_STREAMS)
    if limit is None:
        return 'no limit advertised'
    opened = [conn.headers(2 * n + 1, GET, END_HEADERS) for n in range(limit)]
    return stream_error(conn, 2 * limit + 1, (REFUSED_STREAM, PROTOCOL_ERROR), *opened, conn.headers(2 * limit + 1, GET))


@check('5.3.1', 'HEADERS depending on itself')
def headers_self_dependency(connect):
    """A stream cannot depend on itself: MUST be a stream error PROTOCOL_ERROR."""
    conn = connect()
    block = struct.pack('>IB', 1, 15) + conn.encoder.encode(GET)
    return stream_error(conn, 1, PROTOCOL_ERROR, raw(HEADERS, END_HEADERS | END_STREAM | PRIORITY_FLAG, 1, block))


@check('5.3.1', 'PRIORITY depending on itself')
def priority_self_dependency(connect):
    """A stream cannot depend on itself: MUST be a stream error PROTOCOL_ERROR."""
    conn = connect()
    return stream_error(conn, 1, PROTOCOL_ERROR, raw(PRIORITY, 0, 1, struct.pack('>IB', 1, 15)))


@check('5.5', 'unknown frame inside a field block')
def extension_in_block(connect):
    """Extension frames in the middle of a field block MUST be a connection error PROTOCOL_ERROR."""
    conn = connect()
    block = conn.encoder.encode(GET)
    connection_error(conn, PROTOCOL_ERROR, raw(HEADERS, END_STREAM, 1, block[:3]), raw(0xfa, 0, 1, b'abc'),
                     raw(CONTINUATION, END_HEADERS, 1, block[3:]))


@check('6.1', 'DATA on stream 0')
def data_stream_zero(connect):
    """DATA not associated with a stream MUST be a connection error PROTOCOL_ERROR."""
    connection_error(connect(), PROTOCOL_ERROR, raw(DATA, 0, 0, b'x'))


@check('6.1', 'DATA padding as long as the payload')
def data_padding(connect):
    """Padding the length of the payload or more MUST be a connection error PROTOCOL_ERROR."""
    conn = connect()
    connection_error(conn, PROTOCOL_ERROR, conn.headers(1, POST, END_HEADERS), raw(DATA, PADDED, 1, bytes([5]) + b'abcd'))


@check('6.2', 'HEADERS on stream 0')
def headers_stream_zero(connect):
    """HEADERS with stream identifier 0 MUST be a connection error PROTOCOL_ERROR."""
    conn = connect()
    connection_error(conn, PROTOCOL_ERROR, conn.headers(0, GET))


@check('6.2', 'HEADERS padding as long as the payload')
def headers_padding(connect):
    """Padding the length of the payload or more MUST be a connection error PROTOCOL_ERROR."""
    conn = connect()
    block = conn.encoder.encode(GET)
    connection_error(conn, PROTOCOL_ERROR, raw(HEADERS, END_HEADERS | END_STREAM | PADDED, 1, bytes([len(block) + 1]) + block))


@check('6.3', 'PRIORITY on stream 0')
def priority_stream_zero(connect):
    """PRIORITY with stream identifier 0 MUST be a connection error PROTOCOL_ERROR."""
    connection_error(connect(), PROTOCOL_ERROR, raw(PRIORITY, 0, 0, struct.pack('>IB', 1, 15)))


@check('6.3', 'PRIORITY of 4 octets')
def priority_length(connect):
    """A PRIORITY frame not 5 octets long MUST be a stream error FRAME_SIZE_ERROR."""
    conn = connect()
    return stream_error(conn, 1, FRAME_SIZE_ERROR, conn.headers(1, POST, END_HEADERS), raw(PRIORITY, 0, 1, struct.pack('>I', 3)))


@check('6.4', 'RST_STREAM on stream 0')
def rst_stream_zero(connect):
    """RST_STREAM with stream identifier 0 MUST be a connection error PROTOCOL_ERROR."""
    connection_error(connect(), PROTOCOL_ERROR, raw(RST_STREAM, 0, 0, struct.pack('>I', CANCEL)))


@check('6.4', 'RST_STREAM of 3 octets')
def rst_length(connect):
    """A RST_STREAM frame not 4 octets long MUST be a connection error FRAME_SIZE_ERROR."""
    conn = connect()
    connection_error(conn, FRAME_SIZE_ERROR, conn.headers(1, POST, END_HEADERS), raw(RST_STREAM, 0, 1, b'\0\0\x08'))


@check('6.5', 'SETTINGS ACK with a payload')
def settings_ack_payload(connect):
    """A SETTINGS ACK with a payload MUST be a connection error FRAME_SIZE_ERROR."""
    connection_error(connect(), FRAME_SIZE_ERROR, raw(SETTINGS, ACK, 0, struct.pack('>HI', 4, 1)))


@check('6.5', 'SETTINGS on a stream')
def settings_stream(connect):
    """SETTINGS with a stream identifier other than 0 MUST be a connection error PROTOCOL_ERROR."""
    connection_error(connect(), PROTOCOL_ERROR, raw(SETTINGS, 0, 1, struct.pack('>HI', 4, 65535)))


@check('6.5', 'SETTINGS length not a multiple of 6')
def settings_length(connect):
    """A SETTINGS length not a multiple of 6 MUST be a connection error FRAME_SIZE_ERROR."""
    connection_error(connect(), FRAME_SIZE_ERROR, raw(SETTINGS, 0, 0, struct.pack('>HI', 4, 65535)[:5]))


@check('6.5', 'server ACKs our SETTINGS')
def settings_acked(connect):
    """On a SETTINGS frame the recipient MUST send a SETTINGS ACK (§6.5.3)."""
    conn = connect()
    frame = conn.wait(lambda f: isinstance(f, SettingsFrame) and 'ACK' in f.flags)
    if frame is None or isinstance(frame, GoAwayFrame):
        raise Failure('expected a SETTINGS ACK, came %s' % conn.what(frame))


@check('6.5.2', 'unknown setting ignored')
def unknown_setting(connect):
    """An endpoint MUST ignore a setting with an unknown identifier."""
    alive(connect(), raw(SETTINGS, 0, 0, struct.pack('>HI', 0xabc, 7)))


SETTING_ERRORS = [
    ('ENABLE_PUSH 2', SettingsFrame.ENABLE_PUSH, 2, PROTOCOL_ERROR, 'any value but 0 or 1'),
    ('INITIAL_WINDOW_SIZE 2^31', SettingsFrame.INITIAL_WINDOW_SIZE, 1 << 31, FLOW_CONTROL_ERROR, 'above 2^31-1'),
    ('MAX_FRAME_SIZE 16383', SettingsFrame.MAX_FRAME_SIZE, 16383, PROTOCOL_ERROR, 'below 16384'),
    ('MAX_FRAME_SIZE 2^24', SettingsFrame.MAX_FRAME_SIZE, 1 << 24, PROTOCOL_ERROR, 'above 2^24-1'),
]
for title, setting, value, code, why in SETTING_ERRORS:
    def bad_setting(connect, setting=setting, value=value, code=code):
        connection_error(connect(), code, raw(SETTINGS, 0, 0, struct.pack('>HI', setting, value)))
    bad_setting.__doc__ = 'A value %s MUST be a connection error %s.' % (why, name(code))
    check('6.5.2', title)(bad_setting)


@check('6.6', 'PUSH_PROMISE from the client')
def client_push(connect):
    """A server MUST treat a PUSH_PROMISE as a connection error PROTOCOL_ERROR (§8.4)."""
    conn = connect()
    promise = PushPromiseFrame(1, promised_stream_id=2, data=conn.encoder.encode(GET), flags=['END_HEADERS']).serialize()
    connection_error(conn, PROTOCOL_ERROR, conn.headers(1, POST, END_HEADERS), promise)


@check('6.7', 'PING answered with the same payload')
def ping(connect):
    """A PING without ACK MUST be answered by a PING with ACK and an identical payload."""
    alive(connect())


@check('6.7', 'PING on a stream')
def ping_stream(connect):
    """PING with a stream identifier other than 0 MUST be a connection error PROTOCOL_ERROR."""
    connection_error(connect(), PROTOCOL_ERROR, raw(PING, 0, 1, b'12345678'))


@check('6.7', 'PING of 7 octets')
def ping_length(connect):
    """A PING length other than 8 MUST be a connection error FRAME_SIZE_ERROR."""
    connection_error(connect(), FRAME_SIZE_ERROR, raw(PING, 0, 0, b'1234567'))


@check('6.7', 'PING ACK not answered')
def ping_ack(connect):
    """Receivers of a PING with the ACK flag MUST NOT respond with a PING."""
    conn = connect()
    alive(conn, raw(PING, ACK, 0, b'unasked!'))
    if any(isinstance(f, PingFrame) and f.opaque_data == b'unasked!' for f in conn.seen):
        raise Failure('the server answered a PING ACK')


@check('6.8', 'GOAWAY on a stream')
def goaway_stream(connect):
    """GOAWAY with a stream identifier other than 0 MUST be a connection error PROTOCOL_ERROR."""
    connection_error(connect(), PROTOCOL_ERROR, raw(GOAWAY, 0, 1, struct.pack('>II', 0, NO_ERROR)))


@check('6.9', 'WINDOW_UPDATE of 0 on the connection')
def window_zero(connect):
    """A WINDOW_UPDATE increment of 0 on the connection MUST be a connection error PROTOCOL_ERROR."""
    connection_error(connect(), PROTOCOL_ERROR, raw(WINDOW_UPDATE, 0, 0, struct.pack('>I', 0)))


@check('6.9', 'WINDOW_UPDATE of 0 on a stream')
def window_zero_stream(connect):
    """A WINDOW_UPDATE increment of 0 on a stream MUST be a stream error PROTOCOL_ERROR."""
    conn = connect()
    return stream_error(conn, 1, PROTOCOL_ERROR, conn.headers(1, POST, END_HEADERS), raw(WINDOW_UPDATE, 0, 1, struct.pack('>I', 0)))


@check('6.9', 'WINDOW_UPDATE of 3 octets')
def window_length(connect):
    """A WINDOW_UPDATE length other than 4 MUST be a connection error FRAME_SIZE_ERROR."""
    connection_error(connect(), FRAME_SIZE_ERROR, raw(WINDOW_UPDATE, 0, 0, b'\0\0\x01'))


@check('6.9.1', 'connection window past 2^31-1')
def window_overflow(connect):
    """A connection window past 2^31-1 MUST be a connection error FLOW_CONTROL_ERROR."""
    connection_error(connect(), FLOW_CONTROL_ERROR, WindowUpdateFrame(0, window_increment=(1 << 31) - 1).serialize())


@check('6.9.1', 'stream window past 2^31-1')
def window_overflow_stream(connect):
    """A stream window past 2^31-1 MUST be a stream error FLOW_CONTROL_ERROR."""
    conn = connect()
    return stream_error(conn, 1, FLOW_CONTROL_ERROR, conn.headers(1, POST, END_HEADERS),
                        WindowUpdateFrame(1, window_increment=(1 << 31) - 1).serialize())


def windowed_get(connect, settings, opened):
    """GET /large.bin under our SETTINGS, then `opened(conn)`: DATA must stay within the stream
    window (1,000 once `opened` returns), then the rest must come after a WINDOW_UPDATE."""
    conn = connect(settings=settings)
    conn.send(WindowUpdateFrame(0, window_increment=1 << 20).serialize(), conn.headers(1, GET[:2] + [(':path', '/large.bin')] + GET[3:]))
    opened(conn)
    conn.wait(lambda f: isinstance(f, RstStreamFrame), seconds=0.5)   # what the window lets through
    if not 0 < conn.body(1) <= 1000:
        raise Failure('expected up to 1000 bytes in a window of 1000, came %d' % conn.body(1))
    conn.send(WindowUpdateFrame(1, window_increment=1 << 20).serialize())
    status, body = response(conn, 1)
    if (status, len(body)) != ('200', 100000):
        raise Failure('expected 200 and 100000 bytes, came %s and %d' % (status, len(body)))


@check('6.9.2', 'SETTINGS_INITIAL_WINDOW_SIZE bounds a stream')
def initial_window(connect):
    """A sender MUST NOT send a flow-controlled frame longer than the window (initial window 1000)."""
    windowed_get(connect, {SettingsFrame.INITIAL_WINDOW_SIZE: 1000}, lambda conn: None)


@check('6.9.2', 'SETTINGS_INITIAL_WINDOW_SIZE change applies to an open stream')
def window_change(connect):
    """A change of SETTINGS_INITIAL_WINDOW_SIZE MUST adjust all stream windows (0, then 1000 mid-stream)."""
    def reopen(conn):
        conn.wait(lambda f: isinstance(f, HeadersFrame), seconds=0.5)
        if conn.body(1):
            raise Failure('expected no DATA in a window of 0, came %d bytes' % conn.body(1))
        conn.send(SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 1000}).serialize())
    windowed_get(connect, {SettingsFrame.INITIAL_WINDOW_SIZE: 0}, reopen)


@check('6.10', 'CONTINUATION without HEADERS')
def lone_continuation(connect):
    """A CONTINUATION not preceded by HEADERS, PUSH_PROMISE or CONTINUATION without END_HEADERS MUST be a connection error PROTOCOL_ERROR."""
    conn = connect()
    connection_error(conn, PROTOCOL_ERROR, raw(CONTINUATION, END_HEADERS, 1, conn.encoder.encode(GET)))


@check('6.10', 'another stream\'s frame inside a field block')
def interleaved_block(connect):
    """A frame of another stream between HEADERS and its CONTINUATION MUST be a connection error PROTOCOL_ERROR."""
    conn = connect()
    block = conn.encoder.encode(GET)
    connection_error(conn, PROTOCOL_ERROR, raw(HEADERS, END_STREAM, 1, block[:3]), conn.headers(3, GET),
                     raw(CONTINUATION, END_HEADERS, 1, block[3:]))


@check('6.10', 'CONTINUATION of another stream')
def continuation_other_stream(connect):
    """A CONTINUATION on another stream than its HEADERS MUST be a connection error PROTOCOL_ERROR."""
    conn = connect()
    block = conn.encoder.encode(GET)
    connection_error(conn, PROTOCOL_ERROR, raw(HEADERS, END_STREAM, 1, block[:3]), raw(CONTINUATION, END_HEADERS, 3, block[3:]))


@check('8.1', 'trailers without END_STREAM')
def trailers_open(connect):
    """A HEADERS after the head that does not end the stream makes the request malformed."""
    conn = connect()
    return malformed(conn, 1, conn.headers(1, POST, END_HEADERS), raw(DATA, 0, 1, b'body'), conn.headers(1, [('x-trailer', '1')], END_HEADERS))


@check('8.1.1', 'content-length above the DATA')
def content_length_short(connect):
    """A content-length that does not equal the DATA lengths makes the request malformed (10 sent 4)."""
    conn = connect()
    return malformed(conn, 1, conn.headers(1, POST + [('content-length', '10')], END_HEADERS), raw(DATA, END_STREAM, 1, b'body'))


@check('8.1.1', 'content-length below the DATA')
def content_length_long(connect):
    """A content-length that does not equal the DATA lengths makes the request malformed (2 sent 4)."""
    conn = connect()
    return malformed(conn, 1, conn.headers(1, POST + [('content-length', '2')], END_HEADERS), raw(DATA, END_STREAM, 1, b'body'))


MALFORMED = [   # (section, title, the request's fields): each MUST be treated as malformed
    ('8.2', 'uppercase field name', GET + [('X-Upper', '1')]),
    ('8.2.1', 'LF in a field value', GET + [('x-a', 'a\nb')]),
    ('8.2.1', 'field value with leading space', GET + [('x-a', ' a')]),
    ('8.2.2', 'connection: keep-alive', GET + [('connection', 'keep-alive')]),
    ('8.2.2', 'te: gzip', GET + [('te', 'gzip')]),
    ('8.3.1', 'no :method', GET[1:]),
    ('8.3.1', 'no :scheme', GET[:1] + GET[2:]),
    ('8.3.1', 'no :path', GET[:2] + GET[3:]),
    ('8.3.1', 'empty :path', GET[:2] + [(':path', '')] + GET[3:]),
    ('8.3.1', 'two :path', GET + [(':path', '/hello.txt')]),
    ('8.3', 'unknown pseudo-header', GET + [(':foo', 'bar')]),
    ('8.3', 'response pseudo-header in a request', GET + [(':status', '200')]),
    ('8.3', 'pseudo-header after a regular field', GET[:3] + [('x-a', '1')] + GET[3:]),
]
for section, title, fields in MALFORMED:
    def bad_request(connect, fields=fields):
        conn = connect()
        return malformed(conn, 1, conn.headers(1, fields))
    bad_request.__doc__ = 'A request with %s MUST be treated as malformed.' % title
    check(section, title)(bad_request)


@check('8.3', 'pseudo-header in trailers')
def trailer_pseudo(connect):
    """Pseudo-header fields MUST NOT appear in a trailer section: the request is malformed."""
    conn = connect()
    return malformed(conn, 1, conn.headers(1, POST, END_HEADERS), raw(DATA, 0, 1, b'body'), conn.headers(1, [(':path', '/')]))


@check('8.2.2', 'te: trailers accepted')
def te_trailers(connect):
    """TE MAY be present in an HTTP/2 request with the value "trailers"."""
    conn = connect()
    conn.send(conn.headers(1, GET + [('te', 'trailers')]))
    status, _ = response(conn, 1)
    if status != '200':
        raise Failure('expected 200, came %s' % status)


@check('8.4', 'no PUSH_PROMISE')
def no_push(connect):
    """A server MUST NOT push when SETTINGS_ENABLE_PUSH is 0 (and corral never pushes: also with 1)."""
    for push in (0, 1):
        conn = connect(settings={SettingsFrame.ENABLE_PUSH: push})
        conn.send(conn.headers(1, GET))
        response(conn, 1)
        if any(isinstance(f, PushPromiseFrame) for f in conn.seen):
            raise Failure('expected no PUSH_PROMISE, came one with ENABLE_PUSH %d' % push)


def main(port, cafile, *sections):
    connect = functools.partial(Conn, port, cafile)
    failed = 0
    started = time.monotonic()
    for section, title, function in CHECKS:
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

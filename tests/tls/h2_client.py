"""HTTP/2 client scenarios on python's h2 (a real client, frame by frame) for corral's tests:
`python h2_client.py SCENARIO PORT CAFILE [ARG]` prints what it saw, one fact per line. Every wait
is bounded, so a server that misbehaves fails the test rather than hangs it.

  get PATH             one request; prints `status N`, the body's length, and its first line
  upload SIZE          POST / in DATA frames of 16 KiB with no content-length, END_STREAM last;
                       prints the answer's lines (tests/wsgi/probe.py:echo shows body=N)
  forged PATH          :scheme http, :authority good.example, a host field evil.example and a
                       script_name field /evil; prints the answer's lines
  concurrent N PATH    N requests at once on one connection; prints `ok K` (status 200 answers)
  big_head SIZE        a request whose fields come to SIZE bytes; prints how the stream ended
  leave PATH           a request, then a PING whose answer shows the request was read, then the
                       connection closed, the request's answer not awaited
  window SIZE          POST / of SIZE bytes to an app that reads after 2 s: prints how much the
                       client could send before the window closed, then whether all of it went
  drain PID PATH       a request answered, then SIGTERM to the worker PID: prints the GOAWAY
                       that came (`goaway CODE last K`), and whether it came within 5 s
"""
import os
import signal
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events

TIMEOUT = 10


class Client:
    def __init__(self, port, cafile):
        context = ssl.create_default_context(cafile=cafile)
        context.set_alpn_protocols(['h2'])
        raw = socket.create_connection(('127.0.0.1', int(port)), timeout=TIMEOUT)
        self.sock = context.wrap_socket(raw, server_hostname='localhost')
        assert self.sock.selected_alpn_protocol() == 'h2', self.sock.selected_alpn_protocol()
        # The client may send what a well-behaved one would not (the server's policy is tested).
        config = h2.config.H2Configuration(client_side=True, header_encoding='utf-8', validate_outbound_headers=False)
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.flush()
        self.responses = {}
        self.pinged = False
        self.goaway = None

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path, method='GET', extra=(), end=True, scheme='https', authority='localhost'):
        stream = self.conn.get_next_available_stream_id()
        headers = [(':method', method), (':path', path), (':scheme', scheme), (':authority', authority)] + list(extra)
        self.conn.send_headers(stream, headers, end_stream=end)
        self.responses[stream] = {'status': None, 'body': b'', 'ended': None}
        self.flush()
        return stream

    def pump(self, until):
        """Reads frames until `until()` holds; False on timeout or the connection's end."""
        deadline = time.monotonic() + TIMEOUT
        while not until():
            if time.monotonic() > deadline:
                return False
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return False
            if not data:
                return False
            for event in self.conn.receive_data(data):
                self.handle(event)
            self.flush()
        return True

    def handle(self, event):
        response = self.responses.get(getattr(event, 'stream_id', None))
        if isinstance(event, h2.events.ResponseReceived):
            response['status'] = dict(event.headers)[':status']
        elif isinstance(event, h2.events.DataReceived):
            response['body'] += event.data
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.PingAckReceived):
            self.pinged = True
        elif isinstance(event, h2.events.StreamEnded):
            response['ended'] = 'end'
        elif isinstance(event, h2.events.StreamReset):
            response['ended'] = 'reset %d' % event.error_code
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = (event.error_code, event.last_stream_id)
            for item in self.responses.values():
                item['ended'] = item['ended'] or 'goaway %d' % event.error_code

    def done(self, stream):
        return lambda: self.responses[stream]['ended'] is not None


def show(response):
    print('status', response['status'])
    print('ended', response['ended'])
    print('length', len(response['body']))
    for line in response['body'].decode('latin-1').split('\n'):
        print(line)


def get(client, path):
    stream = client.request(path)
    client.pump(client.done(stream))
    show(client.responses[stream])


def send_body(client, stream, size):
    """SIZE bytes as the window allows, then END_STREAM: (bytes sent, where the window first shut)."""
    sent = 0
    blocked_at = None
    deadline = time.monotonic() + TIMEOUT
    while sent < size and time.monotonic() < deadline:
        room = min(16384, size - sent, client.conn.local_flow_control_window(stream), client.conn.max_outbound_frame_size)
        if room == 0:
            if blocked_at is None:
                blocked_at = sent
            client.pump(lambda: client.conn.local_flow_control_window(stream) > 0 or client.responses[stream]['ended'])
            continue
        client.conn.send_data(stream, b'x' * room)
        client.flush()
        sent += room
    client.conn.end_stream(stream)
    client.flush()
    client.pump(client.done(stream))
    return sent, blocked_at


def upload(client, size):
    stream = client.request('/', method='POST', end=False)
    send_body(client, stream, int(size))
    show(client.responses[stream])


def forged(client, path):
    stream = client.request(path, scheme='http', authority='good.example',
                            extra=[('host', 'evil.example'), ('script_name', '/evil')])
    client.pump(client.done(stream))
    show(client.responses[stream])


def concurrent(client, count, path):
    streams = [client.request(path) for _ in range(int(count))]
    client.pump(lambda: all(client.responses[s]['ended'] for s in streams))
    print('ok', sum(1 for s in streams if client.responses[s]['status'] == '200' and client.responses[s]['ended'] == 'end'))


def leave(client, path):
    client.request(path)
    client.conn.ping(b'leaving!')
    client.flush()
    client.pump(lambda: client.pinged)
    client.sock.close()
    print('left' if client.pinged else 'no PING answer')


def big_head(client, size):
    fields = [('x-filler-%d' % n, 'v' * 1000) for n in range(int(size) // 1040 + 1)]
    stream = client.request('/', extra=fields)
    client.pump(client.done(stream))
    response = client.responses[stream]
    print('status', response['status'])
    print('ended', response['ended'])


def window(client, size):
    stream = client.request('/slow_reader', method='POST', end=False)
    sent, blocked_at = send_body(client, stream, int(size))
    print('blocked at', blocked_at)
    print('sent', sent)
    show(client.responses[stream])


def drain(client, pid, path):
    stream = client.request(path)
    client.pump(client.done(stream))
    print('status', client.responses[stream]['status'])
    os.kill(int(pid), signal.SIGTERM)
    started = time.monotonic()
    client.pump(lambda: client.goaway is not None)
    if client.goaway is None:
        print('no GOAWAY')
        return
    print('goaway %d last %d' % client.goaway)
    print('prompt' if time.monotonic() - started < 5 else 'late')


if __name__ == '__main__':
    scenario, port, cafile, *rest = sys.argv[1:]
    globals()[scenario](Client(port, cafile), *rest)

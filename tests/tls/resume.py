"""Session resumption as a client sees it: `python resume.py PORT CAFILE COUNT [1.2|1.3]` makes
one full handshake to https://localhost:PORT, then COUNT more connections, 8 at a time (so that
several workers accept them), each offering the session of the first, one request each, and
prints `reused=R of COUNT` and how many distinct answers came (`pids=P`: a server that answers
its pid at /pid shows how many workers resumed sessions)."""
import concurrent.futures
import socket
import ssl
import sys


def request(context, port, session):
    raw = socket.create_connection(('127.0.0.1', port), timeout=10)
    with context.wrap_socket(raw, server_hostname='localhost', session=session) as tls:
        tls.sendall(b'GET /pid HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
        answer = b''
        while True:
            piece = tls.recv(65536)
            if not piece:
                break
            answer += piece
        return tls.session_reused, tls.session, answer.split(b'\r\n\r\n', 1)[-1]


def main(port, cafile, count, version='1.3'):
    context = ssl.create_default_context(cafile=cafile)
    chosen = ssl.TLSVersion.TLSv1_3 if version == '1.3' else ssl.TLSVersion.TLSv1_2
    context.minimum_version = context.maximum_version = chosen
    _, session, _ = request(context, int(port), None)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: request(context, int(port), session), range(int(count))))
    reused = sum(1 for was_reused, _, _ in results if was_reused)
    bodies = {body for _, _, body in results}
    print('reused=%d of %s pids=%d' % (reused, count, len(bodies)))


if __name__ == '__main__':
    main(*sys.argv[1:])

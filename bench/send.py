#!/usr/bin/env python3
"""bench/send.py — sends exactly COUNT requests over CONNS keep-alive connections, and checks them.

    python3 bench/send.py PORT COUNT [CONNS]      (CONNS defaults to 4)

Used by bench/allocs.sh, where the number of requests must be exact (wrk's is not). Requests go
round-robin over the connections, one at a time (no pipelining), each `GET / HTTP/1.1`; every
response must be 200 with the 13-byte body "Hello, World!" and keep the connection open.
Exits 1 on the first deviation.
"""
import socket
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
BODY = b"Hello, World!"


def read_response(sock, buf):
    """Reads one Content-Length framed response from sock; returns (status, body, leftover)."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = buf[:end].decode("latin-1").split("\r\n")
            length = None
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
                if name.strip().lower() == "connection" and value.strip().lower() == "close":
                    raise ConnectionError("the server answered Connection: close")
            if length is None:
                raise ConnectionError("response without Content-Length")
            total = end + 4 + length
            if len(buf) >= total:
                return int(head[0].split()[1]), buf[end + 4:total], buf[total:]
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buf += chunk


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    port, count = int(sys.argv[1]), int(sys.argv[2])
    conns = int(sys.argv[3]) if len(sys.argv) == 4 else 4
    socks = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(conns)]
    bufs = [b""] * conns
    started = time.monotonic()
    for i in range(count):
        k = i % conns
        try:
            socks[k].sendall(REQUEST)
            status, body, bufs[k] = read_response(socks[k], bufs[k])
        except (OSError, ConnectionError) as e:
            sys.exit(f"send.py: request {i + 1} of {count}: {e}")
        if status != 200 or body != BODY:
            sys.exit(f"send.py: request {i + 1} of {count}: status {status}, body {body[:80]!r}")
    for s in socks:
        s.close()
    elapsed = time.monotonic() - started
    print(f"send.py: {count} requests over {conns} connections in {elapsed:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()

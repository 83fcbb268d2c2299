#!/usr/bin/env python3
"""bench/idle.py — what N idle keep-alive connections cost a server, in resident memory.

    python3 bench/idle.py [-n 10000] [--settle 1.0] [--json FILE] PORT PID

Reads VmRSS of PID (the process that serves: for a pre-fork server, the worker), then opens N
connections to 127.0.0.1:PORT, on each completes one request (`GET / HTTP/1.1`, Host: x) and
reads the whole response, so every connection has been through a real request/response cycle,
then leaves them all idle. After --settle seconds it reads VmRSS again and reports the growth.
Before closing, it checks that the server still holds every connection open (none became
readable, i.e. none was closed by the server) and that a few of them still answer a request:
an RSS figure for connections the server had already dropped would mean nothing, so that fails.

The server must allow N connections (corral: --worker-connections 20000, a --keep-alive longer
than the test, and an open-file limit above N, e.g. `ulimit -n 65536`). This script raises its
own RLIMIT_NOFILE (soft, and hard when it may) to N + 256.

Prints one human-readable line; --json FILE also writes the figures as JSON. Exit status 1 if
the connections could not all be opened or kept.
"""
import argparse
import json
import resource
import select
import socket
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft >= n:
        return
    if hard != resource.RLIM_INFINITY and hard < n:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
            return
        except (ValueError, OSError):
            sys.exit(f"idle.py: cannot raise the open-file limit to {n} (hard limit {hard}); "
                     f"run as root or raise it with ulimit -Hn first")
    resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))


def read_response(sock):
    """Reads one whole response (Content-Length framed); returns (status, body)."""
    buf = b""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection before a response head")
        buf += chunk
    head = buf[:end].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    length = None
    for line in head[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
        if name.strip().lower() == "transfer-encoding":
            raise ConnectionError("chunked responses are not expected from a hello server")
    if length is None:
        raise ConnectionError("response without Content-Length")
    body = buf[end + 4:]
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection inside a body")
        body += chunk
    if len(body) != length:
        raise ConnectionError("more bytes than the response's Content-Length")
    return status, body


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("port", type=int)
    ap.add_argument("pid", type=int, help="pid whose VmRSS is measured")
    ap.add_argument("-n", "--connections", type=int, default=10000)
    ap.add_argument("--settle", type=float, default=1.0,
                    help="seconds the connections sit idle before RSS is read again (default 1)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--name", default="server", help="label for the output line")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    n = args.connections

    raise_nofile(n + 256)
    before = rss_kb(args.pid)
    socks = []
    started = time.monotonic()
    try:
        for i in range(n):
            s = socket.create_connection((args.host, args.port), timeout=10)
            socks.append(s)
            s.sendall(REQUEST)
            status, body = read_response(s)
            if status != 200:
                raise ConnectionError(f"status {status}")
    except (OSError, ConnectionError, ValueError) as e:
        sys.exit(f"idle.py: connection {len(socks)} of {n} to {args.host}:{args.port} failed: {e}")
    opened = time.monotonic() - started
    time.sleep(args.settle)
    after = rss_kb(args.pid)

    # A connection the server closed turns readable (EOF); an idle one that is kept does not.
    poller = select.poll()
    for s in socks:
        poller.register(s, select.POLLIN | select.POLLRDHUP)
    closed = len(poller.poll(0))
    # And a few of them must still answer.
    answered = 0
    probes = sorted({0, n // 2, n - 1})
    for i in probes:
        try:
            socks[i].sendall(REQUEST)
            if read_response(socks[i])[0] == 200:
                answered += 1
        except (OSError, ConnectionError):
            pass
    for s in socks:
        s.close()

    growth_mb = (after - before) / 1024
    result = {
        "name": args.name, "connections": n, "rss_before_kb": before, "rss_after_kb": after,
        "growth_mb": round(growth_mb, 2), "bytes_per_connection": round((after - before) * 1024 / n),
        "closed_by_server": closed, "probes_answered": answered, "probes": len(probes),
        "open_seconds": round(opened, 2), "settle_seconds": args.settle,
    }
    print(f"idle {args.name}: {n} keep-alive connections, RSS {before / 1024:.1f} MB -> "
          f"{after / 1024:.1f} MB: growth {growth_mb:.1f} MB "
          f"({result['bytes_per_connection']} bytes per connection); "
          f"{closed} closed by the server, {answered}/{len(probes)} probes answered "
          f"(opened in {opened:.1f}s, idle {args.settle:g}s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f)
    if closed or answered != len(probes):
        sys.exit(f"idle.py: the server did not keep all {n} connections open; the growth figure is not valid")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Benchmark helpers that need exact control over connections (wrk does the throughput runs).

  client.py requests PORT COUNT [CONNS]   send exactly COUNT keep-alive GETs over CONNS connections
  client.py idle PORT PID [N]             hold N idle keep-alive connections; print the RSS growth of PID
"""
import resource
import socket
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


def read_response(sock, buf):
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = buf[:end].decode("latin-1").lower()
            length = 0
            for line in head.split("\r\n"):
                if line.startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            total = end + 4 + length
            if len(buf) >= total:
                return buf[total:]
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk


def requests(port, count, conns=4):
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(conns)]
    bufs = [b""] * conns
    for i in range(count):
        k = i % conns
        socks[k].sendall(REQUEST)
        bufs[k] = read_response(socks[k], bufs[k])
    for s in socks:
        s.close()


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def idle(port, pid, n=10000):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    before = rss_kb(pid)
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(REQUEST)
        read_response(s, b"")
        socks.append(s)
    time.sleep(0.5)
    after = rss_kb(pid)
    # The connections must still be open (keep-alive), or the number means nothing.
    s = socks[-1]
    s.sendall(REQUEST)
    read_response(s, b"")
    print(f"{n} {before} {after} {(after - before) / 1024:.1f}")
    for s in socks:
        s.close()


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "requests":
        requests(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 4)
    elif cmd == "idle":
        idle(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 10000)
    else:
        sys.exit(__doc__)

#!/usr/bin/env python3
"""bench/h2_flask.py — Flask's hello over HTTP/2 (TLS, ALPN h2): corral-python beside gunicorn 27 and
granian (alone: `python3 bench/h2_flask.py` after `make release`; it makes bench/wsgi.py's venv if missing).

One ECDSA P-256 certificate (bench/tls.py's) for every server, which offers h2 alone in ALPN; the same
app, Flask's hello (bench/wsgi_apps.py:app, "Hello, World!"), from the same venv (bench/.venv-wsgi,
where gunicorn gets the h2 package). Each server runs ONE worker process, pinned with all its
processes and threads to core 0, h2load to core 1; access logs off:
  corral    corral-python --certfile … --keyfile … --http-protocols h2 (sync, one Python thread: the
            Flask row of bench/wsgi.py)
  gunicorn  gunicorn -w 1 -k gthread --threads 16 --http-protocols h2 --certfile … --keyfile …
            gthread and gevent are the workers of gunicorn 27 that serve h2 to a WSGI app (sync and
            tornado warn and serve HTTP/1.1; asgi takes ASGI apps). gthread gives each HTTP/2
            connection a thread for its whole life, so 16 threads for 16 connections; gevent is no
            faster here, and serves one connection's streams while others wait (some get no answer
            for seconds).
  granian   granian --interface wsgi --http 2 --workers 1 --runtime-threads 1 --blocking-threads 1
            --ssl-certificate … --ssl-keyfile …
Each must answer "Hello, World!" (curl), and 10 requests over h2 (h2load -n 10: TLS 1.3, ALPN h2,
10 succeeded, 130 bytes of data) before it is measured. Workload: `h2load -c 16 -m 8`, 128 streams in
flight; not -c 64 -m 32: gthread would need 64 threads (a connection without one never gets its TLS
handshake, and h2load waits for it for ever), and every server here runs Flask a request at a time
under one GIL, so 2,048 streams in flight would only queue longer. WARMUP seconds (thrown away),
then DURATION seconds; ROUNDS rounds, the servers' order rotating; medians, and corral's ratio to each.
Prints a markdown section and appends it to STATIC_RESULTS if set.
Environment: CORRAL_WSGI [.build/release/corral-python], H2_FLASK_PORT [18450], ROUNDS [3],
DURATION [5], WARMUP [1].
"""
import os
import re
import shutil
import statistics
import subprocess

import wsgi
from processes import DURATION, ROUNDS, WARMUP, die, publish, start, stop_all
from tls import make_certificate, wait_for

PORT = int(os.environ.get("H2_FLASK_PORT", "18450"))
SERVERS = ["corral", "gunicorn", "granian"]
APP = "wsgi_apps:app"
BODY = b"Hello, World!"
WORKLOAD = ["-c", "16", "-m", "8"]


def setup():
    """bench/wsgi.py's venv (Flask, gunicorn, granian), with gunicorn 27 and the h2 package it serves HTTP/2 with."""
    wsgi.setup()
    probe = "import gunicorn, h2; assert gunicorn.version_info >= (27,)"
    if subprocess.run([f"{wsgi.venv}/bin/python", "-c", probe], capture_output=True).returncode != 0:
        subprocess.run([f"{wsgi.venv}/bin/pip", "install", "-q", "gunicorn[http2]>=27"], check=True)


def commands(cert, key):
    bind = {name: ("127.0.0.1", PORT + i) for i, name in enumerate(SERVERS)}
    return bind, {
        "corral": [wsgi.corral, "--virtualenv", wsgi.venv, "--chdir", wsgi.here, "-b", "%s:%d" % bind["corral"],
                   "--certfile", cert, "--keyfile", key, "--http-protocols", "h2", APP],
        "gunicorn": [f"{wsgi.venv}/bin/gunicorn", "--no-control-socket", "-w", "1", "-k", "gthread", "--threads", "16",
                     "--http-protocols", "h2", "--certfile", cert, "--keyfile", key, "-b", "%s:%d" % bind["gunicorn"],
                     "--chdir", wsgi.here, APP],
        "granian": [f"{wsgi.venv}/bin/granian", "--interface", "wsgi", "--http", "2", "--workers", "1",
                    "--runtime-threads", "1", "--blocking-threads", "1", "--ssl-certificate", cert, "--ssl-keyfile", key,
                    "--host", bind["granian"][0], "--port", str(bind["granian"][1]), "--working-dir", wsgi.here, APP],
    }


def h2load(port, args, timeout):
    """h2load's output, pinned to core 1; dies unless ALPN chose h2 and every request finished with a 2xx."""
    out = subprocess.run(wsgi.LOAD_CPU + ["h2load", "-t", "1"] + args + [f"https://127.0.0.1:{port}/"],
                         capture_output=True, text=True, timeout=timeout).stdout
    counts = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, 0 failed, 0 errored, 0 timeout", out)
    if ("Application protocol: h2" not in out or not counts or counts.group(1) == "0"
            or not re.search(r"status codes: \d+ 2xx, 0 3xx, 0 4xx, 0 5xx", out)):
        die(f"h2load {' '.join(args)} against port {port}:\n{out}")
    return out


def rate(port, seconds):
    out = h2load(port, WORKLOAD + ["-D", str(seconds)], seconds + 60)
    return float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))


def check(name, port, cafile):
    """Flask's body, then 10 requests over h2 and TLS 1.3 carrying 13 bytes each."""
    wait_for(port, "/", cafile, BODY, name)
    out = h2load(port, ["-n", "10", "-c", "1"], 30)
    data = re.search(r"traffic: .*\((\d+)\) data", out)
    if ("10 succeeded" not in out or "TLS Protocol: TLSv1.3" not in out or not data
            or int(data.group(1)) != 10 * len(BODY)):
        die(f"{name} does not answer {BODY!r} over h2:\n{out}")


def versions():
    code = "import importlib.metadata as m; print(*(m.version(p) for p in ('flask', 'gunicorn', 'granian', 'h2')))"
    out = subprocess.run([f"{wsgi.venv}/bin/python", "-c", code], capture_output=True, text=True, check=True).stdout
    return dict(zip(("Flask", "gunicorn", "granian", "h2"), out.split()))


def main():
    work = wsgi.scratch
    try:
        setup()
        make_certificate(work)
        bind, argv = commands(f"{work}/cert.pem", f"{work}/key.pem")
        for name in SERVERS:
            start(wsgi.SERVER_CPU + argv[name], f"{work}/{name}.log")
        for name in SERVERS:
            check(name, bind[name][1], f"{work}/cert.pem")
        rates = {name: [] for name in SERVERS}
        for round in range(ROUNDS):
            for name in SERVERS[round % len(SERVERS):] + SERVERS[:round % len(SERVERS)]:
                rate(bind[name][1], WARMUP)
                rates[name].append(rate(bind[name][1], DURATION))
                print(f"round {round + 1}/{ROUNDS}  Flask over h2 (h2load {' '.join(WORKLOAD)}) {name:<8} "
                      f"{rates[name][-1]:>8,.0f} req/s", flush=True)
    finally:
        stop_all()
        shutil.rmtree(work, ignore_errors=True)
    median = {name: statistics.median(values) for name, values in rates.items()}
    v = versions()
    lines = ["", "## Flask over HTTP/2: corral-python beside gunicorn and granian", "",
             f"{ROUNDS} rounds of {DURATION} s, medians; Flask {v['Flask']}'s hello over TLS 1.3 (ECDSA P-256), ALPN h2; "
             f"one worker process each pinned to core 0, `h2load -c 16 -m 8` on core 1; access logs off. "
             f"corral-python sync; gunicorn {v['gunicorn']} gthread, 16 threads (h2 {v['h2']}); "
             f"granian {v['granian']} WSGI, 1 runtime and 1 blocking thread.", "",
             "| server | req/s | corral ÷ it |", "|---|---|---|"]
    for name in SERVERS:
        lines.append(f"| {name} | {median[name]:,.0f} | **{median['corral'] / median[name]:.2f}** |")
    publish("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

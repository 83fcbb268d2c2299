#!/usr/bin/env python3
"""bench/tls.py — HTTPS: corral-worker beside nginx, and session resumption beside gunicorn (part of
step 7 of `make bench`; alone: `python3 bench/tls.py` after `make release` and bench/setup.sh).

One ECDSA P-256 certificate (openssl) for every server. Each server runs as one process pinned to
core 0 (nginx: worker_processes 1, the master pinned too), wrk pinned to core 1:
  corral   corral-worker --root … --certfile … --keyfile …
  nginx    `ssl_protocols TLSv1.2 TLSv1.3`, sendfile on, access logs off in both
Workloads, each checked for the file's exact bytes first:
  13 B keep-alive   `wrk -t1 -c64` over TLS 1.3 (wrk's OpenSSL picks 1.3), one handshake per connection
  new connections   the same with `Connection: close`: a full handshake (ECDHE + ECDSA) per request;
                    wrk's side of the handshakes may bound the rate, so the server's CPU time per
                    request (utime + stime of its serving process) is reported too
Then HTTP/2: the 13-byte file with `h2load -c 64 -m 32` (64 connections, 32 streams each) for
DURATION seconds, from corral (http_protocols h2,h1), nginx (`listen … ssl http2`) and h2o 2.2
(one thread, `num-threads: 1`), each pinned to core 0, h2load to core 1.
Then session resumption across 4 workers: corrald -w 4 (corral-worker) and gunicorn -w 4 (sync,
--certfile/--keyfile, a one-line WSGI app), each asked by tests/tls/resume.py for 200 connections,
8 at a time, offering the first connection's session (TLS 1.3, then TLS 1.2): how many resumed.
ROUNDS rounds, the servers' order rotating; medians, and corral's ratio to nginx.
Prints a markdown section and appends it to STATIC_RESULTS if set.
Environment: CORRAL_WORKER [.build/release/corral-worker], TLS_PORT [18400], ROUNDS [3],
DURATION [5], WARMUP [1].
"""
import os
import pwd
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from processes import CORRALD, DURATION, GUNICORN, ROUNDS, WARMUP, WORKER, cpu_ticks, die, publish, start, stop, stop_all, top

PORT = int(os.environ.get("TLS_PORT", "18400"))
SERVERS = ["corral", "nginx"]
H2_SERVERS = ["corral", "nginx", "h2o"]
WORKLOADS = [("13 B, keep-alive", []), ("new connection per request", ["-H", "Connection: close"])]
PID_APP = "import os\ndef app(environ, start_response):\n    start_response('200 OK', [])\n    return [str(os.getpid()).encode()]\n"


def make_certificate(work):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", f"{work}/key.pem", "-out", f"{work}/cert.pem"], check=True, capture_output=True)


def nginx_config(work, port):
    d = f"{work}/nginx"
    os.makedirs(d)
    with open(f"{d}/nginx.conf", "w") as f:
        f.write(f"""worker_processes 1;
user root;
error_log {d}/error.log;
pid {d}/nginx.pid;
events {{ worker_connections 20000; }}
http {{
    sendfile on;
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 75;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {work}/cert.pem;
        ssl_certificate_key {work}/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        root {work}/www;
    }}
}}
""")
    return d


def h2o_config(work, port):
    with open(f"{work}/h2o.conf", "w") as f:
        f.write(f"""num-threads: 1
user: {pwd.getpwuid(os.getuid()).pw_name}
pid-file: {work}/h2o.pid
error-log: {work}/h2o-error.log
listen:
  host: 127.0.0.1
  port: {port}
  ssl:
    certificate-file: {work}/cert.pem
    key-file: {work}/key.pem
    ocsp-update-interval: 0
hosts:
  default:
    paths:
      /:
        file.dir: {work}/www
""")
    return f"{work}/h2o.conf"


def start_servers(work):
    ports = {"corral": PORT, "nginx": PORT + 1, "h2o": PORT + 3}
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    d = nginx_config(work, ports["nginx"])
    return ports, {
        "corral": start(["taskset", "-c", "0", WORKER, "--bind", f"127.0.0.1:{ports['corral']}", "--root", f"{work}/www",
                         "--certfile", f"{work}/cert.pem", "--keyfile", f"{work}/key.pem", "--http-protocols", "h2,h1",
                         "--worker-connections", "20000", "--keep-alive", "75"], f"{work}/corral.log"),
        "nginx": start(["taskset", "-c", "0", nginx, "-p", d, "-e", f"{d}/error.log", "-c", f"{d}/nginx.conf",
                        "-g", "daemon off;"], f"{d}/nginx.out"),
        "h2o": start(["taskset", "-c", "0", shutil.which("h2o") or "/usr/bin/h2o", "-c", h2o_config(work, ports["h2o"])],
                     f"{work}/h2o.out"),
    }


def fetch(port, path, cafile):
    return subprocess.run(["curl", "-s", "--max-time", "5", "--cacert", cafile, "--resolve", f"localhost:{port}:127.0.0.1",
                           f"https://localhost:{port}{path}"], capture_output=True).stdout


def wait_for(port, path, cafile, expected, name):
    """Until the server answers `expected` (None: anything) at `path`."""
    deadline = time.monotonic() + 20
    while True:
        body = fetch(port, path, cafile)
        if body == expected or (expected is None and body):
            return
        if time.monotonic() > deadline:
            die(f"{name} does not serve {path} over TLS on port {port}")
        time.sleep(0.1)


def serving_pid(process):
    """nginx's worker (its master's only child); corral-worker itself (under taskset's exec)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = open(f"/proc/{process.pid}/task/{process.pid}/children").read().split()
        if children or "nginx" not in open(f"/proc/{process.pid}/cmdline").read():
            return int(children[0]) if children else process.pid
        time.sleep(0.1)
    die("nginx has no worker process")


def wrk(port, extra, duration):
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c64", f"-d{duration}s"] + extra
                         + [f"https://127.0.0.1:{port}/hello.txt"], capture_output=True, text=True, timeout=duration + 60).stdout
    if "Non-2xx" in out:
        die(f"wrk saw non-2xx answers on port {port}: {out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def h2load(port, duration):
    out = subprocess.run(["taskset", "-c", "1", "h2load", "-c", "64", "-m", "32", "-t", "1", "-D", str(duration),
                          f"https://127.0.0.1:{port}/hello.txt"], capture_output=True, text=True, timeout=duration + 60).stdout
    match = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    if not match or not re.search(r"status codes: \d+ 2xx, 0 3xx, 0 4xx, 0 5xx", out):
        die(f"h2load against port {port}: {out}")
    return float(match.group(1))


def resumption(work):
    """Sessions resumed of 200, TLS 1.3 and 1.2, with 4 workers of corrald and of gunicorn."""
    resume = f"{top}/tests/tls/resume.py"
    with open(f"{work}/pidapp.py", "w") as f:
        f.write(PID_APP)
    servers = {
        "corral": [CORRALD, "-b", f"127.0.0.1:{PORT + 2}", "-w", "4", "--certfile", f"{work}/cert.pem",
                   "--keyfile", f"{work}/key.pem", "--worker-cmd", f"{WORKER} --root {work}/www"],
        "gunicorn": [GUNICORN, "-b", f"127.0.0.1:{PORT + 2}", "-w", "4", "--certfile", f"{work}/cert.pem",
                     "--keyfile", f"{work}/key.pem", "--chdir", work, "pidapp:app"],
    }
    results = {}
    for name, argv in servers.items():
        if not os.access(argv[0], os.X_OK):
            die(f"{argv[0]} is missing (bench/setup.sh installs gunicorn; make bench builds corrald)")
        process = start(argv, f"{work}/{name}-resume.log")
        wait_for(PORT + 2, "/hello.txt", f"{work}/cert.pem", b"Hello, World!" if name == "corral" else None, name)
        for version in ("1.3", "1.2"):
            out = subprocess.run([sys.executable, resume, str(PORT + 2), f"{work}/cert.pem", "200", version],
                                 capture_output=True, text=True, timeout=120).stdout
            match = re.search(r"reused=(\d+) of 200", out)
            if not match:
                die(f"resume.py against {name}: {out}")
            results[(name, version)] = int(match.group(1))
        stop(process)
    return results


def main():
    if not os.access(WORKER, os.X_OK):
        die(f"{WORKER} is missing: build the release first (make bench does)")
    work = tempfile.mkdtemp(prefix="corral-bench-tls-")
    try:
        os.makedirs(f"{work}/www")
        with open(f"{work}/www/hello.txt", "wb") as f:
            f.write(b"Hello, World!")
        make_certificate(work)
        ports, processes = start_servers(work)
        for name, port in ports.items():
            wait_for(port, "/hello.txt", f"{work}/cert.pem", b"Hello, World!", name)
        pids = {name: serving_pid(process) for name, process in processes.items()}
        rates = {(label, name): [] for label, _ in WORKLOADS for name in SERVERS}
        cpu = {(label, name): [] for label, _ in WORKLOADS for name in SERVERS}
        tick = 1_000_000 / os.sysconf("SC_CLK_TCK")
        for round in range(ROUNDS):
            order = SERVERS[round % len(SERVERS):] + SERVERS[:round % len(SERVERS)]
            for label, extra in WORKLOADS:
                for name in order:
                    wrk(ports[name], extra, WARMUP)
                    before = cpu_ticks(pids[name])
                    rate = wrk(ports[name], extra, DURATION)
                    rates[(label, name)].append(rate)
                    cpu[(label, name)].append((cpu_ticks(pids[name]) - before) * tick / (rate * DURATION))
                    print(f"round {round + 1}/{ROUNDS}  {label:<28} {name:<8} {rate:>10,.0f} req/s", flush=True)
        h2_rates = {name: [] for name in H2_SERVERS}
        for round in range(ROUNDS):
            for name in H2_SERVERS[round % len(H2_SERVERS):] + H2_SERVERS[:round % len(H2_SERVERS)]:
                h2load(ports[name], WARMUP)
                rate = h2load(ports[name], DURATION)
                h2_rates[name].append(rate)
                print(f"round {round + 1}/{ROUNDS}  HTTP/2 13 B (h2load -c 64 -m 32) {name:<8} {rate:>10,.0f} req/s", flush=True)
        stop_all()
        resumed = resumption(work)
    finally:
        stop_all()
        shutil.rmtree(work, ignore_errors=True)
    median = {key: statistics.median(values) for key, values in rates.items()}
    cost = {key: statistics.median(values) for key, values in cpu.items()}
    lines = ["", "## HTTPS: corral-worker beside nginx", "",
             f"{ROUNDS} rounds of {DURATION} s, medians; one process each pinned to core 0, `wrk -t1 -c64` on core 1; "
             "ECDSA P-256, TLS 1.3, access logs off.", "",
             "| workload | corral req/s | nginx req/s | corral ÷ nginx | corral CPU µs/request | nginx CPU µs/request |",
             "|---|---|---|---|---|---|"]
    for label, _ in WORKLOADS:
        c, n = median[(label, "corral")], median[(label, "nginx")]
        lines.append(f"| {label} | {c:,.0f} | {n:,.0f} | **{c / n:.2f}** | {cost[(label, 'corral')]:.1f} | {cost[(label, 'nginx')]:.1f} |")
    h2 = {name: statistics.median(values) for name, values in h2_rates.items()}
    lines += ["", "HTTP/2, the 13-byte file, `h2load -c 64 -m 32` (h2load pinned to core 1):", "",
              "| server | req/s | corral ÷ it |", "|---|---|---|"]
    for name in H2_SERVERS:
        lines.append(f"| {name} | {h2[name]:,.0f} | **{h2['corral'] / h2[name]:.2f}** |")
    lines += ["", "Session resumption, 200 connections 8 at a time offering the first one's session, 4 workers:", "",
              "| server | TLS 1.3 resumed | TLS 1.2 resumed |", "|---|---|---|"]
    for name in ("corral", "gunicorn"):
        lines.append(f"| {name} | {resumed[(name, '1.3')]} of 200 | {resumed[(name, '1.2')]} of 200 |")
    publish("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

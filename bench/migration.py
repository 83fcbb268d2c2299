#!/usr/bin/env python3
"""bench/migration.py — the costs of what a gunicorn deployment moves over with (step 6 of
`make bench`; alone: `python3 bench/migration.py` after `make release` and bench/setup.sh).

1. statsd: the hello example (one worker, 13-byte body) under `wrk -t1 -c64`, with and without
   --statsd-host, and gunicorn (-w 1, its sync worker: meinheld's worker sends gunicorn no
   request metrics) the same way. Packets are counted by the kernel
   (Udp OutDatagrams in /proc/net/snmp) and divided by the requests wrk made; throughput with
   statsd on is given as a share of throughput with it off.
2. PROXY protocol: new connections per second (wrk with `Connection: close`) through HAProxy
   (`http-reuse never`, so every client connection is a new one to corral), to a corral worker
   started with --proxy-protocol, HAProxy sending `send-proxy-v2` or no header, alternating; and
   the worker's own CPU time per connection (utime + stime from /proc), which leaves HAProxy out.
3. The Prometheus scrape: corrald with 4 hello workers and metrics_bind, under keep-alive load;
   SCRAPES GETs of /metrics on one kept-alive connection, median and p99 in ms, and the size.
Prints a markdown section and appends it to MIGRATION_RESULTS if set.
Environment: CORRALD, CORRAL_HELLO (release builds by default), GUNICORN (bench/.venv),
MIG_PORT [18200], ROUNDS [3], DURATION [5] seconds, SCRAPES [200].
"""
import http.client
import os
import re
import socket
import statistics
import subprocess
import tempfile
import time

from processes import CORRALD, GUNICORN, HELLO, cpu_ticks, die, require_release, start, stop, stop_all

PORT = int(os.environ.get("MIG_PORT", "18200"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "5"))
SCRAPES = int(os.environ.get("SCRAPES", "200"))


def serving(port, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/")
            if connection.getresponse().status == 200:
                return True
        except OSError:
            time.sleep(0.05)
    return False


def wrk(port, connections=64, close=False):
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{DURATION}s"]
    if close:
        argv += ["-H", "Connection: close"]
    out = subprocess.run(argv + [f"http://127.0.0.1:{port}/"], capture_output=True, text=True, timeout=DURATION + 60).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return rate, requests


def udp_out():
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return int(rows[1][rows[0].index("OutDatagrams")])


def statsd_round(name, argv_for, work):
    """Throughput without and with statsd, and packets per request with it."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    results = {}
    for statsd in (False, True):
        process = start(argv_for(f"127.0.0.1:{sink.getsockname()[1]}" if statsd else None), f"{work}/{name}.log", cwd=work)
        if not serving(PORT):
            die(f"{name} did not serve (log: {work}/{name}.log)")
        wrk(PORT)  # warm-up
        before = udp_out()
        rate, requests = wrk(PORT)
        packets = udp_out() - before
        stop(process)
        results[statsd] = (rate, packets / max(requests, 1))
    sink.close()
    return results


def bench_statsd(work):
    corral = lambda host: [HELLO, "--bind", f"127.0.0.1:{PORT}", "--worker-connections", "20000"] + (["--statsd-host", host] if host else [])
    with open(f"{work}/hello_wsgi.py", "w") as f:
        f.write("def app(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
                "    return [b'Hello, World!']\n")
    gunicorn = lambda host: [GUNICORN, "-w", "1", "-b", f"127.0.0.1:{PORT}",
                             "--chdir", work] + (["--statsd-host", host] if host else []) + ["hello_wsgi:app"]
    rows = {"corral": [], "gunicorn": []}
    for _ in range(ROUNDS):
        rows["corral"].append(statsd_round("corral", corral, work))
        if os.access(GUNICORN, os.X_OK):
            rows["gunicorn"].append(statsd_round("gunicorn", gunicorn, work))
    return rows


def bench_proxy(work):
    """Connections per second through HAProxy, with and without a PROXY v2 header."""
    worker = start([HELLO, "--bind", f"127.0.0.1:{PORT}", "--proxy-protocol", "--worker-connections", "20000"], f"{work}/proxy-worker.log")
    if not serving(PORT):
        die("the PROXY worker did not serve")
    rates = {"send-proxy-v2": [], "none": []}
    cpu = {"send-proxy-v2": [], "none": []}
    for round_ in range(ROUNDS):
        for option in ("send-proxy-v2", "none"):
            config = f"{work}/haproxy-{option}.cfg"
            with open(config, "w") as f:
                f.write(f"""global
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    http-reuse never
frontend web
    bind 127.0.0.1:{PORT + 1}
    default_backend corral
backend corral
    server corral 127.0.0.1:{PORT} {option if option != "none" else ""}
""")
            balancer = start(["/usr/sbin/haproxy", "-db", "-f", config], f"{work}/haproxy.log")
            if not serving(PORT + 1):
                die(f"haproxy did not serve (log: {work}/haproxy.log)")
            wrk(PORT + 1, connections=16, close=True)
            ticks = cpu_ticks(worker.pid)
            rate, requests = wrk(PORT + 1, connections=16, close=True)
            rates[option].append(rate)
            cpu[option].append((cpu_ticks(worker.pid) - ticks) * 1e6 / os.sysconf("SC_CLK_TCK") / requests)
            stop(balancer)
    stop(worker)
    return rates, cpu


def bench_scrape(work):
    metrics_port = PORT + 2
    with open(f"{work}/corral.toml", "w") as f:
        f.write(f'bind = ["127.0.0.1:{PORT}"]\nworkers = 4\nworker_cmd = "{HELLO}"\nmetrics_bind = "127.0.0.1:{metrics_port}"\n')
    daemon = start([CORRALD, "-c", f"{work}/corral.toml"], f"{work}/corrald.log")
    if not serving(PORT):
        die("corrald did not serve")
    load = start(["wrk", "-t1", "-c16", "-d3600s", f"http://127.0.0.1:{PORT}/"], f"{work}/wrk-load.txt")
    time.sleep(2)
    connection = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=5)
    times, size = [], 0
    for _ in range(SCRAPES):
        began = time.perf_counter()
        connection.request("GET", "/metrics")
        body = connection.getresponse().read()
        times.append((time.perf_counter() - began) * 1000)
        size = len(body)
    stop(load)
    stop(daemon)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1], size


def median(values):
    return statistics.median(values) if values else float("nan")


def main():
    require_release()
    work = tempfile.mkdtemp(prefix="corral-bench-migration-")
    try:
        statsd = bench_statsd(work)
        proxy, proxy_cpu = bench_proxy(work)
        scrape = bench_scrape(work)
    finally:
        stop_all()
    lines = ["", "## Moving over from gunicorn: statsd, PROXY protocol, Prometheus", "",
             f"{ROUNDS} rounds of {DURATION} s, medians; one worker process each; loopback.", "",
             "| | req/s, statsd off | req/s, statsd on | on ÷ off | statsd packets per request |", "|---|---|---|---|---|"]
    for name, rounds in statsd.items():
        if not rounds:
            lines.append(f"| {name} | not measured (no {GUNICORN}) | | | |")
            continue
        off = median([r[False][0] for r in rounds])
        on = median([r[True][0] for r in rounds])
        packets = median([r[True][1] for r in rounds])
        lines.append(f"| {name} | {off:,.0f} | {on:,.0f} | {on / off:.2f} | {packets:.3f} |")
    with_header, without = median(proxy["send-proxy-v2"]), median(proxy["none"])
    cpu_with, cpu_without = median(proxy_cpu["send-proxy-v2"]), median(proxy_cpu["none"])
    lines += ["", "| through HAProxy (`http-reuse never`, -c16), one connection per request | no header | `send-proxy-v2` | with ÷ without |",
              "|---|---|---|---|",
              f"| new connections/s | {without:,.0f} | {with_header:,.0f} | {with_header / without:.3f} |",
              f"| corral worker CPU per connection (µs) | {cpu_without:.1f} | {cpu_with:.1f} | {cpu_with / cpu_without:.3f} |",
              "", f"Prometheus scrape (corrald, 4 workers, under load): median {scrape[0]:.2f} ms, p99 {scrape[1]:.2f} ms, "
              f"{scrape[2]:,} bytes, over {SCRAPES} GETs on one connection.", ""]
    text = "\n".join(lines)
    print(text)
    if os.environ.get("MIGRATION_RESULTS"):
        with open(os.environ["MIGRATION_RESULTS"], "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()

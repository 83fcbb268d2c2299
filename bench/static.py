#!/usr/bin/env python3
"""bench/static.py — static files, corral-worker beside nginx (step 7 of `make bench`; alone:
`python3 bench/static.py` after `make release`).

The same files (13 B, 4 KiB, 100 KiB, 1 MiB) served from one process each, access log on in all:
  corral       corral-worker --root (its open-file cache on, as by default)
  nginx        nginx's defaults with `sendfile on` (as Debian's nginx.conf has it; its tcp_nopush on is
               left out: with pipelining it holds responses back, and nginx's own default is off)
  nginx+ofc    the same with `open_file_cache max=1000 inactive=20s` (valid 60 s, nginx's default)
Both nginx configs buffer their access log (64k) and allow 1,000,000 requests per connection, as
step 1 does. Each must return the files' exact bytes before anything is measured. Then ROUNDS
rounds, the servers' order rotating: per workload a WARMUP-second wrk run (discarded), then
`wrk -t1 -c64 -dDURATION`; the pipelined workload sends 16 requests per round trip (the 13-byte
file). Medians, and corral's ratio to each nginx.
Where the time goes: strace -c -f counts each server's syscalls per request (13-byte file, wrk
-c16), and perf (cpu-clock, 2 s) splits corral's CPU between the kernel and corral, with its top
symbols.
Prints a markdown section and appends it to STATIC_RESULTS if set.
Environment: CORRAL_WORKER [.build/release/corral-worker], STATIC_PORT [18300], ROUNDS [3],
DURATION [5], WARMUP [1].
"""
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request

from processes import DURATION, ROUNDS, WARMUP, WORKER, die, publish, start, stop_all

PORT = int(os.environ.get("STATIC_PORT", "18300"))
SERVERS = ["corral", "nginx", "nginx+ofc"]
FILES = {"hello.txt": 13, "4k.txt": 4096, "100k.bin": 100 * 1024, "1m.bin": 1 << 20}
WORKLOADS = [("13 B", "hello.txt", False), ("4 KiB", "4k.txt", False), ("100 KiB", "100k.bin", False),
             ("1 MiB", "1m.bin", False), ("13 B, 16 pipelined", "hello.txt", True)]
PIPELINE = """init = function(args)
   local r = {}
   for i = 1, 16 do r[i] = wrk.format(nil, wrk.path) end
   req = table.concat(r)
end
request = function() return req end
"""


def write_files(www):
    os.makedirs(www)
    with open(f"{www}/hello.txt", "wb") as f:
        f.write(b"Hello, World!")
    for name, size in FILES.items():
        if name != "hello.txt":
            with open(f"{www}/{name}", "wb") as f:
                f.write(os.urandom(size))


def nginx_config(work, name, port, cache):
    d = f"{work}/{name}"
    os.makedirs(d)
    ofc = "open_file_cache max=1000 inactive=20s;\n        open_file_cache_valid 60s;" if cache else ""
    with open(f"{d}/nginx.conf", "w") as f:
        f.write(f"""worker_processes 1;
user root;
error_log {d}/error.log;
pid {d}/nginx.pid;
events {{ worker_connections 20000; }}
http {{
    include /etc/nginx/mime.types;
    sendfile on;
    access_log {d}/access.log combined buffer=64k;
    keepalive_requests 1000000;
    keepalive_timeout 75;
    server {{
        listen 127.0.0.1:{port};
        root {work}/www;
        {ofc}
    }}
}}
""")
    return d


def start_servers(work):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    ports = {name: PORT + i for i, name in enumerate(SERVERS)}
    processes = {"corral": start([WORKER, "--bind", f"127.0.0.1:{ports['corral']}", "--root", f"{work}/www",
                                  "--access-logfile", f"{work}/corral-access.log", "--worker-connections", "20000",
                                  "--keep-alive", "75"], f"{work}/corral.log")}
    for name, cache in (("nginx", False), ("nginx+ofc", True)):
        d = nginx_config(work, name.replace("+", "-"), ports[name], cache)
        processes[name] = start([nginx, "-p", d, "-e", f"{d}/error.log", "-c", f"{d}/nginx.conf", "-g", "daemon off;"],
                                f"{d}/nginx.out")
    return ports, processes


def check_bytes(work, ports):
    for name, port in ports.items():
        for file in FILES:
            expected = open(f"{work}/www/{file}", "rb").read()
            deadline = time.monotonic() + 20
            while True:
                try:
                    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/{file}", timeout=5).read()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        die(f"{name} does not answer on port {port}")
                    time.sleep(0.1)
            if body != expected:
                die(f"{name} served {len(body)} bytes for {file}, not its {len(expected)}")


def wrk(port, file, pipelined, duration, connections=64, work=None):
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s"]
    if pipelined:
        argv += ["-s", f"{work}/pipeline.lua"]
    out = subprocess.run(argv + [f"http://127.0.0.1:{port}/{file}"], capture_output=True, text=True,
                         timeout=duration + 60).stdout
    if "Non-2xx" in out:
        die(f"wrk saw non-2xx answers on port {port}: {out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), int(re.search(r"(\d+) requests in", out).group(1))


def serving_pid(name, process):
    """nginx's worker (the master's only child); corral-worker itself."""
    if name == "corral":
        return process.pid
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = open(f"/proc/{process.pid}/task/{process.pid}/children").read().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    die(f"{name} has no worker process")


def syscalls_per_request(pid, port, work):
    trace = f"{work}/strace-{port}.txt"
    strace = subprocess.Popen(["strace", "-c", "-f", "-o", trace, "-p", str(pid)], stderr=subprocess.DEVNULL)
    time.sleep(1)
    _, requests = wrk(port, "hello.txt", False, 2, connections=16)
    strace.send_signal(2)
    strace.wait(timeout=30)
    counts = {}
    for line in open(trace):
        fields = line.split()
        if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] not in ("total",):
            counts[fields[-1]] = int(fields[3])
    return {name: calls / requests for name, calls in counts.items() if calls / requests >= 0.01}


def perf_profile(pid, port, work):
    data = f"{work}/perf.data"
    load = subprocess.Popen(["wrk", "-t1", "-c64", "-d4s", f"http://127.0.0.1:{port}/hello.txt"], stdout=subprocess.DEVNULL)
    time.sleep(1)
    recorded = subprocess.run(["perf", "record", "-e", "cpu-clock", "-F", "1999", "-p", str(pid), "-o", data, "--", "sleep", "2"],
                              capture_output=True, text=True)
    load.wait()
    if recorded.returncode != 0:
        return None
    report = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "symbol"],
                            capture_output=True, text=True).stdout
    kernel, rows = 0.0, []
    for line in report.splitlines():
        match = re.match(r"\s+([\d.]+)%\s+\[(k|\.)\]\s+(.*)", line)
        if not match:
            continue
        share, where, symbol = float(match.group(1)), match.group(2), match.group(3).strip()
        if where == "k":
            kernel += share
        elif len(rows) < 10:
            rows.append((share, symbol))
    names = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input="\n".join(s for _, s in rows),
                           capture_output=True, text=True).stdout.splitlines() if shutil.which("swift") else []
    if len(names) == len(rows):
        rows = [(share, name[:110].rstrip()) for (share, _), name in zip(rows, names)]
    return kernel, rows


def main():
    if not os.access(WORKER, os.X_OK):
        die(f"{WORKER} is missing: build the release first (make bench does)")
    work = tempfile.mkdtemp(prefix="corral-bench-static-")
    try:
        write_files(f"{work}/www")
        with open(f"{work}/pipeline.lua", "w") as f:
            f.write(PIPELINE)
        ports, processes = start_servers(work)
        check_bytes(work, ports)
        rates = {(w[0], s): [] for w in WORKLOADS for s in SERVERS}
        for round in range(ROUNDS):
            order = SERVERS[round % len(SERVERS):] + SERVERS[:round % len(SERVERS)]
            for label, file, pipelined in WORKLOADS:
                for name in order:
                    wrk(ports[name], file, pipelined, WARMUP, work=work)
                    rate, _ = wrk(ports[name], file, pipelined, DURATION, work=work)
                    rates[(label, name)].append(rate)
                    print(f"round {round + 1}/{ROUNDS}  {label:<20} {name:<10} {rate:>12,.0f} req/s", flush=True)
        syscalls = {name: syscalls_per_request(serving_pid(name, processes[name]), ports[name], work) for name in SERVERS}
        profile = perf_profile(processes["corral"].pid, ports["corral"], work)
    finally:
        stop_all()
    median = {key: statistics.median(values) for key, values in rates.items()}
    lines = ["", "## Static files: corral-worker beside nginx", "",
             f"{ROUNDS} rounds of {DURATION} s (`wrk -t1 -c64`), medians; one process each, access logs on, loopback.", "",
             "| file | corral req/s | nginx req/s | nginx+open_file_cache req/s | corral ÷ nginx | corral ÷ nginx+ofc |",
             "|---|---|---|---|---|---|"]
    for label, _, _ in WORKLOADS:
        c, n, o = median[(label, "corral")], median[(label, "nginx")], median[(label, "nginx+ofc")]
        lines.append(f"| {label} | {c:,.0f} | {n:,.0f} | {o:,.0f} | **{c / n:.2f}** | **{c / o:.2f}** |")
    names = sorted({call for counts in syscalls.values() for call in counts}, key=lambda c: -max(s.get(c, 0) for s in syscalls.values()))
    lines += ["", "Syscalls per request (13-byte file, strace -c -f under `wrk -c16`; ≥ 0.01 shown):", "",
              "| syscall | " + " | ".join(SERVERS) + " |", "|---|" + "---|" * len(SERVERS)]
    for call in names:
        lines.append(f"| {call} | " + " | ".join(f"{syscalls[s].get(call, 0):.2f}" for s in SERVERS) + " |")
    lines.append("| **total** | " + " | ".join(f"**{sum(syscalls[s].values()):.2f}**" for s in SERVERS) + " |")
    if profile:
        kernel, rows = profile
        lines += ["", f"Where corral-worker's CPU goes (perf, cpu-clock, 13-byte file under `wrk -c64`): kernel {kernel:.0f}%, "
                  f"corral and its libraries {100 - kernel:.0f}%. Top user-space symbols:", ""]
        lines += [f"- {share:.1f}% {symbol}" for share, symbol in rows]
    else:
        lines += ["", "perf could not record here: no CPU profile."]
    publish("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

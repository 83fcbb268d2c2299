#!/usr/bin/env python3
"""bench/supervisor.py — corrald's supervision figures, beside gunicorn's reload (step 4 of
`make bench`; alone: `python3 bench/supervisor.py`).

corrald runs 4 workers of the hello example (13-byte body) on 127.0.0.1:SUP_PORT. Measured:
  1. HUP → every new worker READY ("reload done" in the log), and → every old worker exited;
  2. kill -9 of a worker → its replacement's READY=1 (the debug line "worker pid N ready"). The
     config sets restart_backoff_reset = 0.2 s so each round measures the immediate first restart
     (a second death of one slot within the reset time is delayed on purpose: that is the backoff);
  3. corrald's RSS (VmRSS, and RssAnon: its own, unshared memory), and a worker's;
  4. corrald's CPU time over IDLE_SECONDS with no traffic (clock ticks of 10 ms);
  5. RELOADS reloads under load: wrk -t1 -cLOAD_CONNS keep-alive runs throughout; each HUP waits
     for the reload to finish and the old workers to exit. Then the same against gunicorn with
     meinheld's worker (-w 4), each HUP waiting until all 4 worker pids changed.
A failed request is one wrk counts as a socket error (connect, read, write, timeout) or a non-2xx
response. Prints a markdown section and appends it to SUP_RESULTS if set.
Environment: CORRALD, CORRAL_HELLO (release builds by default), GUNICORN (bench/.venv), SUP_PORT
[18100], ROUNDS_SUP [10], RELOADS [100], IDLE_SECONDS [10], LOAD_CONNS [16], SUP_RESULTS.
"""
import os
import re
import signal
import statistics
import subprocess
import tempfile
import time

from processes import CORRALD, GUNICORN, HELLO, cpu_ticks, die, require_release, start, stop_all

PORT = int(os.environ.get("SUP_PORT", "18100"))
ROUNDS = int(os.environ.get("ROUNDS_SUP", "10"))
RELOADS = int(os.environ.get("RELOADS", "100"))
IDLE_SECONDS = float(os.environ.get("IDLE_SECONDS", "10"))
LOAD_CONNS = int(os.environ.get("LOAD_CONNS", "16"))
UPGRADES = int(os.environ.get("UPGRADES", "20"))
WORKERS = 4


def wait_for(condition, timeout=30.0, interval=0.0005):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return {int(p) for p in f.read().split()}
    except OSError:
        return set()


def gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return ") Z " in f.read()
    except OSError:
        return True


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def wrk_start(work, name):
    out = f"{work}/wrk-{name}.txt"
    return start(["wrk", "-t1", f"-c{LOAD_CONNS}", "-d3600s", f"http://127.0.0.1:{PORT}/"], out), out


def wrk_stop(process, out):
    process.send_signal(signal.SIGINT)   # wrk prints its summary on SIGINT
    process.wait(timeout=30)
    text = read(out)
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    socket_errors = sum(int(g) for g in errors.groups()) if errors else 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return requests, socket_errors + (int(non2xx.group(1)) if non2xx else 0), text


def max_latency(text):
    """wrk's Max latency in ms."""
    value, unit = re.search(r"Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def summary(values):
    return f"{statistics.median(values):.0f} (min {min(values):.0f}, max {max(values):.0f})"


def measure_corrald(work):
    log_path = f"{work}/corrald.log"
    with open(f"{work}/corral.toml", "w") as f:
        f.write(f'bind = ["127.0.0.1:{PORT}"]\nworkers = {WORKERS}\nloglevel = "debug"\n'
                f'worker_cmd = "{HELLO}"\nrestart_backoff_reset = 0.2\n')
    daemon = start([CORRALD, "-c", f"{work}/corral.toml"], log_path)
    if not wait_for(lambda: f"all {WORKERS} workers of generation 1 ready" in read(log_path)):
        die(f"corrald did not come up:\n{read(log_path)[-2000:]}")
    pid = daemon.pid
    figures = {"rss": status_kb(pid, "VmRSS") / 1024, "rss_anon": status_kb(pid, "RssAnon") / 1024,
               "worker_rss": statistics.mean(status_kb(w, "VmRSS") for w in children(pid)) / 1024}
    time.sleep(1)
    before = cpu_ticks(pid)
    time.sleep(IDLE_SECONDS)
    figures["idle_ticks"] = cpu_ticks(pid) - before

    def replace_once(signal_number, done_line, count):
        """A signal that replaces every worker (HUP: reload; USR2: upgrade in place); the ms until
        `done_line` is logged for the `count`th time (the new workers are READY), and until the
        old workers have exited."""
        old = children(pid)
        t0 = time.perf_counter()
        os.kill(pid, signal_number)
        if not wait_for(lambda: read(log_path).count(done_line) == count):
            die(f"{done_line} {count} did not come:\n{read(log_path)[-2000:]}")
        ready = time.perf_counter() - t0
        if not wait_for(lambda: all(gone(p) for p in old)):
            die("the old workers did not exit")
        return ready * 1000, (time.perf_counter() - t0) * 1000

    def reload_once(count):
        return replace_once(signal.SIGHUP, "reload done", count)

    def upgrade_once(count):
        return replace_once(signal.SIGUSR2, "upgrade done", count)

    reloads = [reload_once(r + 1) for r in range(ROUNDS)]
    figures["hup_ready"] = [r[0] for r in reloads]
    figures["hup_retired"] = [r[1] for r in reloads]

    deaths = []
    for _ in range(ROUNDS):
        time.sleep(0.3)   # past restart_backoff_reset: the next death restarts at once
        known = children(pid)
        offset = len(read(log_path))
        t0 = time.perf_counter()
        os.kill(sorted(known)[0], signal.SIGKILL)
        pattern = re.compile(r"worker pid (\d+) ready")
        if not wait_for(lambda: any(int(m) not in known for m in pattern.findall(read(log_path)[offset:]))):
            die("no replacement became ready")
        deaths.append((time.perf_counter() - t0) * 1000)
    figures["death_ready"] = deaths

    upgrades = [upgrade_once(r + 1) for r in range(ROUNDS)]
    figures["usr2_ready"] = [u[0] for u in upgrades]
    figures["usr2_retired"] = [u[1] for u in upgrades]

    wrk, out = wrk_start(work, "corrald")
    time.sleep(1)
    t0 = time.perf_counter()
    done = read(log_path).count("reload done")
    for r in range(RELOADS):
        reload_once(done + r + 1)
    figures["load_seconds"] = time.perf_counter() - t0
    figures["load_requests"], figures["load_failed"], text = wrk_stop(wrk, out)
    figures["reload_max_latency"] = max_latency(text)

    wrk, out = wrk_start(work, "corrald-upgrades")
    time.sleep(1)
    done = read(log_path).count("upgrade done")
    for r in range(UPGRADES):
        upgrade_once(done + r + 1)
    figures["upgrade_requests"], figures["upgrade_failed"], text = wrk_stop(wrk, out)
    figures["upgrade_max_latency"] = max_latency(text)
    if gone(pid):
        die("corrald is gone after the upgrades")
    os.kill(pid, signal.SIGTERM)
    daemon.wait(timeout=40)
    figures["exit"] = daemon.returncode
    return figures


def measure_gunicorn(work):
    if not os.access(GUNICORN, os.X_OK):
        return None
    with open(f"{work}/hello_wsgi.py", "w") as f:
        f.write('BODY = b"Hello, World!"\nHEADERS = [("Content-Type", "text/plain"), ("Content-Length", "13")]\n'
                "def app(environ, start_response):\n    start_response('200 OK', HEADERS)\n    return [BODY]\n")
    help_text = subprocess.run([GUNICORN, "--help"], capture_output=True, text=True).stdout
    extra = ["--no-control-socket"] if "--no-control-socket" in help_text else []
    log_path = f"{work}/gunicorn.log"
    master = start([GUNICORN, *extra, "--chdir", work, "-w", str(WORKERS), "-k", "egg:meinheld#gunicorn_worker",
                    "-b", f"127.0.0.1:{PORT}", "hello_wsgi:app"], log_path)
    if not wait_for(lambda: len(children(master.pid)) == WORKERS and "Booting worker" in read(log_path)):
        die(f"gunicorn did not come up:\n{read(log_path)[-2000:]}")
    time.sleep(1)
    wrk, out = wrk_start(work, "gunicorn")
    time.sleep(1)
    t0 = time.perf_counter()
    unfinished = 0
    for _ in range(RELOADS):
        old = children(master.pid)
        os.kill(master.pid, signal.SIGHUP)
        if not wait_for(lambda: (lambda now: len(now) == WORKERS and not now & old)(children(master.pid)), timeout=10):
            unfinished += 1
    figures = {"load_seconds": time.perf_counter() - t0, "unfinished": unfinished}
    figures["load_requests"], figures["load_failed"], _ = wrk_stop(wrk, out)
    return figures


def main():
    require_release()
    work = tempfile.mkdtemp(prefix="corral-bench-supervisor.")
    try:
        corral = measure_corrald(work)
        gunicorn = measure_gunicorn(work)
    finally:
        stop_all()
    g_failed = "n/a" if gunicorn is None else f"{gunicorn['load_failed']} of {gunicorn['load_requests']:,}"
    g_time = "n/a" if gunicorn is None else f"{gunicorn['load_seconds'] / RELOADS * 1000:.0f} ms per reload" + (
        f" ({gunicorn['unfinished']} did not replace all workers within 10 s)" if gunicorn["unfinished"] else "")
    lines = [
        "",
        f"### Supervisor (corrald, {WORKERS} workers; {ROUNDS} rounds each, median (min, max); {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        "| measure | corrald | target | gunicorn 27 + meinheld |",
        "|---|---|---|---|",
        f"| HUP → every new worker READY (ms) | {summary(corral['hup_ready'])} | | |",
        f"| HUP → new generation ready and old one exited (ms) | {summary(corral['hup_retired'])} | < 1000 | |",
        f"| kill -9 of a worker → replacement READY (ms) | {summary(corral['death_ready'])} | < 200 | |",
        f"| corrald RSS (MB) | {corral['rss']:.1f} (of which its own, RssAnon: {corral['rss_anon']:.1f}); a worker: {corral['worker_rss']:.1f} | < 15 | |",
        f"| corrald CPU while idle for {IDLE_SECONDS:.0f} s (10 ms ticks) | {corral['idle_ticks']} | 0 | |",
        f"| failed requests during {RELOADS} reloads under wrk -c{LOAD_CONNS} keep-alive load | "
        f"{corral['load_failed']} of {corral['load_requests']:,} | 0 | {g_failed} |",
        f"| time per reload in that run | {corral['load_seconds'] / RELOADS * 1000:.0f} ms (each waits for the old generation to exit) | | {g_time} |",
        f"| USR2 (re-exec upgrade, same pid) → new image's workers READY (ms) | {summary(corral['usr2_ready'])} | | new master, new pid |",
        f"| USR2 → adopted workers exited (ms) | {summary(corral['usr2_retired'])} | | |",
        f"| failed requests during {UPGRADES} upgrades under the same load | {corral['upgrade_failed']} of {corral['upgrade_requests']:,} | 0 | |",
        f"| longest request during the upgrades ÷ during the reloads (wrk max latency) | "
        f"{corral['upgrade_max_latency']:.1f} ms ÷ {corral['reload_max_latency']:.1f} ms = {corral['upgrade_max_latency'] / corral['reload_max_latency']:.2f} | | |",
        "",
        "A failed request is a wrk socket error (connect, read, write, timeout) or a non-2xx response.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if os.environ.get("SUP_RESULTS"):
        with open(os.environ["SUP_RESULTS"], "a") as f:
            f.write(text)
    if corral["exit"] != 0:
        die(f"corrald exited {corral['exit']} after TERM")


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all()

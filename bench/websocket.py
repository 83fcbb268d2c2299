#!/usr/bin/env python3
"""bench/websocket.py — WebSocket echo: corral-python's asgi worker beside uvicorn and granian.

    python3 bench/websocket.py        (bench/run.sh calls it in its ASGI step)

Each server runs ONE worker pinned with all its threads to core 0; corral-wsload (corral's own
load generator: one thread, epoll) runs on core 1, with CLIENTS [100] WebSockets each sending a
64-byte text message and waiting for its echo. The same echo app (bench/asgi_apps.py:echo) from
the same venv as bench/asgi.py; uvloop everywhere, websockets' implementation for uvicorn (its
default), no compression (the load generator offers none). The load generator's own CPU share is
printed beside each figure, to show it is not the limit. Then the idle cost: one corral worker
holding IDLE [10000] open WebSockets, its RSS before and after, beside uvicorn's.
ROUNDS rounds [3], rotating the order; medians, and the ratio corral/anchor.
"""
import os, re, statistics, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import asgi  # noqa: E402  (its venv, servers' commands and setup)
import wsgi  # noqa: E402  (ports, pinning, knobs)

wsload = os.environ.get('CORRAL_WSLOAD', os.path.join(wsgi.top, '.build/release/corral-wsload'))
clients = int(os.environ.get('CLIENTS', '100'))
idle_count = int(os.environ.get('IDLE', '10000'))
results_path = os.environ.get('BENCH_RESULTS_WEBSOCKET', os.path.join(wsgi.here, 'results/websocket.md'))
servers = [entry for entry in asgi.servers if entry[0] in ('corral', 'uvicorn', 'granian')]


def start(name, command, extra=()):
    log = os.path.join(wsgi.scratch, '%s-ws.access.log' % name)
    output = open(os.path.join(wsgi.scratch, '%s-ws.out' % name), 'w')
    process = subprocess.Popen(wsgi.SERVER_CPU + command('asgi_apps:echo', log) + list(extra), stdout=output,
                               stderr=subprocess.STDOUT, start_new_session=True)
    import urllib.request
    for _ in range(200):
        try:
            if urllib.request.urlopen('http://%s/' % asgi.bind, timeout=2).read() == b'Hello, World!':
                return process
        except OSError:
            time.sleep(0.1)
    sys.exit('bench websocket: %s did not start (see %s)' % (name, output.name))


def stop(process):
    os.killpg(process.pid, 9)
    process.wait()
    time.sleep(0.3)


def echo_rate(name, command):
    process = start(name, command)
    try:
        subprocess.run(wsgi.LOAD_CPU + [wsload, 'echo', asgi.bind, str(clients), wsgi.warmup, '64'], capture_output=True)
        run = subprocess.run(wsgi.LOAD_CPU + [wsload, 'echo', asgi.bind, str(clients), wsgi.duration, '64'],
                             capture_output=True, text=True)
        found = re.search(r'(\d+) messages/s; load generator CPU (\d+)%', run.stdout)
        if not found:
            sys.exit('bench websocket: %s: %s%s' % (name, run.stdout, run.stderr))
        return int(found.group(1)), int(found.group(2))
    finally:
        stop(process)


def idle_cost(name, command, extra=()):
    """RSS of one worker before and with `idle_count` open WebSockets."""
    process = start(name, command, extra)
    try:
        pid = wsgi.serving_pid(process)
        before = wsgi.rss_kb(pid)
        holder = subprocess.Popen(wsgi.LOAD_CPU + [wsload, 'hold', asgi.bind, str(idle_count), '8'], stdout=subprocess.PIPE, text=True)
        line = holder.stdout.readline()
        if not line.startswith('open'):
            sys.exit('bench websocket: holding %d WebSockets failed: %s' % (idle_count, line))
        time.sleep(3)
        held = wsgi.rss_kb(pid)
        holder.wait()
        return before, held
    finally:
        stop(process)


def main():
    asgi.setup()
    if not os.access(wsload, os.X_OK):
        sys.exit('bench websocket: %s is missing (make bench builds it)' % wsload)
    figures = {}
    for round_number in range(wsgi.rounds):
        order = servers[round_number % len(servers):] + servers[:round_number % len(servers)]
        for name, command in order:
            rate, load_cpu = echo_rate(name, command)
            figures.setdefault(name, []).append(rate)
            print('bench websocket: round %d %-8s %7d messages/s (load generator CPU %d%%)' % (round_number + 1, name, rate, load_cpu),
                  flush=True)
    median = {name: statistics.median(values) for name, values in figures.items()}
    lines = ['| WebSocket echo, %d clients, 64 B | messages/s (median of %d) | corral ÷ server |' % (clients, wsgi.rounds), '|---|---|---|']
    for name, _ in servers:
        ratio = '—' if name == 'corral' else '%.2f×' % (median['corral'] / median[name])
        lines.append('| %s | %.0f | %s |' % (name, median[name], ratio))
    lines += ['', '| holding %d idle WebSockets, one worker | RSS before (KiB) | RSS holding them (KiB) | KiB each |' % idle_count,
              '|---|---|---|---|']
    for name, command in servers:
        if name == 'granian':
            continue   # its worker is a child of its own supervisor process; its RSS is not one number here
        before, held = idle_cost(name, command, ['--worker-connections', str(idle_count + 100)] if name == 'corral' else [])
        lines.append('| %s | %d | %d | %.1f |' % (name, before, held, (held - before) / idle_count))
    table = '\n'.join(lines)
    print(table)
    os.makedirs(os.path.dirname(results_path), exist_ok=True)
    with open(results_path, 'w') as out:
        out.write(table + '\n')


if __name__ == '__main__':
    main()

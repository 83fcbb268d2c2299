#!/usr/bin/env python3
"""bench/asgi.py — corral-python's asgi worker beside the ASGI servers, in one run.

    python3 bench/asgi.py        (bench/run.sh calls it as its ASGI step)

As bench/wsgi.py (whose measuring it uses): ONE worker process per server, pinned with all its
threads to core 0 and wrk to core 1, access logs on, uvloop for every server that takes it, the
same apps (bench/asgi_apps.py) from the same venv (bench/.venv-asgi: FastAPI, uvicorn with
httptools and uvloop, granian, gunicorn's own asgi worker and uvicorn-worker). Rows:
  bare       the 13-byte ASGI hello, wrk -t1 -c64
  fastapi    FastAPI's JSON hello, wrk -t1 -c64
  sleep      a FastAPI view awaiting asyncio.sleep(0.1), wrk -t1 -c256 (at most 2,560 req/s)
  file       FastAPI's FileResponse of a 1 MiB file, wrk -t1 -c64
Then where users deploy: workers = cores for every server (corral under corrald), nothing pinned,
wrk -t<cores> -c128 sharing the cores, on the bare and FastAPI hellos (SPREAD_ROWS).
ROUNDS rounds [3], rotating the order; medians, and the ratio corral/anchor. Knobs as wsgi.py's,
plus BENCH_RESULTS_ASGI [bench/results/asgi.md].
"""
import os, shutil, statistics, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsgi  # noqa: E402  (its measure(), ports, pinning and knobs)

venv = os.path.join(wsgi.here, '.venv-asgi')
results_path = os.environ.get('BENCH_RESULTS_ASGI', os.path.join(wsgi.here, 'results/asgi.md'))
bind = '127.0.0.1:%d' % wsgi.port
rows = {'bare': ('asgi_apps:bare', '/', 64), 'fastapi': ('asgi_apps:app', '/', 64), 'sleep': ('asgi_apps:app', '/sleep', 256),
        'file': ('asgi_apps:app', '/file', 64)}
HELLO = {'bare': b'Hello, World!', 'fastapi': b'{"message":"Hello, World!"}', 'sleep': b'{"message":"Hello, World!"}',
         'file': bytes(range(256)) * 4096}
# BENCH_ASGI_ROWS: a comma-separated subset of the rows [all].
if os.environ.get('BENCH_ASGI_ROWS'):
    rows = {name: rows[name] for name in os.environ['BENCH_ASGI_ROWS'].split(',')}
spread_rows = {name: rows[name][:2] + (128,) for name in os.environ.get('SPREAD_ROWS', 'bare,fastapi').split(',') if name in rows}
workers = os.cpu_count()
corrald = os.environ.get('CORRALD', os.path.join(wsgi.top, '.build/release/corrald'))


def setup():
    python = os.path.join(venv, 'bin/python')
    if not os.path.exists(python):
        subprocess.run(['/usr/bin/python3', '-m', 'venv', venv], check=True)
    probe = 'import fastapi, uvicorn, uvloop, httptools, granian, gunicorn, uvicorn_worker, websockets'
    if subprocess.run([python, '-c', probe], capture_output=True).returncode != 0:
        subprocess.run([os.path.join(venv, 'bin/pip'), 'install', '-q', 'fastapi', 'uvicorn[standard]', 'granian',
                        'gunicorn', 'uvicorn-worker'], check=True)
    if not os.access(wsgi.corral, os.X_OK):
        sys.exit('bench asgi: %s is missing (make bench builds it)' % wsgi.corral)


def corral(app, log, count=1):
    # One worker: corral-python itself; more: corrald and its workers.
    executable = [wsgi.corral] if count == 1 else [corrald, '-w', str(count)]
    return executable + ['-k', 'asgi', '--virtualenv', venv, '--chdir', wsgi.here, '-b', bind, '--access-logfile', log, app]


def uvicorn(app, log, count=1):
    host, port = bind.split(':')
    return [os.path.join(venv, 'bin/uvicorn'), '--loop', 'uvloop', '--http', 'httptools', '--host', host, '--port', port,
            '--workers', str(count), '--app-dir', wsgi.here, app]   # its access log (on by default) goes to the output file


def granian(app, log, count=1):
    host, port = bind.split(':')
    return [os.path.join(venv, 'bin/granian'), '--interface', 'asgi', '--loop', 'uvloop', '--workers', str(count), '--host', host,
            '--port', port, '--access-log', '--working-dir', wsgi.here, app]


def gunicorn(worker):
    return lambda app, log, count=1: [os.path.join(venv, 'bin/gunicorn'), '-w', str(count), '-k', worker, '-b', bind,
                                      '--access-logfile', log, '--chdir', wsgi.here, app]


servers = [
    ('corral', corral),
    ('uvicorn', uvicorn),
    ('granian', granian),
    ('gunicorn-asgi', gunicorn('asgi')),
    ('gunicorn-uvicorn', gunicorn('uvicorn_worker.UvicornWorker')),
]


def main():
    setup()
    figures = {}
    for round_number in range(wsgi.rounds):
        order = servers[round_number % len(servers):] + servers[:round_number % len(servers)]
        for name, command in order:
            for row, spec in rows.items():
                rate, idle_rss, loaded_rss = wsgi.measure(name, command, spec, expect=HELLO[row])
                figures.setdefault((name, row), []).append((rate, idle_rss, loaded_rss))
                print('bench asgi: round %d %-17s %-8s %9.0f req/s  RSS idle %d KiB, after %d KiB'
                      % (round_number + 1, name, row, rate, idle_rss, loaded_rss), flush=True)
    spread = {}
    for round_number in range(wsgi.rounds):
        order = servers[round_number % len(servers):] + servers[:round_number % len(servers)]
        for name, command in order:
            for row, spec in spread_rows.items():
                rate, _, _ = wsgi.measure(name, lambda app, log: command(app, log, workers), spec, expect=HELLO[row],
                                          spread=True)
                spread.setdefault((name, row), []).append(rate)
                print('bench asgi: round %d %-17s %-8s %9.0f req/s with %d workers on %d cores'
                      % (round_number + 1, name, row, rate, workers, workers), flush=True)
    median = {key: statistics.median(value[0] for value in values) for key, values in figures.items()}
    idle = {key: statistics.median(value[1] for value in values) for key, values in figures.items()}
    lines = ['| row | server | req/s (median of %d) | corral ÷ server | idle RSS (KiB) |' % wsgi.rounds, '|---|---|---|---|---|']
    for row in rows:
        for name, _ in servers:
            ratio = '—' if name == 'corral' else '%.2f×' % (median[('corral', row)] / median[(name, row)])
            lines.append('| %s | %s | %.0f | %s | %d |' % (row, name, median[(name, row)], ratio, idle[(name, row)]))
    lines += ['', '| row, workers = cores (%d), wrk -t%d -c128 | server | req/s (median of %d) | corral ÷ server |'
              % (workers, workers, wsgi.rounds), '|---|---|---|---|']
    for row in spread_rows:
        ours = statistics.median(spread[('corral', row)])
        for name, _ in servers:
            rate = statistics.median(spread[(name, row)])
            lines.append('| %s | %s | %.0f | %s |' % (row, name, rate, '—' if name == 'corral' else '%.2f×' % (ours / rate)))
    table = '\n'.join(lines)
    print(table)
    os.makedirs(os.path.dirname(results_path), exist_ok=True)
    with open(results_path, 'w') as out:
        out.write(table + '\n')
    shutil.rmtree(wsgi.scratch, ignore_errors=True)


if __name__ == '__main__':
    main()

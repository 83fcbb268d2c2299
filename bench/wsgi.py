#!/usr/bin/env python3
"""bench/wsgi.py — corral-python beside the WSGI servers the article's readers run, in one run.

    python3 bench/wsgi.py        (bench/run.sh calls it as its WSGI step)

Every server runs ONE worker process, pinned with all its threads to core 0 (wrk to core 1, so a
two-thread design gets no more CPU than a one-thread one), with its access log written to a file, serving the same
apps (bench/wsgi_apps.py) from the same Debian python3 and the same venv (bench/.venv-wsgi:
Flask, gevent, gunicorn, meinheld 1.0.2, granian). Rows:
  bare       the 13-byte WSGI hello, wrk -t1 -c64
  flask      Flask's hello, wrk -t1 -c64
  sleep      Flask's time.sleep(0.1) view, wrk -t1 -c256 (at most 2,560 req/s: 256 × 10)
and the RSS of the serving process, idle (after its first answer) and right after the load.
Last, bench/allocs.sh counts corral-python's heap allocations per request (Swift's and Python's
mallocs; pymalloc's small objects live in arenas and do not count) on the bare hello. Each server must answer "Hello, World!"
before it is measured. ROUNDS rounds [3], rotating the order; the median is reported, with the
ratio corral/anchor. Knobs: ROUNDS, DURATION [5] s, WARMUP [1] s, WSGI_PORT [18100],
CORRAL_WSGI [.build/release/corral-python], BENCH_RESULTS_WSGI [bench/results/wsgi.md].
"""
import os, re, shutil, signal, statistics, subprocess, sys, tempfile, time, urllib.request

here = os.path.dirname(os.path.abspath(__file__))
top = os.path.dirname(here)
venv = os.path.join(here, '.venv-wsgi')
rounds = int(os.environ.get('ROUNDS', '3'))
duration = os.environ.get('DURATION', '5')
warmup = os.environ.get('WARMUP', '1')
port = int(os.environ.get('WSGI_PORT', '18100'))
corral = os.environ.get('CORRAL_WSGI', os.path.join(top, '.build/release/corral-python'))
results_path = os.environ.get('BENCH_RESULTS_WSGI', os.path.join(here, 'results/wsgi.md'))
scratch = tempfile.mkdtemp(prefix='corral-bench-wsgi.')
SERVER_CPU = ['taskset', '-c', '0']     # the server and every thread and process it starts
LOAD_CPU = ['taskset', '-c', '1']


def setup():
    """The venv from Debian's python3 (libpython3.11 is the one corral-python embeds)."""
    python = os.path.join(venv, 'bin/python')
    if not os.path.exists(python):
        subprocess.run(['/usr/bin/python3', '-m', 'venv', venv], check=True)
    pip = [os.path.join(venv, 'bin/pip'), 'install', '-q']
    probe = "import flask, gevent, gunicorn, granian, meinheld"
    if subprocess.run([python, '-c', probe], capture_output=True).returncode != 0:
        subprocess.run(pip + ['flask', 'gevent', 'gunicorn', 'granian', 'wheel', 'setuptools', 'greenlet'], check=True)
        # meinheld 1.0.2 pins greenlet < 0.5; it builds against a current one when forced.
        subprocess.run(pip + ['--no-deps', '--no-build-isolation', 'meinheld==1.0.2'], check=True)
    if not os.access(corral, os.X_OK):
        sys.exit('bench wsgi: %s is missing (make bench builds it)' % corral)


def gunicorn(worker, extra=()):
    return lambda app, log: [os.path.join(venv, 'bin/gunicorn'), '-w', '1', '-k', worker, *extra,
                             '-b', '127.0.0.1:%d' % port, '--access-logfile', log, '--chdir', here, app]


def corral_wsgi(mode):
    return lambda app, log: [corral, *mode, '--virtualenv', venv, '--chdir', here, '-b', '127.0.0.1:%d' % port,
                             '--access-logfile', log, app]


def granian(app, log):
    module, _, variable = app.partition(':')
    return [os.path.join(venv, 'bin/granian'), '--interface', 'wsgi', '--workers', '1', '--host', '127.0.0.1',
            '--port', str(port), '--access-log', '--working-dir', here, '%s:%s' % (module, variable)]


# (name, command for an app, which rows it runs)
servers = [
    ('corral', corral_wsgi([]), ['bare', 'flask']),
    ('corral-gevent', corral_wsgi(['-k', 'gevent']), ['sleep']),
    ('corral-threads256', corral_wsgi(['--threads', '256']), ['sleep']),
    ('meinheld', gunicorn('egg:meinheld#gunicorn_worker'), ['bare', 'flask', 'sleep']),
    ('gevent', gunicorn('gevent'), ['flask', 'sleep']),
    ('gthread', gunicorn('gthread', ['--threads', '4']), ['flask', 'sleep']),
    ('granian', granian, ['bare', 'flask', 'sleep']),
]
rows = {'bare': ('wsgi_apps:bare', '/', 64), 'flask': ('wsgi_apps:app', '/', 64), 'sleep': ('wsgi_apps:app', '/sleep', 256)}


def serving_pid(process, pinned=True):
    """The process that serves: gunicorn's (and granian's) worker, not its master."""
    for _ in range(100):
        try:
            children = open('/proc/%d/task/%d/children' % (process.pid, process.pid)).read().split()
        except OSError:
            children = []
        if children or 'corral-python' in os.path.basename(process.args[len(SERVER_CPU) if pinned else 0]):
            return int(children[0]) if children else process.pid
        time.sleep(0.05)
    return process.pid


def rss_kb(pid):
    for line in open('/proc/%d/status' % pid):
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
    return 0


def measure(name, command, row, expect=b'Hello, World!', env=None, spread=False):
    """req/s, idle RSS and RSS after the load of `command` serving `row` (app, path, connections),
    once it answers `expect` there. `spread`: nothing pinned, the server's workers and wrk (a
    thread a core) share every core, as where users deploy."""
    app, path, connections = rows[row] if isinstance(row, str) else row
    tag = row if isinstance(row, str) else path.strip('/').replace('/', '-')
    log = os.path.join(scratch, '%s-%s.access.log' % (name, tag))
    output = open(os.path.join(scratch, '%s-%s.out' % (name, tag)), 'w')
    server_cpu, load = ([], ['wrk', '-t%d' % os.cpu_count()]) if spread else (SERVER_CPU, LOAD_CPU + ['wrk', '-t1'])
    process = subprocess.Popen(server_cpu + command(app, log), stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                               env=env)
    try:
        url = 'http://127.0.0.1:%d%s' % (port, path)
        for _ in range(200):
            try:
                if urllib.request.urlopen(url, timeout=2).read() == expect:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit('bench: %s did not answer as expected at %s (see %s)' % (name, url, output.name))
        time.sleep(0.5)
        idle_rss = rss_kb(serving_pid(process, not spread))
        subprocess.run(load + ['-c%d' % connections, '-d%ss' % warmup, url], capture_output=True)
        run = subprocess.run(load + ['-c%d' % connections, '-d%ss' % duration, url], capture_output=True, text=True)
        rate = float(re.search(r'Requests/sec:\s+([\d.]+)', run.stdout).group(1))
        errors = re.search(r'Non-2xx or 3xx responses: (\d+)', run.stdout)
        if errors:
            sys.exit('bench: %s answered %s errors in row %s' % (name, errors.group(1), tag))
        return rate, idle_rss, rss_kb(serving_pid(process, not spread))
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        time.sleep(0.3)


def main():
    setup()
    figures = {}
    for round_number in range(rounds):
        order = servers[round_number % len(servers):] + servers[:round_number % len(servers)]
        for name, command, server_rows in order:
            for row in server_rows:
                rate, idle_rss, loaded_rss = measure(name, command, row)
                figures.setdefault((name, row), []).append((rate, idle_rss, loaded_rss))
                print('bench wsgi: round %d %-18s %-6s %9.0f req/s  RSS idle %d KiB, after %d KiB'
                      % (round_number + 1, name, row, rate, idle_rss, loaded_rss), flush=True)
    median = {key: statistics.median(rate for rate, _, _ in values) for key, values in figures.items()}
    idle = {key: statistics.median(rss for _, rss, _ in values) for key, values in figures.items()}
    loaded = {key: statistics.median(rss for _, _, rss in values) for key, values in figures.items()}
    lines = ['| row | server | req/s (median of %d) | corral ÷ server | idle RSS (KiB) | RSS after load (KiB) |' % rounds,
             '|---|---|---|---|---|---|']
    for row in rows:
        ours = [name for name, _, server_rows in servers if name.startswith('corral') and row in server_rows]
        for name, _, server_rows in servers:
            if row not in server_rows:
                continue
            best_ours = max(median[(n, row)] for n in ours)
            if name.startswith('corral'):
                ratio = '—'
            elif median[(name, row)] == 0:
                ratio = '∞ (every request timed out: the view blocks the worker)'
            else:
                ratio = '%.2f×' % (best_ours / median[(name, row)])
            lines.append('| %s | %s | %.0f | %s | %d | %d |' % (row, name, median[(name, row)], ratio,
                                                               idle[(name, row)], loaded[(name, row)]))
    allocs = subprocess.run(['bash', os.path.join(here, 'allocs.sh')], capture_output=True, text=True, env=dict(
        os.environ, CORRAL_HELLO=corral, CORRAL_WSGI_APP='wsgi_apps:bare', CORRAL_VIRTUALENV=venv, CORRAL_CHDIR=here,
        A='1000', B='6000'))
    if allocs.returncode != 0:
        sys.exit('bench wsgi: allocs.sh failed:\n' + allocs.stderr[-2000:])
    lines.append('')
    lines.append('corral-python, bare hello: ' + allocs.stdout.strip())
    table = '\n'.join(lines)
    print(table)
    os.makedirs(os.path.dirname(results_path), exist_ok=True)
    with open(results_path, 'w') as out:
        out.write(table + '\n')
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == '__main__':
    main()

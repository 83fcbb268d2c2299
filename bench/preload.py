#!/usr/bin/env python3
"""bench/preload.py — preload_app's memory and restart times, corral beside gunicorn, in one run.

    python3 bench/preload.py      (bench/run.sh calls it as its preload step)

The app is tests/wsgi/preloaded.py holding DATA_MB [200] MB built at import (1 KiB bytes
objects). Each server runs WORKERS [5] workers of it from the same venv (bench/.venv-wsgi):
  corral-preload   corrald with preload_app = true (one import, forked workers)
  corral           corrald without it (each worker imports)
  gunicorn-preload gunicorn --preload (sync workers)
and the table gives, once all workers answer:
  - the proportional set size (Pss in /proc/PID/smaps_rollup) of the workers together, and of the
    process that imported for them (corral's preloader, gunicorn's master), against one worker's
    RSS (the goal: the workers' total PSS at most 1.2 times one worker's RSS);
  - the time from start until every worker is ready (corrald's log says so; gunicorn's workers
    are counted when WORKERS of them answer one request each on fresh connections);
  - crash-to-ready: a worker killed with SIGKILL, until its replacement is ready (corrald's
    debug log line "worker pid N ready"; gunicorn's: until the new worker's pid answers a request),
    the median of KILLS [10].
Knobs: WORKERS, DATA_MB, KILLS, PRELOAD_PORT [18200], CORRALD [.build/release/corrald],
BENCH_RESULTS_PRELOAD [bench/results/preload.md].
"""
import json, os, signal, statistics, subprocess, sys, tempfile, time, urllib.request

import wsgi

workers = int(os.environ.get('WORKERS', '5'))
data_mb = int(os.environ.get('DATA_MB', '200'))
kills = int(os.environ.get('KILLS', '10'))
port = int(os.environ.get('PRELOAD_PORT', '18200'))
corrald = os.environ.get('CORRALD', os.path.join(wsgi.top, '.build/release/corrald'))
results_path = os.environ.get('BENCH_RESULTS_PRELOAD', os.path.join(wsgi.here, 'results/preload.md'))
site = os.path.join(wsgi.top, 'tests/wsgi')
scratch = tempfile.mkdtemp(prefix='corral-bench-preload.')


def children(pid):
    try:
        return [int(child) for child in open('/proc/%d/task/%d/children' % (pid, pid)).read().split()]
    except OSError:
        return []


def comm(pid):
    try:
        return open('/proc/%d/comm' % pid).read().strip()
    except OSError:
        return ''


def kib(pid, field, path='smaps_rollup'):
    for line in open('/proc/%d/%s' % (pid, path)):
        if line.startswith(field + ':'):
            return int(line.split()[1])
    return 0


def served_by():
    """The pid of the worker that answered a request on a fresh connection."""
    return json.loads(urllib.request.urlopen('http://127.0.0.1:%d/' % port, timeout=5).read())['pid']


def wait_for(condition, timeout=120, step=0.002):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    sys.exit('bench preload: timed out waiting')


def environment():
    return dict(os.environ, PRELOAD_IMPORTS=os.path.join(scratch, 'imports'), PRELOAD_DATA_KIB=str(data_mb * 1024))


def run_corral(preload):
    name = 'corral-preload' if preload else 'corral'
    config = os.path.join(scratch, name + '.toml')
    log = os.path.join(scratch, name + '.log')
    with open(config, 'w') as out:
        out.write('wsgi_app = "preloaded:app"\nchdir = "%s"\nvirtualenv = "%s"\nworkers = %d\npreload_app = %s\n'
                  'boot_timeout = 120\nloglevel = "debug"\nbind = ["127.0.0.1:%d"]\npidfile = "%s"\n'
                  % (site, wsgi.venv, workers, 'true' if preload else 'false', port, os.path.join(scratch, name + '.pid')))
    started = time.monotonic()
    process = subprocess.Popen([corrald, '-c', config], stdout=open(log, 'w'), stderr=subprocess.STDOUT,
                               env=environment(), start_new_session=True)
    try:
        text = lambda: open(log).read()
        wait_for(lambda: 'workers of generation 1 ready' in text())
        boot = time.monotonic() - started
        worker_pids = [pid for pid in children(process.pid) if comm(pid) != 'corral-preload']
        importers = [pid for pid in children(process.pid) if comm(pid) == 'corral-preload']
        memory = measure_memory(worker_pids, importers)
        restarts = []
        for _ in range(kills):
            victim = served_by()
            before = text().count('ready')
            killed_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            wait_for(lambda: any('worker pid %d ready' % pid in text() for pid in children(process.pid) if pid != victim)
                     and text().count('ready') > before)
            restarts.append(time.monotonic() - killed_at)
        return name, memory, boot, statistics.median(restarts)
    finally:
        stop(process)


def run_gunicorn():
    log = os.path.join(scratch, 'gunicorn.log')
    started = time.monotonic()
    process = subprocess.Popen([os.path.join(wsgi.venv, 'bin/gunicorn'), '--preload', '-w', str(workers), '-b',
                                '127.0.0.1:%d' % port, '--chdir', site, 'preloaded:app'],
                               stdout=open(log, 'w'), stderr=subprocess.STDOUT, env=environment(), start_new_session=True)
    try:
        answered = set()

        def all_answer():
            try:
                answered.add(served_by())
            except OSError:
                pass
            return len(answered & set(children(process.pid))) == workers
        wait_for(all_answer)
        boot = time.monotonic() - started
        memory = measure_memory(children(process.pid), [process.pid])
        restarts = []
        text = lambda: open(log).read()
        for _ in range(kills):
            victim = served_by()
            before = text().count('Booting worker with pid')
            killed_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            wait_for(lambda: text().count('Booting worker with pid') > before)
            restarts.append(time.monotonic() - killed_at)
        return 'gunicorn-preload', memory, boot, statistics.median(restarts)
    finally:
        stop(process)


def stop(process):
    """A graceful stop, which waits for the workers (they hold the port), else SIGKILL."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def measure_memory(worker_pids, importers):
    time.sleep(1)   # settled: every worker has served and collected
    return {
        'workers_pss': sum(kib(pid, 'Pss') for pid in worker_pids),
        'importer_pss': sum(kib(pid, 'Pss') for pid in importers),
        'one_rss': max(kib(pid, 'VmRSS', 'status') for pid in worker_pids),
    }


def main():
    wsgi.setup()
    if not os.access(corrald, os.X_OK):
        sys.exit('bench preload: %s is missing (make bench builds it)' % corrald)
    rows = [run_corral(True), run_corral(False), run_gunicorn()]
    lines = ['%d workers of an app holding %d MB built at import (tests/wsgi/preloaded.py)' % (workers, data_mb), '',
             '| server | workers\' PSS (MiB) | importer\'s PSS (MiB) | one worker\'s RSS (MiB) | workers\' PSS ÷ one RSS '
             '| start to all ready (ms) | crash to ready (ms, median of %d) |' % kills,
             '|---|---|---|---|---|---|---|']
    for name, memory, boot, restart in rows:
        lines.append('| %s | %.0f | %.0f | %.0f | %.2f | %.0f | %.1f |' % (
            name, memory['workers_pss'] / 1024, memory['importer_pss'] / 1024, memory['one_rss'] / 1024,
            memory['workers_pss'] / memory['one_rss'], boot * 1000, restart * 1000))
    table = '\n'.join(lines)
    print(table)
    os.makedirs(os.path.dirname(results_path), exist_ok=True)
    with open(results_path, 'w') as out:
        out.write(table + '\n')


if __name__ == '__main__':
    main()

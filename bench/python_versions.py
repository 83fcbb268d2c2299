#!/usr/bin/env python3
"""bench/python_versions.py — Flask's hello with corral-python and with gunicorn + gevent, on each
Python corral builds a worker for, in one run.

    python3 bench/python_versions.py      (bench/run.sh calls it after bench/wsgi.py)

Interpreters: Debian 12's python3 (3.11, the default worker), pyenv's 3.13 (corral-python3.13 from
`make python-worker … CONFIG=release`), and Debian unstable's python3 (3.14), whose servers run
inside the unstable root that `make test` keeps (tests/debian/release.sh sid builds its worker);
wrk runs here, the network being shared. For each, a venv of that Python with Flask, gevent and
gunicorn (bench/.venv-pyX.Y). As in bench/wsgi.py: one worker process each, pinned with all its
threads to core 0, wrk -t1 -c64 on core 1, access logs on, ROUNDS rounds [3], median reported
with the ratio corral ÷ gunicorn + gevent. Writes bench/results/python_versions.md.
"""
import os, shutil, statistics, subprocess, sys, tempfile

import wsgi

here, top = wsgi.here, wsgi.top
results_path = os.environ.get('BENCH_RESULTS_PYTHONS', os.path.join(here, 'results/python_versions.md'))
pyenv = os.path.join(os.environ.get('PYENV_ROOT', os.path.expanduser('~/.pyenv')), 'versions')
sid = os.path.join(top, '.build/roots/sid')
FLASK = ('wsgi_apps:app', '/', 64)


def pyenv_python(minor):
    found = sorted(v for v in os.listdir(pyenv) if v.startswith(minor + '.')) if os.path.isdir(pyenv) else []
    return os.path.join(pyenv, found[-1], 'bin/python3') if found else None


def inside(root):
    """The command prefix that runs a command in `root` (tools/in-root.sh), or none for here."""
    return [os.path.join(top, 'tools/in-root.sh'), root] if root else []


def prepare(root, python, minor, worker):
    """The venv, and the worker built for that Python if it is missing."""
    venv = os.path.join(here, '.venv-py%s' % minor)
    run = inside(root)
    if not os.path.exists(os.path.join(venv, 'bin/python')) or subprocess.run(
            run + [os.path.join(venv, 'bin/python'), '-c', 'import flask, gevent, gunicorn, packaging'], capture_output=True).returncode != 0:
        subprocess.run(run + [python, '-m', 'venv', '--clear', venv], check=True)
        subprocess.run(run + [os.path.join(venv, 'bin/pip'), 'install', '-q', 'flask', 'gevent', 'gunicorn', 'packaging'], check=True)
    if not os.access(worker, os.X_OK):
        if root:
            subprocess.run(['bash', os.path.join(top, 'tests/debian/release.sh'), 'sid'], check=True)
        else:
            subprocess.run([os.path.join(top, 'tools/python-worker.sh'), python, 'release'], check=True)
    return venv


def servers(root, venv, worker):
    run = inside(root)
    bind = '127.0.0.1:%d' % wsgi.port
    return [
        ('corral', lambda app, log: run + [worker, '--virtualenv', venv, '--chdir', here, '-b', bind, '--access-logfile', log, app]),
        ('gunicorn + gevent', lambda app, log: run + [os.path.join(venv, 'bin/gunicorn'), '-w', '1', '-k', 'gevent', '-b', bind,
                                                      '--access-logfile', log, '--chdir', here, app]),
    ]


def main():
    # The access logs where a root's servers see them too (a root has a /tmp of its own).
    os.makedirs(os.path.join(top, '.build'), exist_ok=True)
    wsgi.scratch = tempfile.mkdtemp(prefix='bench-python-versions.', dir=os.path.join(top, '.build'))
    interpreters = [('3.11', None, '/usr/bin/python3', os.path.join(top, '.build/release/corral-python'))]
    if pyenv_python('3.13'):
        interpreters.append(('3.13', None, pyenv_python('3.13'), os.path.join(top, '.build/release/corral-python3.13')))
    if os.geteuid() == 0 and (os.path.isdir(sid) or os.environ.get('BENCH_SID') == '1'):
        interpreters.append(('3.14', sid, '/usr/bin/python3', os.path.join(top, '.build/sid/static/release/corral-python')))
    figures = {}
    for minor, root, python, worker in interpreters:
        venv = prepare(root, python, minor, worker)
        version = subprocess.run(inside(root) + [os.path.join(venv, 'bin/python'), '-c', 'import sys; print(sys.version.split()[0])'],
                                 capture_output=True, text=True, check=True).stdout.strip()
        for round_number in range(wsgi.rounds):
            pair = servers(root, venv, worker)
            for name, command in pair[round_number % 2:] + pair[:round_number % 2]:
                rate, _, _ = wsgi.measure('%s-%s' % (name.split()[0], minor), command, FLASK)
                figures.setdefault((version, name), []).append(rate)
                print('bench python versions: %s round %d %-18s %9.0f req/s' % (version, round_number + 1, name, rate), flush=True)
    lines = ['| Python | corral req/s | gunicorn + gevent req/s | corral ÷ gunicorn + gevent |', '|---|---|---|---|']
    for version in dict.fromkeys(version for version, _ in figures):
        ours, theirs = (statistics.median(figures[(version, name)]) for name in ('corral', 'gunicorn + gevent'))
        lines.append('| %s | %.0f | %.0f | %.2f× |' % (version, ours, theirs, ours / theirs))
    table = '\n'.join(lines)
    print(table)
    os.makedirs(os.path.dirname(results_path), exist_ok=True)
    with open(results_path, 'w') as out:
        out.write('Flask hello, one worker pinned to core 0, wrk -t1 -c64 on core 1, median of %d rounds\n\n' % wsgi.rounds + table + '\n')
    shutil.rmtree(wsgi.scratch, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())

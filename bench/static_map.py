#!/usr/bin/env python3
"""bench/static_map.py — a Django admin CSS file through corral-python's static_map beside the same
file through WhiteNoise under gunicorn, in one run.

    python3 bench/static_map.py      (bench/run.sh calls it as its static_map step)

The Django site is tests/wsgi/django_site; `collectstatic` gathers its admin files (hashed names,
ManifestStaticFilesStorage) into a scratch directory. Each server runs ONE worker process pinned
with all its threads to core 0 (wrk -t1 -c64 on core 1), access log on, and must answer the
file's bytes before it is measured:
  corral     corral-python --static-map /static=ROOT django_site.wsgi:application
  whitenoise gunicorn -w 1 (sync) with WhiteNoiseMiddleware, the same app and files
The file is admin/css/base.css (about 22 KB). ROUNDS [3] rounds, rotating the order; the median
is reported with the ratio corral ÷ WhiteNoise. Knobs as bench/wsgi.py's (ROUNDS, DURATION,
WARMUP, WSGI_PORT, CORRAL_WSGI); the table goes to BENCH_RESULTS_STATIC_MAP
[bench/results/static_map.md].
"""
import json, os, statistics, subprocess, sys

import wsgi

site = os.path.join(wsgi.top, 'tests/wsgi')
results_path = os.environ.get('BENCH_RESULTS_STATIC_MAP', os.path.join(wsgi.here, 'results/static_map.md'))


def setup():
    wsgi.setup()
    python = os.path.join(wsgi.venv, 'bin/python')
    if subprocess.run([python, '-c', 'import django, whitenoise'], capture_output=True).returncode != 0:
        subprocess.run([os.path.join(wsgi.venv, 'bin/pip'), 'install', '-q', 'django==5.2.*', 'whitenoise'], check=True)
    root = os.path.join(wsgi.scratch, 'static')
    environment = dict(os.environ, DJANGO_SETTINGS_MODULE='django_site.settings', DJANGO_STATIC_ROOT=root, DJANGO_MANIFEST='1')
    subprocess.run([python, '-m', 'django', 'collectstatic', '--noinput'], cwd=site, env=environment, check=True,
                   capture_output=True)
    hashed = json.load(open(os.path.join(root, 'staticfiles.json')))['paths']['admin/css/base.css']
    return root, hashed, environment


def main():
    root, hashed, environment = setup()
    body = open(os.path.join(root, hashed), 'rb').read()
    row = ('django_site.wsgi:application', '/static/' + hashed, 64)
    servers = [
        ('corral', lambda app, log: [wsgi.corral, '--virtualenv', wsgi.venv, '--chdir', site, '-b', '127.0.0.1:%d' % wsgi.port,
                                     '--access-logfile', log, '--static-map', '/static=' + root, app], environment),
        ('whitenoise', lambda app, log: [os.path.join(wsgi.venv, 'bin/gunicorn'), '-w', '1', '-b', '127.0.0.1:%d' % wsgi.port,
                                         '--access-logfile', log, '--chdir', site, app],
         dict(environment, DJANGO_WHITENOISE='1')),
    ]
    figures = {}
    for round_number in range(wsgi.rounds):
        for name, command, env in servers[round_number % 2:] + servers[:round_number % 2]:
            rate, idle_rss, loaded_rss = wsgi.measure(name, command, row, expect=body, env=env)
            figures.setdefault(name, []).append((rate, idle_rss, loaded_rss))
            print('bench static_map: round %d %-10s %9.0f req/s  RSS idle %d KiB, after %d KiB'
                  % (round_number + 1, name, rate, idle_rss, loaded_rss), flush=True)
    median = {name: statistics.median(rate for rate, _, _ in values) for name, values in figures.items()}
    lines = ['%s (%d bytes), one worker on one core, wrk -t1 -c64 on the other' % (hashed, len(body)), '',
             '| server | req/s (median of %d) | corral ÷ server | RSS after load (KiB) |' % wsgi.rounds, '|---|---|---|---|']
    for name, _, _ in servers:
        ratio = '—' if name == 'corral' else '%.1f×' % (median['corral'] / median[name])
        lines.append('| %s | %.0f | %s | %d |' % (name, median[name], ratio,
                                                  statistics.median(rss for _, _, rss in figures[name])))
    table = '\n'.join(lines)
    print(table)
    os.makedirs(os.path.dirname(results_path), exist_ok=True)
    with open(results_path, 'w') as out:
        out.write(table + '\n')


if __name__ == '__main__':
    sys.path.insert(0, wsgi.here)
    main()

#!/usr/bin/env python3
"""bench/autobahn.py — every Autobahn TestSuite case (kosoku runs them, sections 1-10 and 12-13
with permessage-deflate) against corral-python's asgi worker serving bench/asgi_apps.py:echo;
`make test` runs a fifth of 12-13. Writes the verdicts and the time to results/autobahn.md
[BENCH_RESULTS_AUTOBAHN]; exits 1 if any case fails.
"""
import collections, json, os, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import asgi  # noqa: E402
import websocket  # noqa: E402
import wsgi  # noqa: E402

results_path = os.environ.get('BENCH_RESULTS_AUTOBAHN', os.path.join(wsgi.here, 'results/autobahn.md'))


def main():
    asgi.setup()
    kosoku = os.path.join(asgi.venv, 'bin/kosoku')
    if not os.access(kosoku, os.X_OK):
        subprocess.run([os.path.join(asgi.venv, 'bin/pip'), 'install', '-q', 'kosoku==0.1.0'], check=True)
    process = websocket.start('corral', asgi.corral)
    reports = tempfile.mkdtemp(prefix='corral-autobahn.')
    try:
        started = time.monotonic()
        run = subprocess.run(wsgi.LOAD_CPU + [kosoku, asgi.bind, '-p', '2', '-o', reports], capture_output=True, text=True)
        elapsed = time.monotonic() - started
    finally:
        websocket.stop(process)
    verdicts = collections.Counter()
    failed = []
    for cases in json.load(open(os.path.join(reports, 'index.json'))).values():
        for case, result in cases.items():
            verdict = '%s/%s' % (result['behavior'], result['behaviorClose'])
            verdicts[verdict] += 1
            if result['behavior'] not in ('OK', 'NON-STRICT', 'INFORMATIONAL') or result['behaviorClose'] not in ('OK', 'INFORMATIONAL'):
                failed.append('%s %s' % (case, verdict))
    text = ('Autobahn TestSuite (kosoku), all %d cases against corral-python -k asgi, two at a time, %.0f s: %s%s\n'
            % (sum(verdicts.values()), elapsed, ', '.join('%d %s' % (n, v) for v, n in sorted(verdicts.items())),
               '; FAILED: ' + ', '.join(failed) if failed else ''))
    print(text, end='')
    os.makedirs(os.path.dirname(results_path), exist_ok=True)
    with open(results_path, 'w') as out:
        out.write(text)
    sys.exit(1 if failed or run.returncode != 0 else 0)


if __name__ == '__main__':
    main()

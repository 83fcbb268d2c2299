"""A real Flask app for corral-python's tests: the shapes a Flask site answers with."""
import hashlib, logging, os, threading, time
from flask import Flask, jsonify, redirect, request, send_file, Response, stream_with_context

app = Flask(__name__)
here = os.path.dirname(os.path.abspath(__file__))
lock = threading.Lock()
concurrency = {'now': 0, 'most': 0}

class Teapot(Exception):
    pass

@app.errorhandler(Teapot)
def teapot(error):
    return jsonify(error='handled'), 418

@app.route('/')
def index():
    return 'Hello, World!'

@app.route('/json', methods=['POST'])
def echo_json():
    return jsonify(received=request.get_json(), method=request.method)

@app.route('/form', methods=['POST'])
def form():
    return jsonify(name=request.form['name'], count=len(request.form))

@app.route('/upload', methods=['POST'])
def upload():
    data = request.files['file'].read()
    return jsonify(size=len(data), sha256=hashlib.sha256(data).hexdigest(), field=request.form.get('note'))

@app.route('/stream')
def stream():
    def generate():
        for i in range(5):
            yield 'line %d\n' % i
    return Response(stream_with_context(generate()), mimetype='text/plain')

@app.route('/file')
def file():
    return send_file(os.path.join(here, 'static.txt'), mimetype='text/plain')

@app.route('/go')
def go():
    return redirect('/landing')

@app.route('/log')
def log():
    logging.getLogger('app').info('logged %s', request.args.get('message', ''))
    return 'logged\n'

@app.route('/teapot')
def raise_handled():
    raise Teapot()

@app.route('/crash')
def crash():
    raise RuntimeError('the view crashed on purpose')

@app.route('/environ')
def environ():
    keys = ['SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING', 'wsgi.url_scheme', 'REMOTE_ADDR', 'REMOTE_PORT', 'SERVER_NAME',
            'SERVER_PORT', 'HTTP_X_FORWARDED_FOR', 'wsgi.multithread']
    answer = {key: request.environ.get(key) for key in keys}
    answer['url'] = request.url
    return jsonify(answer)

@app.route('/sleep')
def sleep():
    with lock:
        concurrency['now'] += 1
        concurrency['most'] = max(concurrency['most'], concurrency['now'])
    time.sleep(float(request.args.get('s', '0.5')))
    with lock:
        concurrency['now'] -= 1
    return 'slept'

@app.route('/most')
def most():
    return str(concurrency['most'])

@app.route('/hang')
def hang():
    time.sleep(3600)
    return 'never'

@app.route('/signals')
def signals():
    import signal
    def describe(handler):
        if handler is None:
            return 'native'                  # a handler that Python did not install (corral's)
        return 'python' if callable(handler) else str(int(handler))   # 0 default, 1 ignored
    return ' '.join('%s=%s' % (name, describe(signal.getsignal(getattr(signal, name))))
                    for name in ('SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR1'))

@app.route('/child-mask')
def child_mask():
    import subprocess
    status = subprocess.run(['cat', '/proc/self/status'], capture_output=True, text=True).stdout
    return [line for line in status.splitlines() if line.startswith('SigBlk:')][0]

@app.route('/spin')
def spin():
    deadline = time.monotonic() + float(request.args.get('s', '3'))
    while time.monotonic() < deadline:   # holds the GIL (and, under gevent, the hub)
        pass
    return 'spun'

@app.route('/fork-terminate')
def fork_terminate():
    import multiprocessing
    child = multiprocessing.get_context('fork').Process(target=time.sleep, args=(60,))
    child.start()
    child.terminate()
    child.join(10)
    return str(child.exitcode)

@app.route('/pid')
def pid():
    return str(os.getpid())

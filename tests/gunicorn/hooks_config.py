"""A gunicorn config with every server hook, for corral's tests: each hook records that it ran
(one line in $HOOKS_LOG: the hook, then what it was given)."""
import os

workers = 2
boot_timeout = 20


def _record(*words):
    with open(os.environ['HOOKS_LOG'], 'a') as log:
        log.write(' '.join(str(word) for word in words) + '\n')


def on_starting(server):
    _record('on_starting', server.pid, server.num_workers, server.cfg.workers)


def when_ready(server):
    _record('when_ready', server.pid)


def on_reload(server):
    _record('on_reload', server.pid)


def pre_fork(server, worker):
    _record('pre_fork', worker.age)


def post_fork(server, worker):
    _record('post_fork', worker.pid, worker.age, server.pid)


def post_worker_init(worker):
    _record('post_worker_init', worker.pid)
    worker.log.info('post_worker_init ran in %s', worker.pid)


def pre_request(worker, req):
    _record('pre_request', worker.pid, req.method, req.path)
    if req.path == '/hook-raises':
        raise RuntimeError('pre_request raised on purpose')
    if req.path == '/hook-reaches':
        worker.tmp   # gunicorn's worker has it; corral's says what it offers


def post_request(worker, req, environ, resp):
    _record('post_request', worker.pid, req.path, resp.status_code)


def worker_int(worker):
    _record('worker_int', worker.pid)


def worker_abort(worker):
    _record('worker_abort', worker.pid)


def worker_exit(server, worker):
    _record('worker_exit', worker.pid)


def child_exit(server, worker):
    _record('child_exit', worker.pid)


def nworkers_changed(server, new_value, old_value):
    _record('nworkers_changed', new_value, old_value)


def pre_exec(server):
    _record('pre_exec', server.pid)


def on_exit(server):
    _record('on_exit', server.pid)

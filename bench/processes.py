"""The processes a benchmark starts (bench/supervisor.py, bench/migration.py): where corral's
release binaries and the bench venv's gunicorn are, starting each in its own session with its
output in a log, and stopping every one of them however the benchmark ends."""
import os
import signal
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
top = os.path.dirname(here)
CORRALD = os.environ.get("CORRALD", f"{top}/.build/release/corrald")
HELLO = os.environ.get("CORRAL_HELLO", f"{top}/.build/release/corral-example-hello")
GUNICORN = os.environ.get("GUNICORN", f"{here}/.venv/bin/gunicorn")
WORKER = os.environ.get("CORRAL_WORKER", f"{top}/.build/release/corral-worker")
# The measuring knobs run.sh passes on: rounds, and seconds per run and per warm-up.
ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "5"))
WARMUP = int(os.environ.get("WARMUP", "1"))
started = []


def die(message):
    print(f"bench: error: {message}", file=sys.stderr)
    stop_all()
    sys.exit(1)


def require_release():
    for path in (CORRALD, HELLO):
        if not os.access(path, os.X_OK):
            die(f"{path} is missing: build the release first (make bench does)")


def start(argv, log_path, cwd=None):
    process = subprocess.Popen(argv, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True, cwd=cwd)
    started.append(process)
    return process


def stop(process):
    """TERM to its process group, KILL after 15 s."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def stop_all():
    for process in started:
        stop(process)


def publish(text, variable="STATIC_RESULTS"):
    """Prints a benchmark's markdown section and appends it to the file `variable` names, if set."""
    print(text)
    if os.environ.get(variable):
        with open(os.environ[variable], "a") as f:
            f.write(text)


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])   # utime + stime

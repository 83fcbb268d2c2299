#!/usr/bin/env bash
# bench/setup.sh — installs what the benchmark needs, only what is missing, and checks it works.
#
#   bash bench/setup.sh          (run.sh calls it; safe to run any number of times)
#
# Debian packages: wrk, nginx-light (any nginx will do), valgrind, curl, binutils (strip), strace
# and linux-perf (step 7's syscall counts and profile), nghttp2-client (h2load) and h2o (step 7's
# HTTPS part), and,
# only when the python3 in PATH lacks them, python3-venv and python3-dev. `apt-get update` runs
# only when a package is missing.
# PyPI, in the venv bench/.venv: gunicorn, and meinheld 1.0.2, which only installs as
#   pip install wheel setuptools greenlet
#   pip install --no-deps --no-build-isolation meinheld==1.0.2
# Nothing is fetched from anywhere but Debian's archive and PyPI.
# Last, gunicorn with meinheld's worker (-k egg:meinheld#gunicorn_worker) is started on a spare
# port and must answer "Hello, World!", or the script fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"
PYTHON="${PYTHON:-python3}"

# --- Debian packages -------------------------------------------------------------------------
missing=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
{ command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; } || missing+=(nginx-light)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
command -v curl >/dev/null 2>&1 || missing+=(curl)
[ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v strip >/dev/null 2>&1 || missing+=(binutils)
command -v setsid >/dev/null 2>&1 || missing+=(util-linux)
command -v strace >/dev/null 2>&1 || missing+=(strace)
command -v perf >/dev/null 2>&1 || missing+=(linux-perf)
command -v pgrep >/dev/null 2>&1 || missing+=(procps)
# bench/tls.py: HTTP/2's load generator and the other HTTP/2 server it compares with.
command -v h2load >/dev/null 2>&1 || missing+=(nghttp2-client)
command -v h2o >/dev/null 2>&1 || missing+=(h2o)
if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
    have_pkg python3-venv || missing+=(python3-venv)
fi
# meinheld is a C extension built from source: it needs Python.h and a C compiler.
if ! "$PYTHON" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null; then
    have_pkg python3-dev || missing+=(python3-dev)
fi
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || missing+=(gcc)

if [ ${#missing[@]} -gt 0 ]; then
    echo "bench setup: installing Debian packages: ${missing[*]}"
    if [ "$(id -u)" = 0 ]; then SUDO=(); else SUDO=(sudo); fi
    "${SUDO[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The Debian nginx package starts a system nginx on port 80; the benchmark runs its own.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || bench_die "nginx is still missing after apt-get"

# --- gunicorn + meinheld in bench/.venv --------------------------------------------------------
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
    echo "bench setup: creating $venv"
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import gunicorn' 2>/dev/null; then
    echo "bench setup: installing gunicorn (PyPI)"
    "$venv/bin/pip" install -q gunicorn
fi
if ! "$venv/bin/python" -c 'import meinheld, greenlet' 2>/dev/null; then
    echo "bench setup: installing meinheld 1.0.2 (PyPI)"
    "$venv/bin/pip" install -q wheel setuptools greenlet
    "$venv/bin/pip" install -q --no-deps --no-build-isolation meinheld==1.0.2
fi
"$venv/bin/python" -c 'import gunicorn, meinheld' \
    || bench_die "gunicorn or meinheld does not import in $venv; remove it and run setup again"

# --- check that gunicorn + meinheld serves ---------------------------------------------------
bench_init
port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat > "$BENCH_WORK/hello_wsgi.py" <<'APP'
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello, World!"]
APP
log="$BENCH_WORK/gunicorn.log"
extra=()   # gunicorn >= 27 opens a control socket under ~/.gunicorn unless told not to
[[ "$("$venv/bin/gunicorn" --help 2>/dev/null || true)" == *--no-control-socket* ]] && extra=(--no-control-socket)
bench_start "$log" "$venv/bin/gunicorn" "${extra[@]}" --chdir "$BENCH_WORK" -w 1 -k egg:meinheld#gunicorn_worker \
    -b "127.0.0.1:$port" hello_wsgi:app
gpid=$BENCH_LAST_PID
bench_wait_port "$port" "$gpid" "$log" 30
bench_check_body "$port" "gunicorn+meinheld"
grep -q 'meinheld' "$log" || bench_die "gunicorn did not report using meinheld's worker; its log: $(cat "$log")"
bench_stop "$gpid" TERM 10
echo "bench setup: ok — wrk, nginx, valgrind; gunicorn $("$venv/bin/python" -c 'import gunicorn; print(gunicorn.__version__)') + meinheld 1.0.2 serves"

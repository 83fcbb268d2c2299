#!/usr/bin/env bash
# tests/debian/serve-flask.sh DEB_DIR — run inside a Debian root (tests/debian/release.sh): installs
# the release's packages from DEB_DIR with dpkg, makes a venv of Flask, gevent and FastAPI with the
# release's python3, and has corrald serve tests/wsgi/versions.py from it in gthread, gevent and
# asgi modes: each answer must name the venv's own interpreter. Purges the packages afterwards.
set -u
debs=${1:?usage: tests/debian/serve-flask.sh DEB_DIR}
top="$(cd "$(dirname "$0")/../.." && pwd)"
app=/srv/corral-flask
python_minor="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
daemon=""
cleanup() {
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    dpkg --purge corral-wsgi corral-python "corral-python$python_minor" corral >/dev/null 2>&1 || true
    rm -rf "$app"
}
trap cleanup EXIT
CHECKS=serve-flask
# shellcheck source=../checks.sh
source "$top/tests/checks.sh"

dpkg -i "$debs"/corral_*.deb "$debs"/corral-python3.*_*.deb "$debs"/corral-python_*.deb > /tmp/dpkg.log 2>&1 \
    || { cat /tmp/dpkg.log; exit 1; }
check "the packages install: corral-python is corral-python$python_minor" test "$(readlink /usr/bin/corral-python)" = "corral-python$python_minor"
rm -rf "$app" && mkdir -p "$app"
python3 -m venv "$app/venv" && "$app/venv/bin/pip" install -q 'flask==3.1.*' 'gevent>=24' 'fastapi>=0.115' > /tmp/pip.log 2>&1 \
    || { cat /tmp/pip.log; exit 1; }
expected="CPython $("$app/venv/bin/python3" -c 'import sys; print(sys.version.split()[0])') $app/venv"
answer() { [ "$(curl -s -m 10 http://127.0.0.1:8100/)" = "$expected" ]; }
for mode in "-k gthread --threads 2 versions:app" "-k gevent versions:app" "-k asgi versions:asgi"; do
    # shellcheck disable=SC2086 # the mode is words
    /usr/bin/corrald -b 127.0.0.1:8100 -w 2 --chdir "$top/tests/wsgi" --virtualenv "$app/venv" $mode > /tmp/corrald.log 2>&1 &
    daemon=$!
    check "corrald serves the venv's Flask app ($mode) with Python $python_minor: $expected" eventually answer
    answer || tail -20 /tmp/corrald.log >&2
    kill "$daemon" && wait "$daemon"
    check "and stops cleanly on SIGTERM ($mode)" test $? = 0
    daemon=""
done
if [ "$failures" != 0 ]; then echo "serve-flask: $failures check(s) failed" >&2; exit 1; fi
echo "serve-flask: all checks passed"

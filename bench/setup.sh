#!/usr/bin/env bash
# Installs what the benchmark needs, only when missing: wrk, nginx, valgrind (Debian), and
# gunicorn + meinheld in bench/.venv (PyPI). meinheld 1.0.2 only installs without build isolation.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

missing=""
for tool in wrk:wrk nginx:nginx-light valgrind:valgrind curl:curl; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${tool%%:*}" ] || missing="$missing ${tool#*:}"
done
python3 -c 'import venv, ensurepip' 2>/dev/null || missing="$missing python3-venv"
if [ -n "$missing" ]; then
    echo "bench: installing$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi

venv="$here/.venv"
if ! "$venv/bin/python" -c 'import gunicorn, meinheld' 2>/dev/null; then
    echo "bench: creating $venv with gunicorn + meinheld"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q wheel setuptools greenlet gunicorn
    "$venv/bin/pip" install -q --no-deps --no-build-isolation meinheld==1.0.2
fi

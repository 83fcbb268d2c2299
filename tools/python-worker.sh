#!/bin/bash
# Builds corral-python for one CPython: tools/python-worker.sh PYTHON [debug|release]
# (make python-worker PYTHON=/path/to/python3.X [CONFIG=release]).
#
# The worker embeds the interpreter, so it is built against that interpreter's headers and
# libpython (asked of PYTHON itself: its pkg-config directory and LIBDIR), in a build folder of its
# own (.build/python3.X), and linked with a run path to that LIBDIR. The result is
# .build/CONFIG/corral-python3.X beside corrald. One worker per X.Y, as uWSGI has one plugin per
# Python: the stable ABI cannot start an interpreter the way the worker does (PyConfig).
set -euo pipefail
python=${1:?usage: tools/python-worker.sh /path/to/python3.X [debug|release]}
config=${2:-debug}
cd "$(dirname "$0")/.."

if ! facts=$("$python" - <<'EOF'
import sys, sysconfig
get = sysconfig.get_config_var
print(sys.version_info[0], sys.version_info[1], sys.version.split()[0], get('Py_ENABLE_SHARED') or 0,
      get('Py_GIL_DISABLED') or 0, get('LIBPC') or '-', get('LIBDIR') or '-', get('INSTSONAME') or '-')
EOF
); then
    echo "python-worker: $python did not run (is it a CPython interpreter?)" >&2
    exit 1
fi
read -r major minor version shared free_threaded pkgconfig libdir soname <<<"$facts"
if [ "$major" -ne 3 ] || [ "$minor" -lt 10 ]; then
    echo "python-worker: $python is Python $version; corral-python needs CPython 3.10 or later" >&2
    exit 1
fi
if [ "$free_threaded" = 1 ]; then
    echo "python-worker: $python is a free-threaded build (Python ${version}t): corral-python's bridge relies on the GIL" \
         "(see ARCHITECTURE.md, \"Free-threaded Python\"); use the same version's default build" >&2
    exit 1
fi
if [ "$shared" != 1 ] || [ ! -e "$libdir/$soname" ]; then
    echo "python-worker: $python has no shared libpython (built without --enable-shared), which corral-python" \
         "embeds; rebuild it with it (pyenv: PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install $version)," \
         "or use a Python that has one (Debian's, uv's)" >&2
    exit 1
fi

scratch=.build/python$major.$minor
echo "python-worker: corral-python$major.$minor for Python $version ($libdir/$soname), in $scratch"
PKG_CONFIG_PATH="$pkgconfig" swift build -c "$config" --product corral-python --scratch-path "$scratch" \
    -Xlinker -rpath -Xlinker "$libdir"
mkdir -p ".build/$config"
ln -sf "$PWD/$scratch/$config/corral-python" ".build/$config/corral-python$major.$minor"
echo "python-worker: .build/$config/corral-python$major.$minor"

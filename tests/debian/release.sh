#!/usr/bin/env bash
# tests/debian/release.sh RELEASE [e2e] — corral on another Debian release (part of `make test`;
# needs root): a RELEASE root made with debootstrap and kept in .build/roots (tools/debian-root.sh),
# in which the packages are built for the release's own python3 (packaging/build-deb.sh, build
# folders in .build/RELEASE), installed, and made to serve a Flask app from a venv
# (serve-flask.sh); with e2e, tests/e2e/systemd.sh then runs there under the release's systemd.
# Says how long each part took.
set -euo pipefail
release=${1:?usage: tests/debian/release.sh RELEASE [e2e]}
top="$(cd "$(dirname "$0")/../.." && pwd)"
build="$top/.build/$release"
timed() {   # timed WHAT COMMAND...
    local what=$1 started=$SECONDS; shift
    if "$@"; then
        echo "debian $release: $what took $((SECONDS - started)) s"
    else
        echo "debian $release: $what FAILED after $((SECONDS - started)) s" >&2
        exit 1
    fi
}
if [ "$(id -u)" != 0 ]; then echo "debian $release: SKIPPED: a Debian root needs root (CI runs as root)"; exit 0; fi
timed "the root (debootstrap, kept in .build/roots/$release)" "$top/tools/debian-root.sh" "$release"
root="$top/.build/roots/$release"
rm -rf "$build/debs"
timed "building the packages" "$top/tools/in-root.sh" "$root" env BUILD_DIR="$build/build" STATIC_BUILD_DIR="$build/static" \
    DEB_DIR="$build/debs" bash "$top/packaging/build-deb.sh"
timed "serving Flask from a venv" "$top/tools/in-root.sh" "$root" bash "$top/tests/debian/serve-flask.sh" "$build/debs"
if [ "${2:-}" = e2e ]; then
    timed "the e2e under its systemd" "$top/tools/in-root.sh" "$root" env DEB_DIR="$build/debs" bash "$top/tests/e2e/systemd.sh"
fi

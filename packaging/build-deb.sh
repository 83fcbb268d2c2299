#!/usr/bin/env bash
# packaging/build-deb.sh — `make deb`: the packages for the machine's own Debian release, from a
# release build with the Swift runtime linked statically, so that they depend only on Debian's own
# libraries:
#   corral_<version>_<arch>.deb              corrald, corralctl, corral-worker, the units (no libpython)
#   corral-python3.X_<version>_<arch>.deb    the Python worker (WSGI and ASGI) for the release's
#                                            python3 (3.11 on Debian 12, 3.13 on Debian 13), which
#                                            depends on its libpython3.X; corrald serves a venv of
#                                            Python 3.X with /usr/bin/corral-python3.X
#   corral-python_<version>_<arch>.deb       the release's default: corral-python (and its old
#                                            name, corral-wsgi) as names for corral-python3.X
#   corral-wsgi_<version>_all.deb            transitional, for upgrades from the worker's old package
# Binaries are stripped; man pages come from swift-argument-parser's generate-manual plugin
# (packaging/man-pages.sh). BUILD_DIR (.build) and STATIC_BUILD_DIR (.build-static) are the build
# folders, DEB_DIR (the top of the tree) where the .deb files go; lintian runs when installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(dirname "$here")"
cd "$top"
version="$(sed -n '1s/^corral (\(.*\)) .*/\1/p' "$here/changelog")"
arch="$(dpkg --print-architecture)"
scratch="${STATIC_BUILD_DIR:-$top/.build-static}"
deb_dir="${DEB_DIR:-$top}"
mkdir -p "$deb_dir"
# The X.Y the Python worker embeds: the release's python3 (python3-dev's python3-embed.pc).
python_minor="$(pkg-config --modversion python3-embed | cut -d. -f1,2)"
worker="corral-python$python_minor"
stage="$(mktemp -d /tmp/corral-deb.XXXXXX)"
worker_stage="$(mktemp -d /tmp/corral-python3-deb.XXXXXX)"
default_stage="$(mktemp -d /tmp/corral-python-deb.XXXXXX)"
old_stage="$(mktemp -d /tmp/corral-wsgi-deb.XXXXXX)"
trap 'rm -rf "$stage" "$worker_stage" "$default_stage" "$old_stage"' EXIT

# The man pages first: the plugin builds the tools its own (dynamic) way, in the default build folder.
bash "$top/packaging/man-pages.sh" >/dev/null
manuals="${BUILD_DIR:-$top/.build}/man/man1"
for product in corrald corralctl corral-worker corral-python; do
    mkdir -p "$scratch"
    if ! swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product "$product" > "$scratch/build-deb.log" 2>&1; then
        cat "$scratch/build-deb.log" >&2
        echo "build-deb: building $product failed" >&2
        exit 1
    fi
    if ldd "$scratch/release/$product" | grep -q libswift; then
        echo "build-deb: $product still loads the Swift runtime dynamically" >&2
        exit 1
    fi
    # Only corral-python embeds Python.
    if [ "$product" != corral-python ] && ldd "$scratch/release/$product" | grep -q libpython; then
        echo "build-deb: $product links libpython; only corral-python may" >&2
        exit 1
    fi
done
# The binaries say the version the package has (CCorral's CORRAL_VERSION is the upstream part).
built="$("$scratch/release/corrald" --version)"
if [ "$built" != "${version%-*}" ]; then
    echo "build-deb: corrald --version says $built, packaging/changelog says ${version%-*}: update Sources/CCorral/shim.c" >&2
    exit 1
fi

# A stripped executable into a stage.
install_binary() {   # install_binary SOURCE DESTINATION
    install -m 0755 "$1" "$2"
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$2"
}
# Each package's copyright and changelog; its man pages (written by then) readable by all.
install_docs() {   # install_docs STAGE PACKAGE
    install -d "$1/usr/share/doc/$2"
    install -m 0644 "$here/copyright" "$1/usr/share/doc/$2/copyright"
    gzip -9n < "$here/changelog" > "$1/usr/share/doc/$2/changelog.Debian.gz"
    chmod 0644 "$1/usr/share/doc/$2/changelog.Debian.gz"
    if [ -d "$1/usr/share/man/man1" ]; then chmod 0644 "$1/usr/share/man/man1/"*.gz; fi
}

install -d "$stage/DEBIAN" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/usr/lib/sysusers.d" \
    "$stage/usr/lib/tmpfiles.d" "$stage/etc/corral" "$stage/usr/share/man/man1" \
    "$stage/usr/share/corral/www"
for product in corrald corralctl corral-worker; do
    install_binary "$scratch/release/$product" "$stage/usr/bin/$product"
done
gzip -9n < "$manuals/corrald.1" > "$stage/usr/share/man/man1/corrald.1.gz"
gzip -9n < "$manuals/corralctl.1" > "$stage/usr/share/man/man1/corralctl.1.gz"
gzip -9n < "$manuals/corral-worker.1" > "$stage/usr/share/man/man1/corral-worker.1.gz"
install -m 0644 systemd/corral.service systemd/corral.socket systemd/corral@.service systemd/corral@.socket \
    "$stage/lib/systemd/system/"
install -m 0644 systemd/corral.sysusers "$stage/usr/lib/sysusers.d/corral.conf"
install -m 0644 systemd/corral.tmpfiles "$stage/usr/lib/tmpfiles.d/corral.conf"
install -m 0644 "$here/corral.toml" "$stage/etc/corral/corral.toml"
install -m 0644 "$here/index.html" "$stage/usr/share/corral/www/index.html"
install_docs "$stage" corral
for script in postinst prerm postrm; do install -m 0755 "$here/$script" "$stage/DEBIAN/$script"; done
echo /etc/corral/corral.toml > "$stage/DEBIAN/conffiles"

# Depends: the Debian packages that hold the shared libraries the binaries under $1 load.
depends_of() {
    for binary in "$1"/usr/bin/*; do ldd "$binary"; done | awk '/=>/ { print $3 }' | sort -u |
        while read -r library; do dpkg -S "$(readlink -f "$library")" 2>/dev/null || dpkg -S "$library" 2>/dev/null || true; done |
        cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g'
}
depends="$(depends_of "$stage")"
installed_size="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: corral
Version: $version
Architecture: $arch
Maintainer: corral developers <corral@example.org>
Installed-Size: $installed_size
Depends: $depends, systemd
Section: httpd
Priority: optional
Homepage: https://github.com/corral/corral
Description: pre-fork HTTP process supervisor and worker engine
 corrald keeps a set of worker processes alive behind its listening sockets, in
 the gunicorn tradition: gunicorn's settings and signals, zero-downtime reloads
 that keep the old workers when the new ones fail, crash and hang recovery, and
 first-class systemd and journald integration. supervisorctl and corralctl
 drive it through its control socket. corral-worker serves HTTP/1.1 from a
 picoev-style event loop.
CONTROL
deb="$deb_dir/corral_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "built $deb ($(du -h "$deb" | cut -f1)); Depends: $depends, systemd"

# corral-python3.X: the Python worker, which links the release's libpython3.X. One package per
# X.Y, as uWSGI has one plugin per Python: a venv of Python 3.X is served by corral-python3.X.
install -d "$worker_stage/DEBIAN" "$worker_stage/usr/bin" "$worker_stage/usr/share/man/man1"
install_binary "$scratch/release/corral-python" "$worker_stage/usr/bin/$worker"
gzip -9n < "$manuals/corral-python.1" > "$worker_stage/usr/share/man/man1/$worker.1.gz"
install_docs "$worker_stage" "$worker"
worker_depends="$(depends_of "$worker_stage")"
cat > "$worker_stage/DEBIAN/control" <<CONTROL
Package: $worker
Version: $version
Architecture: $arch
Maintainer: corral developers <corral@example.org>
Installed-Size: $(du -sk --exclude=DEBIAN "$worker_stage" | cut -f1)
Depends: corral (= $version), $worker_depends
Suggests: python$python_minor-venv
Section: httpd
Priority: optional
Homepage: https://github.com/corral/corral
Description: corral worker for Python $python_minor web applications (WSGI and ASGI)
 $worker embeds CPython $python_minor and serves a WSGI application (Flask,
 Django) or an ASGI one (FastAPI, Starlette, Django's ASGI) from corral's
 event-loop HTTP engine, supervised by corrald: gunicorn's app loading,
 worker_class (threads, gevent or asgi) and settings; a broken deploy fails its
 reload while the old workers keep serving. corrald picks it for a virtualenv
 made with Python $python_minor.
CONTROL
worker_deb="$deb_dir/${worker}_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$worker_stage" "$worker_deb" >/dev/null
echo "built $worker_deb ($(du -h "$worker_deb" | cut -f1)); Depends: corral (= $version), $worker_depends"

# corral-python: the release's default Python worker, by the names configs and units use
# (corral-python, and corral-wsgi before it).
install -d "$default_stage/DEBIAN" "$default_stage/usr/bin" "$default_stage/usr/share/man/man1"
ln -s "$worker" "$default_stage/usr/bin/corral-python"
ln -s corral-python "$default_stage/usr/bin/corral-wsgi"
gzip -9n < "$manuals/corral-python.1" > "$default_stage/usr/share/man/man1/corral-python.1.gz"
ln -s corral-python.1.gz "$default_stage/usr/share/man/man1/corral-wsgi.1.gz"
install_docs "$default_stage" corral-python
cat > "$default_stage/DEBIAN/control" <<CONTROL
Package: corral-python
Version: $version
Architecture: $arch
Maintainer: corral developers <corral@example.org>
Installed-Size: $(du -sk --exclude=DEBIAN "$default_stage" | cut -f1)
Depends: corral (= $version), $worker (= $version)
Suggests: python3-venv
Replaces: corral-wsgi (<< 0.4.0-2~)
Breaks: corral-wsgi (<< 0.4.0-2~)
Section: httpd
Priority: optional
Homepage: https://github.com/corral/corral
Description: corral worker for Python web applications (the release's Python)
 corral-python serves WSGI and ASGI applications from virtualenvs made with
 this Debian release's python3 ($python_minor): it is $worker by the names
 configurations and units use, corral-python and corral-wsgi.
CONTROL
wsgi_deb="$deb_dir/corral-python_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$default_stage" "$wsgi_deb" >/dev/null
echo "built $wsgi_deb (names for $worker); Depends: corral (= $version), $worker (= $version)"

# corral-wsgi: the worker's old package, now a transitional one, so that `apt install corral-wsgi`
# and upgrades from it bring corral-python.
install -d "$old_stage/DEBIAN"
install_docs "$old_stage" corral-wsgi
cat > "$old_stage/DEBIAN/control" <<CONTROL
Package: corral-wsgi
Version: $version
Architecture: all
Maintainer: corral developers <corral@example.org>
Installed-Size: $(du -sk --exclude=DEBIAN "$old_stage" | cut -f1)
Depends: corral-python (= $version)
Section: oldlibs
Priority: optional
Homepage: https://github.com/corral/corral
Description: transitional package for corral-python
 corral's Python worker is now called corral-python (it serves ASGI apps
 too). This package brings it in; /usr/bin/corral-wsgi stays a name for it.
 It can be removed once nothing depends on it.
CONTROL
old_deb="$deb_dir/corral-wsgi_${version}_all.deb"
dpkg-deb --root-owner-group -Zxz --build "$old_stage" "$old_deb" >/dev/null
echo "built $old_deb (transitional); Depends: corral-python (= $version)"
if command -v lintian >/dev/null; then
    lintian --no-tag-display-limit "$deb" "$worker_deb" "$wsgi_deb" "$old_deb" || true
fi

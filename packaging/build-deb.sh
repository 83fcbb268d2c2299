#!/usr/bin/env bash
# packaging/build-deb.sh — `make deb`: corral_<version>_<arch>.deb, corral-python_<version>_<arch>.deb
# and corral-wsgi_<version>_all.deb from a release build with the Swift runtime linked statically,
# so the packages depend only on Debian's own libraries. corral-python (the Python worker, WSGI
# and ASGI) is a package of its own, so that the base package does not depend on libpython; it
# keeps the worker's old name, /usr/bin/corral-wsgi, for configs and units that say it, and
# corral-wsgi is now a transitional package that installs it. Binaries are stripped; man pages come from
# swift-argument-parser's generate-manual plugin (packaging/man-pages.sh).
# Writes the .deb to the top of the tree and runs lintian on it when lintian is installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(dirname "$here")"
cd "$top"
version="$(sed -n '1s/^corral (\(.*\)) .*/\1/p' "$here/changelog")"
arch="$(dpkg --print-architecture)"
scratch="$top/.build-static"
stage="$(mktemp -d /tmp/corral-deb.XXXXXX)"
wsgi_stage="$(mktemp -d /tmp/corral-python-deb.XXXXXX)"
old_stage="$(mktemp -d /tmp/corral-wsgi-deb.XXXXXX)"
trap 'rm -rf "$stage" "$wsgi_stage" "$old_stage"' EXIT

# The man pages first: the plugin builds the tools its own (dynamic) way, in the default build folder.
bash "$top/packaging/man-pages.sh" >/dev/null
manuals="$top/.build/man/man1"
for product in corrald corralctl corral-worker corral-python; do
    swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product "$product" | grep -v '^\[' || true
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

install -d "$stage/DEBIAN" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/usr/lib/sysusers.d" \
    "$stage/usr/lib/tmpfiles.d" "$stage/etc/corral" "$stage/usr/share/man/man1" "$stage/usr/share/doc/corral" \
    "$stage/usr/share/corral/www"
for product in corrald corralctl corral-worker; do
    install -m 0755 "$scratch/release/$product" "$stage/usr/bin/$product"
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/$product"
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
install -m 0644 "$here/copyright" "$stage/usr/share/doc/corral/copyright"
gzip -9n < "$here/changelog" > "$stage/usr/share/doc/corral/changelog.Debian.gz"
chmod 0644 "$stage/usr/share/doc/corral/changelog.Debian.gz" "$stage/usr/share/man/man1/"*.gz
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
deb="$top/corral_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "built $deb ($(du -h "$deb" | cut -f1)); Depends: $depends, systemd"

# corral-python: the Python worker, which links Debian's libpython3.
install -d "$wsgi_stage/DEBIAN" "$wsgi_stage/usr/bin" "$wsgi_stage/usr/share/man/man1" "$wsgi_stage/usr/share/doc/corral-python"
install -m 0755 "$scratch/release/corral-python" "$wsgi_stage/usr/bin/corral-python"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$wsgi_stage/usr/bin/corral-python"
gzip -9n < "$manuals/corral-python.1" > "$wsgi_stage/usr/share/man/man1/corral-python.1.gz"
ln -s corral-python "$wsgi_stage/usr/bin/corral-wsgi"
ln -s corral-python.1.gz "$wsgi_stage/usr/share/man/man1/corral-wsgi.1.gz"
install -m 0644 "$here/copyright" "$wsgi_stage/usr/share/doc/corral-python/copyright"
gzip -9n < "$here/changelog" > "$wsgi_stage/usr/share/doc/corral-python/changelog.Debian.gz"
chmod 0644 "$wsgi_stage/usr/share/doc/corral-python/changelog.Debian.gz" "$wsgi_stage/usr/share/man/man1/"*.gz
wsgi_depends="$(depends_of "$wsgi_stage")"
cat > "$wsgi_stage/DEBIAN/control" <<CONTROL
Package: corral-python
Version: $version
Architecture: $arch
Maintainer: corral developers <corral@example.org>
Installed-Size: $(du -sk --exclude=DEBIAN "$wsgi_stage" | cut -f1)
Depends: corral (= $version), $wsgi_depends
Suggests: python3-venv
Replaces: corral-wsgi (<< 0.4.0-2~)
Breaks: corral-wsgi (<< 0.4.0-2~)
Section: httpd
Priority: optional
Homepage: https://github.com/corral/corral
Description: corral worker for Python web applications (WSGI and ASGI)
 corral-python embeds CPython and serves a WSGI application (Flask, Django)
 or an ASGI one (FastAPI, Starlette, Django's ASGI) from corral's event-loop
 HTTP engine, supervised by corrald: gunicorn's app loading, worker_class
 (threads, gevent or asgi) and settings; a broken deploy fails its reload
 while the old workers keep serving. It answers to its old name, corral-wsgi.
CONTROL
wsgi_deb="$top/corral-python_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$wsgi_stage" "$wsgi_deb" >/dev/null
echo "built $wsgi_deb ($(du -h "$wsgi_deb" | cut -f1)); Depends: corral (= $version), $wsgi_depends"

# corral-wsgi: the worker's old package, now a transitional one, so that `apt install corral-wsgi`
# and upgrades from it bring corral-python.
install -d "$old_stage/DEBIAN" "$old_stage/usr/share/doc/corral-wsgi"
install -m 0644 "$here/copyright" "$old_stage/usr/share/doc/corral-wsgi/copyright"
gzip -9n < "$here/changelog" > "$old_stage/usr/share/doc/corral-wsgi/changelog.Debian.gz"
chmod 0644 "$old_stage/usr/share/doc/corral-wsgi/changelog.Debian.gz"
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
old_deb="$top/corral-wsgi_${version}_all.deb"
dpkg-deb --root-owner-group -Zxz --build "$old_stage" "$old_deb" >/dev/null
echo "built $old_deb (transitional); Depends: corral-python (= $version)"
if command -v lintian >/dev/null; then
    lintian --no-tag-display-limit "$deb" "$wsgi_deb" "$old_deb" || true
fi

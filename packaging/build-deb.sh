#!/usr/bin/env bash
# packaging/build-deb.sh — `make deb`: corral_<version>_<arch>.deb from a release build with the
# Swift runtime linked statically, so the package depends only on Debian's own libraries.
# Binaries are stripped; man pages come from swift-argument-parser's generate-manual plugin.
# Writes the .deb to the top of the tree and runs lintian on it when lintian is installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(dirname "$here")"
cd "$top"
version="$(sed -n '1s/^corral (\(.*\)) .*/\1/p' "$here/changelog")"
arch="$(dpkg --print-architecture)"
scratch="$top/.build-static"
stage="$(mktemp -d /tmp/corral-deb.XXXXXX)"
trap 'rm -rf "$stage"' EXIT

# The man pages first: the plugin builds the tools its own (dynamic) way, in the default build folder.
swift package --allow-writing-to-package-directory generate-manual --date "$(date -u +%Y-%m-%d)" >/dev/null
manuals="$top/.build/plugins/GenerateManual/outputs"
for product in corrald corralctl corral-worker; do
    swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product "$product" | grep -v '^\[' || true
    if ldd "$scratch/release/$product" | grep -q libswift; then
        echo "build-deb: $product still loads the Swift runtime dynamically" >&2
        exit 1
    fi
done

install -d "$stage/DEBIAN" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/usr/lib/sysusers.d" \
    "$stage/usr/lib/tmpfiles.d" "$stage/etc/corral" "$stage/usr/share/man/man1" "$stage/usr/share/doc/corral" \
    "$stage/usr/share/corral/www"
for product in corrald corralctl corral-worker; do
    install -m 0755 "$scratch/release/$product" "$stage/usr/bin/$product"
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/$product"
done
gzip -9n < "$manuals/corrald/corrald.1" > "$stage/usr/share/man/man1/corrald.1.gz"
gzip -9n < "$manuals/corralctl/corralctl.1" > "$stage/usr/share/man/man1/corralctl.1.gz"
gzip -9n < "$manuals/corral-worker/"*.1 > "$stage/usr/share/man/man1/corral-worker.1.gz"
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

# Depends: the Debian packages that hold the shared libraries the binaries load.
depends="$(for binary in "$stage"/usr/bin/*; do ldd "$binary"; done | awk '/=>/ { print $3 }' | sort -u |
    while read -r library; do dpkg -S "$(readlink -f "$library")" 2>/dev/null || dpkg -S "$library" 2>/dev/null || true; done |
    cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g')"
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
if command -v lintian >/dev/null; then
    lintian --no-tag-display-limit "$deb" || true
fi

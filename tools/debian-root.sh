#!/usr/bin/env bash
# tools/debian-root.sh RELEASE — a Debian RELEASE (trixie, sid) root in .build/roots/RELEASE, made
# with debootstrap from Debian's registry, with what building corral, its packages and a venv
# takes, and systemd. Kept between runs: the stamp names the package list, so a second run fetches
# nothing unless the list changed. Needs root.
set -euo pipefail
release=${1:?usage: tools/debian-root.sh RELEASE}
top="$(cd "$(dirname "$0")/.." && pwd)"
root="$top/.build/roots/$release"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The build (libc and C++ headers for clang, the -dev packages Package.swift links), what the
# Swift toolchain itself loads (curl, sqlite, ncurses, libxml2), git (SwiftPM resolves packages
# from the host's mirror), python3 for the worker and its venvs, systemd and man-db for the e2e
# (systemd-analyze verify looks up the units' man pages), openssl for its test certificate, and
# libnghttp2-dev (HTTP/2).
packages="ca-certificates,git,gcc,g++,binutils,pkg-config,libsystemd-dev,libxml2-dev,libedit-dev,libssl-dev,zlib1g-dev,\
python3-dev,python3-venv,libcurl4t64,libsqlite3-0,libncurses6,systemd,systemd-sysv,iproute2,curl,procps,util-linux,man-db,openssl,libnghttp2-dev"
stamp="$root/.corral-root-$(echo "$packages" | md5sum | cut -c1-8)"
if [ "$(id -u)" != 0 ]; then echo "debian-root: making a root with debootstrap needs root" >&2; exit 1; fi
command -v debootstrap >/dev/null || { echo "debian-root: debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }
if [ ! -e "$stamp" ]; then
    rm -rf "$root"
    mkdir -p "$root"
    started=$SECONDS
    debootstrap --variant=minbase --include="$packages" "$release" "$root" "$mirror" > "$root.log" 2>&1 \
        || { tail -30 "$root.log" >&2; echo "debian-root: debootstrap $release failed (whole log: $root.log)" >&2; exit 1; }
    # SwiftPM inside reads github.com from the host's package mirror, as the host's git does.
    git config --system -l | grep '^url\.' | while IFS='=' read -r key value; do
        git config --file "$root/etc/gitconfig" --add "$key" "$value"
    done
    rm -f "$root"/var/cache/apt/archives/*.deb
    touch "$stamp"
    echo "debian-root: made $release in $((SECONDS - started)) s" >&2
fi

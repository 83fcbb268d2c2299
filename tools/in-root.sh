#!/usr/bin/env bash
# tools/in-root.sh ROOT COMMAND... — runs COMMAND as root inside a Debian root made by
# tools/debian-root.sh, in a mount namespace of its own (so nothing stays mounted afterwards):
# the host's Swift toolchain, its package mirror and this tree are bound in at the same paths,
# with /proc, /dev and /sys, and a /tmp of its own. The network is the host's (loopback included).
set -euo pipefail
root=${1:?usage: tools/in-root.sh ROOT COMMAND...}; shift
top="$(cd "$(dirname "$0")/.." && pwd)"
swift_root="$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")")"

# Runs in the new mount namespace.
enter() {
    local root=$1 top=$2 swift_root=$3; shift 3
    # The root a mount point of its own, so that what runs inside can change its propagation.
    mount --bind "$root" "$root"
    for directory in "$swift_root" /opt/swift-packages "$top" /proc /dev /sys; do
        [ -d "$directory" ] || continue
        mkdir -p "$root$directory"
        mount --rbind "$directory" "$root$directory"
    done
    mount -t tmpfs tmpfs "$root/tmp"
    # The machine's name service and trust (a registry reached through a proxy may need its CA).
    cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
    if [ -f /etc/ssl/certs/ca-certificates.crt ] && [ -f "$root/etc/ssl/certs/ca-certificates.crt" ]; then
        mount --bind /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    fi
    # A toolchain built for an older release may load libraries the root has only newer
    # versions of (unstable's libxml2.so.16 for swift-build's libxml2.so.2): the host's copies go
    # to a directory of this run, which `swift` (a wrapper first on PATH) puts on LD_LIBRARY_PATH
    # for the toolchain alone, not for what it builds or what runs here otherwise.
    local compat=/tmp/toolchain missing library round path=
    for round in 1 2 3; do
        missing="$(LD_LIBRARY_PATH="$compat/lib" chroot "$root" ldd "$swift_root/usr/bin/swift-build" | awk '/not found/ { print $1 }')"
        [ -n "$missing" ] || break
        mkdir -p "$root$compat/lib" "$root$compat/bin"
        for library in $missing; do
            cp -L "$(ldconfig -p | awk -v name="$library" '$1 == name && /x86-64/ { print $NF; exit }')" "$root$compat/lib/" \
                || { echo "in-root: the toolchain needs $library, which neither the root nor the host has" >&2; exit 1; }
        done
        printf '#!/bin/sh\nLD_LIBRARY_PATH=%s/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec %s/usr/bin/swift "$@"\n' "$compat" "$swift_root" > "$root$compat/bin/swift"
        chmod +x "$root$compat/bin/swift"
        path="$compat/bin:"
    done
    # The host's environment stays out (its pyenv, venvs, library paths), but for how to reach
    # the registries.
    local passed=() name
    for name in $(compgen -e); do
        case $name in
            PIP_FIND_LINKS) ;;   # a directory of the host's
            PIP_*|SSL_CERT_*|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE|http_proxy|https_proxy|HTTP_PROXY|HTTPS_PROXY|no_proxy|NO_PROXY)
                passed+=("$name=${!name}") ;;
        esac
    done
    # The same working directory when it is in the tree (bound in), else /.
    local directory=/
    case $PWD/ in "$top"/*) directory=$PWD ;; esac
    exec chroot "$root" env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 "${passed[@]}" \
        PATH="$path$swift_root/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        /bin/sh -c 'cd "$0" && exec "$@"' "$directory" "$@"
}
exec unshare --mount --propagation private bash -c "$(declare -f enter); enter \"\$@\"" in-root "$root" "$top" "$swift_root" "$@"

#!/usr/bin/env bash
# tools/in-root.sh ROOT COMMAND... — runs COMMAND as root inside a Debian root made by
# tools/debian-root.sh, in a mount namespace of its own (so nothing stays mounted afterwards):
# the host's Swift toolchain, its package mirror and this tree are bound in at the same paths,
# with /proc, /dev and /sys, and a /tmp of its own. The network is the host's (loopback included).
set -euo pipefail
root=${1:?usage: tools/in-root.sh ROOT COMMAND...}; shift
top="$(cd "$(dirname "$0")/.." && pwd)"
swift_root="$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")")"
exec unshare --mount --propagation private bash -c '
    set -e
    root=$1 top=$2 swift_root=$3; shift 3
    for directory in "$swift_root" /opt/swift-packages "$top" /proc /dev /sys; do
        [ -d "$directory" ] || continue
        mkdir -p "$root$directory"
        mount --rbind "$directory" "$root$directory"
    done
    mount -t tmpfs tmpfs "$root/tmp"
    cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
    exec chroot "$root" env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
        PATH="$swift_root/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "$@"
' in-root "$root" "$top" "$swift_root" "$@"

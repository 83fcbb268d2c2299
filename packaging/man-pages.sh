#!/bin/bash
# corral's man pages, from swift-argument-parser's generate-manual plugin, into $BUILD_DIR/man/man1
# (BUILD_DIR: .build)
# (`man -l .build/man/man1/corrald.1`, or MANPATH=.build/man man corrald); the .deb ships them.
# The plugin gives every root command the implicit `help` subcommand, so the pages of the
# commands that have no subcommands would show a `subcommand` in their SYNOPSIS: it is taken out,
# and each page is checked to name its own command.
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
cd "$top"
build="${BUILD_DIR:-$top/.build}"
swift package --scratch-path "$build" --allow-writing-to-package-directory generate-manual --date "$(date -u +%Y-%m-%d)" >/dev/null
generated="$build/plugins/GenerateManual/outputs"
out="$build/man/man1"
mkdir -p "$out"
for command in corrald corralctl corral-worker corral-python; do
    page="$generated/$command/$command.1"
    if [ ! -f "$page" ]; then
        echo "man-pages: the plugin wrote no $command.1 (is the command's type a ParsableCommand named $command?)" >&2
        exit 1
    fi
    if [ "$command" = corralctl ]; then
        cp "$page" "$out/$command.1"
    else
        # Drop `.Ar subcommand` from the SYNOPSIS and the `help` subcommand's entry (.It Em help … its .El).
        awk '
            /^\.Ar subcommand$/ { next }
            /^\.It Em help$/ { skipping = 1; next }
            skipping && /^\.El$/ { skipping = 0; next }
            skipping { next }
            { print }
        ' "$page" > "$out/$command.1"
        if grep -q 'subcommand' "$out/$command.1"; then
            echo "man-pages: $command.1 still mentions a subcommand" >&2
            exit 1
        fi
    fi
    if ! grep -qx ".Nm $command" "$out/$command.1" || grep -q '_command' "$out/$command.1"; then
        echo "man-pages: $command.1 does not name $command" >&2
        exit 1
    fi
done
echo "man pages in $out (man -l $out/corrald.1)"

#!/usr/bin/env bash
# tests/fuzz/build.sh — builds corral-fuzz with -sanitize=fuzzer,address in .build/fuzz (`make fuzz`).
# The flags go to swiftc (-Xswiftc -sanitize=fuzzer,address), not through SwiftPM's --sanitize:
# with that, SwiftPM 6.3 compiled the package's modules without coverage instrumentation in about
# half of the clean builds here (~4,900 counters instead of ~31,500, no __sancov sections in any
# library object), and a blind fuzzer finds nothing. The result is still checked, and built again
# from scratch if it came out blind. C and C++ (CCorral, TOMLKit's toml++) are not instrumented.
set -euo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$top"
swift="${SWIFT:-swift}"
for attempt in 1 2 3; do
    # gold warns once per ASan helper symbol; the build's own status still counts (pipefail).
    "$swift" build --product corral-fuzz --scratch-path .build/fuzz -Xswiftc -sanitize=fuzzer,address \
        -Xswiftc -DCORRAL_FUZZ 2>&1 | { grep -v 'Cannot export local symbol' || true; }
    counters="$(CORRAL_FUZZ_TARGET=static-path ASAN_OPTIONS=detect_leaks=0 .build/fuzz/debug/corral-fuzz -runs=0 2>&1 |
        sed -n 's/.*Loaded 1 modules *(\([0-9]*\) inline.*/\1/p' | head -1)"
    if [ "${counters:-0}" -ge 15000 ]; then
        echo "fuzz build: corral-fuzz instrumented (${counters} coverage counters)"
        exit 0
    fi
    echo "fuzz build: attempt $attempt came out without coverage instrumentation (${counters:-no} counters); building again from scratch" >&2
    rm -rf .build/fuzz
done
echo "fuzz build: no instrumented corral-fuzz after 3 clean builds" >&2
exit 1

#!/usr/bin/env bash
# bench/allocs.sh — heap allocations per request of corral's hello server in the steady state.
#
#   bash bench/allocs.sh                      (run.sh calls it; takes a few minutes)
#
# valgrind (memcheck) counts every malloc of a process and prints "total heap usage: N allocs"
# when it exits. The server runs twice under valgrind --tool=memcheck --trace-children=no, each
# time fed by bench/send.py over keep-alive connections (exact counts, every response checked):
#   run A: WARMUP requests, then A requests, then SIGTERM
#   run B: WARMUP requests, then B requests, then SIGTERM
# Start-up, warm-up (pools and buffers reaching their size) and shutdown are the same in both
# runs, so allocations per request = (allocs_B - allocs_A) / (B - A). Allocations made per unit
# of time rather than per request (timers, the cached Date header) land in it too, but are
# small against 10,000 requests.
#
# Environment:
#   CORRAL_HELLO   the server binary (default .build/release/corral-example-hello; a debug build
#                  works too). valgrind 3.19 cannot read the DWARF 5 debug info Swift emits, so a
#                  stripped copy runs: counting does not need symbols.
#   ALLOCS_PORT    port to listen on (default 18090)
#   WARMUP A B     request counts (default 200, 1000, 11000)
#   CONNS          keep-alive connections the requests are spread over (default 4)
#   ACCESS_LOG     1 (default) to run with --access-logfile as in the benchmark, 0 without
#   SERVER_ARGS    more arguments for the server, word-split (e.g. corral-worker's --root DIR,
#                  whose index.html says "Hello, World!": the static path, cache hits)
# Prints, on stdout, one line: "allocs per request: X (run A: N allocs, run B: M allocs)".
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(dirname "$here")"
# shellcheck source=lib.sh
. "$here/lib.sh"
CORRAL_HELLO="${CORRAL_HELLO:-$top/.build/release/corral-example-hello}"
ALLOCS_PORT="${ALLOCS_PORT:-18090}"
WARMUP="${WARMUP:-200}"
A="${A:-1000}"
B="${B:-11000}"
CONNS="${CONNS:-4}"
ACCESS_LOG="${ACCESS_LOG:-1}"

bench_need_corral
command -v valgrind >/dev/null 2>&1 || bench_die "valgrind is missing; run bash bench/setup.sh"
[ "$B" -gt "$A" ] || bench_die "B ($B) must be larger than A ($A)"
bench_init
bench_port_free "$ALLOCS_PORT"

bin="$BENCH_WORK/corral-hello-stripped"
strip -o "$bin" "$CORRAL_HELLO" 2>/dev/null || cp "$CORRAL_HELLO" "$bin"

# count_allocs K: sets ALLOCS to the total heap allocations of one server life with WARMUP + K
# requests. (Not called in $(...): a server started in a subshell would escape the cleanup trap.)
count_allocs() {
    local k=$1 vlog="$BENCH_WORK/valgrind-$1.log" out="$BENCH_WORK/server-$1.out" args pid allocs
    # shellcheck disable=SC2206  # word-split on purpose
    args=(--bind "127.0.0.1:$ALLOCS_PORT" ${SERVER_ARGS:-})
    [ "$ACCESS_LOG" = 1 ] && args+=(--access-logfile "$BENCH_WORK/access-$1.log")
    bench_start "$out" valgrind --tool=memcheck --trace-children=no --leak-check=no \
        --log-file="$vlog" "$bin" "${args[@]}"
    pid=$BENCH_LAST_PID
    bench_wait_port "$ALLOCS_PORT" "$pid" "$out" 120   # valgrind starts slowly
    bench_check_body "$ALLOCS_PORT" "corral under valgrind"
    python3 "$here/send.py" "$ALLOCS_PORT" "$WARMUP" "$CONNS" || bench_die "warm-up requests failed"
    python3 "$here/send.py" "$ALLOCS_PORT" "$k" "$CONNS" || bench_die "measured requests failed"
    bench_stop "$pid" TERM 120
    allocs="$(sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p' "$vlog" | tail -n 1 | tr -d ,)"
    if [ -z "$allocs" ]; then
        echo "bench: error: valgrind printed no 'total heap usage' for the run with $k requests; its log:" >&2
        tail -n 30 "$vlog" >&2
        exit 1
    fi
    if [ "$ACCESS_LOG" = 1 ]; then   # the access log must have seen every request (+ curl's)
        local lines; lines="$(wc -l < "$BENCH_WORK/access-$1.log")"
        [ "$lines" -ge $((WARMUP + k)) ] \
            || bench_die "the access log of the run with $k requests has $lines lines, fewer than $((WARMUP + k)) requests"
    fi
    ALLOCS=$allocs
}

bench_note "allocs: run A, $WARMUP + $A requests under valgrind (slow) ..."
count_allocs "$A"; a=$ALLOCS
bench_note "allocs: run A: $a allocations"
bench_note "allocs: run B, $WARMUP + $B requests under valgrind ..."
count_allocs "$B"; b=$ALLOCS
bench_note "allocs: run B: $b allocations"
awk -v a="$a" -v b="$b" -v n=$((B - A)) \
    'BEGIN { printf "allocs per request: %.3f (run A: %d allocs, run B: %d allocs, %d requests apart)\n", (b - a) / n, a, b, n }'

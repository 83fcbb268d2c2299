# shellcheck shell=bash
# bench/lib.sh — helpers sourced by bench/run.sh and bench/allocs.sh (not run on its own).
#
# Every server is started with bench_start, in a process group of its own, and the EXIT trap
# set by bench_init stops every such group (TERM, then KILL after 10 s): no server outlives the
# script, whether it ends normally, fails, or is interrupted.

BENCH_PIDS=()

bench_die() { echo "bench: error: $*" >&2; exit 1; }
bench_note() { echo "bench: $*" >&2; }

bench_cleanup() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    for pid in "${BENCH_PIDS[@]}"; do
        for _ in $(seq 1 100); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    BENCH_PIDS=()
    [ -n "${BENCH_WORK:-}" ] && [ -z "${BENCH_KEEP:-}" ] && rm -rf "$BENCH_WORK"
    return 0
}

# bench_init: makes the scratch directory $BENCH_WORK and installs the cleanup traps.
bench_init() {
    BENCH_WORK="$(mktemp -d /tmp/corral-bench.XXXXXX)"
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# bench_start LOG CMD...: runs CMD in the background, in a new session/process group whose id is
# its pid; stdout and stderr go to LOG. Sets BENCH_LAST_PID.
bench_start() {
    local log=$1; shift
    setsid "$@" >"$log" 2>&1 </dev/null &
    BENCH_LAST_PID=$!
    BENCH_PIDS+=("$BENCH_LAST_PID")
}

# bench_stop PID [SIGNAL] [SECONDS]: signals PID (only that process), waits for it to exit,
# then KILLs its whole group if it is still there.
bench_stop() {
    local pid=$1 sig=${2:-TERM} secs=${3:-10}
    kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 1 $((secs * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        bench_note "pid $pid did not exit within ${secs}s after SIG$sig; killing it"
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    kill -TERM -- "-$pid" 2>/dev/null || true   # stray children of the group, if any
    local keep=() p
    for p in "${BENCH_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    BENCH_PIDS=("${keep[@]}")
}

# bench_port_free PORT: fails loudly if something already listens there (a stale server would
# otherwise be measured in place of ours).
bench_port_free() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
        bench_die "port $1 is already in use on 127.0.0.1; stop what listens there, or choose other ports (BENCH_PORT, ALLOCS_PORT)"
    fi
}

# bench_wait_port PORT PID LOG [SECONDS]: polls http://127.0.0.1:PORT/ until it answers; fails
# loudly (showing LOG) if PID exits first or nothing answers within SECONDS (default 30).
bench_wait_port() {
    local port=$1 pid=$2 log=$3 secs=${4:-30} deadline
    deadline=$(( $(date +%s) + secs ))
    while :; do
        curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/" && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "bench: error: the server for port $port (pid $pid) exited before answering; its output:" >&2
            tail -n 30 "$log" >&2
            exit 1
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "bench: error: nothing answered on port $port within ${secs}s; server output:" >&2
            tail -n 30 "$log" >&2
            exit 1
        fi
        sleep 0.05
    done
}

# bench_check_body PORT NAME: the response must be 200 with exactly the 13 bytes "Hello, World!".
bench_check_body() {
    local port=$1 name=$2 got status size
    got="$BENCH_WORK/body.$port"
    status="$(curl -s -o "$got" -w '%{http_code}' "http://127.0.0.1:$port/")"
    size="$(stat -c %s "$got")"
    [ "$status" = 200 ] || bench_die "$name (port $port) answered status $status, not 200"
    if [ "$size" != 13 ] || [ "$(cat "$got")" != "Hello, World!" ]; then
        bench_die "$name (port $port) answered $size bytes '$(head -c 80 "$got")', not the 13 bytes 'Hello, World!'"
    fi
}

# bench_rss_kb PID: the resident set size of PID in kB, from /proc/PID/status.
bench_rss_kb() {
    awk '/^VmRSS:/ { print $2; found = 1 } END { if (!found) exit 1 }' "/proc/$1/status" 2>/dev/null \
        || bench_die "cannot read VmRSS of pid $1"
}

# bench_raise_nofile WANT NEED: raises this shell's open-file limit (soft, and hard if allowed)
# to WANT, or as far as the hard limit goes; fails if that is below NEED. Children inherit it.
bench_raise_nofile() {
    local want=$1 need=${2:-$1} hard
    hard="$(ulimit -Hn)"
    if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
        if ulimit -Hn "$want" 2>/dev/null; then hard=$want; fi
    fi
    [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ] && want=$hard
    [ "$want" -ge "$need" ] || bench_die "the open-file limit can only go to $want here, and $need are needed"
    ulimit -Sn "$want" || bench_die "cannot raise the open-file limit to $want"
    bench_note "open-file limit: $(ulimit -Sn)"
}

# bench_need_corral: $CORRAL_HELLO must be an executable file.
bench_need_corral() {
    if [ ! -e "$CORRAL_HELLO" ]; then
        bench_die "corral's hello server is missing: $CORRAL_HELLO
       build it with 'swift build -c release' (make bench does), or point CORRAL_HELLO at a built
       corral-example-hello binary."
    fi
    [ -x "$CORRAL_HELLO" ] || bench_die "CORRAL_HELLO=$CORRAL_HELLO is not executable"
}

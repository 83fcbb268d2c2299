#!/usr/bin/env bash
# bench/run.sh — `make bench`: corral against nginx and gunicorn + meinheld, in one run.
#
#   bash bench/run.sh                  (make bench builds the release first, then calls this)
#
# 1. Throughput and latency. Each server serves the same 13-byte body "Hello, World!" from ONE
#    process, with access logging ON:
#      corral    $CORRAL_HELLO --bind … --access-logfile FILE --worker-connections 20000 --keep-alive 75
#      nginx     generated config: worker_processes 1, `return 200 "Hello, World!"`,
#                default_type text/plain, access_log FILE buffer=64k, keepalive_requests 1000000
#      meinheld  gunicorn -w 1 -k egg:meinheld#gunicorn_worker --access-logfile FILE (WSGI app)
#    Each must answer exactly those 13 bytes before anything is measured. Then ROUNDS rounds, the
#    order of servers rotating each round; per server and round a WARMUP-second wrk run (thrown
#    away), then `wrk -t1 -c64 -dDURATION --latency`, recording req/s, p99 (ms) and the serving
#    process's VmRSS (nginx's and gunicorn's worker, not the master) right after the run.
# 2. Idle connections: bench/idle.py holds IDLE_CONNS keep-alive connections (each after one
#    request) to corral and reports its RSS growth; nginx is measured too, as a reference.
#    Measured after 2 s at rest: corral returns parked coroutines' memory 1 s after a wave.
# 3. Allocations: bench/allocs.sh counts corral's heap allocations per request under valgrind.
# 4. The supervisor: bench/supervisor.py times corrald's reloads and restarts, its RSS and idle
#    CPU, and failed requests during RELOADS reloads under load, beside gunicorn + meinheld's.
# 5. WSGI apps: bench/wsgi.py serves a bare WSGI hello, Flask's hello and a Flask view that sleeps
#    0.1 s with corral-python and with gunicorn + meinheld, gunicorn + gevent, gunicorn gthread and
#    granian, one process each, access logs on (its table: bench/results/wsgi.md); then
#    bench/static_map.py serves a Django admin CSS file through corral-python's static_map and
#    through WhiteNoise under gunicorn (bench/results/static_map.md), and bench/preload.py
#    measures preload_app: the workers' memory (PSS), boot and crash-to-ready times beside
#    gunicorn --preload's (bench/results/preload.md); bench/python_versions.py serves Flask's
#    hello with corral-python and gunicorn + gevent on Python 3.11, 3.13 and (in the unstable root
#    make test keeps) 3.14 (bench/results/python_versions.md); bench/asgi.py serves a bare ASGI hello,
#    FastAPI's hello and a FastAPI view awaiting 0.1 s with corral's asgi worker, uvicorn,
#    granian and gunicorn + uvicorn-worker (bench/results/asgi.md).
# 6. Moving over: bench/migration.py measures statsd's packets per request and cost beside
#    gunicorn + meinheld's, the PROXY protocol's cost per connection behind HAProxy, and the
#    time of a Prometheus scrape of corrald.
# 7. Static files: bench/static.py serves 13 B, 4 KiB, 100 KiB and 1 MiB files (and 16 pipelined
#    requests) with corral-worker, nginx, and nginx with open_file_cache; syscalls per request
#    with strace, and where corral's CPU goes with perf. Then bench/tls.py: the 13-byte file over
#    TLS 1.3 (keep-alive, and a new connection per request) beside nginx, each pinned to one core,
#    HTTP/2 beside nginx and h2o, and session resumption across 4 workers beside gunicorn's; and
#    bench/h2_flask.py: Flask's hello over HTTP/2 beside gunicorn 27 and granian.
# 8. Chaos: ChaosTests for CHAOS_SECONDS (60) under wrk: workers killed every 200 ms, one stopped
#    past its timeout, a reload a second, a broken deploy every tenth; every failure classified.
#    Then SlowClientsTests for SLOW_SECONDS (30): 10,000 clients sending a byte a second beside
#    a fast one, whose latencies are compared with and without them.
# Prints a table of medians with the ratios corral/nginx and corral/meinheld, and writes it to
# bench/results/latest.md. Every process started here is stopped on exit, however it ends.
#
# Environment (defaults in brackets):
#   CORRAL_HELLO   corral's hello server [.build/release/corral-example-hello]; if it is missing
#                  the script fails (it never skips corral on its own)
#   CORRAL_ARGS    extra arguments for it, word-split []
#   ROUNDS [3]  DURATION [5] seconds  WARMUP [1] second  CONNECTIONS [64]  THREADS [1]
#   BENCH_PORT     first of three ports: corral, nginx = +1, meinheld = +2 [18080]; allocs.sh
#                  uses ALLOCS_PORT [18090]
#   IDLE_CONNS [10000]   BENCH_IDLE [1]: 0 leaves out step 2   BENCH_ALLOCS [1]: 0 leaves out step 3
#   BENCH_SUPERVISOR [1]: 0 leaves out step 4 (its own knobs: see bench/supervisor.py)
#   BENCH_WSGI [1]: 0 leaves out step 5 (its own knobs: see bench/wsgi.py)
#   BENCH_ASGI [1]: 0 leaves out step 5's ASGI part (bench/asgi.py; its own knobs there)
#   BENCH_STATIC_MAP [1]: 0 leaves out step 5's static_map part (bench/static_map.py)
#   BENCH_PRELOAD [1]: 0 leaves out step 5's preload_app part (bench/preload.py; its own knobs there)
#   BENCH_MIGRATION [1]: 0 leaves out step 6 (its own knobs: see bench/migration.py)
#   BENCH_STATIC [1]: 0 leaves out step 7 (its own knobs: see bench/static.py)
#   BENCH_TLS [1]: 0 leaves out step 7's HTTPS part (its own knobs: see bench/tls.py and bench/h2_flask.py)
#   BENCH_CHAOS [1]: 0 leaves out step 8; CHAOS_SECONDS [60] and SLOW_SECONDS [30] set its lengths
#   BENCH_SERVERS  which servers step 1 runs ["corral nginx meinheld"]; leaving corral out (to
#                  try the harness without a build) is announced and its ratios read n/a
#   BENCH_RESULTS  where the markdown goes [bench/results/latest.md]
#   BENCH_KEEP     set to keep the scratch directory (configs, logs, raw wrk output)
# shellcheck disable=SC2317  # the start_* functions are called indirectly, as "start_$s"
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(dirname "$here")"
# shellcheck source=lib.sh
. "$here/lib.sh"

CORRAL_HELLO="${CORRAL_HELLO:-$top/.build/release/corral-example-hello}"
CORRAL_ARGS="${CORRAL_ARGS:-}"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5}"
WARMUP="${WARMUP:-1}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-1}"
BENCH_PORT="${BENCH_PORT:-18080}"
IDLE_CONNS="${IDLE_CONNS:-10000}"
BENCH_IDLE="${BENCH_IDLE:-1}"
BENCH_ALLOCS="${BENCH_ALLOCS:-1}"
BENCH_SUPERVISOR="${BENCH_SUPERVISOR:-1}"
BENCH_WSGI="${BENCH_WSGI:-1}"
BENCH_SERVERS="${BENCH_SERVERS:-corral nginx meinheld}"
BENCH_RESULTS="${BENCH_RESULTS:-$here/results/latest.md}"

read -r -a servers <<<"$BENCH_SERVERS"
has() { local s; for s in "${servers[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
for s in "${servers[@]}"; do
    case $s in corral|nginx|meinheld) ;; *) bench_die "BENCH_SERVERS: unknown server '$s' (corral, nginx, meinheld)" ;; esac
done
if has corral; then
    bench_need_corral
else
    echo "bench: NOTE: corral is left out (BENCH_SERVERS='$BENCH_SERVERS'): no ratios, no idle or allocation figures for it" >&2
fi

bash "$here/setup.sh"
# Server and clients both hold many descriptors (10,000 idle connections on each side): 65536,
# or the hard limit where it is lower and cannot be raised (20000 in some containers).
bench_raise_nofile 65536 $((IDLE_CONNS + 1024))
bench_init
raw="$BENCH_WORK/raw"
# Two cores: anything else running (a build, tests) distorts the figures. Say so; don't wait.
load_start="$(cut -d' ' -f1 /proc/loadavg)"
if awk -v l="$load_start" 'BEGIN { exit !(l > 0.7) }'; then
    echo "bench: WARNING: load average is $load_start before starting; other work on this machine will distort the figures:" >&2
    ps -eo pcpu=,args= --sort=-pcpu | awk '$1 > 10' | cut -c1-120 | head -n 5 >&2
fi
mkdir -p "$raw"

declare -A PORT MASTER LOG ACCESS
PORT[corral]=$BENCH_PORT
PORT[nginx]=$((BENCH_PORT + 1))
PORT[meinheld]=$((BENCH_PORT + 2))
for s in "${servers[@]}"; do bench_port_free "${PORT[$s]}"; done

start_corral() {
    ACCESS[corral]="$BENCH_WORK/corral-access.log"
    LOG[corral]="$BENCH_WORK/corral.out"
    # shellcheck disable=SC2086  # CORRAL_ARGS is word-split on purpose
    bench_start "${LOG[corral]}" "$CORRAL_HELLO" --bind "127.0.0.1:${PORT[corral]}" \
        --access-logfile "${ACCESS[corral]}" --worker-connections 20000 --keep-alive 75 $CORRAL_ARGS
    MASTER[corral]=$BENCH_LAST_PID
}

start_nginx() {
    local d="$BENCH_WORK/nginx"
    mkdir -p "$d/logs"
    ACCESS[nginx]="$d/access.log"
    LOG[nginx]="$d/nginx.out"
    cat > "$d/nginx.conf" <<CONF
# generated by bench/run.sh
user root;                      # the scratch directory is root's; without root, nginx ignores this
worker_processes 1;
worker_rlimit_nofile 65536;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 20000; }
http {
    access_log ${ACCESS[nginx]} combined buffer=64k;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path $d/client_body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    server {
        listen 127.0.0.1:${PORT[nginx]};
        location / {
            default_type text/plain;
            return 200 "Hello, World!";
        }
    }
}
CONF
    local nginx; nginx="$(command -v nginx || echo /usr/sbin/nginx)"
    # -e: the error log from the start (before the config is read, nginx would open its default).
    bench_start "${LOG[nginx]}" "$nginx" -p "$d" -e "$d/error.log" -c "$d/nginx.conf"
    MASTER[nginx]=$BENCH_LAST_PID
}

start_meinheld() {
    ACCESS[meinheld]="$BENCH_WORK/meinheld-access.log"
    LOG[meinheld]="$BENCH_WORK/gunicorn.out"
    cat > "$BENCH_WORK/hello_wsgi.py" <<'APP'
BODY = b"Hello, World!"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]

def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
APP
    local extra=()   # gunicorn >= 27 opens a control socket under ~/.gunicorn unless told not to
    [[ "$("$here/.venv/bin/gunicorn" --help 2>/dev/null || true)" == *--no-control-socket* ]] && extra=(--no-control-socket)
    bench_start "${LOG[meinheld]}" "$here/.venv/bin/gunicorn" "${extra[@]}" --chdir "$BENCH_WORK" -w 1 \
        -k egg:meinheld#gunicorn_worker -b "127.0.0.1:${PORT[meinheld]}" \
        --access-logfile "${ACCESS[meinheld]}" hello_wsgi:app
    MASTER[meinheld]=$BENCH_LAST_PID
}

# serving_pid NAME: the process that serves — the only child of a master (nginx, gunicorn), or
# the started process itself when it has no child (corral-example-hello).
serving_pid() {
    local master=${MASTER[$1]} kids
    kids="$(pgrep -P "$master" || true)"
    case "$(wc -w <<<"$kids")" in
        0) echo "$master" ;;
        1) echo "$kids" ;;
        *) bench_die "$1 (pid $master) has several children ($(tr "\n" " " <<<"$kids")); expected one worker" ;;
    esac
}

for s in "${servers[@]}"; do "start_$s"; done
for s in "${servers[@]}"; do
    bench_wait_port "${PORT[$s]}" "${MASTER[$s]}" "${LOG[$s]}" 30
    bench_check_body "${PORT[$s]}" "$s"
    echo "bench: $s answers 'Hello, World!' (13 bytes) on port ${PORT[$s]}, serving pid $(serving_pid "$s")"
done

# --- 1. rounds ---------------------------------------------------------------------------------
n=${#servers[@]}
for round in $(seq 1 "$ROUNDS"); do
    for i in $(seq 0 $((n - 1))); do
        s=${servers[$(( (i + round - 1) % n ))]}
        url="http://127.0.0.1:${PORT[$s]}/"
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "$url" >/dev/null
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url" > "$raw/$s.$round.wrk"
        pid="$(serving_pid "$s")"
        bench_rss_kb "$pid" > "$raw/$s.$round.rss"
        printf 'round %d/%d  %-9s %12s req/s   p99 %9s   RSS %6s kB\n' "$round" "$ROUNDS" "$s" \
            "$(awk '/^Requests\/sec/ { print $2 }' "$raw/$s.$round.wrk")" \
            "$(awk '$1 == "99%" { print $2 }' "$raw/$s.$round.wrk")" "$(cat "$raw/$s.$round.rss")"
        if grep -q 'Non-2xx' "$raw/$s.$round.wrk"; then
            bench_die "$s answered non-2xx responses under load: $(grep 'Non-2xx' "$raw/$s.$round.wrk")"
        fi
    done
done
# Access logging must really have been on in all three.
for s in "${servers[@]}"; do
    [ -s "${ACCESS[$s]}" ] || bench_die "$s wrote nothing to its access log ${ACCESS[$s]}"
    echo "bench: $s access log: $(wc -l < "${ACCESS[$s]}") lines, $(du -h "${ACCESS[$s]}" | cut -f1)"
done

# --- 2. idle connections -------------------------------------------------------------------------
status=0
if [ "$BENCH_IDLE" = 1 ]; then
    for s in corral nginx; do
        has "$s" || continue
        if ! python3 "$here/idle.py" -n "$IDLE_CONNS" --settle 2 --name "$s" --json "$raw/idle-$s.json" \
                "${PORT[$s]}" "$(serving_pid "$s")"; then
            echo "bench: error: the idle-connection measurement of $s failed" >&2
            touch "$raw/idle-$s.failed"; status=1
        fi
    done
else
    echo "bench: NOTE: idle connections left out (BENCH_IDLE=$BENCH_IDLE)" >&2
fi

# The throughput servers are done; stop them before valgrind needs the CPU.
for s in "${servers[@]}"; do bench_stop "${MASTER[$s]}" TERM 10; done

# --- 3. allocations per request --------------------------------------------------------------
if [ "$BENCH_ALLOCS" = 1 ] && has corral; then
    if CORRAL_HELLO="$CORRAL_HELLO" bash "$here/allocs.sh" > "$raw/allocs.txt"; then
        cat "$raw/allocs.txt"
    else
        echo "bench: error: the allocation count failed" >&2
        rm -f "$raw/allocs.txt"; touch "$raw/allocs.failed"; status=1
    fi
    # The static path too: corral-worker answering from its open-file cache.
    mkdir -p "$BENCH_WORK/allocs-root" && printf 'Hello, World!' > "$BENCH_WORK/allocs-root/index.html"
    if CORRAL_HELLO="$top/.build/release/corral-worker" SERVER_ARGS="--root $BENCH_WORK/allocs-root" \
            bash "$here/allocs.sh" > "$raw/allocs-static.txt"; then
        cat "$raw/allocs-static.txt"
    else
        echo "bench: error: the static-path allocation count failed" >&2
        rm -f "$raw/allocs-static.txt"; touch "$raw/allocs-static.failed"; status=1
    fi
elif [ "$BENCH_ALLOCS" != 1 ]; then
    echo "bench: NOTE: allocation count left out (BENCH_ALLOCS=$BENCH_ALLOCS)" >&2
fi

# --- summary ---------------------------------------------------------------------------------
gver() { "$here/.venv/bin/python" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null || echo '?'; }
python3 - "$raw/meta.json" <<PY
import json, sys
json.dump({
    "servers": "${servers[*]}".split(), "rounds": $ROUNDS, "duration": $DURATION, "warmup": $WARMUP,
    "connections": $CONNECTIONS, "threads": $THREADS, "idle_connections": $IDLE_CONNS,
    "date": "$(date -u '+%Y-%m-%d %H:%M UTC')", "cores": $(nproc), "load_start": "$load_start",
    "cpu": "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)",
    "corral_rev": "$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)",
    "versions": {"nginx": "$(nginx -v 2>&1 | sed 's|.*nginx/||')",
                 "meinheld": "(gunicorn $(gver gunicorn), meinheld $(gver meinheld))"},
}, open(sys.argv[1], "w"))
PY
python3 "$here/summarize.py" "$raw" "$BENCH_RESULTS"

# --- 4.–7. the later steps, each unless its BENCH_* switch is 0 ----------------------------------
# later_step SWITCH WHAT COMMAND...
later_step() {
    local switch=$1 what=$2; shift 2
    if [ "${!switch:-1}" = 1 ]; then
        "$@" || { echo "bench: error: the $what failed" >&2; status=1; }
    else
        echo "bench: NOTE: $what left out ($switch=${!switch})" >&2
    fi
}
later_step BENCH_SUPERVISOR "supervisor benchmark" \
    env SUP_RESULTS="$BENCH_RESULTS" CORRAL_HELLO="$CORRAL_HELLO" python3 "$here/supervisor.py"
later_step BENCH_WSGI "WSGI benchmark" \
    env ROUNDS="$ROUNDS" DURATION="$DURATION" WARMUP="$WARMUP" python3 "$here/wsgi.py"
later_step BENCH_WSGI "Flask on each Python" \
    env ROUNDS="$ROUNDS" DURATION="$DURATION" WARMUP="$WARMUP" python3 "$here/python_versions.py"
later_step BENCH_ASGI "ASGI benchmark" \
    env ROUNDS="$ROUNDS" DURATION="$DURATION" WARMUP="$WARMUP" python3 "$here/asgi.py"
later_step BENCH_ASGI "WebSocket benchmark" \
    env ROUNDS="$ROUNDS" DURATION="$DURATION" WARMUP="$WARMUP" python3 "$here/websocket.py"
later_step BENCH_ASGI "Autobahn, all cases" \
    python3 "$here/autobahn.py"
later_step BENCH_STATIC_MAP "static_map benchmark" \
    env ROUNDS="$ROUNDS" DURATION="$DURATION" WARMUP="$WARMUP" python3 "$here/static_map.py"
later_step BENCH_PRELOAD "preload_app benchmark" \
    env CORRALD="$top/.build/release/corrald" python3 "$here/preload.py"
later_step BENCH_MIGRATION "migration benchmark" \
    env MIGRATION_RESULTS="$BENCH_RESULTS" ROUNDS="$ROUNDS" DURATION="$DURATION" CORRAL_HELLO="$CORRAL_HELLO" python3 "$here/migration.py"
later_step BENCH_STATIC "static-file benchmark" \
    env STATIC_RESULTS="$BENCH_RESULTS" ROUNDS="$ROUNDS" DURATION="$DURATION" WARMUP="$WARMUP" python3 "$here/static.py"
later_step BENCH_TLS "HTTPS benchmark" \
    env STATIC_RESULTS="$BENCH_RESULTS" ROUNDS="$ROUNDS" DURATION="$DURATION" WARMUP="$WARMUP" python3 "$here/tls.py"
later_step BENCH_TLS "Flask over HTTP/2 benchmark" \
    env STATIC_RESULTS="$BENCH_RESULTS" ROUNDS="$ROUNDS" DURATION="$DURATION" WARMUP="$WARMUP" python3 "$here/h2_flask.py"
# 8. Chaos and slow clients: ChaosTests (wrk beside its own clients) and SlowClientsTests, from
#    the test build, for CHAOS_SECONDS and SLOW_SECONDS.
robustness_step() {
    (cd "$top" && swift build --build-tests > "$raw/robustness-build.log" 2>&1) || { cat "$raw/robustness-build.log"; return 1; }
    # One after the other: side by side they would share the two cores.
    (cd "$top" && CORRAL_CHAOS_SECONDS="${CHAOS_SECONDS:-60}" CORRAL_CHAOS_WRK=1 CORRAL_CHAOS_REPORT="$raw/chaos.txt" \
        swift test --skip-build --filter ChaosTests) || return 1
    (cd "$top" && CORRAL_SLOW_SECONDS="${SLOW_SECONDS:-30}" CORRAL_SLOW_REPORT="$raw/slow.txt" \
        swift test --skip-build --filter SlowClientsTests) || return 1
    { echo; echo "### Chaos under load"; echo; echo "ChaosTests for ${CHAOS_SECONDS:-60} s (see README, Chaos):"; echo;
      cat "$raw/chaos.txt"; echo; echo "### Slow clients"; echo; echo "SlowClientsTests for ${SLOW_SECONDS:-30} s:"; echo;
      cat "$raw/slow.txt"; } >> "$BENCH_RESULTS"
}
later_step BENCH_CHAOS "chaos and slow-client runs" robustness_step
[ "$status" = 0 ] || echo "bench: some measurements FAILED (see above); the table marks them" >&2
exit "$status"

#!/usr/bin/env bash
# make bench: corral against its anchors, nginx and gunicorn + meinheld, in one run.
# Each serves the same 13-byte "Hello, World!" from one process with access logging on; the
# servers alternate round by round (wrk -t1 -c64, keep-alive) and medians and ratios are printed.
# Then: RSS growth with 10,000 idle keep-alive connections, and heap allocations per request
# counted by valgrind. Results also go to bench/results/latest.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(dirname "$here")"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5}"
CORRAL_HELLO="${CORRAL_HELLO:-$top/.build/release/corral-example-hello}"
[ -x "$CORRAL_HELLO" ] || { echo "bench: $CORRAL_HELLO is missing; run 'swift build -c release' first" >&2; exit 1; }
bash "$here/setup.sh"
ulimit -n "$(ulimit -Hn)"

work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

wait_port() {  # PORT [tries of 50 ms]
    for _ in $(seq 1 "${2:-200}"); do
        curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
        sleep 0.05
    done
    echo "bench: nothing answers on port $1" >&2; exit 1
}

# corral
"$CORRAL_HELLO" --bind 127.0.0.1:18080 --access-logfile "$work/corral.log" --worker-connections 20000 --keep-alive 75 \
    2>"$work/corral.err" &
pids+=($!); corral_pid=$!

# nginx, one worker, access log buffered as recommended
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<CONF
user root;
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 20000; }
http {
    access_log $work/nginx/access.log combined buffer=64k;
    keepalive_requests 1000000;
    client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
    uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
    server {
        listen 127.0.0.1:18081;
        location / { default_type text/plain; return 200 "Hello, World!"; }
    }
}
CONF
/usr/sbin/nginx -c "$work/nginx/nginx.conf" &
pids+=($!)

# gunicorn + meinheld, one worker
cat > "$work/app.py" <<'APP'
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello, World!"]
APP
(cd "$work" && exec "$here/.venv/bin/gunicorn" -w 1 -k egg:meinheld#gunicorn_worker -b 127.0.0.1:18082 \
    --access-logfile "$work/meinheld.log" app:app 2>"$work/gunicorn.err") &
pids+=($!); gunicorn_pid=$!

for port in 18080 18081 18082; do wait_port $port; done
for port in 18080 18081 18082; do
    body="$(curl -s "http://127.0.0.1:$port/")"
    [ "$body" = "Hello, World!" ] || { echo "bench: port $port answered '$body'" >&2; exit 1; }
done

server_pid() {  # the process that serves: for gunicorn, its worker child
    case $1 in
        corral) echo "$corral_pid" ;;
        nginx) pgrep -f "nginx: worker process" | head -1 ;;
        meinheld) pgrep -P "$gunicorn_pid" | head -1 ;;
    esac
}
port_of() { case $1 in corral) echo 18080 ;; nginx) echo 18081 ;; meinheld) echo 18082 ;; esac; }
rss_mb() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
to_ms() {  # wrk latency like 512.00us / 1.23ms / 1.02s → ms
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}

servers=(corral nginx meinheld)
for s in "${servers[@]}"; do : > "$work/$s.results"; done
for round in $(seq 1 "$ROUNDS"); do
    for s in "${servers[@]}"; do
        port=$(port_of $s)
        wrk -t1 -c64 -d1s "http://127.0.0.1:$port/" >/dev/null   # warm-up
        out="$(wrk -t1 -c64 -d"${DURATION}s" --latency "http://127.0.0.1:$port/")"
        rps="$(awk '/Requests\/sec/ { print $2 }' <<<"$out")"
        p99="$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")"
        errors="$(awk '/Non-2xx|Socket errors/ { print }' <<<"$out")"
        rss="$(rss_mb "$(server_pid $s)")"
        echo "$rps $p99 $rss" >> "$work/$s.results"
        printf 'round %d %-9s %10s req/s  p99 %8s ms  RSS %6s MB %s\n' "$round" "$s" "$rps" "$p99" "$rss" "$errors"
    done
done

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
declare -A RPS P99 RSS
for s in "${servers[@]}"; do
    RPS[$s]="$(cut -d' ' -f1 "$work/$s.results" | median)"
    P99[$s]="$(cut -d' ' -f2 "$work/$s.results" | median)"
    RSS[$s]="$(cut -d' ' -f3 "$work/$s.results" | median)"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# 10,000 idle keep-alive connections: corral's RSS growth.
idle="$(python3 "$here/client.py" idle 18080 "$corral_pid" 10000)"
idle_growth="$(awk '{ print $4 }' <<<"$idle")"

# Heap allocations per request in the steady state: valgrind counts every malloc; two runs that
# differ only in the number of requests give the per-request cost.
# valgrind 3.19 cannot read Swift's DWARF 5 debug info, so it runs a stripped copy.
strip -o "$work/hello-stripped" "$CORRAL_HELLO"
count_allocs() {
    local n=$1 log="$work/valgrind-$1.log"
    valgrind --tool=memcheck --log-file="$log" "$work/hello-stripped" --bind 127.0.0.1:18090 \
        --access-logfile "$work/valgrind-access.log" 2>/dev/null &
    local vpid=$!
    wait_port 18090 1200   # valgrind starts slowly
    python3 "$here/client.py" requests 18090 2000 4   # warm-up: pools and buffers reach size
    python3 "$here/client.py" requests 18090 "$n" 4
    kill -TERM "$vpid"; wait "$vpid" || true
    sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p' "$log" | tr -d ,
}
a1="$(count_allocs 1000)"
a2="$(count_allocs 11000)"
per_request="$(awk -v a="$a1" -v b="$a2" 'BEGIN { printf "%.3f", (b - a) / 10000 }')"

mkdir -p "$here/results"
{
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores: wrk -t1 -c64 -d${DURATION}s keep-alive, one server process each,"
    echo "13-byte body, access log on, median of $ROUNDS alternating rounds."
    echo
    echo "| server | req/s | p99 (ms) | RSS (MB) |"
    echo "|---|---|---|---|"
    for s in "${servers[@]}"; do echo "| $s | ${RPS[$s]} | ${P99[$s]} | ${RSS[$s]} |"; done
    echo
    echo "| ratio | value | target |"
    echo "|---|---|---|"
    echo "| corral / nginx req/s | $(ratio "${RPS[corral]}" "${RPS[nginx]}") | ≥ 1.0 |"
    echo "| corral / gunicorn+meinheld req/s | $(ratio "${RPS[corral]}" "${RPS[meinheld]}") | ≥ 4.0 |"
    echo "| corral / nginx p99 | $(ratio "${P99[corral]}" "${P99[nginx]}") | ≤ 1.5 |"
    echo "| corral RSS growth, 10,000 idle keep-alive connections | ${idle_growth} MB | < 20 MB |"
    echo "| heap allocations per request (valgrind, 10,000 requests) | ${per_request} | 0 |"
} | tee "$here/results/latest.md"

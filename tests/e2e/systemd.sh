#!/usr/bin/env bash
# tests/e2e/systemd.sh — corral under a real systemd (part of `make test`; needs root).
#
# systemd 252 boots as PID 1 in private PID and mount namespaces (tmpfs on /tmp, /run and
# /var/tmp first, so its tmpfiles cannot touch the host's), into a target that starts only
# journald. The .deb from `make deb` is installed with dpkg, and systemctl/journalctl run inside
# with nsenter (into its root, too: it may run in a Debian root made by tools/debian-root.sh); the network namespace is shared, so curl on loopback reaches corral. Afterwards
# the namespace is torn down and the package purged.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
debs="${DEB_DIR:-$top}"                                                # where make deb wrote them
deb="$(ls -t "$debs"/corral_*.deb 2>/dev/null | head -1)"              # the newest
worker_deb="$(ls -t "$debs"/corral-python3.*_*.deb 2>/dev/null | head -1)"   # the release's Python's worker
wsgi_deb="$(ls -t "$debs"/corral-python_*.deb 2>/dev/null | head -1)"
old_deb="$(ls -t "$debs"/corral-wsgi_*_all.deb 2>/dev/null | head -1)"   # the transitional package
python_minor="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
flask=/srv/corral-e2e     # the Flask app and its venv: outside /tmp and /home, which the unit hides
if [ "$(id -u)" != 0 ]; then echo "e2e: SKIPPED: booting systemd needs root (CI runs as root)"; exit 0; fi
[ -n "$deb" ] && [ -n "$worker_deb" ] && [ -n "$wsgi_deb" ] && [ -n "$old_deb" ] \
    || { echo "e2e: no corral_*.deb, corral-python3.*_*.deb, corral-python_*.deb and corral-wsgi_*_all.deb in $debs: run make deb first" >&2; exit 1; }

mkdir -p "$top/.build"
work="$(mktemp -d "$top/.build/e2e.XXXXXX")"   # not under /tmp or /var/tmp: the booted system mounts its own
boot_pid=""
cleanup() {
    if [ -n "$boot_pid" ]; then kill -KILL "$boot_pid" 2>/dev/null || true; fi
    [ -n "${load:-}" ] && kill "$load" 2>/dev/null
    dpkg --purge corral-wsgi corral-python "corral-python$python_minor" corral >/dev/null 2>&1 || true
    rm -rf "$work" "$flask" /srv/corral-e2e-debs
}
trap cleanup EXIT
CHECKS=e2e
# shellcheck source=../checks.sh
source "$top/tests/checks.sh"

mkdir -p "$work/units"
cat > "$work/units/corral-e2e.target" <<'UNIT'
[Unit]
Description=corral end-to-end test
Requires=systemd-journald.socket systemd-journald.service
After=systemd-journald.service
AllowIsolate=yes
UNIT
cat > "$work/boot" <<BOOT
#!/bin/sh
# The bind first: the tree (and so \$work) may live under /tmp, which the tmpfs then hides.
mount --bind "$work/units" /etc/systemd/system || exit 1
mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /var/tmp || exit 1
# A journal of this run's own: the checks read what this corral wrote, not an earlier run's lines.
if [ -d /var/log/journal ]; then mount -t tmpfs tmpfs /var/log/journal || exit 1; fi
# No rate limit: the checks look for corrald's lines among thousands of access entries a second,
# and a unit's LogRateLimitIntervalSec= needs cgroup xattrs this namespace may not have.
mkdir -p /etc/systemd/journald.conf.d && mount -t tmpfs tmpfs /etc/systemd/journald.conf.d || exit 1
printf '[Journal]\nRateLimitIntervalSec=0\n' > /etc/systemd/journald.conf.d/e2e.conf || exit 1
# systemd 256 and later refuse cgroup v1 (this kernel's) unless the kernel command line, in a
# container PID 1's own arguments, forces it; earlier ones ignore the argument.
exec env container=corral-e2e /lib/systemd/systemd --system --unit=corral-e2e.target SYSTEMD_CGROUP_ENABLE_LEGACY_FORCE=1
BOOT
chmod +x "$work/boot"

setsid unshare --pid --fork --mount --mount-proc --propagation private "$work/boot" > "$work/boot.log" 2>&1 &
launcher=$!
for _ in $(seq 1 100); do
    boot_pid="$(cat /proc/$launcher/task/$launcher/children 2>/dev/null | awk '{print $1}')"
    [ -n "$boot_pid" ] && break
    sleep 0.1
done
[ -n "$boot_pid" ] || { echo "e2e: systemd did not start:"; cat "$work/boot.log"; exit 1; }
inside() { nsenter -t "$boot_pid" -m -p -r -w "$@"; }
running() { [ "$(inside systemctl is-system-running 2>/dev/null)" = running ]; }
eventually running || { echo "e2e: systemd did not reach running ($(inside systemctl is-system-running 2>&1)):"; tail -20 "$work/boot.log"; inside systemctl --failed --no-pager 2>&1; inside journalctl -b --no-pager 2>&1 | tail -40; exit 1; }
echo "e2e: systemd booted as PID 1 of its namespace (pid $boot_pid here)"

# dpkg runs here (the .deb may be under /tmp, hidden inside); the file system is shared.
dpkg -i "$deb" "$worker_deb" "$wsgi_deb" "$old_deb" > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; exit 1; }
inside systemctl daemon-reload
echo "e2e: $(inside systemctl --version | head -1), packages $(cd "$debs" && echo "$(basename "$deb") $(basename "$worker_deb") $(basename "$wsgi_deb")")"
release_worker() {
    [ "$(readlink /usr/bin/corral-python)" = "corral-python$python_minor" ] &&
        ldd "/usr/bin/corral-python$python_minor" | grep -q "libpython$python_minor.so" && ! ldd /usr/bin/corrald | grep -q libpython
}
check "corral-python is corral-python$python_minor, on the release's libpython$python_minor (corrald links none)" release_worker
old_name() { [ "$(readlink /usr/bin/corral-wsgi)" = corral-python ] && /usr/bin/corral-wsgi --help | grep -q 'USAGE: corral-python'; }
check "the worker's old name, corral-wsgi (and its transitional package), runs corral-python" old_name
verify() {
    local said
    said="$(inside sh -c 'cd /lib/systemd/system && systemd-analyze verify corral.service corral.socket corral@e2e.service corral@e2e.socket' 2>&1)"
    [ -z "$said" ] || { echo "$said" >&2; return 1; }
}
check "systemd-analyze verify reports nothing for the installed units (man pages included)" verify
man_pages_name_their_commands() {
    for command in corrald corralctl corral-worker corral-python; do
        zcat "/usr/share/man/man1/$command.1.gz" | grep -qx ".Nm $command" || return 1
    done
    ! zcat /usr/share/man/man1/corrald.1.gz | grep -q subcommand
}
check "each installed man page names its own command, and corrald's has no subcommand" man_pages_name_their_commands
cp /etc/corral/corral.toml "$work/corral.toml"

code() { curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/"; }
property() { inside systemctl show "$1" -p "$2" --value; }
has() { [ "$(property "$1" "$2")" = "$3" ]; }                     # has UNIT PROPERTY VALUE
status_matches() { property corral.service StatusText | grep -q "$1"; }
# corrald's children, by their pids inside the namespace (MainPID is one of those).
workers() { inside sh -c "cat /proc/$(property corral.service MainPID)/task/*/children" 2>/dev/null | tr ' ' '\n' | sed '/^$/d' | sort; }

inside systemctl start corral.socket
listening() { ss -Hltn "sport = :8000" | grep -q LISTEN; }
check "corral.socket listens" eventually listening
check "corral.service is not started before the first connection" has corral.service ActiveState inactive
check "the first request is answered (it starts corral.service)" test "$(code 8000)" = 200
check "corral.service becomes active" eventually has corral.service ActiveState active
check "StatusText names the ready generation" eventually status_matches 'workers of generation 1 ready'
check "READY=1 came after every worker was ready" sh -c "nsenter -t $boot_pid -m -p -r -w journalctl -u corral -o cat | grep -q 'all 5 workers of generation 1 ready\|all [0-9]* workers of generation 1 ready'"
main_pid="$(property corral.service MainPID)"

# systemctl reload under continuous load: no failed request.
# Four keep-alive clients; a request without a complete 200 is a failure (no retries).
cat > "$work/load.py" <<'LOAD'
import http.client, os, sys, threading
stop, results, lock = sys.argv[1], {"ok": 0, "failed": 0}, threading.Lock()
def client():
    connection = None
    while not os.path.exists(stop):
        try:
            connection = connection or http.client.HTTPConnection("127.0.0.1", 8000, timeout=10)
            connection.request("GET", "/")
            response = connection.getresponse()
            response.read()
            outcome = "ok" if response.status == 200 else "failed"
            if response.getheader("connection", "").lower() == "close":
                connection.close(); connection = None
        except Exception:
            outcome, connection = "failed", None
        with lock:
            results[outcome] += 1
            if results["ok"] == 1: open(stop + ".running", "w").close()
threads = [threading.Thread(target=client) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(results["ok"], results["failed"])
LOAD
# The load runs in the background; each phase starts once it has had its first answer.
start_load() {
    rm -f "$work/stop-load" "$work/stop-load.running"
    python3 "$work/load.py" "$work/stop-load" > "$work/load.txt" &
    load=$!
    eventually test -e "$work/stop-load.running" || { echo "e2e: the load got no answer"; exit 1; }
}
start_load
before="$(workers)"
check "systemctl reload succeeds" inside systemctl reload corral
after="$(workers)"
check "every worker pid replaced" test -z "$(comm -12 <(echo "$before") <(echo "$after"))"
check "StatusText reports the reload" status_matches 'reload 1 done: .* generation 2 ready'
check "MainPID unchanged" has corral.service MainPID "$main_pid"

# A broken deploy: systemctl reload fails and says why; the old workers keep serving.
printf 'workers = 2\nworker_cmd = "/bin/false"\nboot_timeout = 5\n' > /etc/corral/corral.toml
check "systemctl reload with a broken worker fails" sh -c "! nsenter -t $boot_pid -m -p -r -w systemctl reload corral 2>/dev/null"
check "StatusText says why" status_matches 'reload 2 failed: worker .* exited with status 1 during boot; generation 2 still serving'
check "the old workers still serve" test "$(workers)" = "$after"
cp "$work/corral.toml" /etc/corral/corral.toml
touch "$work/stop-load"; wait "$load" || true
read -r answered failed < "$work/load.txt"
check "no failed request across both reloads ($answered answered, ${failed:-?} failed)" test "${failed:-1}" = 0 -a "${answered:-0}" -gt 100

victim="$(workers | head -1)"
count="$(workers | wc -l)"
inside kill -KILL "$victim"
replaced() { [ "$(workers | wc -l)" = "$count" ] && ! workers | grep -qx "$victim"; }
check "kill -9 of a worker: replaced" eventually replaced
check "journalctl -u corral CORRAL_EVENT=reload-done finds the reload" sh -c "nsenter -t $boot_pid -m -p -r -w journalctl -u corral CORRAL_EVENT=reload-done -o cat | grep -q 'reload done'"
check "access entries carry STATUS" sh -c "nsenter -t $boot_pid -m -p -r -w journalctl SYSLOG_IDENTIFIER=corral-access STATUS=200 -o cat | grep -q ."
check "corralctl with no -s or -c finds corrald's socket under systemd" sh -c "nsenter -t $boot_pid -m -p -r -w corralctl status | grep -q RUNNING"
check "and its prompt takes verbs from a pipe" sh -c "printf 'pid\\nquit\\n' | nsenter -t $boot_pid -m -p -r -w corralctl | grep -qx '$(property corral.service MainPID)'"

# The package upgrade path: dpkg -i of the package (again) inside the booted system, under load.
# Its postinst runs `corralctl upgrade`: corrald re-executes the new binary with the same MAINPID.
mkdir -p /srv/corral-e2e-debs && cp "$deb" /srv/corral-e2e-debs/corral.deb
main_pid="$(property corral.service MainPID)"
before="$(workers)"
start_load
check "dpkg -i of the package under load succeeds" sh -c "nsenter -t $boot_pid -m -p -r -w dpkg -i /srv/corral-e2e-debs/corral.deb > $work/dpkg-upgrade.log 2>&1"
check "its postinst upgraded corral in place" grep -q 'corral: corral.service upgraded: corral' "$work/dpkg-upgrade.log"
check "MainPID unchanged by the upgrade" has corral.service MainPID "$main_pid"
version="$(sed -n '1s/^corral (\(.*\)-[^-]*) .*/\1/p' "$top/packaging/changelog")"
check "StatusText names the new version ($version)" status_matches "upgraded to corral $version"
upgraded_workers() { [ -n "$(workers)" ] && [ -z "$(comm -12 <(echo "$before") <(workers))" ]; }
check "every worker replaced by the upgrade" eventually upgraded_workers
# WatchdogSec=30: the new image pings systemd's watchdog (every 15 s), or systemd would kill it.
last_ping="$(property corral.service WatchdogTimestampMonotonic)"
pinged_again() { [ "$(property corral.service WatchdogTimestampMonotonic)" != "$last_ping" ]; }
check "the upgraded corrald feeds systemd's watchdog" eventually pinged_again
touch "$work/stop-load"; wait "$load" || true
load=""
read -r answered failed < "$work/load.txt"
check "no failed request across the package upgrade ($answered answered, ${failed:-?} failed)" test "${failed:-1}" = 0 -a "${answered:-0}" -gt 100
rm -rf /srv/corral-e2e-debs

# A second app from the template, on its own port.
printf 'bind = ["127.0.0.1:8001"]\nworkers = 1\nworker_cmd = ["/usr/bin/corral-worker", "--root", "/var/lib/corral/www"]\n' > /etc/corral/shop.toml
inside systemctl start corral@shop.service
check "the template instance serves a second app" test "$(code 8001)" = 200
rm -f /etc/corral/shop.toml

# The users' own app: Flask from a venv, served by corral-python behind corral.socket.
rm -rf "$flask" && mkdir -p "$flask/app"
cp "$top/tests/wsgi/flask_app.py" "$top/tests/wsgi/broken_import.py" "$top/tests/wsgi/static.txt" "$top/tests/asgi/fastapi_app.py" "$flask/app/"
/usr/bin/python3 -m venv "$flask/venv" && "$flask/venv/bin/pip" install -q 'flask==3.1.*' 'gevent>=24' 'fastapi==0.165.*' 'websockets==15.*' > "$work/pip.log" 2>&1 \
    || { cat "$work/pip.log"; exit 1; }
flask_config() {   # flask_config APP
    printf 'wsgi_app = "%s"\nchdir = "%s/app"\nvirtualenv = "%s/venv"\nworkers = 2\nthreads = 4\nboot_timeout = 20\naccesslog = "journal"\n' \
        "$1" "$flask" "$flask" > /etc/corral/corral.toml
}
start_load
flask_config flask_app:app
check "systemctl reload to the Flask app succeeds" inside systemctl reload corral
hello() { [ "$(curl -s -m 10 http://127.0.0.1:8000/)" = "Hello, World!" ]; }
check "the Flask app answers through corral.socket" hello
check "its workers are corral-python" sh -c "nsenter -t $boot_pid -m -p -r -w ps -o comm= --ppid $(property corral.service MainPID) | grep -q corral-python"
before="$(workers)"
check "systemctl reload of the Flask app succeeds" inside systemctl reload corral
# The old generation drains and exits after READY=1: wait until only the two new workers remain.
only_new_workers() { [ -z "$(comm -12 <(echo "$before") <(workers))" ] && [ "$(workers | wc -l)" = 2 ]; }
check "every Flask worker replaced" eventually only_new_workers
flask_workers="$(workers)"
flask_config broken_import:app
check "a deploy whose app raises at import fails systemctl reload" sh -c "! nsenter -t $boot_pid -m -p -r -w systemctl reload corral 2>/dev/null"
check "StatusText says the workers exited with status 4 (app load error)" status_matches 'failed: worker .* exited with status 4 during boot'
has_traceback() { inside journalctl -u corral -o cat | grep -q 'ImportError: this deploy is broken on purpose'; }
check "the journal has the app's traceback (no rate limit drops it among the access entries)" eventually has_traceback
same_workers() { [ "$(workers)" = "$flask_workers" ]; }   # once the failed ones are reaped
check "the old Flask workers still serve" eventually same_workers
check "and answer" hello
touch "$work/stop-load"; wait "$load" || true
read -r answered failed < "$work/load.txt"
check "no failed request across the Flask reloads ($answered answered, ${failed:-?} failed)" test "${failed:-1}" = 0 -a "${answered:-0}" -gt 100

# HTTPS through corral.socket: the same Flask app with certfile and keyfile, readable by the
# corral group only (the workers run as corral); a plain request to the port is told to use https.
mkdir -p /etc/corral/tls
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout /etc/corral/tls/key.pem -out /etc/corral/tls/cert.pem 2>/dev/null
chown root:corral /etc/corral/tls/key.pem && chmod 0640 /etc/corral/tls/key.pem
flask_config flask_app:app
printf 'certfile = "/etc/corral/tls/cert.pem"\nkeyfile = "/etc/corral/tls/key.pem"\n' >> /etc/corral/corral.toml
check "systemctl reload to the Flask app over HTTPS succeeds" inside systemctl reload corral
https_hello() { [ "$(curl -s -m 10 --cacert /etc/corral/tls/cert.pem --resolve localhost:8000:127.0.0.1 https://localhost:8000/)" = "Hello, World!" ]; }
check "the Flask app answers https:// through corral.socket" eventually https_hello
check "plain http:// to that port is told to use https://" sh -c "curl -s -m 10 http://127.0.0.1:8000/ | grep -q 'use https://'"
tls_logged() { inside journalctl -u corral -o cat | grep -q "session tickets under corrald's keys"; }
check "the journal says the workers serve TLS with corrald's session-ticket keys" tls_logged
flask_config flask_app:app
check "systemctl reload back to plain HTTP succeeds" inside systemctl reload corral
check "and the app answers http:// again" eventually hello
rm -rf /etc/corral/tls

# An ASGI app: FastAPI from the same venv (worker_class asgi, lifespan) behind corral.socket.
# graceful_timeout 4: the reload's old workers close their WebSockets with 1012 after 3 s.
printf 'wsgi_app = "fastapi_app:app"\nworker_class = "asgi"\nchdir = "%s/app"\nvirtualenv = "%s/venv"\nworkers = 2\nboot_timeout = 20\naccesslog = "journal"\ngraceful_timeout = 4\n' \
    "$flask" "$flask" > /etc/corral/corral.toml
start_load
check "systemctl reload to the FastAPI app (worker_class asgi) succeeds" inside systemctl reload corral
fastapi_hello() { [ "$(curl -s -m 10 http://127.0.0.1:8000/)" = '{"hello":"world"}' ]; }
check "the FastAPI app answers through corral.socket" eventually fastapi_hello
lifespan_state() { curl -s -m 10 http://127.0.0.1:8000/scope | grep -q '"state":"pool-'; }
check "its lifespan ran: requests see the state it stored" lifespan_state
"$flask/venv/bin/python" "$top/tests/asgi/ws_client.py" hold 'ws://127.0.0.1:8000/ws?name=e2e' '{"n": 2}' > "$work/ws.txt" 2>&1 &
ws_client=$!
ws_open() { grep -q '^open' "$work/ws.txt"; }
check "a WebSocket to the FastAPI app is open through corral.socket" eventually ws_open
before="$(workers)"
check "systemctl reload of the FastAPI app succeeds" inside systemctl reload corral
check "every FastAPI worker replaced" eventually only_new_workers
ws_restarted() { grep -q '^closed 1012 service restart' "$work/ws.txt"; }
check "the reload closed the open WebSocket with 1012 (service restart)" eventually ws_restarted
ws_back() { grep -q '^reconnected {"to":"e2e","echo":{"n":2}' "$work/ws.txt"; }
check "and its client reconnected to a new worker" eventually ws_back
wait "$ws_client" || true
touch "$work/stop-load"; wait "$load" || true
read -r answered failed < "$work/load.txt"
check "no failed request across the FastAPI reloads ($answered answered, ${failed:-?} failed)" test "${failed:-1}" = 0 -a "${answered:-0}" -gt 100

# A gunicorn deployment moved as it is: the article's gunicorn_config.py (preload_app, 2 × cores
# + 1 gevent workers, its pidfile and access log relative to the working directory) named by
# the unit's ExecStart, through a drop-in for the template's instance "article".
cp "$top/tests/gunicorn/gevent_config.py" "$flask/app/gunicorn_config.py"
# (The booted system's /etc/systemd/system is $work/units.)
mkdir -p "$work/units/corral@article.service.d"
cat > "$work/units/corral@article.service.d/gunicorn.conf" <<UNIT
[Service]
WorkingDirectory=/run/corral-article
ExecStart=
ExecStart=/usr/bin/corrald -c $flask/app/gunicorn_config.py -b 127.0.0.1:8002 --pythonpath $flask/app --virtualenv $flask/venv --control-socket /run/corral-article/corral.sock -n article flask_app:app
ExecReload=
ExecReload=/usr/bin/corralctl reload -s unix:///run/corral-article/corral.sock
UNIT
inside systemctl daemon-reload
check "corral@article.service starts from gunicorn_config.py" inside systemctl start corral@article.service
inside systemctl is-active -q corral@article.service || inside journalctl -u corral@article.service --no-pager -n 60 >&2
article_hello() { [ "$(curl -s -m 10 http://127.0.0.1:8002/)" = "Hello, World!" ]; }
check "it serves the app" eventually article_hello
one_preloader() { [ "$(inside ps -o comm= --ppid "$(property corral@article.service MainPID)" | grep -c corral-preload)" = 1 ]; }
check "its workers were forked from one preloading process (preload_app)" eventually one_preloader
pidfile_is_mainpid() { [ "$(inside cat /run/corral-article/app_run.log)" = "$(property corral@article.service MainPID)" ]; }
check "the file's pidfile (app_run.log, relative) holds corrald's pid" pidfile_is_mainpid
article_logged() { inside grep -q '127.0.0.1 \[.*\] / $' /run/corral-article/access.log; }
check "the access log has the file's format (%(h)s %(t)s %(U)s %(q)s)" eventually article_logged
check "systemctl reload re-reads gunicorn_config.py and succeeds" inside systemctl reload corral@article.service
inside systemctl stop corral@article.service
rm -rf "$work/units/corral@article.service.d"
inside systemctl daemon-reload

# max_worker_rss under MemoryMax=: a worker that grows is recycled before the OOM killer comes.
cp "$top/tests/wsgi/hog.py" "$flask/app/"
hog_config() {   # hog_config MAX_WORKER_RSS
    printf 'wsgi_app = "hog:app"\nchdir = "%s/app"\nvirtualenv = "%s/venv"\nworkers = 2\nthreads = 4\nboot_timeout = 20\nmax_worker_rss = "%s"\n' \
        "$flask" "$flask" "$1" > /etc/corral/corral.toml
}
inside systemctl set-property --runtime corral.service MemoryMax=400M
# corral.service's memory cgroup: the v1 memory hierarchy's, or the unified one's.
memory_dir() {
    local line
    line="$(inside cat "/proc/$(property corral.service MainPID)/cgroup" | grep -m1 '^[0-9]*:memory:')"
    if [ -n "$line" ]; then echo "/sys/fs/cgroup/memory${line#*:memory:}"; else echo "/sys/fs/cgroup$(inside cat "/proc/$(property corral.service MainPID)/cgroup" | sed -n 's/^0:://p')"; fi
}
memory_limit() { inside cat "$(memory_dir)/memory.max" 2>/dev/null || inside cat "$(memory_dir)/memory.limit_in_bytes"; }
oom_kills() { { inside cat "$(memory_dir)/memory.events" 2>/dev/null || inside cat "$(memory_dir)/memory.oom_control"; } | awk '$1 == "oom_kill" { print $2 }'; }
check "corral.service's memory cgroup is limited to 400M by MemoryMax=" test "$(memory_limit)" = 419430400
corrald_says() { inside journalctl -u corral SYSLOG_IDENTIFIER=corrald -o cat | grep -q "$1"; }
hog_config 200M
check "systemctl reload to a memory-hungry app succeeds" inside systemctl reload corral
check "max_worker_rss × (workers + 1) above MemoryMax= is warned about" \
    corrald_says 'max_worker_rss 200 MiB × (2 workers + 1 replacing one) = 600 MiB is above this cgroup.s memory.max (400 MiB'
hog_config 100M
check "systemctl reload with max_worker_rss 100M succeeds" inside systemctl reload corral
before_oom="$(oom_kills)"
before="$(workers)"
start_load
grow() { for _ in $(seq 12); do curl -sf -m 10 -o /dev/null http://127.0.0.1:8000/grow || return 1; done; }
check "twelve requests that each keep 20 MB are answered" grow
check "a worker past max_worker_rss is recycled (the journal says so)" eventually corrald_says 'over max_worker_rss 100 MiB; recycling it'
a_worker_replaced() { [ -n "$(comm -23 <(echo "$before") <(workers))" ] && [ "$(workers | wc -l)" = 2 ]; }
check "it was replaced, two workers serve" eventually a_worker_replaced
touch "$work/stop-load"; wait "$load" || true
read -r answered failed < "$work/load.txt"
check "no failed request while it was recycled ($answered answered, ${failed:-?} failed)" test "${failed:-1}" = 0 -a "${answered:-0}" -gt 100
check "and the kernel's OOM killer never came (oom_kill ${before_oom:-?} → $(oom_kills))" test -n "$before_oom" -a "$(oom_kills)" = "$before_oom"
inside systemctl set-property --runtime corral.service MemoryMax=infinity
cp "$work/corral.toml" /etc/corral/corral.toml

inside systemctl stop corral.service corral@shop.service corral.socket
check "systemctl stop: corral.service inactive" has corral.service ActiveState inactive
check "nothing left in its cgroup" has corral.service TasksCurrent "[not set]"
check "corrald exited cleanly" has corral.service Result success

# systemd's fd store: corral.service alone (no corral.socket) opens its own socket and hands it to
# systemd, so a crash of corrald leaves the port bound: new clients wait, none is refused.
inside systemctl start corral.service
check "corral.service alone is active" eventually has corral.service ActiveState active
check "its listening socket is in systemd's fd store" eventually has corral.service NFileDescriptorStore 1
cat > "$work/connect.py" <<'CONNECT'
import http.client, os, sys
stop, answered, refused, other = sys.argv[1], 0, 0, 0
while not os.path.exists(stop):
    try:
        connection = http.client.HTTPConnection("127.0.0.1", 8000, timeout=20)
        connection.request("GET", "/", headers={"Connection": "close"})
        response = connection.getresponse(); response.read(); connection.close()
        answered += response.status == 200
    except ConnectionRefusedError:
        refused += 1
    except Exception:
        other += 1   # a request in a killed worker's hands is cut; the test counts refusals
print(answered, refused, other)
CONNECT
python3 "$work/connect.py" "$work/stop-connect" > "$work/connect.txt" &
load=$!
crashed_pid="$(property corral.service MainPID)"
sleep 0.5
inside kill -KILL "$crashed_pid"
restarted() { local pid; pid="$(property corral.service MainPID)"; [ "$pid" != 0 ] && [ "$pid" != "$crashed_pid" ] && [ "$(property corral.service ActiveState)" = active ]; }
check "kill -9 of corrald: systemd restarts it" eventually restarted
took_socket_back() { inside journalctl -u corral -o cat | grep -q "taken back from systemd's fd store: 127.0.0.1:8000"; }
check "the new corrald took its socket back from the fd store" eventually took_socket_back
sleep 1
touch "$work/stop-connect"; wait "$load" || true
load=""
read -r answered refused other < "$work/connect.txt"
check "across the crash clients saw delay, not refusal ($answered answered, ${refused:-?} refused, ${other:-?} cut)" test "${refused:-1}" = 0 -a "${answered:-0}" -gt 10
rm -f "$work/stop-connect"
python3 "$work/connect.py" "$work/stop-connect" > "$work/connect.txt" &
load=$!
sleep 0.5
inside systemctl restart corral.service
check "systemctl restart: active again" eventually has corral.service ActiveState active
sleep 1
touch "$work/stop-connect"; wait "$load" || true
load=""
read -r answered refused other < "$work/connect.txt"
check "across systemctl restart clients saw delay, not refusal ($answered answered, ${refused:-?} refused, ${other:-?} cut)" test "${refused:-1}" = 0 -a "${answered:-0}" -gt 10
inside systemctl stop corral.service
check "stopped again: corral.service inactive" has corral.service ActiveState inactive

if [ "$failures" != 0 ]; then
    echo "e2e: $failures check(s) failed; corral's journal:" >&2
    # Without the access entries, which would crowd out the rest.
    inside journalctl -u corral --no-pager -o short-monotonic | grep -v ' corral-access\[' | tail -60 >&2 || true
    exit 1
fi
echo "e2e: all checks passed"

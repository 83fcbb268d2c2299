#!/usr/bin/env python3
"""bench/summarize.py — turns the raw results of bench/run.sh into the table it prints and
bench/results/latest.md. Called by run.sh; not meant to be run by hand.

    summarize.py RAWDIR OUT.md

RAWDIR holds, from run.sh:
  meta.json                 settings and versions
  SERVER.ROUND.wrk          wrk --latency output of one measured run
  SERVER.ROUND.rss          the serving process's VmRSS in kB, read right after that run
  idle-SERVER.json          bench/idle.py --json output (or idle-SERVER.failed)
  allocs.txt                bench/allocs.sh's result line (or allocs.failed)
  allocs-static.txt         the same for corral-worker serving a cached file (or allocs-static.failed)

wrk's latencies (us, ms, s, m) are normalised to milliseconds. Medians are over the rounds.
"""
import json
import os
import re
import statistics
import sys

# Targets from the benchmark issue; README quotes them.
TARGETS = {
    "rps_nginx": (">=", 1.0),
    "rps_meinheld": (">=", 4.0),
    "p99_nginx": ("<=", 1.5),
    "idle_mb": ("<", 20.0),
    "allocs": ("<=", 0.0),
}
LABELS = {
    "corral": "corral (Examples/hello)",
    "nginx": "nginx, `return 200`",
    "meinheld": "gunicorn + meinheld",
}
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def to_ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise ValueError(f"unrecognised wrk latency {text!r}")
    return float(m.group(1)) * UNITS_MS[m.group(2)]


def parse_wrk(text):
    """Returns dict(rps, p99_ms, p50_ms, requests, errors) from wrk --latency output."""
    out = {"errors": []}
    m = re.search(r"^Requests/sec:\s+([0-9.]+)", text, re.M)
    if not m:
        raise ValueError("no Requests/sec line in wrk output")
    out["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M)
        if not m:
            raise ValueError(f"no {pct}% latency line in wrk output (was --latency given?)")
        out[key] = to_ms(m.group(1))
    m = re.search(r"^\s+(\d+) requests in", text, re.M)
    out["requests"] = int(m.group(1)) if m else None
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m and any(int(x) for x in m.groups()):
        out["errors"].append(m.group(0))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        out["errors"].append(m.group(0))
    return out


def check(value, target):
    op, bound = target
    ok = {"<=": value <= bound, ">=": value >= bound, "<": value < bound}[op]
    return f"{op.replace('<=', '≤').replace('>=', '≥')} {bound:g}" + ("" if ok else " (not met)")


def main():
    raw, out_md = sys.argv[1], sys.argv[2]
    with open(os.path.join(raw, "meta.json")) as f:
        meta = json.load(f)
    servers, rounds = meta["servers"], meta["rounds"]

    med, per_round = {}, {}
    for s in servers:
        runs = []
        for r in range(1, rounds + 1):
            with open(os.path.join(raw, f"{s}.{r}.wrk")) as f:
                w = parse_wrk(f.read())
            with open(os.path.join(raw, f"{s}.{r}.rss")) as f:
                w["rss_mb"] = int(f.read().strip()) / 1024
            runs.append(w)
        per_round[s] = runs
        med[s] = {k: statistics.median(w[k] for w in runs) for k in ("rps", "p50_ms", "p99_ms", "rss_mb")}
        med[s]["errors"] = [e for w in runs for e in w["errors"]]

    def ratio(a, b, key):
        if a in med and b in med and med[b][key]:
            return med[a][key] / med[b][key]
        return None

    idle, idle_failed_why = {}, {}
    for s in servers:
        p = os.path.join(raw, f"idle-{s}.json")
        if os.path.exists(os.path.join(raw, f"idle-{s}.failed")):
            idle[s] = None  # idle.py may have written figures, but they are not valid
            if os.path.exists(p):
                with open(p) as f:
                    d = json.load(f)
                idle_failed_why[s] = (f"{d['closed_by_server']} of {d['connections']:,} closed by the server, "
                                      f"{d['probes_answered']}/{d['probes']} probes answered")
        elif os.path.exists(p):
            with open(p) as f:
                idle[s] = json.load(f)
    allocs = []   # (label, result line or None, failed)
    for name, label in (("allocs", "corral heap allocations per request (valgrind)"),
                        ("allocs-static", "corral-worker, cached static file: heap allocations per request")):
        line = None
        if os.path.exists(os.path.join(raw, f"{name}.txt")):
            with open(os.path.join(raw, f"{name}.txt")) as f:
                line = f.read().strip()
        allocs.append((label, line, os.path.exists(os.path.join(raw, f"{name}.failed"))))

    # --- terminal table ---
    print()
    print(f"Medians of {rounds} rounds, wrk -t{meta['threads']} -c{meta['connections']} -d{meta['duration']}s --latency:")
    print(f"  {'server':<10} {'req/s':>12} {'p50 ms':>9} {'p99 ms':>9} {'RSS MB':>8}   per-round req/s")
    for s in servers:
        m = med[s]
        rr = " ".join(f"{w['rps']:.0f}" for w in per_round[s])
        print(f"  {s:<10} {m['rps']:>12,.0f} {m['p50_ms']:>9.3f} {m['p99_ms']:>9.3f} {m['rss_mb']:>8.1f}   {rr}")
        for e in sorted(set(m["errors"])):
            print(f"  {'':<10} WARNING: {e}")
    rows = []  # (measure, value text, target text)
    for other, key, label, tkey in (
        ("nginx", "rps", "corral / nginx req/s", "rps_nginx"),
        ("meinheld", "rps", "corral / gunicorn+meinheld req/s", "rps_meinheld"),
        ("nginx", "p99_ms", "corral / nginx p99", "p99_nginx"),
        ("meinheld", "p99_ms", "corral / gunicorn+meinheld p99", None),
    ):
        r = ratio("corral", other, key)
        if r is None:
            rows.append((label, "n/a (not measured)", ""))
        else:
            rows.append((label, f"{r:.2f}", check(r, TARGETS[tkey]) if tkey else ""))
    for s in servers:
        if s not in idle:
            continue
        label = f"{s} RSS growth, {meta['idle_connections']:,} idle keep-alive connections"
        if s != "corral":
            label += " (reference)"
        if idle[s] is None:
            rows.append((label, f"FAILED ({idle_failed_why.get(s, 'see run output')})", ""))
        else:
            g = idle[s]["growth_mb"]
            rows.append((label, f"{g:.1f} MB ({idle[s]['bytes_per_connection']:,} B/conn)",
                         check(g, TARGETS["idle_mb"]) if s == "corral" else ""))
    for label, allocs_line, allocs_failed in allocs:
        if allocs_failed:
            rows.append((label, "FAILED (see run output)", ""))
        elif allocs_line:
            m = re.match(r"allocs per request: ([-0-9.]+) \((.*)\)", allocs_line)
            v = float(m.group(1))
            rows.append((label, f"{v:.3f} ({m.group(2)})", check(v, TARGETS["allocs"])))
    print()
    w = max(len(r[0]) for r in rows)
    for label, value, target in rows:
        print(f"  {label:<{w}}  {value}" + (f"   target {target}" if target else ""))

    # --- markdown ---
    lines = [
        f"Measured {meta['date']} on {meta['cores']} cores ({meta['cpu']}), corral {meta['corral_rev']}:",
        f"`wrk -t{meta['threads']} -c{meta['connections']} -d{meta['duration']}s --latency` (keep-alive) after a "
        f"{meta['warmup']}s warm-up, one server process each, 13-byte body, access log on; "
        f"median of {rounds} rounds, servers alternating. RSS: the serving process, right after each run. "
        f"Load average before the run: {meta['load_start']}.",
        "",
        "| server | req/s | p50 (ms) | p99 (ms) | RSS (MB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in servers:
        m = med[s]
        name = LABELS[s] + (f" {meta['versions'][s]}" if meta["versions"].get(s) else "")
        flag = " ⚠ errors" if m["errors"] else ""
        lines.append(f"| {name}{flag} | {m['rps']:,.0f} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} | {m['rss_mb']:.1f} |")
    lines += ["", "| measure | value | target |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    errs = {s: sorted(set(med[s]["errors"])) for s in servers if med[s]["errors"]}
    if errs:
        lines += ["", "wrk reported errors: " + "; ".join(f"{s}: {', '.join(e)}" for s, e in errs.items())]
    os.makedirs(os.path.dirname(out_md), exist_ok=True)
    with open(out_md, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"\nwritten: {out_md}")


if __name__ == "__main__":
    main()

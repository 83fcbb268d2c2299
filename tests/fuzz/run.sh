#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS — runs each fuzz target (corral-fuzz, built by `make fuzz` with
# -sanitize=fuzzer,address) for SECONDS, from the committed seeds (Tests/Fuzz/TARGET) and the
# corpus earlier runs grew (.build/fuzz-corpus/TARGET). Prints each target's executions, their
# rate and the coverage reached; a crash or a broken property fails the run and names the input,
# to be added under Tests/Fuzz/TARGET/ as a regression (`swift test` replays that directory).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
seconds="${1:-30}"
fuzzer="$top/.build/fuzz/debug/corral-fuzz"
[ -x "$fuzzer" ] || { echo "fuzz: $fuzzer is missing: run make fuzz" >&2; exit 1; }
# FUZZ_TARGETS (space-separated) picks some; all by default.
read -r -a targets <<< "${FUZZ_TARGETS:-request-parser chunked-decoder proxy-header access-log-format xmlrpc toml-configuration static-path}"
for target in "${targets[@]}"; do
    [ -d "$top/Tests/Fuzz/$target" ] || { echo "fuzz: no seed corpus Tests/Fuzz/$target" >&2; exit 1; }
done
# The Swift runtime's caches live until exit: LeakSanitizer would call them leaks.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=0"
status=0
printf '%-20s %12s %10s %8s %8s %8s\n' target executions exec/s cov features corpus
for target in "${targets[@]}"; do
    corpus="$top/.build/fuzz-corpus/$target" crashes="$top/.build/fuzz-crashes/$target"
    mkdir -p "$corpus" "$crashes"
    log="$crashes/last-run.log"
    if ! CORRAL_FUZZ_TARGET="$target" "$fuzzer" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
            -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" "$top/Tests/Fuzz/$target" > "$log" 2>&1; then
        echo "fuzz: $target FAILED; the input and the fuzzer's report:" >&2
        grep -E 'Test unit written to|Fatal error|precondition|ERROR: ' "$log" | head -5 >&2
        echo "fuzz: add that input under Tests/Fuzz/$target/ (a regression swift test replays); full log: $log" >&2
        status=1
        continue
    fi
    done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)"
    units="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")"
    cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$done_line")"
    ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$done_line")"
    size="$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<< "$done_line")"
    printf '%-20s %12s %10s %8s %8s %8s\n' "$target" "${units:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${size:-?}"
done
exit "$status"

# tests/checks.sh — sourced by the shell tests: `check` runs one check and counts its failure,
# `eventually` polls. The sourcing script sets CHECKS (the name its lines start with).
failures=0
check() {   # check DESCRIPTION COMMAND...
    local description=$1; shift
    if "$@"; then echo "$CHECKS: ok: $description"; else echo "$CHECKS: FAILED: $description" >&2; failures=$((failures + 1)); fi
}
eventually() {   # eventually COMMAND...: polls for up to 30 s
    for _ in $(seq 1 300); do "$@" && return 0; sleep 0.1; done
    return 1
}

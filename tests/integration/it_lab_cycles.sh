#!/usr/bin/env bash
# it_lab_cycles.sh: `lab up` / `lab down` again and again
# (scripts/lab-cycles.sh, the shorter loop of the 100-cycle run in
# docs/testing.md): two 6-node loops at the same time (their ports are
# reserved, so they never collide) and a 10-node loop; every up settles as
# the model predicts, every down leaves no process and no state.
source "${EKL_IT_LIB:?}"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
trap 'rc=$?; pkill -KILL -f "$TMPDIR/" 2>/dev/null || true; (exit $rc); it_cleanup' EXIT
export EKULAB

log "two 6-node loops side by side"
"$ROOT/scripts/lab-cycles.sh" --cycles "${EKL_CYCLES:-10}" --nodes 6 >"$T/a.out" 2>&1 &
a=$!
"$ROOT/scripts/lab-cycles.sh" --cycles "${EKL_CYCLES:-10}" --nodes 6 >"$T/b.out" 2>&1 || {
	cat "$T/b.out" >&2
	fail "the second 6-node loop failed"
}
wait "$a" || {
	cat "$T/a.out" >&2
	fail "the first 6-node loop failed"
}
log "$(tail -1 "$T/a.out")"
log "$(tail -1 "$T/b.out")"

log "a 10-node loop"
"$ROOT/scripts/lab-cycles.sh" --cycles 3 --nodes 10 >"$T/c.out" 2>&1 || {
	cat "$T/c.out" >&2
	fail "the 10-node loop failed"
}
log "$(tail -1 "$T/c.out")"
[ -z "$(pgrep -f "$TMPDIR/" || true)" ] || fail "processes left: $(pgrep -fa "$TMPDIR/")"

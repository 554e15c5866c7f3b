#!/usr/bin/env bash
# it_explore_live.sh: `plan explore --verify-live` runs the recommended
# ordering and unsafe ones live; each behaves as the model predicted.
source "${EKL_IT_LIB:?}"

EX="$(cd "$(dirname "$0")/../../examples/plans" && pwd)"
trap 'rc=$?; pkill -KILL -f "ekulab-explore\." 2>/dev/null || true; (exit $rc); it_cleanup' EXIT

log "explore cluster-x15.3 -> X15.4 + server-only, 3 orderings live"
if ! "$EKULAB" plan explore "$EX/cluster-x15.3.yaml" --goal-version X15.4 \
	--goal-cert server-only --goal-ca server-only --verify-live 3 \
	>"$T/out" 2>&1; then
	cat "$T/out" >&2
	fail "verify-live reported a deviation"
fi
grep -q "^ordering 1 (safe)" "$T/out" || fail "the recommended (safe) ordering did not run"
grep -q "^ordering [0-9]* (unsafe" "$T/out" || fail "no unsafe ordering was run"
grep -q "3 of 3 orderings confirmed" "$T/out" || fail "not every ordering was confirmed: $(tail -3 "$T/out")"
grep -q "expect replicating: none" "$T/out" ||
	fail "no unsafe step was exercised (expected a 'replicating: none' state)"

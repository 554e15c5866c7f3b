#!/usr/bin/env bash
# it_explore_live.sh: `plan explore --verify-live` runs the recommended
# ordering and unsafe ones live; each behaves as the model predicted.
#
# ekulab's temporary files (the generated plans and each run's lab) go
# under $TMPDIR, here a directory of this test's own, so the trap stops
# only what this test started.
source "${EKL_IT_LIB:?}"

EX="$(cd "$(dirname "$0")/../../examples/plans" && pwd)"
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
trap 'rc=$?; pkill -KILL -f "$TMPDIR/" 2>/dev/null || true; (exit $rc); it_cleanup' EXIT

# Expressway-C refuses server-only uploads on X15.3 and X15.4: the
# renewals are SCP copies (--allow-scp; the generated plans say via: scp).
log "explore cluster-x15.3 -> X15.4 + server-only (--allow-scp), 3 orderings live"
if ! "$EKULAB" plan explore "$EX/cluster-x15.3.yaml" --goal-version X15.4 \
	--goal-cert server-only --goal-ca server-only --allow-scp --verify-live 3 \
	>"$T/out" 2>&1; then
	cat "$T/out" >&2
	fail "verify-live reported a deviation"
fi
grep -q "^ordering 1 (safe)" "$T/out" || fail "the recommended (safe) ordering did not run"
grep -q "^ordering [0-9]* (unsafe" "$T/out" || fail "no unsafe ordering was run"
grep -q "3 of 3 orderings confirmed" "$T/out" || fail "not every ordering was confirmed: $(tail -3 "$T/out")"
grep -q "expect replicating: none" "$T/out" ||
	fail "no unsafe step was exercised (expected a 'replicating: none' state)"
# A $TMPDIR too long for the labs' socket paths sends them to /tmp.
if [ "${#TMPDIR}" -le 60 ]; then
	grep -q "state $TMPDIR/" "$T/out" ||
		fail "the runs' labs were not under \$TMPDIR: $(grep -m1 'state ' "$T/out")"
fi
left=$(find "$TMPDIR" -mindepth 1 -not -type d -o -name 'ekulab-explore.*' | head -3)
[ -z "$left" ] || fail "verify-live left files behind: $left"

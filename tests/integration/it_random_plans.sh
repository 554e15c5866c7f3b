#!/usr/bin/env bash
# it_random_plans.sh: random plans agree with the model live. Runs
# scripts/random-plans.sh over a few seeds (every step kind, fault kind,
# dial mode and link rule the generator picks) and the kept regression
# plans (tests/plans/*.yaml: seeds that once disagreed, and the stopped
# nodes of issue 10: upgrades of paused nodes, writes to a killed or
# paused primary, a node both killed and cut): 0 deviations, every
# expectation held, no hang. A `plan generate` seed prints the same plan
# twice.
source "${EKL_IT_LIB:?}"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
trap 'rc=$?; pkill -KILL -f "$TMPDIR/" 2>/dev/null || true; (exit $rc); it_cleanup' EXIT

log "generate is reproducible and loads"
"$EKULAB" plan generate --seed 42 --nodes 5 --steps 20 >"$T/a.yaml"
"$EKULAB" plan generate --seed 42 --nodes 5 --steps 20 >"$T/b.yaml"
cmp -s "$T/a.yaml" "$T/b.yaml" || fail "seed 42 gave two different plans"
"$EKULAB" plan check "$T/a.yaml" >"$T/check.out" ||
	fail "plan check disagrees with a generated plan's own expectations: $(cat "$T/check.out")"
grep -q "^    node5:" "$T/a.yaml" || fail "--nodes 5 not honoured"
if "$EKULAB" plan generate --seed 1 --nodes 1 2>/dev/null; then
	fail "--nodes 1 accepted"
fi

log "random seeds live"
EKULAB="$EKULAB" "$ROOT/scripts/random-plans.sh" --seeds "${EKL_RANDOM_SEEDS:-4}" \
	--from "${EKL_RANDOM_FROM:-1}" --timeout 600 --out "$T/failed" >"$T/random.out" 2>&1 || {
	cat "$T/random.out" >&2
	for f in "$T"/failed/*.out; do [ -e "$f" ] && tail -n 40 "$f" >&2; done
	fail "a random plan deviated or hung"
}
grep -q ", 0 with deviations or errors (0 deviations), 0 hung" "$T/random.out" ||
	fail "unexpected summary: $(tail -1 "$T/random.out")"

for plan in "$ROOT"/tests/plans/*.yaml; do
	name=$(basename "$plan" .yaml)
	log "regression $name"
	"$EKULAB" plan run "$plan" --json "$T/$name.json" >"$T/$name.out" 2>&1 || {
		cat "$T/$name.out" >&2
		fail "regression plan $name deviated"
	}
done

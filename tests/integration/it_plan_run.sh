#!/usr/bin/env bash
# it_plan_run.sh: `ekulab plan run` executes example plans live (every
# step's observed links equal the model's prediction, replicas converge, no
# acknowledged write is lost), writes its JSON and HTML reports, and exits
# 1 when an expectation fails (counted apart from deviations when the
# model predicts it fails too).
source "${EKL_IT_LIB:?}"

EX="$(cd "$(dirname "$0")/../../examples/plans" && pwd)"
trap 'rc=$?; pkill -KILL -f "$T/" 2>/dev/null || true; (exit $rc); it_cleanup' EXIT

run_plan() {
	local plan=$1 name
	name=$(basename "$plan" .yaml)
	log "plan run $name"
	if ! "$EKULAB" plan run "$plan" --state "$T/$name" \
		--json "$T/$name.json" --html "$T/$name.html" >"$T/$name.out" 2>&1; then
		cat "$T/$name.out" >&2
		fail "plan $name deviated"
	fi
	python3 - "$T/$name.json" <<'PY' || fail "plan $name: report check failed"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["deviations"] == 0, r["deviations"]
w = r["writes"]
assert w["lost"] == 0 and w["unexpected"] == 0, w
assert w["acknowledged"] > 0, w
assert all(s["matches_prediction"] and s["converged"] for s in r["steps"]), \
    [s for s in r["steps"] if not s["matches_prediction"]]
PY
	grep -q "<table class=\"t\">" "$T/$name.html" || fail "plan $name: no HTML report"
	[ ! -e "$T/$name" ] || fail "plan $name left its lab state behind"
}

run_plan "$EX/a-renewal-breaks-pre-x15.4.yaml"
run_plan "$EX/b-permissive-workaround.yaml"
run_plan "$EX/f-upgrade-order-wrong.yaml"
run_plan "$EX/g-faults.yaml"

# A plan whose expectation the live lab (and the model) contradict.
cat >"$T/wrong.yaml" <<YAML
topology: $EX/cluster-x15.3.yaml
steps:
  - write: 20
  - renew: {node: node2, profile: server-only, via: scp}
  - renew: {node: node1, profile: server-only, via: scp}
  - expect: {link: [node1, node2], state: up}
YAML
log "a plan whose expectation is wrong"
if "$EKULAB" plan run "$T/wrong.yaml" --state "$T/wrong" --json "$T/wrong.json" \
	>"$T/wrong.out" 2>&1; then
	fail "plan run exited 0 although an expectation failed"
fi
python3 - "$T/wrong.json" <<'PY' || fail "the deviation is not in the report"
import json, sys
r = json.load(open(sys.argv[1]))
# The lab did what the model predicts; the plan's expectation is wrong.
assert r["deviations"] == 0, r["deviations"]
assert r["expectations_failed"] == 1, r["expectations_failed"]
bad = [s for s in r["steps"] if s.get("expectation_met") is False]
assert bad and "client-purpose" in bad[0]["detail"], bad
assert bad[0]["expectation_predicted"] is False and not bad[0]["deviated"], bad
PY
[ -z "$(pgrep -f "$T/wrong/" || true)" ] || fail "the deviating run left processes"

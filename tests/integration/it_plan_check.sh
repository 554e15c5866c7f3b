#!/usr/bin/env bash
# it_plan_check.sh: `ekulab plan check` on every shipped example plan (each
# exits 0, every expectation agrees), on a deliberately wrong expectation
# (exit 1, the disagreement named), on a broken plan (exit 2 with
# FILE:LINE:COLUMN), and `ekulab plan explore --json` on an example
# topology (counts checked with python3). No node is started.
#
# Environment: EKULAB (the built program; ctest sets it). EKL_IT_KEEP=1
# keeps the temporary directory.
set -euo pipefail

: "${EKULAB:?set EKULAB to the ekulab binary}"
command -v python3 >/dev/null || {
	echo "it_plan_check needs python3 (scripts/install-deps.sh)" >&2
	exit 1
}

HERE=$(cd "$(dirname "$0")" && pwd)
PLANS="$HERE/../../examples/plans"
T=$(mktemp -d "${TMPDIR:-/tmp}/ekl-it_plan_check.XXXXXX")

log() { printf '[it_plan_check] %s\n' "$*" >&2; }
fail() {
	printf '[it_plan_check] FAIL: %s\n' "$*" >&2
	exit 1
}
cleanup() {
	local rc=$?
	trap - EXIT
	if [ "${EKL_IT_KEEP:-0}" = 1 ]; then
		log "kept $T"
	else
		rm -rf "$T"
	fi
	[ "$rc" -eq 0 ] && log PASS
	exit "$rc"
}
trap cleanup EXIT

# run NAME ARGS...: ekulab ARGS, stdout to $T/NAME.out, stderr to
# $T/NAME.err, exit status in RC; a sanitizer report fails the test.
RC=0
run() {
	local name=$1
	shift
	RC=0
	"$EKULAB" "$@" >"$T/$name.out" 2>"$T/$name.err" || RC=$?
	if grep -q 'Sanitizer' "$T/$name.err"; then
		cat "$T/$name.err" >&2
		fail "$name: sanitizer report"
	fi
}

# ---- every example agrees with the model ----
n=0
for plan in "$PLANS"/*.yaml; do
	base=$(basename "$plan" .yaml)
	case $base in cluster-*) continue ;; esac
	run "$base" plan check "$plan"
	[ "$RC" -eq 0 ] || {
		cat "$T/$base.out" "$T/$base.err" >&2
		fail "$base: exit $RC, expected 0"
	}
	grep -q 'agree with the model' "$T/$base.out" ||
		fail "$base: no agreement line"
	run "$base-json" plan check --json "$plan"
	[ "$RC" -eq 0 ] || fail "$base --json: exit $RC"
	python3 - "$T/$base-json.out" <<'PY' || fail "$base --json: bad JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["agrees"] is True and d["disagreements"] == 0, d["disagreements"]
assert d["expectations"] > 0
for s in d["steps"]:
    assert s["links"] and s["replication"], s["step"]
    if s["kind"] == "expect":
        assert s["agrees"] is True, s
PY
	n=$((n + 1))
done
[ "$n" -ge 7 ] || fail "only $n example plans"
log "$n example plans agree with the model"

# Where replication breaks, in words.
# The web UI refuses the first renewal (an outcome: the plan goes on);
# the SCP copy breaks replication at once under the link rule both.
grep -q '^      -> refused: node2 (X15.3.2, Expressway-C) refuses the upload: pre-X15.4 upload rejects a certificate without clientAuth' \
	"$T/a-renewal-breaks-pre-x15.4.out" || fail "a: no refused line"
grep -q '^renewals: 1 refused by the upload rule' "$T/a-renewal-breaks-pre-x15.4.out" ||
	fail "a: no refusal count"
grep -q 'breaks after step 5 (renew node2 server-only (ca server-only) via scp): node2 stops replicating (client-purpose)' \
	"$T/a-renewal-breaks-pre-x15.4.out" || fail "a: no replication break line"
python3 - "$T/a-renewal-breaks-pre-x15.4-json.out" <<'PY' || fail "a --json: outcomes"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["refused_renewals"] == 1
o = d["steps"][2]["outcome"]
assert o["renew"] == "refused" and o["via"] == "upload" and o["rule"] == "pre-X15.4 upload", o
assert o["text"].startswith("refused: node2 (X15.3.2, Expressway-C) refuses the upload"), o
assert d["steps"][4]["outcome"]["renew"] == "copied"
w = d["steps"][0]["outcome"]
assert w["write"] == "applied" and w["replicas"] == ["node2", "node3"], w
PY
grep -q 'dial both, link both)' "$T/a-renewal-breaks-pre-x15.4.out" ||
	fail "a: the header does not name the link rule"
# Under either, node2's own renewal changes nothing; node1's stops it.
grep -q 'after step 12 (renew node1 server-only (ca server-only) via scp): node2 stops (client-purpose)' \
	"$T/h-link-either.out" || fail "h: no replication change line"
grep -q 'after step 2 ' "$T/h-link-either.out" && fail "h: step 2 changed replication"

# ---- a wrong expectation: exit 1 ----
cp "$PLANS/cluster-x15.3.yaml" "$T/"
cat >"$T/wrong.yaml" <<'YAML'
topology: cluster-x15.3.yaml
steps:
  - renew: {node: node2, profile: server-only, via: scp}
  - renew: {node: node3, profile: server-only, via: scp}
  # Wrong: node1 refuses their connections, and a pair needs both
  # directions (link: both).
  - expect: {replicating: all}
  - expect: {link: [node2, node3], state: down, code: client-purpose}
YAML
run wrong plan check "$T/wrong.yaml"
[ "$RC" -eq 1 ] || fail "wrong: exit $RC, expected 1"
grep -q 'DISAGREES: the model predicts replicating: none; node2 not (client-purpose); node3 not (client-purpose)' "$T/wrong.out" ||
	fail "wrong: the disagreement is not named: $(cat "$T/wrong.out")"
grep -q '1 of 2 DISAGREE' "$T/wrong.out" || fail "wrong: no summary"
run wrong-json plan check --json "$T/wrong.yaml"
[ "$RC" -eq 1 ] || fail "wrong --json: exit $RC, expected 1"
python3 - "$T/wrong-json.out" <<'PY' || fail "wrong --json: bad JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["agrees"] is False and d["disagreements"] == 1
e = [s for s in d["steps"] if s["kind"] == "expect"]
assert e[0]["agrees"] is False and "replicating: none" in e[0]["predicted"]
assert e[1]["agrees"] is True
assert d["topology"]["link"] == "both", d["topology"]
PY

# ---- a broken plan: exit 2 with FILE:LINE:COLUMN and the key ----
cat >"$T/broken.yaml" <<'YAML'
topology: cluster-x15.3.yaml
steps:
  - renew: {node: node7, profile: server-only}
YAML
run broken plan check "$T/broken.yaml"
[ "$RC" -eq 2 ] || fail "broken: exit $RC, expected 2"
grep -q "broken.yaml:3:19: key 'steps\[1\].renew.node': 'node7' is not a node" \
	"$T/broken.err" || fail "broken: $(cat "$T/broken.err")"
run usage plan check
[ "$RC" -eq 2 ] || fail "usage: exit $RC, expected 2"

# ---- explore ----
# Expressway-C through the web UI: every server-only renewal is refused
# (pre-X15.4: no clientAuth; X15.4 Expressway-C: not combined), so no
# ordering reaches the goal.
run explore-blocked plan explore "$PLANS/cluster-x15.3.yaml" --goal-version X15.4 \
	--goal-cert server-only --goal-ca server-only --criterion mesh --json
[ "$RC" -eq 1 ] || fail "explore blocked: exit $RC, expected 1"
python3 - "$T/explore-blocked.out" <<'PY' || fail "explore blocked --json: unexpected"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["orderings"] == 720 and d["safe"] == 0 and d["refused"] == 720, d
assert d["recommended"] is None, d["recommended"]
b = d["blocked_by"]
assert b["rule"] == "X15.4 Expressway-C upload", b
assert b["step"]["step"] == "renew" and "SCP" in b["unblock"] and "X15.5" in b["unblock"], b
assert d["allow_scp"] is False
assert all(f["reason"] == "upload-refused" for f in d["failures"]), d["failures"]
PY
run explore-blocked-text plan explore "$PLANS/cluster-x15.3.yaml" --goal-version X15.4 \
	--goal-cert server-only --goal-ca server-only
[ "$RC" -eq 1 ] || fail "explore blocked text: exit $RC"
grep -q '^no ordering reaches the goal: blocked by the X15.4 Expressway-C upload: node1 (X15.4, Expressway-C) refuses the upload' \
	"$T/explore-blocked-text.out" || fail "explore blocked text: $(cat "$T/explore-blocked-text.out")"
grep -q '^what would unblock it: X15.5 (released May 2026), a combined-EKU certificate from an alternate root, or an SCP copy' \
	"$T/explore-blocked-text.out" || fail "explore blocked text: no unblock line"
# X15.5 is not out in April 2026: the release blocks it.
run explore-early plan explore "$PLANS/cluster-x15.3.yaml" --goal-version X15.5 \
	--goal-cert server-only --at 2026-04-15 --json
[ "$RC" -eq 1 ] || fail "explore early: exit $RC"
python3 - "$T/explore-early.out" <<'PY' || fail "explore early --json: unexpected"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["recommended"] is None and d["blocked_by"]["rule"] == "X15.5 release", d["blocked_by"]
PY
# With SCP copies allowed: the old campaign's counts.
run explore plan explore "$PLANS/cluster-x15.3.yaml" --goal-version X15.4 \
	--goal-cert server-only --goal-ca server-only --criterion mesh --allow-scp --json
[ "$RC" -eq 0 ] || fail "explore: exit $RC: $(cat "$T/explore.err")"
python3 - "$T/explore.out" <<'PY' || fail "explore --json: unexpected"
import itertools, json, sys
d = json.load(open(sys.argv[1]))
assert d["orderings"] == 720, d["orderings"]
assert 0 < d["safe"] < 720, d["safe"]
assert len(d["steps"]) == 6 and len(d["recommended"]) == 6
# Upgrades before renewals on ties: the recommendation upgrades first.
assert [s["step"] for s in d["recommended"][:3]] == ["upgrade"] * 3
assert d["failures"] and d["failures"][0]["reason"] == "client-purpose"
assert d["blocked_by"] is None and d["refused"] == 0 and d["allow_scp"] is True
# Cross-check with a brute force in Python over the model's rule for this
# cluster (pre-X15.4 Enforce, both dial, link both): a connection is
# refused exactly when its initiator holds the server-only renewal and its
# acceptor does not run X15.4, and a pair is down when either of its two
# connections is refused.
steps = [(s["node"], s["step"]) for s in d["steps"]]
nodes = sorted({n for n, _ in steps})
def safe(done):
    up = {n for n, k in done if k == "upgrade"}
    so = {n for n, k in done if k == "renew"}
    for a, b in itertools.permutations(nodes, 2):
        if a in so and b not in up:
            return False
    return True
count = 0
for perm in itertools.permutations(steps):
    if all(safe(perm[:i + 1]) for i in range(len(perm))):
        count += 1
assert count == d["safe"], (count, d["safe"])
PY
run explore-text plan explore "$PLANS/cluster-x15.3.yaml" --goal-version X15.4 \
	--goal-cert server-only --allow-scp
[ "$RC" -eq 0 ] || fail "explore text: exit $RC"
grep -q '^orderings 720, safe ' "$T/explore-text.out" || fail "explore text"
grep -q 'recommended safe ordering' "$T/explore-text.out" || fail "explore text"
run explore-bad plan explore "$PLANS/cluster-x15.3.yaml" --goal-version X9 \
	--goal-cert server-only
[ "$RC" -eq 2 ] || fail "explore bad version: exit $RC, expected 2"

# ---- the deployment: C and E clusters, zones, externals ----
DEP="$HERE/../../examples/deployment"
n=0
for plan in "$DEP"/?-*.yaml; do
	base=dep-$(basename "$plan" .yaml)
	run "$base" plan check "$plan"
	[ "$RC" -eq 0 ] || {
		cat "$T/$base.out" "$T/$base.err" >&2
		fail "$base: exit $RC, expected 0"
	}
	grep -q 'agree with the model' "$T/$base.out" || fail "$base: no agreement"
	run "$base-json" plan check --json "$plan"
	[ "$RC" -eq 0 ] || fail "$base --json: exit $RC"
	python3 - "$T/$base-json.out" <<'PY' || fail "$base --json: bad JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["agrees"] is True and d["expectations"] > 0
for s in d["steps"]:
    assert s["services"], s["step"]
    for c in s["services"]:
        assert c["service"] in ("traversal", "mra", "neighbour", "b2b",
                                "federation", "cloud"), c
        assert c["result"] == "ok" or c["result"] in (
            "client-purpose", "server-purpose", "untrusted", "expired",
            "not-yet-valid", "name-mismatch", "no-certificate", "cut",
            "not-running"), c
PY
	n=$((n + 1))
done
[ "$n" -ge 7 ] || fail "only $n deployment plans"
log "$n deployment plans agree with the model"
# (a) in words: MRA down for lack of clientAuth on E's certificate, the
# version mismatch as a finding, and the JSON of the step that breaks it.
grep -q 'mra core-edge' "$T/dep-a-mra-e-before-c.out" || fail "a: no mra column"
grep -q 'down client-purpose 4/4' "$T/dep-a-mra-e-before-c.out" || fail "a: mra not down"
grep -q 'version-mismatch core-edge' "$T/dep-a-mra-e-before-c.out" || fail "a: no finding"
python3 - "$T/dep-a-mra-e-before-c-json.out" <<'PY' || fail "a --json: services"
import json, sys
d = json.load(open(sys.argv[1]))
s = [x for x in d["steps"] if x["text"] == "renew e2 server-only (ca server-only)"][0]
mra = [c for c in s["services"] if c["service"] == "mra"]
assert len(mra) == 4 and all(c["result"] == "client-purpose" and c["rejected_by"] == "initiator" for c in mra), mra
tr = [c for c in s["services"] if c["service"] == "traversal"]
assert len(tr) == 4 and all(c["result"] == "ok" and c["from"] in ("c1", "c2") for c in tr), tr
assert s["findings"] == [{"finding": "version-mismatch", "zone": ["core", "edge"]}], s["findings"]
assert all(l["a"][0] == l["b"][0] for l in s["links"]), s["links"]
assert [r["node"] for r in s["replication"] if r["primary"]] == ["c1", "e1"]
PY
# A wrong zone expectation: exit 1, what the model predicts.
cp "$DEP/mra-lab.yaml" "$T/"
cat >"$T/wrong-mra.yaml" <<'YAML'
topology: mra-lab.yaml
steps:
  - upgrade: {node: e1, version: X15.4}
  - renew: {node: e1, profile: server-only, ca: server-only}
  - expect: {service: mra, between: [c1, e1], state: up}
YAML
run wrong-mra plan check "$T/wrong-mra.yaml"
[ "$RC" -eq 1 ] || fail "wrong-mra: exit $RC, expected 1"
grep -q 'DISAGREES: the model predicts mra c1-e1 is down (client-purpose)' "$T/wrong-mra.out" ||
	fail "wrong-mra: $(cat "$T/wrong-mra.out")"
# A zone that names an unknown cluster: exit 2, file, line, key.
cat >"$T/bad-zone.yaml" <<'YAML'
topology:
  clusters:
    core: {role: c, nodes: {c1: {version: X15.4}}}
  zones:
    - {type: traversal, client: core, server: edges}
steps:
  - wait: 1
YAML
run bad-zone plan check "$T/bad-zone.yaml"
[ "$RC" -eq 2 ] || fail "bad-zone: exit $RC, expected 2"
grep -q "bad-zone.yaml:5:47: key 'topology.zones\[1\].server': 'edges' is not a cluster or an external" \
	"$T/bad-zone.err" || fail "bad-zone: $(cat "$T/bad-zone.err")"
# explore across both clusters with --criterion services.
run explore-services plan explore "$DEP/switch-lab.yaml" --goal-version X15.5 \
	--goal-cert server-only --goal-ca server-only --criterion services \
	--at 2026-07-01 --json
[ "$RC" -eq 0 ] || fail "explore services: exit $RC: $(cat "$T/explore-services.err")"
python3 - "$T/explore-services.out" <<'PY' || fail "explore services --json: unexpected"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["criterion"] == "services"
assert d["orderings"] == 40320 and d["safe"] == 576, (d["orderings"], d["safe"])
r = [(s["step"], s["node"]) for s in d["recommended"]]
assert len(r) == 8 and [k for k, _ in r[:4]] == ["upgrade"] * 4, r
assert {n for _, n in r[:4]} == {"c1", "c2", "e1", "e2"}, r
PY
# Under the primary criterion (ClusterDB only) more orderings pass: the
# zones are what forbids the others.
run explore-primary plan explore "$DEP/switch-lab.yaml" --goal-version X15.5 \
	--goal-cert server-only --goal-ca server-only --criterion primary \
	--at 2026-07-01 --json
[ "$RC" -eq 0 ] || fail "explore primary: exit $RC"
python3 - "$T/explore-primary.out" "$T/explore-services.out" <<'PY' || fail "explore primary vs services"
import json, sys
p, s = (json.load(open(f)) for f in sys.argv[1:3])
assert p["safe"] > s["safe"], (p["safe"], s["safe"])
PY
# A deployment runs live on the process runtime (it_deploy_live) and on
# docker (it_deploy_docker); on the swarm runtime it is refused clearly,
# before anything starts (no engine is asked).
run lab-deploy lab up "$DEP/mra-lab.yaml" --runtime swarm --state "$T/state"
[ "$RC" -ne 0 ] || fail "lab up --runtime swarm of a deployment: exit 0"
grep -q 'runs on the process and docker runtimes, not yet on swarm' "$T/lab-deploy.err" || fail "lab-deploy: $(cat "$T/lab-deploy.err")"

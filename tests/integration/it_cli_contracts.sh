#!/usr/bin/env bash
# it_cli_contracts.sh: the small contracts a user scripts against.
# lab down of a lab that is not up exits 0 and says so; a failed lab up
# keeps its logs (lab down leaves them, status says the up failed) until
# the next lab up, which starts clean; lab exec --ack; a node whose version
# is its own class prints it once; with --json stdout holds JSON only
# (ctl 'xStatus Database', 'xStatus Latency', --batch; plan run --json -,
# whose predicted/observed have plan check's structure and whose
# durations are milliseconds); plan explore --verify-live never prints
# the path of the plan files it removes.
source "${EKL_IT_LIB:?}"

LAB="$T/lab"
TOPO="$T/two.yaml"
cat >"$TOPO" <<'YAML'
name: it-contracts
cluster: {verify: enforce, primary: node1, dial: both, link: both}
defaults: {version: X15.3.2, role: c, cert: {profile: combined, ca: unrestricted}}
nodes:
  node1: {version: X15.4}
  node2: {}
YAML
lab_cleanup() {
	"$EKULAB" lab down "$TOPO" --state "$LAB" >/dev/null 2>&1 || true
}
trap 'rc=$?; lab_cleanup; (exit $rc); it_cleanup' EXIT
lab() { "$EKULAB" lab "$@" --state "$LAB"; }
isjson() { python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$1"; }

log "lab down of a lab that was never up"
lab down "$TOPO" >"$T/down.out" 2>"$T/down.err" || fail "lab down of a lab that is not up failed: $(cat "$T/down.err")"
grep -q "is not up" "$T/down.out" || fail "lab down did not say the lab is not up: $(cat "$T/down.out")"
[ ! -e "$LAB" ] || fail "lab down made $LAB"

log "a failed lab up keeps its logs until the next lab up"
if EKUNODE=/bin/false lab up "$TOPO" 2>"$T/up.err"; then fail "lab up succeeded with a broken ekunode"; fi
grep -q "until the next 'lab up'" "$T/up.err" || fail "lab up does not say how long its logs stay: $(cat "$T/up.err")"
[ -e "$LAB/node1/node.log" ] || fail "the failed up left no node log"
lab down "$TOPO" >"$T/down.out" 2>&1 || fail "lab down after a failed up failed: $(cat "$T/down.out")"
grep -q "last 'lab up' failed" "$T/down.out" || fail "lab down does not say the up failed: $(cat "$T/down.out")"
[ -e "$LAB/node1/node.log" ] || fail "lab down removed the failed up's logs"
if lab status "$TOPO" >/dev/null 2>"$T/status.err"; then fail "lab status of a failed up succeeded"; fi
grep -q "failed" "$T/status.err" || fail "lab status does not say the up failed: $(cat "$T/status.err")"
lab up "$TOPO" >/dev/null 2>"$T/up.err" || fail "lab up after a failed up: $(cat "$T/up.err")"
[ ! -e "$LAB/up-failed" ] || fail "the new up kept the failed up's marker"

log "lab exec --ack"
lab exec "$TOPO" node1 --ack all 'xConfiguration Contract A: 1' >"$T/exec.out" ||
	fail "lab exec --ack all failed"
grep -q '^revision [0-9]' "$T/exec.out" || fail "lab exec --ack all: $(cat "$T/exec.out")"
rc=0
lab exec "$TOPO" node1 --ack some 'xConfiguration Contract A: 2' 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "lab exec --ack some exited $rc, not 2"

log "a version that is its class is printed once"
lab exec "$TOPO" node1 'xStatus Cluster' >"$T/st.out"
head -1 "$T/st.out" | grep -q 'version X15.4  role' || fail "node1's status line: $(head -1 "$T/st.out")"
lab exec "$TOPO" node2 'xStatus Cluster' | head -1 | grep -q 'version X15.3.2 (pre-X15.4)' ||
	fail "node2's status line lost its class"

log "ctl --json: stdout holds JSON only"
SOCK="$LAB/node1/admin.sock"
"$EKULAB" ctl --socket "$SOCK" --json 'xStatus Database' >"$T/db.json"
isjson "$T/db.json" || fail "ctl --json 'xStatus Database': $(cat "$T/db.json")"
"$EKULAB" ctl --socket "$SOCK" --json 'xStatus Latency' >"$T/lat.json"
isjson "$T/lat.json" || fail "ctl --json 'xStatus Latency': $(cat "$T/lat.json")"
printf 'xConfiguration Contract B: 1\n# a comment\nxConfiguration Contract A\nxConfiguration Nowhere\n' >"$T/batch.txt"
rc=0
"$EKULAB" ctl --socket "$SOCK" --json --ack all --batch "$T/batch.txt" >"$T/batch.json" 2>/dev/null || rc=$?
[ "$rc" -eq 1 ] || fail "ctl --batch with a failing line exited $rc, not 1"
python3 - "$T/batch.json" <<'PY' || fail "ctl --json --batch: $(cat "$T/batch.json")"
import json, sys
d = json.load(open(sys.argv[1]))
r = d["results"]
assert [x["line"] for x in r] == [1, 3, 4], r
assert r[0]["ok"] and isinstance(r[0]["revision"], int), r[0]
assert r[1]["ok"] and r[1]["result"] == {"Contract A": "1"}, r[1]
assert not r[2]["ok"] and "Nowhere" in r[2]["error"], r[2]
assert d["requests"] == 3 and d["failed"] == 1 and d["complete"], d
PY
lab down "$TOPO" >/dev/null

log "plan run --json -: JSON on stdout, the timeline on stderr"
cp "$TOPO" "$T/topo.yaml"
cat >"$T/plan.yaml" <<'YAML'
topology: topo.yaml
steps:
  - write: 5
  - renew: {node: node2, profile: server-only, ca: server-only, via: scp}
  - expect: {link: [node1, node2], state: up}
YAML
"$EKULAB" plan run "$T/plan.yaml" --no-workload --json - >"$T/run.json" 2>"$T/run.err" ||
	fail "plan run failed: $(cat "$T/run.err")"
grep -q '^  1 write 5' "$T/run.err" || fail "the timeline is not on stderr: $(cat "$T/run.err")"
python3 - "$T/run.json" <<'PY' || fail "plan run --json -: $(head -c 2000 "$T/run.json")"
import json, sys
d = json.load(open(sys.argv[1]))
for s in d["steps"]:
    assert isinstance(s["start_ms"], int) and isinstance(s["duration_ms"], int), s
    for side in ("predicted", "observed"):
        o = s[side]
        assert isinstance(o["text"], str), o
        assert [(l["a"], l["b"]) for l in o["links"]] == [("node1", "node2")], o
        assert {r["node"] for r in o["replication"]} == {"node1", "node2"}, o
renew = d["steps"][1]
# node2 is now server-only: node1 (X15.4) accepts it; node2 checks node1's
# combined certificate: the link stays up, as the model says.
l = renew["observed"]["links"][0]
assert l["state"] == "up" and l["state"] == renew["predicted"]["links"][0]["state"], renew
# the run took some time, in milliseconds
assert sum(s["duration_ms"] for s in d["steps"]) > 100, d["steps"]
PY
"$EKULAB" plan check "$T/plan.yaml" --json >"$T/check.json"
python3 - "$T/check.json" "$T/run.json" <<'PY' || fail "plan run's predicted differs in form from plan check's"
import json, sys
c = json.load(open(sys.argv[1]))["steps"][1]
r = json.load(open(sys.argv[2]))["steps"][1]["predicted"]
assert c["links"] == r["links"] and c["replication"] == r["replication"], (c, r)
PY

log "plan explore --verify-live does not print the files it removes"
"$EKULAB" plan explore "$T/topo.yaml" --goal-version X15.4 --goal-cert combined \
	--verify-live 1 >"$T/explore.out" 2>&1 || fail "plan explore --verify-live: $(tail -5 "$T/explore.out")"
grep -q 'confirmed live' "$T/explore.out" || fail "no ordering ran live: $(cat "$T/explore.out")"
! grep -q 'ekulab-explore\.' "$T/explore.out" || fail "explore printed its temporary files: $(grep 'ekulab-explore\.' "$T/explore.out")"
grep -q '^plan ordering 1:' "$T/explore.out" || fail "the run is not named by its ordering"
"$EKULAB" plan explore "$T/topo.yaml" --goal-version X15.4 --goal-cert combined \
	--verify-live 1 --json >"$T/explore.json" 2>/dev/null || fail "plan explore --json --verify-live failed"
isjson "$T/explore.json" || fail "plan explore --json --verify-live: stdout is not JSON alone"

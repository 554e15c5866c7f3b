#!/usr/bin/env bash
# it_lab.sh: `ekulab lab` with the process runtime: up (status equal to the
# model), graph, exec, each node fault and link fault, heal, two labs side
# by side, and down leaving no process and no state behind.
source "${EKL_IT_LIB:?}"

LAB="$T/lab"
LAB2="$T/lab2"
TOPO="$T/mixed.yaml"
cat >"$TOPO" <<'YAML'
name: it-mixed
cluster: {verify: enforce, primary: node1, dial: both}
defaults: {version: X15.3.2, role: c, cert: {profile: combined, ca: unrestricted}}
nodes:
  node1: {}
  node2: {cert: {profile: server-only}}
  node3: {version: X15.4, cert: {profile: server-only}}
YAML

lab_down_quiet() { "$EKULAB" lab down "$TOPO" --state "$1" >/dev/null 2>&1 || true; }
lab_cleanup() {
	lab_down_quiet "$LAB"
	lab_down_quiet "$LAB2"
	# A safety net: nothing started under $T survives the test.
	pkill -KILL -f "$T/" 2>/dev/null || true
}
trap 'rc=$?; lab_cleanup; (exit $rc); it_cleanup' EXIT

lab() { "$EKULAB" lab "$@" --state "$LAB"; }
status() { lab status "$TOPO" --json; }

# cell FROM TO: the directed connection's state in `lab status --json`
# ("up" or the failure code).
cell() {
	status | python3 -c '
import json, sys
d = json.load(sys.stdin)
for l in d["links"]:
    if l["from"] == sys.argv[1] and l["to"] == sys.argv[2]:
        print("up" if l["state"] == "up" else l["code"])
' "$1" "$2"
}
cell_is() { [ "$(cell "$1" "$2")" = "$3" ]; }
expect_cell() {
	wait_until "${4:-15}" cell_is "$1" "$2" "$3" ||
		fail "$1 -> $2: expected $3, got $(cell "$1" "$2")"
}
process_of() {
	status | python3 -c '
import json, sys
d = json.load(sys.stdin)
print([n for n in d["nodes"] if n["name"] == sys.argv[1]][0]["process"])
' "$1"
}
lab_pids() { pgrep -f "$1/" || true; }

log "up"
lab up "$TOPO" >"$T/up.out" || fail "lab up failed: $(cat "$T/up.out")"
[ "$(lab_pids "$LAB" | wc -l)" -eq 4 ] ||
	fail "expected 3 nodes + proxy running, got: $(lab_pids "$LAB")"
[ "$(stat -c %a "$LAB/pki/node1.key")" = 600 ] || fail "node1.key not 0600"
[ "$(stat -c %a "$LAB/node1/admin.sock")" = 600 ] || fail "admin.sock not 0600"

# The model, per direction (docs/model.md, rules table):
#  node1 -> node2: node2 (pre-X15.4) checks clientAuth on node1's combined: ok
#  node2 -> node1: node1 (pre-X15.4) rejects node2's server-only: client-purpose
#  node1 -> node3, node2 -> node3: node3 is X15.4 (ClusterDB bypass): ok
#  node3 -> node1, node3 -> node2: pre-X15.4 acceptors reject server-only
log "status equals the model"
expect_cell node1 node2 up
expect_cell node2 node1 client-purpose
expect_cell node1 node3 up
expect_cell node2 node3 up
expect_cell node3 node1 client-purpose
expect_cell node3 node2 client-purpose
lab status "$TOPO" | grep -q "client-purpose" || fail "text status lacks the code"

log "graph"
lab graph "$TOPO" --svg "$T/g.svg" --dot "$T/g.dot" >/dev/null
grep -q '<svg' "$T/g.svg" || fail "no SVG"
grep -q 'node2' "$T/g.svg" || fail "SVG lacks node2"
grep -q '"node2" -> "node1" .*client-purpose' "$T/g.dot" || fail "DOT lacks the refused edge"

log "exec"
lab exec "$TOPO" node1 'xConfiguration SIP Domain 1 Name: lab.example' >/dev/null
wait_until 10 sh -c "'$EKULAB' lab exec '$TOPO' node3 --state '$LAB' 'xConfiguration SIP Domain 1 Name' | grep -q lab.example" ||
	fail "the write did not reach node3"

log "renew through the node's rules, then forced"
if lab fault "$TOPO" renew node1 server-only 2>"$T/renew.err"; then
	fail "a pre-X15.4 node accepted a server-only upload"
fi
grep -q "clientAuth" "$T/renew.err" || fail "refusal does not say why: $(cat "$T/renew.err")"
lab fault "$TOPO" renew node1 server-only --force >/dev/null
expect_cell node1 node2 client-purpose

log "upgrade keeps the data"
lab fault "$TOPO" upgrade node2 X15.4 >/dev/null
expect_cell node1 node2 up
lab exec "$TOPO" node2 'xConfiguration SIP Domain 1 Name' | grep -q lab.example ||
	fail "node2 lost its data in the upgrade"

log "verify mode"
lab fault "$TOPO" verify permissive >/dev/null
expect_cell node2 node1 up
expect_cell node3 node1 up
lab fault "$TOPO" verify enforce >/dev/null
expect_cell node3 node1 client-purpose

log "kill, pause, heal"
lab fault "$TOPO" kill node3 --name k3 >/dev/null
[ "$(process_of node3)" = stopped ] || fail "node3 still runs after kill"
lab fault "$TOPO" pause node2 --name p2 >/dev/null
[ "$(process_of node2)" = paused ] || fail "node2 not paused"
lab fault "$TOPO" list | grep -q "^k3 *kill *node3" || fail "fault list lacks k3"
lab fault "$TOPO" heal k3 >/dev/null
[ "$(process_of node3)" = running ] || fail "node3 not restarted by heal"
lab fault "$TOPO" heal p2 >/dev/null
[ "$(process_of node2)" = running ] || fail "node2 not resumed by heal"
lab fault "$TOPO" restart node1 >/dev/null
expect_cell node1 node3 up

log "link faults and partitions"
lab fault "$TOPO" down node1 node3 --name d13 >/dev/null
wait_until 15 sh -c "! '$EKULAB' lab status '$TOPO' --state '$LAB' --json | grep -q '\"from\":\"node1\",\"to\":\"node3\",\"state\":\"up\"'" ||
	fail "node1 -> node3 still up under a down fault"
lab fault "$TOPO" heal d13 >/dev/null
expect_cell node1 node3 up
lab fault "$TOPO" partition isolate node3 --name iso >/dev/null
wait_until 15 sh -c "! '$EKULAB' lab status '$TOPO' --state '$LAB' --json | grep -q '\"to\":\"node3\",\"state\":\"up\"'" ||
	fail "node3 still reachable when isolated"
lab fault "$TOPO" latency node1 node2 --ms 20 --name lat >/dev/null
lab fault "$TOPO" list --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
names = {f["name"] for f in d["link_faults"]["faults"]}
assert {"iso", "lat"} <= names, names
' || fail "fault list --json lacks iso/lat"
lab fault "$TOPO" heal all >/dev/null
expect_cell node1 node3 up
lab fault "$TOPO" list --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["node_faults"] == [] and d["link_faults"]["faults"] == [], d
' || fail "faults left after heal all"

log "a second lab side by side"
"$EKULAB" lab up "$TOPO" --state "$LAB2" >/dev/null || fail "second lab did not come up"
[ "$(lab_pids "$LAB2" | wc -l)" -eq 4 ] || fail "second lab is incomplete"
"$EKULAB" lab down "$TOPO" --state "$LAB2" >/dev/null
[ -z "$(lab_pids "$LAB2")" ] || fail "second lab left processes: $(lab_pids "$LAB2")"

log "down"
lab down "$TOPO" >/dev/null
[ -z "$(lab_pids "$LAB")" ] || fail "down left processes: $(lab_pids "$LAB")"
[ ! -e "$LAB" ] || fail "down left $LAB"
if lab status "$TOPO" 2>/dev/null; then fail "status works on a lab that is down"; fi

log "up failure stops everything"
BAD="$T/bad.yaml"
sed 's/^name: it-mixed/name: it-bad/' "$TOPO" >"$BAD"
# Occupy node ports by making the ekunode binary fail: a bogus EKUNODE.
if EKUNODE=/bin/false "$EKULAB" lab up "$BAD" --state "$T/bad" 2>"$T/bad.err"; then
	fail "lab up succeeded with a broken ekunode"
fi
grep -q "node1" "$T/bad.err" || fail "up failure does not name the node: $(cat "$T/bad.err")"
[ -z "$(lab_pids "$T/bad")" ] || fail "a failed up left processes"

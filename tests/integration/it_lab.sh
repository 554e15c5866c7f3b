#!/usr/bin/env bash
# it_lab.sh: `ekulab lab` with the process runtime: up (waits until the
# links agree with the model; --no-wait does not), status equal to the
# model with the model's reasons for killed, paused and cut connections,
# the faults in force, live verify modes, what Permissive hides and a
# legend; graph, exec, each node and link fault (restart is a new
# process), heal, two labs side by side, and down leaving no process and
# no state behind.
source "${EKL_IT_LIB:?}"

LAB="$T/lab"
LAB2="$T/lab2"
TOPO="$T/mixed.yaml"
cat >"$TOPO" <<'YAML'
name: it-mixed
# link: either: one working direction carries a pair, so writes reach
# every node while four of the six directions are refused.
cluster: {verify: enforce, primary: node1, dial: both, link: either}
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
# node_field NODE KEY: a field of the node in `lab status --json`.
node_field() {
	status | python3 -c '
import json, sys
d = json.load(sys.stdin)
print([n for n in d["nodes"] if n["name"] == sys.argv[1]][0][sys.argv[2]])
' "$1" "$2"
}
process_of() {
	status | python3 -c '
import json, sys
d = json.load(sys.stdin)
print([n for n in d["nodes"] if n["name"] == sys.argv[1]][0]["process"])
' "$1"
}
lab_pids() { pgrep -f "$1/" || true; }

log "up (waits until the links agree with the model)"
lab up "$TOPO" >"$T/up.out" || fail "lab up failed: $(cat "$T/up.out")"
grep -q "links settled as the model predicts" "$T/up.out" ||
	fail "lab up did not wait for the links: $(cat "$T/up.out")"
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
lab status "$TOPO" >"$T/status.txt"
grep -q "client-purpose" "$T/status.txt" || fail "text status lacks the code"
grep -q "^legend:" "$T/status.txt" || fail "text status has no legend"
grep -q "link either" "$T/status.txt" || fail "status does not name the link rule"
grep -q "! one direction refused" "$T/status.txt" ||
	fail "status does not mark the pairs with one refused direction"
# node3 (X15.4) accepts server-only callers by the ClusterDB bypass: shown.
grep -q "node2 -> node3: node3 accepted node2's certificate: client-purpose" "$T/status.txt" ||
	fail "status does not show what the bypass accepts: $(cat "$T/status.txt")"
status | python3 -c '
import json, sys
d = json.load(sys.stdin)
# Keys of before (a superset is fine) and the new ones.
assert {"lab", "runtime", "primary", "links", "pairs", "nodes"} <= set(d), d.keys()
assert d["link_rule"] == "either" and d["dial"] == "both", d
for l in d["links"]:
    assert {"from", "to", "state", "code", "reason"} <= set(l), l
p = [p for p in d["pairs"] if p["nodes"] == ["node1", "node2"]][0]
assert p["linked"] and p["one_refused"] and p["carrier"] == ["node1", "node2"], p
for n in d["nodes"]:
    assert {"name", "version", "certificate", "ca", "verify", "process",
            "revision", "replication", "pid", "uptime_ms"} <= set(n), n
' || fail "status --json lacks keys or values"

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
# The header and each node follow the live mode; what Permissive hides is
# listed with its code.
lab status "$TOPO" >"$T/perm.txt"
grep -q "verify permissive" "$T/perm.txt" || fail "header still says enforce: $(head -1 "$T/perm.txt")"
[ "$(node_field node1 verify)" = permissive ] || fail "node1's verify mode is not permissive"
grep -q "node1 accepted node2's certificate: client-purpose (Permissive hides it)" "$T/perm.txt" ||
	fail "status does not say what Permissive hides: $(cat "$T/perm.txt")"
lab fault "$TOPO" verify enforce >/dev/null
expect_cell node3 node1 client-purpose

log "kill, pause, heal"
lab fault "$TOPO" kill node3 --name k3 >/dev/null
[ "$(process_of node3)" = stopped ] || fail "node3 still runs after kill"
lab fault "$TOPO" pause node2 --name p2 >/dev/null
[ "$(process_of node2)" = paused ] || fail "node2 not paused"
lab fault "$TOPO" list | grep -q "^k3 *kill *node3" || fail "fault list lacks k3"
# The model's reasons, never a certificate or TLS code, for a killed or
# paused node; the faults in force are listed.
cell_is node1 node3 not-running || fail "node1 -> node3: $(cell node1 node3), expected not-running"
cell_is node3 node1 not-running || fail "node3 -> node1: $(cell node3 node1), expected not-running"
cell_is node1 node2 not-running || fail "node1 -> node2: $(cell node1 node2), expected not-running"
lab status "$TOPO" >"$T/faults.txt"
grep -Eq "^  k3 +kill +node3" "$T/faults.txt" || fail "status does not list k3: $(cat "$T/faults.txt")"
grep -Eq "^node3 .*stopped \(not-running\)" "$T/faults.txt" || fail "node3's replication reason is not not-running"
! grep -Eq "\((tls|connect-failed|client-purpose)\)" "$T/faults.txt" ||
	fail "status shows a TLS or certificate reason for a stopped node: $(cat "$T/faults.txt")"
lab fault "$TOPO" heal k3 >/dev/null
[ "$(process_of node3)" = running ] || fail "node3 not restarted by heal"
lab fault "$TOPO" heal p2 >/dev/null
[ "$(process_of node2)" = running ] || fail "node2 not resumed by heal"
pid1=$(node_field node1 pid)
lab fault "$TOPO" restart node1 >/dev/null
expect_cell node1 node3 up
pid2=$(node_field node1 pid)
up2=$(node_field node1 uptime_ms)
[ "$pid2" != "$pid1" ] && [ "$pid2" -gt 0 ] ||
	fail "restart kept the process (pid $pid1 -> $pid2)"
[ "$up2" -lt 20000 ] || fail "node1's uptime after restart is $up2 ms"
# resume is not restart: the same process goes on.
lab fault "$TOPO" pause node1 --name p1 >/dev/null
lab fault "$TOPO" resume node1 >/dev/null
[ "$(node_field node1 pid)" = "$pid2" ] || fail "resume started a new process"

log "link faults and partitions"
lab fault "$TOPO" down node1 node3 --name d13 >/dev/null
wait_until 15 sh -c "! '$EKULAB' lab status '$TOPO' --state '$LAB' --json | grep -q '\"from\":\"node1\",\"to\":\"node3\",\"state\":\"up\"'" ||
	fail "node1 -> node3 still up under a down fault"
lab fault "$TOPO" heal d13 >/dev/null
expect_cell node1 node3 up
lab fault "$TOPO" partition isolate node3 --name iso >/dev/null
wait_until 15 sh -c "! '$EKULAB' lab status '$TOPO' --state '$LAB' --json | grep -q '\"to\":\"node3\",\"state\":\"up\"'" ||
	fail "node3 still reachable when isolated"
cell_is node1 node3 cut || fail "node1 -> node3: $(cell node1 node3), expected cut"
cell_is node3 node2 cut || fail "node3 -> node2: $(cell node3 node2), expected cut"
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

log "Toxiproxy's faults from lab fault: direction, toxicity, refusals"
lab fault "$TOPO" limit_data node1 node3 --bytes 200 --name ld >/dev/null
lab fault "$TOPO" slicer node1 node2 --average-size 8 --delay-us 50 \
	--direction downstream --toxicity 0.5 --name sl >/dev/null
lab fault "$TOPO" slow_close node2 node3 --ms 300 --name sc >/dev/null
# Closed after 200 bytes, mid-handshake: node1-node3 never connects.
expect_cell node1 node3 cut
lab fault "$TOPO" list >"$T/toxics.txt"
grep -q "^ld limit_data routes=node1>node3,node3>node1 bytes=200" "$T/toxics.txt" ||
	fail "fault list: $(cat "$T/toxics.txt")"
grep -q "^sl slicer .*average_size=8 .*direction=downstream toxicity=0.5" "$T/toxics.txt" ||
	fail "fault list: $(cat "$T/toxics.txt")"
# The slicer and slow_close keep their links up.
expect_cell node1 node2 up
expect_cell node2 node3 up
for bad in "slicer node1 node2" "reset node1 node2 --toxicity 2" \
	"reset node1 node2 --direction sideways" "limit_data node1 node2"; do
	# shellcheck disable=SC2086
	if lab fault "$TOPO" $bad 2>"$T/bad.err"; then fail "lab fault $bad accepted"; fi
	[ -s "$T/bad.err" ] || fail "lab fault $bad: no message"
done
[ "$(lab fault "$TOPO" list | grep -c .)" -eq "$(grep -c . "$T/toxics.txt")" ] ||
	fail "a refused fault changed the list: $(lab fault "$TOPO" list)"
lab fault "$TOPO" heal all >/dev/null
expect_cell node1 node3 up

log "a second lab side by side (--no-wait)"
"$EKULAB" lab up "$TOPO" --state "$LAB2" --no-wait >"$T/up2.out" || fail "second lab did not come up"
! grep -q "settled" "$T/up2.out" || fail "--no-wait waited for the links"
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

#!/usr/bin/env bash
# it_deploy_live.sh: an Expressway deployment (a C cluster, an E cluster,
# Unified CM) runs live: every plan of examples/deployment/ runs with
# `plan run` and 0 deviations, and a lab of mra-lab.yaml shows the facts
# directly: C's MRA check of E's certificate in the SIP SERVICE message
# fails with client-purpose (rejected by C, depth 0) once E runs X15.4 with
# a serverAuth-only certificate under a pre-X15.4 C, while the traversal
# handshake works; it recovers when C runs X15.4; the version-mismatch
# finding follows the versions; a link fault on a zone route cuts that
# zone connection only; the external is a process of its own. A
# deployment on the swarm runtime is refused clearly (exit 2 for plan
# run); on docker it runs (it_deploy_docker). plan explore --criterion services --verify-live runs orderings of
# both clusters live.
source "${EKL_IT_LIB:?}"

DEP="$(cd "$(dirname "$0")/../../examples/deployment" && pwd)"
TOPO="$DEP/mra-lab.yaml"
ST="$T/lab"
trap 'rc=$?; "$EKULAB" lab down "$TOPO" --state "$ST" >/dev/null 2>&1 || true; "$EKULAB" lab down "$DEP/zones-lab.yaml" --state "$T/zlab" >/dev/null 2>&1 || true; pkill -KILL -f "$T/" 2>/dev/null || true; (exit $rc); it_cleanup' EXIT

# ---- every deployment plan, live ----
n=0
for plan in "$DEP"/[a-z]-*.yaml; do
	name=$(basename "$plan" .yaml)
	deployment_plan_run "$plan" ""
	[ ! -e "$T/$name" ] || fail "plan $name left its lab state behind"
	n=$((n + 1))
done
[ "$n" -ge 7 ] || fail "only $n deployment plans ran"
log "$n deployment plans ran live with 0 deviations"

# ---- plan explore --criterion services, proven live ----
log "plan explore switch-lab --criterion services --verify-live 2"
"$EKULAB" plan explore "$DEP/switch-lab.yaml" --goal-version X15.5 \
	--goal-cert server-only --goal-ca server-only --criterion services \
	--verify-live 2 >"$T/explore.out" 2>&1 || fail "explore: $(tail -n 20 "$T/explore.out")"
grep -q 'verify-live: 2 of 2 orderings confirmed' "$T/explore.out" ||
	fail "explore live: $(tail -n 20 "$T/explore.out")"

# ---- steps on an external, live: renewal, kill, a cut zone route ----
cat >"$T/ext.yaml" <<YAML
topology: $TOPO
steps:
  - expect: {service: neighbour, between: [c1, cucm], state: up}
  # Unified CM renewed serverAuth-only: c1, as acceptor, refuses it when
  # it calls; c1 calling Unified CM still works.
  - renew: {node: cucm, profile: server-only, ca: server-only}
  - expect: {direction: [cucm, c1], service: neighbour, code: client-purpose}
  - expect: {direction: [c1, cucm], service: neighbour, code: ok}
  - fault: {kind: kill, node: cucm, name: kc}
  - expect: {service: neighbour, between: [c2, cucm], state: down, code: not-running}
  - heal: kc
  - fault: {kind: down, link: [c2, cucm], name: cut}
  - expect: {direction: [c2, cucm], service: neighbour, code: cut}
  - heal: cut
  - renew: {node: cucm, profile: combined, ca: unrestricted}
  - expect: {service: neighbour, between: [c2, cucm], state: up}
YAML
log "plan run: steps on the external"
"$EKULAB" plan check "$T/ext.yaml" >"$T/ext-check.out" 2>&1 || fail "plan check ext: $(cat "$T/ext-check.out")"
if ! "$EKULAB" plan run "$T/ext.yaml" --state "$T/ext" --keep --json "$T/ext.json" >"$T/ext.out" 2>&1; then
	cat "$T/ext.out" >&2
	fail "plan run on the external deviated"
fi
python3 - "$T/ext.json" <<'PY' || fail "ext: report check failed"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["deviations"] == 0 and r["expectations_failed"] == 0, r
assert all(s["matches_prediction"] for s in r["steps"]), r["steps"]
PY
# One background writer per cluster, on its own primary: each cluster's
# database holds its own writer's rows (every acknowledged one) and none
# of the other's.
python3 - "$T/ext" <<'PY' || fail "ext: a cluster's replication carried no writer rows"
import sqlite3, sys
st = sys.argv[1]
def rows(node, tag):
    db = sqlite3.connect("%s/%s/data/clusterdb.sqlite3" % (st, node))
    n = db.execute("select count(*) from config where path like ?",
                   ("Plan %s %%" % tag,)).fetchone()[0]
    db.close()
    return n
def acked(log):
    return sum(1 for l in open("%s/%s" % (st, log)) if l.startswith("K "))
kc, ke = acked("writes.log"), acked("writes-1.log")
assert kc > 0 and ke > 0, (kc, ke)
for n in ("c1", "c2"):
    assert rows(n, "Load") >= kc and rows(n, "Load1") == 0, (n, rows(n, "Load"), kc)
for n in ("e1", "e2"):
    assert rows(n, "Load1") >= ke and rows(n, "Load") == 0, (n, rows(n, "Load1"), ke)
PY
rm -rf "$T/ext"

# ---- the facts, directly ----
zone_of() { # NODE SERVICE PEER: the node's own report of that zone connection
	"$EKULAB" ctl --socket "$ST/$1/admin.sock" --json 'xStatus Cluster' |
		python3 -c '
import json, sys
d = json.load(sys.stdin)
z = [z for z in d["zones"] if z["service"] == sys.argv[1]
     and z["peer"] == sys.argv[2] and z["direction"] == "outbound"]
assert len(z) == 1, d["zones"]
z = z[0]
print(z["state"], z["code"], z["by"], z["depth"])' "$2" "$3"
}

# Wait (bounded) until NODE reports SERVICE to PEER as WANT ("state code").
wait_zone() {
	local node=$1 svc=$2 peer=$3 want=$4 got="" k
	for k in $(seq 1 50); do
		got=$(zone_of "$node" "$svc" "$peer") || got="?"
		case "$got" in "$want"*) return 0 ;; esac
		sleep 0.1
	done
	fail "$node $svc -> $peer: '$got', expected '$want'"
}

# The lab's own view in the model's terms, next to the prediction.
lab_zone() { # SERVICE FROM TO -> "state code predicted"
	"$EKULAB" lab status "$TOPO" --state "$ST" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
z = [z for z in d["zones"] if z["service"] == sys.argv[1]
     and z["from"] == sys.argv[2] and z["to"] == sys.argv[3]]
assert len(z) == 1, d["zones"]
print(z[0]["state"], z[0]["code"], z[0]["predicted"])' "$@"
}

finding() {
	"$EKULAB" lab status "$TOPO" --state "$ST" --json | python3 -c '
import json, sys
f = json.load(sys.stdin)["findings"]
assert len(f) == 1 and f[0]["zone"] == ["core", "edge"], f
print(f[0]["present"], f[0]["predicted"])'
}

log "lab up mra-lab"
"$EKULAB" lab up "$TOPO" --state "$ST" >"$T/up.out" 2>&1 || {
	cat "$T/up.out" >&2
	fail "lab up of a deployment"
}
grep -q 'links and zone services settled as the model predicts' "$T/up.out" || fail "up: $(cat "$T/up.out")"
wait_zone c1 traversal e1 "up ok"
wait_zone c1 mra e1 "up ok"
wait_zone c2 neighbour cucm "up ok"
wait_zone cucm neighbour c2 "up ok"
[ "$(finding)" = "False False" ] || fail "finding at the start: $(finding)"

# The external is a process of its own: an ekunode playing Unified CM.
python3 - <<PY || fail "the external is not a running process"
import json, subprocess
d = json.loads(subprocess.check_output(["$EKULAB", "lab", "status", "$TOPO",
                                        "--state", "$ST", "--json"]))
x = [n for n in d["nodes"] if n["name"] == "cucm"][0]
assert x["kind"] == "cucm" and x["process"] == "running", x
cmd = open("/proc/%d/cmdline" % x["pid"]).read().split("\0")
assert cmd[0].endswith("ekunode") and cmd[2].endswith("/cucm/node.conf"), cmd
conf = open(cmd[2]).read()
lines = conf.splitlines()
assert "kind = cucm" in lines, conf
assert not [l for l in lines if l.startswith("peer =")], conf
PY

# E on X15.4 with a serverAuth-only certificate from a public CA.
"$EKULAB" lab fault "$TOPO" upgrade e1 X15.4 --state "$ST" >/dev/null || fail "upgrade e1"
"$EKULAB" lab fault "$TOPO" renew e1 server-only --ca server-only --state "$ST" \
	>/dev/null || fail "renew e1"
wait_zone c1 mra e1 "down client-purpose initiator 0"
wait_zone c1 traversal e1 "up ok"
wait_zone c2 mra e1 "down client-purpose initiator 0"
[ "$(lab_zone mra c1 e1)" = "down client-purpose client-purpose" ] ||
	fail "lab status mra c1>e1: $(lab_zone mra c1 e1)"
[ "$(lab_zone traversal c1 e1)" = "up ok ok" ] || fail "traversal: $(lab_zone traversal c1 e1)"
[ "$(finding)" = "True True" ] || fail "finding after E's upgrade: $(finding)"
log "MRA: a pre-X15.4 C refuses E's serverAuth-only certificate (client-purpose)"

# lab graph of the running deployment draws it as observed: a group per
# cluster and the external, the zones between them with the refusal.
"$EKULAB" lab graph "$TOPO" --state "$ST" --svg "$T/live.svg" --mermaid "$T/live.mmd" \
	2>"$T/graph.err" || fail "lab graph of the running deployment: $(cat "$T/graph.err")"
for want in 'deployment mra-lab: as observed' 'cluster core (Expressway-C)' \
	'cluster edge (Expressway-E)' 'external cucm' 'mra: client-purpose' \
	'traversal: ok'; do
	grep -qF "$want" "$T/live.svg" || fail "lab graph SVG lacks '$want'"
done
grep -q 'subgraph g2\["external cucm' "$T/live.mmd" || fail "Mermaid lacks the external's group"
grep -q 'prediction' "$T/graph.err" && fail "lab graph drew a prediction of a lab that is up"

# A link fault on a zone route cuts that zone connection, nothing else.
"$EKULAB" lab fault "$TOPO" down c1 cucm --one-way --name zcut --state "$ST" \
	>/dev/null || fail "fault on a zone route"
for k in $(seq 1 50); do
	[ "$(lab_zone neighbour c1 cucm)" = "down cut cut" ] && break
	sleep 0.1
done
[ "$(lab_zone neighbour c1 cucm)" = "down cut cut" ] || fail "zone cut: $(lab_zone neighbour c1 cucm)"
[ "$(lab_zone neighbour cucm c1)" = "up ok ok" ] || fail "other way: $(lab_zone neighbour cucm c1)"
"$EKULAB" lab fault "$TOPO" heal zcut --state "$ST" >/dev/null || fail "heal"
wait_zone c1 neighbour cucm "up ok"
# The external killed: its zone connections are not-running, as modelled.
"$EKULAB" lab fault "$TOPO" kill cucm --name xkill --state "$ST" >/dev/null || fail "kill cucm"
[ "$(lab_zone neighbour c2 cucm)" = "down not-running not-running" ] ||
	fail "killed external: $(lab_zone neighbour c2 cucm)"
"$EKULAB" lab fault "$TOPO" heal xkill --state "$ST" >/dev/null || fail "heal the kill"
wait_zone c2 neighbour cucm "up ok"
wait_zone cucm neighbour c1 "up ok"

# C on X15.4: serverAuth is enough; c2 still fails until it follows.
"$EKULAB" lab fault "$TOPO" upgrade c1 X15.4 --state "$ST" >/dev/null || fail "upgrade c1"
wait_zone c1 mra e1 "up ok"
wait_zone c2 mra e1 "down client-purpose"
"$EKULAB" lab fault "$TOPO" upgrade c2 X15.4 --state "$ST" >/dev/null || fail "upgrade c2"
"$EKULAB" lab fault "$TOPO" upgrade e2 X15.4 --state "$ST" >/dev/null || fail "upgrade e2"
wait_zone c2 mra e1 "up ok"
[ "$(finding)" = "False False" ] || fail "finding after both upgraded: $(finding)"
log "MRA recovers once C runs X15.4; the version mismatch is gone"
# Every zone connection as the model predicts (e2 has just restarted: its
# callers' next attempts settle it).
for k in $(seq 1 50); do
	"$EKULAB" lab status "$TOPO" --state "$ST" >"$T/status.txt" || fail "lab status"
	grep -q '(differs)' "$T/status.txt" || break
	sleep 0.1
done
grep -q '^zone services' "$T/status.txt" || fail "no zone services in lab status"
! grep -q '(differs)' "$T/status.txt" || fail "lab status differs from the model: $(cat "$T/status.txt")"
"$EKULAB" lab down "$TOPO" --state "$ST" >/dev/null || fail "lab down"

# ---- the cloud zone: the Expressway initiates, never the reverse ----
# By the endpoints' own reports, not the lab's route list: e1 has an
# outbound cloud connection to webex, and webex (a cloud peer) opens none
# and is given no zone peer to dial.
ZT="$DEP/zones-lab.yaml"
ZS="$T/zlab"
log "lab up zones-lab"
"$EKULAB" lab up "$ZT" --state "$ZS" >"$T/zup.out" 2>&1 || {
	cat "$T/zup.out" >&2
	fail "lab up zones-lab"
}
for k in $(seq 1 50); do
	got=$("$EKULAB" ctl --socket "$ZS/e1/admin.sock" --json 'xStatus Cluster' |
		python3 -c '
import json, sys
z = [z for z in json.load(sys.stdin)["zones"] if z["service"] == "cloud"
     and z["peer"] == "webex" and z["direction"] == "outbound"]
print(z[0]["state"] if len(z) == 1 else "none")') || got="?"
	[ "$got" = up ] && break
	sleep 0.1
done
[ "$got" = up ] || fail "e1 cloud -> webex: $got"
"$EKULAB" ctl --socket "$ZS/webex/admin.sock" --json 'xStatus Cluster' | python3 -c '
import json, sys
z = [z for z in json.load(sys.stdin)["zones"] if z["direction"] == "outbound"]
assert not z, z' || fail "the cloud peer opened a connection"
! grep -q '^zone-peer' "$ZS/webex/node.conf" || fail "webex was given a zone peer: $(cat "$ZS/webex/node.conf")"
grep -q '^zone-peer' "$ZS/e1/node.conf" || fail "e1 has no zone peer: $(cat "$ZS/e1/node.conf")"
"$EKULAB" lab down "$ZT" --state "$ZS" >/dev/null || fail "lab down zones-lab"
log "cloud: the Expressway opens the connection, the cloud never does"

# ---- the swarm runtime: a clear refusal (docker: it_deploy_docker) ----
RC=0
"$EKULAB" plan run "$DEP/a-mra-e-before-c.yaml" --runtime swarm --state "$T/dk" \
	>"$T/dk.out" 2>"$T/dk.err" || RC=$?
[ "$RC" -eq 2 ] || fail "plan run --runtime swarm of a deployment: exit $RC, expected 2"
grep -q 'runs on the process and docker runtimes, not yet on swarm' "$T/dk.err" || fail "swarm: $(cat "$T/dk.err")"
! grep -q Sanitizer "$T/dk.err" || fail "swarm refusal: sanitizer report"
[ ! -e "$T/dk" ] || fail "the refused plan run left its state behind"
log "ok"

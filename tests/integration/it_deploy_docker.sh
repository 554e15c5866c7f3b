#!/usr/bin/env bash
# it_deploy_docker.sh: an Expressway deployment in containers (`--runtime
# docker`): mra-lab (a C cluster, an E cluster, Unified CM) with every
# cluster node and the external in a container of its own, zone listeners
# at each container's address and every zone connection through the lab
# proxy's container. Its zone services in `lab status` equal the process
# runtime's for the same topology, at the start and after E's upgrade and
# serverAuth-only renewal (MRA client-purpose, the version-mismatch
# finding); faults on the external (kill, pause, a cut zone route) act on
# its container and heal; then `plan run --runtime docker` of the MRA plan
# (E upgraded and renewed before C) and of the B2B/federation plan with 0
# deviations, each cluster's writer acknowledged, lost nothing and
# converged; nothing of the labs (container, network, volume) is left.
#
# Needs a Docker engine (scripts/docker-engine.sh, run by scripts/test.sh,
# never by this test); without one it prints "SKIPPED: no Docker engine:
# <reason>" and exits 77 (ctest's skip code).
source "${EKL_IT_LIB:?}"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

skip() {
	{
		echo "=================================================================="
		echo "SKIPPED: no Docker engine: $*"
		echo "(it_deploy_docker.sh tested nothing; scripts/docker-engine.sh says why)"
		echo "=================================================================="
	}
	exit 77
}

log "engine"
if ! engine_out=$(docker info --format '{{.ServerVersion}}' 2>&1); then
	skip "docker info: $(printf '%s\n' "$engine_out" | tail -n 1) (run scripts/docker-engine.sh)"
fi
log "engine $engine_out"

IMAGE="ekulab-node:it-dd-$$"
export EKULAB_IMAGE=$IMAGE
# The examples under names of this run's own: every docker object a lab
# makes carries ekulab.lab=NAME, so the checks and the safety net below
# see this test's objects and nobody else's.
MRA="dd$$-mra"
ZONES="dd$$-zones"
DEP="$T/dep"
mkdir -p "$DEP"
cp "$ROOT"/examples/deployment/*.yaml "$DEP/"
sed -i "s/^name: mra-lab\$/name: $MRA/" "$DEP/mra-lab.yaml"
sed -i "s/^name: zones-lab\$/name: $ZONES/" "$DEP/zones-lab.yaml"
grep -q "^name: $MRA\$" "$DEP/mra-lab.yaml" || fail "could not rename mra-lab"
grep -q "^name: $ZONES\$" "$DEP/zones-lab.yaml" || fail "could not rename zones-lab"
TOPO="$DEP/mra-lab.yaml"
DLAB="$T/dlab" # mra-lab in containers
PLAB="$T/plab" # the same with processes

objects() { # NAME: every container, network and volume labelled with it
	docker ps -aq --filter "label=ekulab.lab=$1"
	docker network ls -q --filter "label=ekulab.lab=$1"
	docker volume ls -q --filter "label=ekulab.lab=$1"
}
dd_cleanup() {
	local name id
	"$EKULAB" lab down "$TOPO" --state "$DLAB" >/dev/null 2>&1 || true
	"$EKULAB" lab down "$TOPO" --state "$PLAB" >/dev/null 2>&1 || true
	# A safety net: only objects labelled with this run's lab names.
	for name in "$MRA" "$ZONES"; do
		for id in $(docker ps -aq --filter "label=ekulab.lab=$name" 2>/dev/null); do
			docker rm -f "$id" >/dev/null 2>&1 || true
		done
		docker network ls -q --filter "label=ekulab.lab=$name" 2>/dev/null |
			xargs -r docker network rm >/dev/null 2>&1 || true
		docker volume ls -q --filter "label=ekulab.lab=$name" 2>/dev/null |
			xargs -r docker volume rm >/dev/null 2>&1 || true
	done
	docker image rm "$IMAGE" >/dev/null 2>&1 || true
}
trap 'rc=$?; dd_cleanup; (exit $rc); it_cleanup' EXIT

log "image (offline, from the programs under test)"
"$ROOT/docker/build-image.sh" --tag "$IMAGE" >"$T/image.out" 2>&1 ||
	fail "docker/build-image.sh failed: $(cat "$T/image.out")"

# zones STATE: every zone connection of `lab status --json`, one
# "SERVICE FROM>TO STATE CODE PREDICTED" per line, sorted; and the finding.
zones() {
	"$EKULAB" lab status "$TOPO" --json --state "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for z in sorted(d["zones"], key=lambda z: (z["service"], z["from"], z["to"])):
    print(z["service"], "%s>%s" % (z["from"], z["to"]), z["state"], z["code"],
          z["predicted"])
for f in d["findings"]:
    print("finding", f["finding"], "-".join(f["zone"]), f["present"],
          f["predicted"])
'
}
# Every zone connection observed as the model predicts.
agrees() { zones "$1" | awk '$1 != "finding" && $4 != $5 { bad = 1 } END { exit bad }'; }
# Both labs settled, agreeing with the model and with each other, twice
# in a row half a second apart.
same_zones() {
	agrees "$DLAB" && agrees "$PLAB" || return 1
	[ "$(zones "$DLAB")" = "$(zones "$PLAB")" ] || return 1
	sleep 0.5
	[ "$(zones "$DLAB")" = "$(zones "$PLAB")" ]
}
expect_same_zones() {
	wait_until 30 same_zones || fail "$1: the zone services differ:
docker:
$(zones "$DLAB")
process:
$(zones "$PLAB")"
}
zone() { zones "$DLAB" | awk -v s="$1" -v k="$2>$3" '$1 == s && $2 == k { print $3, $4, $5 }'; }
zone_is() { [ "$(zone "$1" "$2" "$3")" = "$4" ]; }
expect_zone() { # SERVICE FROM TO "STATE CODE PREDICTED"
	wait_until 20 zone_is "$@" ||
		fail "docker: $1 $2>$3: '$(zone "$1" "$2" "$3")', expected '$4'"
}
id_of() { sed -n 's/^id //p' "$DLAB/docker.conf"; }
cstate() { docker inspect -f '{{.State.Status}}' "$(id_of)-$1" 2>/dev/null; }
dl() { "$EKULAB" lab "$@" --state "$DLAB"; }
pl() { "$EKULAB" lab "$@" --state "$PLAB"; }

# ---- mra-lab in containers, next to the same with processes ----
log "lab up $MRA --runtime docker, and with processes"
dl up "$TOPO" --runtime docker >"$T/dup.out" 2>&1 || fail "lab up --runtime docker: $(cat "$T/dup.out")"
grep -q 'links and zone services settled as the model predicts' "$T/dup.out" ||
	fail "docker up: $(cat "$T/dup.out")"
pl up "$TOPO" >"$T/pup.out" 2>&1 || fail "lab up (process): $(cat "$T/pup.out")"
ID=$(id_of)
[ -n "$ID" ] || fail "no docker.conf id"

log "objects: 4 nodes, the external and the proxy, each a container"
[ "$(docker ps -q --filter "label=ekulab.id=$ID" | wc -l)" -eq 6 ] ||
	fail "expected 6 running containers: $(docker ps -a --filter "label=ekulab.id=$ID")"
[ "$(docker volume ls -q --filter "label=ekulab.id=$ID" | wc -l)" -eq 5 ] ||
	fail "expected 5 data volumes"
# The external: an ekunode --kind cucm with no version and no ClusterDB
# peer, its neighbour listener at its own address; c1 reaches it through
# the proxy's address.
ipx=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$ID\").IPAddress}}" "$ID-cucm")
proxy=$(sed -n 's/^proxy //p' "$DLAB/docker.conf")
conf="$DLAB/cucm/container.conf"
grep -qx 'kind = cucm' "$conf" || fail "cucm: no kind: $(cat "$conf")"
grep -q "^zone-listen = neighbour=$ipx:" "$conf" || fail "cucm's zone listener: $(cat "$conf")"
! grep -q '^peer =' "$conf" || fail "the external has a ClusterDB peer: $(cat "$conf")"
! docker inspect -f '{{json .Args}}' "$ID-cucm" | grep -q -- '--version' ||
	fail "the external runs with a --version"
grep -q "^zone-peer = cucm=neighbour,$proxy:" "$DLAB/c1/container.conf" ||
	fail "c1 does not reach cucm through the proxy: $(cat "$DLAB/c1/container.conf")"
grep -q "^zone-peer = e1=traversal,$proxy:[0-9]*,mra\$" "$DLAB/c1/container.conf" ||
	fail "c1's traversal to e1 (mra) is not through the proxy"

log "zone services: docker equals processes and the model"
expect_same_zones "after up"
expect_zone mra c1 e1 "up ok ok"
expect_zone neighbour cucm c2 "up ok ok"
zones "$DLAB" | grep -qx 'finding version-mismatch core-edge False False' ||
	fail "finding at the start: $(zones "$DLAB" | grep finding)"

log "E on X15.4 with a serverAuth-only certificate, on both runtimes"
for f in "upgrade e1 X15.4" "renew e1 server-only --ca server-only"; do
	# shellcheck disable=SC2086
	dl fault "$TOPO" $f >/dev/null || fail "docker: fault $f"
	# shellcheck disable=SC2086
	pl fault "$TOPO" $f >/dev/null || fail "process: fault $f"
done
expect_zone mra c1 e1 "down client-purpose client-purpose"
expect_zone traversal c1 e1 "up ok ok"
expect_same_zones "after E's upgrade and renewal"
zones "$DLAB" | grep -qx 'finding version-mismatch core-edge True True' ||
	fail "finding after E's upgrade: $(zones "$DLAB" | grep finding)"

log "faults on the external's container"
old=$(docker inspect -f '{{.Id}}' "$ID-cucm")
dl fault "$TOPO" kill cucm --name xk >/dev/null || fail "kill cucm"
[ "$(cstate cucm)" = exited ] || fail "cucm's container is $(cstate cucm)"
expect_zone neighbour c2 cucm "down not-running not-running"
dl fault "$TOPO" heal xk >/dev/null || fail "heal xk"
[ "$(docker inspect -f '{{.Id}}' "$ID-cucm")" = "$old" ] ||
	fail "heal made a new container instead of starting cucm's"
expect_zone neighbour c2 cucm "up ok ok"
dl fault "$TOPO" pause cucm --name xp >/dev/null || fail "pause cucm"
[ "$(cstate cucm)" = paused ] || fail "cucm's container is $(cstate cucm)"
expect_zone neighbour cucm c1 "down not-running not-running"
dl fault "$TOPO" heal xp >/dev/null || fail "heal xp"
[ "$(cstate cucm)" = running ] || fail "cucm's container is $(cstate cucm)"
dl fault "$TOPO" down c1 cucm --one-way --name zcut >/dev/null || fail "cut a zone route"
expect_zone neighbour c1 cucm "down cut cut"
expect_zone neighbour cucm c1 "up ok ok"
dl fault "$TOPO" heal zcut >/dev/null || fail "heal zcut"
expect_zone neighbour c1 cucm "up ok ok"
dl exec "$TOPO" cucm 'xStatus Cluster' >"$T/cucm.status" || fail "exec on the external"
grep -q '^neighbour  *c1 ' "$T/cucm.status" || fail "cucm's status: $(cat "$T/cucm.status")"
dl graph "$TOPO" >"$T/graph.dot" || fail "lab graph"
grep -q '"c1' "$T/graph.dot" || fail "lab graph: $(cat "$T/graph.dot")"
expect_same_zones "after the external's faults healed"

log "down: nothing of $MRA is left"
dl down "$TOPO" >/dev/null || fail "lab down (docker)"
pl down "$TOPO" >/dev/null || fail "lab down (process)"
[ -z "$(objects "$MRA")" ] || fail "objects of $MRA left: $(objects "$MRA")"
[ ! -e "$DLAB" ] || fail "the docker lab's state directory is left"

# ---- plan run in containers ----
run_plan() { # PLAN LABNAME
	local name
	name=$(basename "$1" .yaml)
	deployment_plan_run "$1" " in docker" --runtime docker
	python3 - "$T/$name.json" <<'PY' || fail "plan $name: report check failed"
import json, sys
r = json.load(open(sys.argv[1]))
w = r["writes"]
assert w["lost"] == 0 and w["unexpected"] == 0, w
# Each cluster's writer on its own primary: acknowledged, nothing lost,
# its replicas converged; the totals are their sums.
cs = w["clusters"]
assert cs and all(c["acknowledged"] > 0 and c["lost"] == 0 and
                  c["unexpected"] == 0 and c["converged"] for c in cs), cs
assert sum(c["acknowledged"] for c in cs) <= w["acknowledged"], w
print(" ".join("%s:%s" % (c["cluster"], c["writer"]) for c in cs))
PY
	[ ! -e "$T/$name" ] || fail "plan $name left its state directory"
	[ -z "$(objects "$2")" ] || fail "plan $name left objects: $(objects "$2")"
	tail -n 4 "$T/$name.out" >&2
}
run_plan "$DEP/a-mra-e-before-c.yaml" "$MRA"
python3 - "$T/a-mra-e-before-c.json" <<'PY' || fail "plan a: not one writer per cluster"
import json, sys
cs = json.load(open(sys.argv[1]))["writes"]["clusters"]
assert [(c["cluster"], c["writer"]) for c in cs] == [("core", "c1"), ("edge", "e1")], cs
PY
grep -q '^  core (writer on c1): ' "$T/a-mra-e-before-c.out" ||
	fail "plan a: no per-cluster line in the summary"
run_plan "$DEP/f-b2b-federation-x15.4.yaml" "$ZONES"

[ -z "$(objects "$MRA")$(objects "$ZONES")" ] || fail "objects left at the end"
log "ok"

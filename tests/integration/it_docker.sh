#!/usr/bin/env bash
# it_docker.sh: `ekulab lab --runtime docker`: the offline image built from
# the programs under test, a 3-node mixed-certificate lab in containers
# whose link matrix equals the process runtime's for the same topology
# (also under a partition), kill / pause / partition / restart / upgrade
# faults, an example plan run end to end in containers, and `down` leaving
# no container, network or volume of the lab (and removing nothing else).
#
# Needs a Docker engine: scripts/docker-engine.sh (run by scripts/test.sh and
# CI, never by this test) installs Debian's docker.io and starts dockerd
# when it can. When no engine answers, the test prints
# "SKIPPED: no Docker engine: <reason>" and exits 77 (ctest's skip code,
# SKIP_RETURN_CODE in tests/CMakeLists.txt): never a silent pass.
source "${EKL_IT_LIB:?}"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

skip() {
	{
		echo "=================================================================="
		echo "SKIPPED: no Docker engine: $*"
		echo "(it_docker.sh tested nothing; scripts/docker-engine.sh says why)"
		echo "=================================================================="
	}
	exit 77
}

log "engine"
# The test never installs or starts anything: scripts/test.sh (and CI) run
# scripts/docker-engine.sh first. No engine answering here is a skip.
if ! engine_out=$(docker info --format '{{.ServerVersion}}' 2>&1); then
	skip "docker info: $(printf '%s\n' "$engine_out" | tail -n 1) (run scripts/docker-engine.sh)"
fi
log "engine $engine_out"

DLAB="$T/dlab"   # the docker lab's state
PLAB="$T/plab"   # the same topology with processes
PSTATE="$T/plan" # the plan's lab
IMAGE="ekulab-node:it-$$"
export EKULAB_IMAGE=$IMAGE
TOPO="$T/mixed.yaml"
NAME=it-docker-$$
cat >"$TOPO" <<YAML
name: $NAME
cluster: {verify: enforce, primary: node1, dial: both, link: either}
defaults: {version: X15.3.2, role: c, cert: {profile: combined, ca: unrestricted}}
nodes:
  node1: {}
  node2: {cert: {profile: server-only}}
  node3: {version: X15.4, cert: {profile: server-only}}
YAML

DECOY="ekulab-decoy-$$"
docker_cleanup() {
	local id
	"$EKULAB" lab down "$TOPO" --state "$DLAB" >/dev/null 2>&1 || true
	"$EKULAB" lab down "$TOPO" --state "$PLAB" >/dev/null 2>&1 || true
	# A safety net: every object this test's labs could have made.
	for id in $(docker ps -aq --filter "label=ekulab.lab=$NAME" 2>/dev/null); do
		docker rm -f "$id" >/dev/null 2>&1 || true
	done
	docker network ls -q --filter "label=ekulab.lab=$NAME" 2>/dev/null |
		xargs -r docker network rm >/dev/null 2>&1 || true
	docker volume ls -q --filter "label=ekulab.lab=$NAME" 2>/dev/null |
		xargs -r docker volume rm >/dev/null 2>&1 || true
	docker volume rm "$DECOY" >/dev/null 2>&1 || true
	docker image rm "$IMAGE" >/dev/null 2>&1 || true
}
# it_cleanup reads the exit status from $?: keep the test's, not ours.
trap 'rc=$?; docker_cleanup; (exit $rc); it_cleanup' EXIT

log "image (offline, FROM scratch)"
"$ROOT/docker/build-image.sh" --tag "$IMAGE" >"$T/image.out" 2>&1 ||
	fail "docker/build-image.sh failed: $(cat "$T/image.out")"
cat "$T/image.out" >&2
[ "$(docker image inspect -f '{{.Config.User}}' "$IMAGE")" = 10001:10001 ] ||
	fail "the image does not run as uid 10001"
docker image inspect -f '{{json .Config.Healthcheck.Test}}' "$IMAGE" |
	grep -q 'xStatus Database' || fail "the image has no admin-socket HEALTHCHECK"
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
[ "$size" -lt $((120 * 1024 * 1024)) ] || fail "image too big: $size bytes"

dlab() { "$EKULAB" lab "$@" --state "$DLAB"; }
plab() { "$EKULAB" lab "$@" --state "$PLAB"; }

# The comparisons of the two labs: lib.sh (twin_*).
TWIN_LAB="$DLAB" TWIN_KIND=docker
id_of() { sed -n 's/^id //p' "$DLAB/docker.conf"; }
cstate() { docker inspect -f '{{.State.Status}}' "$(id_of)-$1" 2>/dev/null; }
read_back() { dlab exec "$TOPO" "$1" "xConfiguration $2" 2>/dev/null; }
has_value() { read_back "$1" "$2" | grep -q "$3"; }

log "up: a node whose container cannot start fails it, named; nothing is left"
# A stand-in docker client that refuses node2's `docker run`. The nodes
# start side by side: the failure still names the node, and up removes
# what the others started.
cat >"$T/docker-refuse" <<'SH'
#!/bin/sh
case "$*" in
run\ *--name\ *-node2\ *) echo "stand-in engine: no room for node2" >&2; exit 1 ;;
esac
exec docker "$@"
SH
chmod +x "$T/docker-refuse"
if EKULAB_DOCKER="$T/docker-refuse" dlab up "$TOPO" --runtime docker \
	>"$T/refused.out" 2>&1; then
	fail "up succeeded although node2's container could not start"
fi
grep -q "starting node2: docker run: stand-in engine: no room for node2" \
	"$T/refused.out" || fail "up's failure does not name node2: $(cat "$T/refused.out")"
[ -z "$(docker ps -aq --filter "label=ekulab.lab=$NAME")" ] ||
	fail "the failed up left containers: $(docker ps -a --filter "label=ekulab.lab=$NAME")"
[ -z "$(docker network ls -q --filter "label=ekulab.lab=$NAME")" ] ||
	fail "the failed up left its network"

log "up: the same topology with docker and with processes"
# Through a stand-in docker client that logs every call (start and end)
# and whose first network list names a network that is gone by the
# inspect (another lab's down in between): up lists again instead of
# failing.
cat >"$T/docker" <<SH
#!/bin/sh
echo "start \$\$ \$*" >>"$T/docker.calls"
if [ "\$1 \$2" = "network ls" ] && [ ! -e "$T/vanished" ]; then
	: >"$T/vanished"
	docker "\$@" && echo 0123456789ab
else
	docker "\$@"
fi
rc=\$?
echo "end \$\$ \$1" >>"$T/docker.calls"
exit \$rc
SH
chmod +x "$T/docker"
EKULAB_DOCKER="$T/docker" dlab up "$TOPO" --runtime docker >"$T/dup.out" 2>&1 ||
	fail "lab up --runtime docker failed: $(cat "$T/dup.out")"
[ -e "$T/vanished" ] || fail "up never listed the engine's networks"
# The nodes' containers start side by side: how many of their `docker
# run`s had started when the first one ended (one after the other: 1).
overlap=$(awk '$1 == "start" && $3 == "run" && / --name [^ ]*-node[0-9]/ {
	run[$2] = 1; n++ }
	$1 == "end" && ($2 in run) { print n; exit }' "$T/docker.calls")
[ "${overlap:-0}" -ge 2 ] ||
	fail "the nodes' containers started one after the other: $(grep ' run ' "$T/docker.calls")"
plab up "$TOPO" >"$T/pup.out" 2>&1 || fail "lab up failed: $(cat "$T/pup.out")"
grep -q '^runtime docker$' "$DLAB/lab.conf" || fail "lab.conf does not record docker"
[ -s "$DLAB/compose.yaml" ] || fail "no compose project in the state directory"
ID=$(id_of)
[ -n "$ID" ] || fail "no docker.conf id"

log "objects: 4 containers, 1 network with its own subnet, 3 volumes"
[ "$(docker ps -q --filter "label=ekulab.id=$ID" | wc -l)" -eq 4 ] ||
	fail "expected 4 running containers: $(docker ps -a --filter "label=ekulab.id=$ID")"
subnet=$(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "$ID")
[[ $subnet == 10.213.*.0/24 ]] || fail "lab network subnet $subnet"
[ "$(docker volume ls -q --filter "label=ekulab.id=$ID" | wc -l)" -eq 3 ] ||
	fail "expected 3 data volumes"
[ "$(docker inspect -f '{{.Config.User}}' "$ID-node1")" != "" ] &&
	[ "$(docker inspect -f '{{.Config.User}}' "$ID-node1")" != 0 ] ||
	fail "node1 runs as root"
ip1=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$ID\").IPAddress}}" "$ID-node1")
grep -q "^listen = $ip1:" "$DLAB/node1/container.conf" ||
	fail "node1 does not listen on its lab address $ip1"

log "the link matrix equals the process runtime's (and the model)"
twin_expect_same_matrix "after up"
twin_expect_cell node1 node2 up
twin_expect_cell node2 node1 client-purpose
twin_expect_cell node1 node3 up
twin_expect_cell node3 node1 client-purpose
twin_expect_cell node3 node2 client-purpose
twin_links "$DLAB" >&2

log "runtime from lab.conf; --runtime checked"
# One question to the engine for every node's state, not one per node.
: >"$T/docker.calls"
EKULAB_DOCKER="$T/docker" dlab status "$TOPO" >/dev/null || fail "status without --runtime"
asks=$(grep -c '^start ' "$T/docker.calls")
lists=$(grep -c '^start [0-9]* container ls ' "$T/docker.calls")
[ "$asks" -eq 1 ] && [ "$lists" -eq 1 ] ||
	fail "status ran $asks docker commands, expected one container ls: $(cat "$T/docker.calls")"
dlab status "$TOPO" --runtime docker >/dev/null || fail "status --runtime docker"
if dlab status "$TOPO" --runtime process >"$T/wrong.out" 2>&1; then
	fail "status --runtime process accepted on a docker lab"
fi
grep -q "docker runtime" "$T/wrong.out" || fail "mismatch message: $(cat "$T/wrong.out")"

log "graph, exec, health"
dlab graph "$TOPO" --svg "$T/g.svg" >/dev/null && grep -q '<svg' "$T/g.svg" ||
	fail "graph"
dlab exec "$TOPO" node1 'xConfiguration SIP Domain 1 Name: docker.example' \
	>/dev/null || fail "exec write"
wait_until 15 has_value node3 "SIP Domain 1 Name" docker.example ||
	fail "the write did not replicate to node3"
healthy() { [ "$(docker inspect -f '{{.State.Health.Status}}' "$ID-node1")" = healthy ]; }
wait_until 30 healthy || fail "node1's HEALTHCHECK never passed"

log "kill: docker kill, heal starts the same container with its data"
old=$(docker inspect -f '{{.Id}}' "$ID-node3")
dlab fault "$TOPO" kill node3 --name k3 >/dev/null || fail "kill"
[ "$(cstate node3)" = exited ] || fail "node3's container is $(cstate node3)"
wait_until 10 twin_process_is node3 stopped || fail "status: node3 not stopped"
twin_expect_cell node1 node3 not-running
dlab fault "$TOPO" heal k3 >/dev/null || fail "heal k3"
[ "$(docker inspect -f '{{.Id}}' "$ID-node3")" = "$old" ] ||
	fail "heal made a new container instead of starting node3's"
has_value node3 "SIP Domain 1 Name" docker.example || fail "node3 lost its data"
twin_expect_cell node1 node3 up

log "pause: docker pause / unpause"
dlab fault "$TOPO" pause node1 --name p1 >/dev/null || fail "pause"
[ "$(cstate node1)" = paused ] || fail "node1's container is $(cstate node1)"
wait_until 10 twin_process_is node1 paused || fail "status: node1 not paused"
dlab fault "$TOPO" resume node1 >/dev/null || fail "resume"
[ "$(cstate node1)" = running ] || fail "node1's container is $(cstate node1)"
twin_expect_cell node1 node2 up

log "partition isolate node1 (the proxy): equal to processes"
dlab fault "$TOPO" partition isolate node1 --name iso >/dev/null || fail "partition"
plab fault "$TOPO" partition isolate node1 --name iso >/dev/null || fail "partition (process)"
twin_expect_cell node1 node2 cut
twin_expect_same_matrix "under partition isolate node1"
dlab fault "$TOPO" list | grep -q '^iso' || fail "fault list lacks iso"
dlab fault "$TOPO" heal all >/dev/null || fail "heal all"
plab fault "$TOPO" heal all >/dev/null || fail "heal all (process)"
twin_expect_same_matrix "after heal"

log "restart and upgrade: same volume; upgrade recreates with --version"
dlab fault "$TOPO" restart node2 >/dev/null || fail "restart"
twin_expect_cell node1 node2 up
old=$(docker inspect -f '{{.Id}}' "$ID-node2")
dlab fault "$TOPO" upgrade node2 X15.4 >/dev/null || fail "upgrade"
[ "$(docker inspect -f '{{.Id}}' "$ID-node2")" != "$old" ] ||
	fail "upgrade kept the old container"
[ "$(docker inspect -f '{{index .Config.Labels "ekulab.version"}}' "$ID-node2")" = X15.4 ] ||
	fail "node2's container is not labelled X15.4"
docker inspect -f '{{json .Args}}' "$ID-node2" | grep -q '"X15.4"' ||
	fail "node2 does not run with --version X15.4"
has_value node2 "SIP Domain 1 Name" docker.example || fail "node2 lost its data"
twin_expect_cell node3 node2 up # X15.4 node2 accepts node3's server-only
plab fault "$TOPO" upgrade node2 X15.4 >/dev/null || fail "upgrade (process)"
twin_expect_same_matrix "after upgrading node2"

log "a decoy with the lab's name but not its id survives down"
docker volume create --label "ekulab.lab=$NAME" --label "ekulab.id=other" \
	"$DECOY" >/dev/null || fail "decoy"

log "down: no container, network or volume of the lab is left"
for n in node1 node2 node3; do
	docker logs "$ID-$n" >"$T/docker-$n.log" 2>&1 || true
done
dlab down "$TOPO" >/dev/null || fail "down"
plab down "$TOPO" >/dev/null || fail "down (process)"
[ -z "$(docker ps -aq --filter "label=ekulab.id=$ID")" ] || fail "containers left"
[ -z "$(docker network ls -q --filter "label=ekulab.id=$ID")" ] || fail "network left"
[ -z "$(docker volume ls -q --filter "label=ekulab.id=$ID")" ] || fail "volumes left"
[ ! -e "$DLAB" ] || fail "state directory left"
docker volume inspect "$DECOY" >/dev/null 2>&1 || fail "down removed the decoy volume"

log "plan run end to end in containers (examples/plans/g-faults.yaml)"
"$EKULAB" plan run "$ROOT/examples/plans/g-faults.yaml" --runtime docker \
	--state "$PSTATE" --json "$T/plan.json" >"$T/plan.out" 2>&1 ||
	fail "plan run in docker: $(tail -n 30 "$T/plan.out")"
grep -q '^0 deviations' "$T/plan.out" || fail "plan deviations: $(cat "$T/plan.out")"
# Only this plan's lab counts: other labs may share the engine.
[ -z "$(docker ps -aq --filter "label=ekulab.lab=cluster-x15-3")" ] ||
	fail "the plan left containers"
[ ! -e "$PSTATE" ] || fail "the plan left its state directory"
tail -n 3 "$T/plan.out" >&2

log "dial primary in containers: routes only for the primary's dials, j-dial-modes live"
"$EKULAB" plan run "$ROOT/examples/plans/j-dial-modes.yaml" --runtime docker \
	--dial primary --state "$T/jdial" --keep --json "$T/jdial.json" >"$T/jdial.out" 2>&1 ||
	fail "j-dial-modes under dial primary in docker: $(tail -n 30 "$T/jdial.out")"
grep -q '^0 deviations' "$T/jdial.out" || fail "j-dial-modes deviations: $(cat "$T/jdial.out")"
# The proxy container was started with the primary's two routes only.
grep -c '^      - "--route"' "$T/jdial/compose.yaml" | grep -qx 2 ||
	fail "the docker proxy has other routes than node1's: $(grep -A1 -- '--route' "$T/jdial/compose.yaml")"
grep -q 'peer = node3=.*,dial=no' "$T/jdial/node2/container.conf" &&
	fail "node2 knows node3 although dial primary never connects them"
grep -q 'peer = node1=.*,dial=no' "$T/jdial/node2/container.conf" ||
	fail "node2's container config does not say dial=no for node1"
rm -rf "$T/jdial"

log "all docker checks passed"

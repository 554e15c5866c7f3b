#!/usr/bin/env bash
# it_swarm.sh: `ekulab lab --runtime swarm` on a single-node swarm: a 3-node
# mixed-certificate lab deployed as a stack (placed by host name and by node
# label) whose link matrix equals the process runtime's for the same
# topology, also under a partition and after an upgrade; kill / pause /
# upgrade through the swarm; `lab status` naming each node's host; `lab up`
# naming a placement host the swarm lacks; `ekulab image push` through a
# stand-in ssh; examples/plans/g-faults.yaml end to end with 0 deviations
# and 0 lost writes; and `down` leaving no service, container, network or
# volume of the lab (and removing nothing else).
#
# Needs a Docker engine, as it_docker: when none answers, the test prints
# "SKIPPED: no Docker engine: <reason>" and exits 77. An engine that cannot
# be made a swarm manager (scripts/swarm-engine.sh) is a failure, never a
# skip. When this test initialised the swarm, it leaves it at the end
# (scripts/swarm-engine.sh --leave).
source "${EKL_IT_LIB:?}"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

skip() {
	{
		echo "=================================================================="
		echo "SKIPPED: no Docker engine: $*"
		echo "(it_swarm.sh tested nothing; scripts/docker-engine.sh says why)"
		echo "=================================================================="
	}
	exit 77
}

log "engine"
if ! engine_out=$(docker info --format '{{.ServerVersion}}' 2>&1); then
	skip "docker info: $(printf '%s\n' "$engine_out" | tail -n 1) (run scripts/docker-engine.sh)"
fi
log "engine $engine_out"

SLAB="$T/slab"   # the swarm lab's state
PLAB="$T/plab"   # the same topology with processes
PSTATE="$T/plan" # the plan's lab
IMAGE="ekulab-node:it-swarm-$$"
export EKULAB_IMAGE=$IMAGE
MARKER="$T/swarm.init"
NAME=it-swarm-$$
LABEL="ekulab-it-$$"
TOPO="$T/mixed.yaml"
DECOY="ekulab-decoy-swarm-$$"

swarm_cleanup() {
	local id
	"$EKULAB" lab down "$TOPO" --state "$SLAB" >/dev/null 2>&1 || true
	"$EKULAB" lab down "$TOPO" --state "$PLAB" >/dev/null 2>&1 || true
	# A safety net: every object this test's labs could have made.
	# The plan's lab is named by the plan; only swarm labs make services,
	# so its ids come from its services.
	local ids="" l
	for id in $(docker service ls -q --filter label=ekulab.lab=cluster-x15-3 2>/dev/null); do
		ids="$ids ekulab.id=$(docker service inspect -f '{{index .Spec.Labels "ekulab.id"}}' "$id" 2>/dev/null)"
	done
	for l in "ekulab.lab=$NAME" $ids; do
		docker service ls -q --filter "label=$l" 2>/dev/null |
			xargs -r docker service rm >/dev/null 2>&1 || true
		for id in $(docker ps -aq --filter "label=$l" 2>/dev/null); do
			docker rm -f "$id" >/dev/null 2>&1 || true
		done
		docker network ls -q --filter "label=$l" 2>/dev/null |
			xargs -r docker network rm >/dev/null 2>&1 || true
		docker volume ls -q --filter "label=$l" 2>/dev/null |
			xargs -r docker volume rm >/dev/null 2>&1 || true
	done
	docker volume rm "$DECOY" >/dev/null 2>&1 || true
	[ -z "${SELF:-}" ] || docker node update --label-rm "$LABEL" "$SELF" >/dev/null 2>&1 || true
	docker image rm "$IMAGE" >/dev/null 2>&1 || true
	"$ROOT/scripts/swarm-engine.sh" --leave --marker "$MARKER" >&2 || true
}
# it_cleanup reads the exit status from $?: keep the test's, not ours.
trap 'rc=$?; swarm_cleanup; (exit $rc); it_cleanup' EXIT

log "swarm (scripts/swarm-engine.sh: a one-node swarm on 127.0.0.1 unless one is there)"
"$ROOT/scripts/swarm-engine.sh" --marker "$MARKER" >&2 ||
	fail "the engine answers but cannot be made a swarm manager (scripts/swarm-engine.sh above)"
HOST=$(docker node inspect self --format '{{.Description.Hostname}}') ||
	fail "docker node inspect self"
SELF=$(docker info --format '{{.Swarm.NodeID}}')
docker node update --label-add "$LABEL=yes" "$SELF" >/dev/null ||
	fail "docker node update --label-add"

# node2 is placed by host name, node3 by a node label.
cat >"$TOPO" <<YAML
name: $NAME
cluster: {verify: enforce, primary: node1, dial: both, link: either}
defaults: {version: X15.3.2, role: c, cert: {profile: combined, ca: unrestricted}}
nodes:
  node1: {}
  node2: {cert: {profile: server-only}, placement: {host: $HOST}}
  node3: {version: X15.4, cert: {profile: server-only}, placement: {labels: {$LABEL: "yes"}}}
YAML

slab() { "$EKULAB" lab "$@" --state "$SLAB"; }
plab() { "$EKULAB" lab "$@" --state "$PLAB"; }
# The comparisons of the two labs: lib.sh (twin_*).
TWIN_LAB="$SLAB" TWIN_KIND=swarm
read_back() { slab exec "$TOPO" "$1" "xConfiguration $2" 2>/dev/null; }
has_value() { read_back "$1" "$2" | grep -q "$3"; }
id_of() { sed -n 's/^id //p' "$SLAB/docker.conf"; }
# The container of node N's running task, on this host.
task_of() {
	docker ps -q --filter "label=com.docker.swarm.service.name=${ID}_$1" | head -n 1
}
cstate() { docker inspect -f '{{.State.Status}}' "$(task_of "$1")" 2>/dev/null; }

log "an engine in no swarm, or a worker: up says what to do (a stand-in docker client)"
for st in "inactive false" "active false x"; do
	cat >"$T/docker" <<SH
#!/bin/sh
[ "\$1" = info ] && { echo "$st"; exit 0; }
exec docker "\$@"
SH
	chmod +x "$T/docker"
	if EKULAB_DOCKER="$T/docker" "$EKULAB" lab up "$TOPO" --runtime swarm \
		--state "$T/noswarm" >"$T/noswarm.out" 2>&1; then
		fail "lab up --runtime swarm on an engine whose swarm is '$st' succeeded"
	fi
	case $st in
	inactive*) grep -q "in no swarm.*scripts/swarm-engine.sh" "$T/noswarm.out" ;;
	*) grep -q "swarm worker: run ekulab on a swarm manager" "$T/noswarm.out" ;;
	esac || fail "up on '$st': $(cat "$T/noswarm.out")"
	rm -rf "$T/noswarm"
done

log "a placement host the swarm lacks: up names it and leaves nothing"
sed "s/host: $HOST/host: no-such-host-$$/" "$TOPO" >"$T/nohost.yaml"
if "$EKULAB" lab up "$T/nohost.yaml" --runtime swarm --state "$T/nohost" >"$T/nohost.out" 2>&1; then
	fail "lab up accepted a placement host that is no swarm node"
fi
grep -q "no-such-host-$$" "$T/nohost.out" && grep -q "docker node ls" "$T/nohost.out" ||
	fail "the error does not name the missing host: $(cat "$T/nohost.out")"
[ -z "$(docker service ls -q --filter "label=ekulab.lab=$NAME")" ] &&
	[ -z "$(docker network ls -q --filter "label=ekulab.lab=$NAME")" ] ||
	fail "a refused up left objects behind"
rm -rf "$T/nohost"
sed "s/$LABEL: \"yes\"/$LABEL: \"no\"/" "$TOPO" >"$T/nolabel.yaml"
if "$EKULAB" lab up "$T/nolabel.yaml" --runtime swarm --state "$T/nolabel" >"$T/nolabel.out" 2>&1; then
	fail "lab up accepted a placement label no swarm node carries"
fi
grep -q "node node3: no node of this swarm meets its placement (label $LABEL=no)" "$T/nolabel.out" &&
	grep -q "$HOST (labels .*$LABEL=yes" "$T/nolabel.out" ||
	fail "the error does not name the label: $(cat "$T/nolabel.out")"
rm -rf "$T/nolabel"

log "up: the same topology as a swarm stack and with processes"
slab up "$TOPO" --runtime swarm >"$T/sup.out" 2>&1 ||
	fail "lab up --runtime swarm failed: $(cat "$T/sup.out")"
plab up "$TOPO" >"$T/pup.out" 2>&1 || fail "lab up failed: $(cat "$T/pup.out")"
grep -q '^runtime swarm$' "$SLAB/lab.conf" || fail "lab.conf does not record swarm"
ID=$(id_of)
[ -n "$ID" ] || fail "no docker.conf id"

log "objects: a stack of 4 one-replica services, an attachable overlay, 3 volumes"
[ "$(docker stack services -q "$ID" | wc -l)" -eq 4 ] ||
	fail "expected 4 services in stack $ID: $(docker stack services "$ID")"
for s in proxy node1 node2 node3; do
	[ "$(docker service inspect -f '{{.Spec.Mode.Replicated.Replicas}}' "${ID}_$s")" = 1 ] ||
		fail "service ${ID}_$s does not have one replica"
	docker service inspect -f '{{index .Spec.Labels "ekulab.id"}}' "${ID}_$s" | grep -qx "$ID" ||
		fail "service ${ID}_$s lacks the label ekulab.id"
done
[ "$(docker network inspect -f '{{.Driver}} {{.Attachable}}' "$ID")" = "overlay true" ] ||
	fail "the lab network is not an attachable overlay"
subnet=$(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "$ID")
[[ $subnet == 10.213.*.0/24 ]] || fail "lab network subnet $subnet"
[ "$(docker volume ls -q --filter "label=ekulab.id=$ID" | wc -l)" -eq 3 ] ||
	fail "expected 3 data volumes: $(docker volume ls --filter "label=ekulab.id=$ID")"
docker service inspect -f '{{json .Spec.TaskTemplate.Placement.Constraints}}' "${ID}_node2" |
	grep -q "node.hostname == $HOST" || fail "node2 is not placed by host name"
docker service inspect -f '{{json .Spec.TaskTemplate.Placement.Constraints}}' "${ID}_node3" |
	grep -q "node.labels.$LABEL == yes" || fail "node3 is not placed by label"
grep -q "node.hostname == $HOST" "$SLAB/stack.yaml" || fail "stack.yaml lacks the placement"

log "the admin channel: TLS on a published port, never the socket"
for n in node1 node2 node3; do
	port=$(cat "$SLAB/$n/admin.port") || fail "$n has no admin.port"
	grep -qx "admin-listen = 0.0.0.0:7443" "$SLAB/$n/container.conf" ||
		fail "$n's container.conf has no admin-listen"
	docker service inspect -f '{{range .Spec.EndpointSpec.Ports}}{{.TargetPort}} {{.PublishedPort}} {{.PublishMode}}{{end}}' \
		"${ID}_$n" | grep -qx "7443 $port host" ||
		fail "${ID}_$n does not publish 7443 on $port in host mode"
	# Nothing of a node is bound from this host (its socket included):
	# its files are configs and secrets, its data a volume.
	[ "$(docker service inspect -f '{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Type}} {{end}}' "${ID}_$n")" = "volume " ] ||
		fail "${ID}_$n mounts more than its data volume"
	[ ! -e "$SLAB/$n/admin.sock" ] || fail "$n's admin socket is on this host"
	secrets=$(docker service inspect -f '{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.File.Name}} {{.File.Mode}};{{end}}' "${ID}_$n")
	for k in "admin-$n.key" "$n.key"; do
		grep -qE "(^|;)$k (256|-r--------);" <<<"$secrets" ||
			fail "${ID}_$n: $k is not a secret of mode 0400: $secrets"
	done
	configs=$(docker service inspect -f '{{range .Spec.TaskTemplate.ContainerSpec.Configs}}{{.File.Name}};{{end}}' "${ID}_$n")
	for k in /lab/container.conf "/lab/tls/$n.crt" /lab/tls/ca-admin.crt; do
		grep -q "$k;" <<<"$configs" ||
			fail "${ID}_$n: $k is not a config: $configs"
	done
done
[ "$(docker secret ls -q --filter "label=ekulab.id=$ID" | wc -l)" -eq 6 ] ||
	fail "expected 6 secrets (2 keys per node): $(docker secret ls)"
port1=$(cat "$SLAB/node1/admin.port")
"$EKULAB" ctl --socket "tls://127.0.0.1:$port1/node1?pki=$SLAB/pki" \
	'xStatus Database' >"$T/ctl.out" 2>&1 && grep -q '^node node1$' "$T/ctl.out" ||
	fail "ctl over the admin channel: $(cat "$T/ctl.out")"
# A certificate of the lab that is not the admin client's (node1's own
# ClusterDB certificate) is refused, and so is plain TCP.
mkdir -p "$T/notadmin" && cp "$SLAB/pki/ca-admin.crt" "$T/notadmin/" &&
	cp "$SLAB/pki/node1.crt" "$T/notadmin/admin.crt" &&
	cp "$SLAB/pki/node1.key" "$T/notadmin/admin.key" || fail "copy"
if "$EKULAB" ctl --socket "tls://127.0.0.1:$port1/node1?pki=$T/notadmin" \
	'xStatus Database' >"$T/ctl2.out" 2>&1; then
	fail "the node answered a client with node1's ClusterDB certificate"
fi
plain_answers() {
	exec 3<>"/dev/tcp/127.0.0.1/$port1" || return 1
	printf 'text help\n' >&3
	timeout 3 head -c 2 <&3 | grep -q ok
	local rc=$?
	exec 3>&-
	return $rc
}
if plain_answers; then fail "the admin port answered plain TCP"; fi
# The engine copies a container's output to its log a moment later.
logged_refusal() {
	local c
	for c in $(docker ps -q --filter "label=com.docker.swarm.service.name=${ID}_node1"); do
		docker logs "$c" 2>&1 | grep -q "refused .*does not meet the admin rule" && return 0
	done
	return 1
}
wait_until 10 logged_refusal || fail "node1 did not log the refusal"

log "status: each node's host"
for n in node1 node2 node3; do
	[ "$(twin_node_field $n host)" = "$HOST" ] || fail "status: $n host is $(twin_node_field $n host)"
done
slab status "$TOPO" | grep -qE "^  node2 +$HOST$" || fail "status text lacks the hosts"

log "the link matrix equals the process runtime's (and the model)"
twin_expect_same_matrix "after up"
twin_expect_cell node1 node2 up
twin_expect_cell node2 node1 client-purpose
twin_expect_cell node3 node2 client-purpose
twin_links "$SLAB" >&2

log "--runtime checked; exec replicates"
if slab status "$TOPO" --runtime docker >"$T/wrong.out" 2>&1; then
	fail "status --runtime docker accepted on a swarm lab"
fi
grep -q "swarm runtime" "$T/wrong.out" || fail "mismatch message: $(cat "$T/wrong.out")"
slab exec "$TOPO" node1 'xConfiguration SIP Domain 1 Name: swarm.example' \
	>/dev/null || fail "exec write"
wait_until 15 has_value node3 "SIP Domain 1 Name" swarm.example ||
	fail "the write did not replicate to node3"

log "kill: the task's container killed, heal starts a new task on the same volume"
old=$(task_of node3)
slab fault "$TOPO" kill node3 --name k3 >/dev/null || fail "kill"
[ -z "$(task_of node3)" ] || fail "node3 still runs after kill"
wait_until 10 twin_process_is node3 stopped || fail "status: node3 not stopped"
twin_expect_cell node1 node3 not-running
slab fault "$TOPO" heal k3 >/dev/null || fail "heal k3"
[ -n "$(task_of node3)" ] && [ "$(task_of node3)" != "$old" ] ||
	fail "heal did not start a new task for node3"
has_value node3 "SIP Domain 1 Name" swarm.example || fail "node3 lost its data"
twin_expect_cell node1 node3 up

log "pause: the task's container frozen and thawed"
slab fault "$TOPO" pause node1 --name p1 >/dev/null || fail "pause"
[ "$(cstate node1)" = paused ] || fail "node1's container is $(cstate node1)"
wait_until 10 twin_process_is node1 paused || fail "status: node1 not paused"
slab fault "$TOPO" resume node1 >/dev/null || fail "resume"
[ "$(cstate node1)" = running ] || fail "node1's container is $(cstate node1)"
twin_expect_cell node1 node2 up

log "restart of a paused node: thawed, stopped (replicas 0), a new task"
slab fault "$TOPO" pause node2 --name p2 >/dev/null || fail "pause node2"
old=$(task_of node2)
slab fault "$TOPO" restart node2 >/dev/null || fail "restart"
[ -n "$(task_of node2)" ] && [ "$(task_of node2)" != "$old" ] ||
	fail "restart did not replace node2's task"
[ "$(cstate node2)" = running ] || fail "node2's container is $(cstate node2)"
has_value node2 "SIP Domain 1 Name" swarm.example || fail "node2 lost its data"
twin_expect_cell node1 node2 up

log "renew: a new certificate reaches the node as a new config"
old=$(docker service inspect -f '{{range .Spec.TaskTemplate.ContainerSpec.Configs}}{{.ConfigName}} {{end}}' "${ID}_node1")
slab fault "$TOPO" renew node1 server-only --force >/dev/null || fail "renew node1"
plab fault "$TOPO" renew node1 server-only --force >/dev/null || fail "renew node1 (process)"
[ "$(docker service inspect -f '{{range .Spec.TaskTemplate.ContainerSpec.Configs}}{{.ConfigName}} {{end}}' "${ID}_node1")" != "$old" ] ||
	fail "renew did not change node1's configs"
twin_expect_cell node1 node2 client-purpose
twin_expect_same_matrix "after renewing node1 server-only"
slab fault "$TOPO" renew node1 combined >/dev/null || fail "renew node1 back"
plab fault "$TOPO" renew node1 combined >/dev/null || fail "renew node1 back (process)"
twin_expect_same_matrix "after renewing node1 combined"

log "partition isolate node1 (the proxy service): equal to processes"
slab fault "$TOPO" partition isolate node1 --name iso >/dev/null || fail "partition"
plab fault "$TOPO" partition isolate node1 --name iso >/dev/null || fail "partition (process)"
twin_expect_cell node1 node2 cut
twin_expect_same_matrix "under partition isolate node1"
slab fault "$TOPO" heal all >/dev/null || fail "heal all"
plab fault "$TOPO" heal all >/dev/null || fail "heal all (process)"
twin_expect_same_matrix "after heal"

log "upgrade: a service update with --version, same volume"
slab fault "$TOPO" upgrade node2 X15.4 >/dev/null || fail "upgrade"
docker service inspect -f '{{json .Spec.TaskTemplate.ContainerSpec.Args}}' "${ID}_node2" |
	grep -q '"X15.4"' || fail "node2's service does not run --version X15.4"
docker inspect -f '{{index .Config.Labels "ekulab.version"}}' "$(task_of node2)" | grep -qx X15.4 ||
	fail "node2's container is not labelled X15.4"
has_value node2 "SIP Domain 1 Name" swarm.example || fail "node2 lost its data"
plab fault "$TOPO" upgrade node2 X15.4 >/dev/null || fail "upgrade (process)"
twin_expect_cell node3 node2 up # X15.4 node2 accepts node3's server-only
twin_expect_same_matrix "after upgrading node2"

log "image push through a stand-in ssh (records the host, runs docker here)"
cat >"$T/ssh" <<'SH'
#!/bin/sh
echo "$1" >>"$FAKESSH_LOG"
shift
exec "$@"
SH
chmod +x "$T/ssh"
FAKESSH_LOG="$T/ssh.log" EKULAB_SSH="$T/ssh" "$EKULAB" image push --to dmz-1 \
	>"$T/push.out" 2>&1 || fail "image push: $(cat "$T/push.out")"
grep -q "^pushed $IMAGE (sha256:" "$T/push.out" || fail "push output: $(cat "$T/push.out")"
grep -qx dmz-1 "$T/ssh.log" || fail "push did not go to dmz-1: $(cat "$T/ssh.log")"
if EKULAB_SSH=false "$EKULAB" image push --to dmz-1 >"$T/push2.out" 2>&1; then
	fail "image push succeeded through a failing ssh"
fi
grep -q "docker load failed" "$T/push2.out" || fail "push error: $(cat "$T/push2.out")"
if "$EKULAB" image push --to -oProxyCommand=x >/dev/null 2>&1; then
	fail "image push took an ssh option as a host"
fi

log "a decoy with the lab's name but not its id survives down"
docker volume create --label "ekulab.lab=$NAME" --label "ekulab.id=other" \
	"$DECOY" >/dev/null || fail "decoy"

log "down: no service, container, network or volume of the lab is left"
slab down "$TOPO" >/dev/null || fail "down"
plab down "$TOPO" >/dev/null || fail "down (process)"
[ -z "$(docker service ls -q --filter "label=ekulab.id=$ID")" ] || fail "services left"
[ -z "$(docker ps -aq --filter "label=ekulab.id=$ID")" ] || fail "containers left"
[ -z "$(docker network ls -q --filter "label=ekulab.id=$ID")" ] || fail "network left"
[ -z "$(docker volume ls -q --filter "label=ekulab.id=$ID")" ] || fail "volumes left"
[ -z "$(docker config ls -q --filter "label=ekulab.id=$ID")" ] || fail "configs left"
[ -z "$(docker secret ls -q --filter "label=ekulab.id=$ID")" ] || fail "secrets left"
[ -z "$(docker stack ls --format '{{.Name}}' | grep -x "$ID")" ] || fail "stack left"
[ ! -e "$SLAB" ] || fail "state directory left"
docker volume inspect "$DECOY" >/dev/null 2>&1 || fail "down removed the decoy volume"

log "plan run end to end on the swarm (examples/plans/g-faults.yaml)"
"$EKULAB" plan run "$ROOT/examples/plans/g-faults.yaml" --runtime swarm \
	--state "$PSTATE" --json "$T/plan.json" >"$T/plan.out" 2>&1 ||
	fail "plan run on the swarm: $(tail -n 30 "$T/plan.out")"
grep -q '^0 deviations' "$T/plan.out" || fail "plan deviations: $(cat "$T/plan.out")"
grep -qE '^writes: .* lost 0, unexpected 0' "$T/plan.out" ||
	fail "plan lost writes: $(grep '^writes' "$T/plan.out")"
[ -z "$(docker service ls -q --filter "label=ekulab.lab=cluster-x15-3")" ] ||
	fail "the plan left services"
[ ! -e "$PSTATE" ] || fail "the plan left its state directory"
tail -n 3 "$T/plan.out" >&2

log "soak on the swarm: 12 random faults (seed 3), nothing lost"
"$EKULAB" soak "$ROOT/examples/plans/cluster-x15.3.yaml" --faults 12 --seed 3 \
	--runtime swarm --state "$T/soak" >"$T/soak.out" 2>&1 ||
	fail "soak on the swarm: $(tail -n 20 "$T/soak.out")"
grep -q '^PASS$' "$T/soak.out" && grep -q ' 0 lost, 0 unexpected rows' "$T/soak.out" ||
	fail "soak: $(tail -n 8 "$T/soak.out")"
[ -z "$(docker service ls -q --filter "label=ekulab.lab=cluster-x15-3")" ] ||
	fail "the soak left services"
tail -n 6 "$T/soak.out" >&2

if [ -e "$MARKER" ]; then
	log "the engine as the test found it: swarm-engine.sh --leave"
	docker node update --label-rm "$LABEL" "$SELF" >/dev/null 2>&1 || true
	gw=$(cat "$MARKER")
	"$ROOT/scripts/swarm-engine.sh" --leave --marker "$MARKER" >&2 ||
		fail "swarm-engine.sh --leave"
	[ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = inactive ] ||
		[ -e "$MARKER" ] || fail "the engine is still in a swarm after --leave"
	if [ "$gw" = gwbridge ] && [ ! -e "$MARKER" ]; then
		! docker network inspect docker_gwbridge >/dev/null 2>&1 ||
			fail "--leave left the docker_gwbridge network the init made"
	fi
fi

log "all swarm checks passed"

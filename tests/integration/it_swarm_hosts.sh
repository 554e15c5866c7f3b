#!/usr/bin/env bash
# it_swarm_hosts.sh: a swarm lab on two hosts. The test makes the hosts: two
# Docker engines of its own, each in a network namespace with its own host
# name (a UTS namespace), data root, exec root, socket and pid file, joined
# by a veth pair with addresses the test picks in 192.168.213.0/24 (they
# exist only inside the two namespaces). Engine A is a swarm manager
# advertised on its veth address, engine B joins it as a worker; ekulab runs
# in A's network namespace (as on the manager host) and talks to B only
# through the swarm, the network admin channel and a stand-in ssh that runs
# `docker` against B's socket (EKULAB_SSH). It checks: up refused while B
# lacks the image (naming `ekulab image push --to B`), the push; a 3-node
# lab with node2 on B by host name and node3 on B by label; status naming
# each node's host; the link matrix the model predicts; a write replicated
# across the hosts and read back over TLS from B; kill (over ssh on B),
# heal with the data kept, pause/resume of a container on B; a certificate
# that is not the admin client's refused by a node on B; down leaving no
# service, network, config, secret or volume on either engine. The shared
# Docker engine is never touched. Both engines, their files and the
# namespaces are removed at the end.
#
# Needs root (network namespaces, engines of its own) and dockerd: without
# them the test prints "SKIPPED: ..." and exits 77.
source "${EKL_IT_LIB:?}"

skip() {
	{
		echo "=================================================================="
		echo "SKIPPED: $*"
		echo "(it_swarm_hosts.sh tested nothing)"
		echo "=================================================================="
	}
	exit 77
}

[ "$(id -u)" = 0 ] || skip "needs root: it makes network namespaces and Docker engines of its own"
for p in dockerd docker ip nsenter unshare; do
	command -v "$p" >/dev/null 2>&1 || skip "no $p"
done

TAG=$$
NSA=ekl-a-$TAG
NSB=ekl-b-$TAG
HA=ekl-a-$TAG # host names of the engines (docker node ls)
HB=ekl-b-$TAG
VA=ekl-va-$TAG
VB=ekl-vb-$TAG
IPA=192.168.213.1
IPB=192.168.213.2
IMAGE=ekulab-node:it-hosts-$TAG
NAME=it-hosts-$TAG
TOPO="$T/hosts.yaml"
LAB="$T/lab"
SOCKA="$T/a.sock"
SOCKB="$T/b.sock"
DA() { docker -H "unix://$SOCKA" "$@"; }
DB() { docker -H "unix://$SOCKB" "$@"; }

hosts_cleanup() {
	local h pid i
	[ -e "$LAB/lab.conf" ] && ek lab down "$TOPO" --state "$LAB" >/dev/null 2>&1
	for h in a b; do
		[ -S "$T/$h.sock" ] && docker -H "unix://$T/$h.sock" swarm leave --force >/dev/null 2>&1
		pid=$(cat "$T/$h.pid" 2>/dev/null) || continue
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 150; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	# Nothing of the engines may stay mounted before their files go.
	if grep -q " $T/" /proc/mounts; then
		grep " $T/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r umount -l 2>/dev/null
	fi
	rm -rf "$T/a" "$T/b"
}
trap 'rc=$?; set +e; hosts_cleanup; (exit $rc); it_cleanup' EXIT
trap 'exit 141' PIPE

log "two hosts: network namespaces $NSA and $NSB, veth $IPA <-> $IPB"
ip netns add "$NSA" || skip "ip netns add failed: this kernel or container has no network namespaces"
ip netns add "$NSB" || fail "ip netns add $NSB"
ip link add "$VA" type veth peer name "$VB" || skip "no veth pairs here"
ip link set "$VA" netns "$NSA" && ip link set "$VB" netns "$NSB" || fail "veth into namespaces"
ip -n "$NSA" addr add "$IPA/24" dev "$VA" && ip -n "$NSB" addr add "$IPB/24" dev "$VB" ||
	fail "veth addresses"
for ns in "$NSA" "$NSB"; do
	ip -n "$ns" link set lo up && ip -n "$ns" link set "$([ "$ns" = "$NSA" ] && echo "$VA" || echo "$VB")" up ||
		fail "links up in $ns"
done

log "two engines of the test's own (host names $HA, $HB)"
# nsenter --net, not `ip netns exec`: that one remounts /sys and would hide
# the cgroup mounts dockerd needs. --dns: a name no one knows fails at once
# (nothing answers on port 53 of the loopback) instead of waiting for a
# resolver the namespaces cannot reach: the lab proxy resolves a node's
# service name at each connection, in its loop, so a slow lookup stalls it.
for h in a b; do
	ns=$([ $h = a ] && echo "$NSA" || echo "$NSB")
	mkdir -p "$T/$h/root" "$T/$h/exec"
	nsenter --net="/var/run/netns/$ns" unshare --uts sh -c \
		"hostname ekl-$h-$TAG && exec dockerd --data-root '$T/$h/root' \
		--exec-root '$T/$h/exec' -H 'unix://$T/$h.sock' --pidfile '$T/$h.pid' \
		--bridge=none --dns 127.0.0.1 --log-level=warn" >"$T/dockerd-$h.out" 2>&1 &
done
engines_up() { DA info >/dev/null 2>&1 && DB info >/dev/null 2>&1; }
wait_until 60 engines_up || fail "the engines did not start:
$(tail -n 5 "$T/dockerd-a.out" "$T/dockerd-b.out")"
[ "$(DA info --format '{{.Name}}')" = "$HA" ] && [ "$(DB info --format '{{.Name}}')" = "$HB" ] ||
	fail "the engines do not have their own host names"

log "a swarm: $HA manager on $IPA, $HB worker"
DA swarm init --advertise-addr "$IPA" >/dev/null || fail "swarm init on $HA"
DB swarm join --token "$(DA swarm join-token -q worker)" "$IPA:2377" >/dev/null ||
	fail "swarm join from $HB"
DA node update --label-add "zone=dmz" "$HB" >/dev/null || fail "label $HB"
[ "$(DA node ls --format '{{.Hostname}}' | sort | tr '\n' ' ')" = "$HA $HB " ] ||
	fail "docker node ls: $(DA node ls)"

# ssh HOST docker ARGS... as ekulab runs it: docker against HOST's engine.
cat >"$T/ssh" <<SH
#!/bin/sh
host=\$1
shift
echo "\$host \$*" >>"$T/ssh.log"
case \$host in
$HA) sock=$SOCKA ;;
$HB) sock=$SOCKB ;;
*) echo "ssh: Could not resolve hostname \$host" >&2; exit 255 ;;
esac
[ "\$1" = docker ] || { echo "stand-in ssh runs docker only" >&2; exit 255; }
shift
exec docker -H "unix://\$sock" "\$@"
SH
chmod +x "$T/ssh"
: >"$T/ssh.log"
# ekulab on the manager host: A's network, A's engine.
# Every call bounded: a hang fails the test, which still cleans up.
ek() {
	timeout 120 nsenter --net="/var/run/netns/$NSA" env DOCKER_HOST="unix://$SOCKA" \
		EKULAB_SSH="$T/ssh" EKULAB_IMAGE="$IMAGE" "$EKULAB" "$@"
}

cat >"$TOPO" <<YAML
name: $NAME
cluster: {verify: enforce, primary: node1, dial: both, link: either}
defaults: {version: X15.3.2, role: c, cert: {profile: combined, ca: unrestricted}}
nodes:
  node1: {placement: {host: $HA}}
  node2: {cert: {profile: server-only}, placement: {host: $HB}}
  node3: {version: X15.4, cert: {profile: server-only}, placement: {labels: {zone: dmz}}}
YAML

log "up while $HB lacks the image: refused, naming the push"
if ek lab up "$TOPO" --runtime swarm --state "$LAB" >"$T/up1.out" 2>&1; then
	fail "lab up succeeded although $HB has no image"
fi
grep -q "host $HB (node node2, host $HB) lacks the image $IMAGE.*ekulab image push --to $HB" "$T/up1.out" ||
	fail "up's refusal: $(cat "$T/up1.out")"
[ -z "$(DA service ls -q)" ] || fail "a refused up left services"

log "image push --to $HB (docker save | ssh $HB docker load)"
ek image push --to "$HB" >"$T/push.out" 2>&1 || fail "push: $(cat "$T/push.out")"
[ "$(DB image inspect -f '{{.Id}}' "$IMAGE")" = "$(DA image inspect -f '{{.Id}}' "$IMAGE")" ] ||
	fail "$HB does not have the manager's image"

log "up: node1 on $HA, node2 on $HB by host name, node3 on $HB by label"
ek lab up "$TOPO" --runtime swarm --state "$LAB" >"$T/up.out" 2>&1 ||
	fail "lab up on two hosts: $(cat "$T/up.out")"
grep -q "links settled as the model predicts" "$T/up.out" || fail "up: $(cat "$T/up.out")"
ID=$(sed -n 's/^id //p' "$LAB/docker.conf")
status_json() { ek lab status "$TOPO" --json --state "$LAB"; }
node_field() {
	status_json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print([n for n in d["nodes"] if n["name"] == sys.argv[1]][0][sys.argv[2]])
' "$1" "$2"
}
for n in node1:$HA node2:$HB node3:$HB; do
	[ "$(node_field "${n%%:*}" host)" = "${n#*:}" ] ||
		fail "status: ${n%%:*} runs on $(node_field "${n%%:*}" host), not ${n#*:}"
done
[ -n "$(DB ps -q --filter "label=com.docker.swarm.service.name=${ID}_node2")" ] ||
	fail "node2's container is not on $HB"
[ "$(cat "$LAB/node2/admin.addr")" = "$IPB" ] || fail "node2 is dialled at $(cat "$LAB/node2/admin.addr")"

links() {
	status_json | python3 -c '
import json, sys
d = json.load(sys.stdin)
for l in sorted(d["links"], key=lambda l: (l["from"], l["to"])):
    print("%s>%s %s" % (l["from"], l["to"],
                        "up" if l["state"] == "up" else (l["code"] or l["state"])))
'
}
cell() { links | awk -v k="$1>$2" '$1 == k { print $2 }'; }
cell_is() { [ "$(cell "$1" "$2")" = "$3" ]; }
expect_cell() {
	wait_until "${4:-30}" cell_is "$1" "$2" "$3" ||
		fail "$1 -> $2: expected $3, got $(cell "$1" "$2")"
}
log "the link matrix across the hosts (the model's)"
expect_cell node1 node2 up
expect_cell node2 node1 client-purpose
expect_cell node3 node2 client-purpose
expect_cell node2 node3 up
links >&2

log "a write on $HA replicates to $HB, read back over the admin channel"
ek lab exec "$TOPO" node1 'xConfiguration SIP Domain 1 Name: hosts.example' \
	--state "$LAB" >/dev/null || fail "exec write"
has_value() { ek lab exec "$TOPO" "$1" "xConfiguration $2" --state "$LAB" 2>/dev/null | grep -q "$3"; }
wait_until 20 has_value node3 "SIP Domain 1 Name" hosts.example ||
	fail "the write did not reach node3 on $HB"

log "a certificate that is not the admin client's is refused by node2 on $HB"
mkdir -p "$T/notadmin" && cp "$LAB/pki/ca-admin.crt" "$T/notadmin/" &&
	cp "$LAB/pki/node1.crt" "$T/notadmin/admin.crt" &&
	cp "$LAB/pki/node1.key" "$T/notadmin/admin.key" || fail "copy"
port2=$(cat "$LAB/node2/admin.port")
if ek ctl --socket "tls://$IPB:$port2/node2?pki=$T/notadmin" 'xStatus Database' >"$T/ctl.out" 2>&1; then
	fail "node2 answered node1's ClusterDB certificate"
fi
ek ctl --socket "tls://$IPB:$port2/node2?pki=$LAB/pki" 'xStatus Database' >"$T/ctl2.out" 2>&1 &&
	grep -q '^node node2$' "$T/ctl2.out" || fail "ctl to node2 on $HB: $(cat "$T/ctl2.out")"

log "kill node2 on $HB (ssh $HB docker kill), heal: a new task, the data kept"
: >"$T/ssh.log"
old=$(DB ps -q --filter "label=com.docker.swarm.service.name=${ID}_node2")
ek lab fault "$TOPO" kill node2 --name k2 --state "$LAB" >/dev/null || fail "kill node2"
grep -q "^$HB docker kill --signal=KILL " "$T/ssh.log" || fail "kill did not go to $HB: $(cat "$T/ssh.log")"
[ -z "$(DB ps -q --filter "label=com.docker.swarm.service.name=${ID}_node2")" ] ||
	fail "node2 still runs on $HB"
# While node2 has no task its name has no address: the proxy looks names
# up off its loop, so status answers and the other links stay up.
expect_cell node1 node2 not-running
expect_cell node1 node3 up 10
ek lab fault "$TOPO" heal k2 --state "$LAB" >/dev/null || fail "heal k2"
new=$(DB ps -q --filter "label=com.docker.swarm.service.name=${ID}_node2")
[ -n "$new" ] && [ "$new" != "$old" ] || fail "heal did not start a new task on $HB"
has_value node2 "SIP Domain 1 Name" hosts.example || fail "node2 lost its data"
expect_cell node1 node2 up

log "pause node3 on $HB (ssh $HB docker pause), resume"
: >"$T/ssh.log"
ek lab fault "$TOPO" pause node3 --name p3 --state "$LAB" >/dev/null || fail "pause node3"
c3=$(DB ps -q --filter "label=com.docker.swarm.service.name=${ID}_node3")
[ "$(DB inspect -f '{{.State.Status}}' "$c3")" = paused ] || fail "node3's container on $HB is not paused"
grep -q "^$HB docker pause " "$T/ssh.log" || fail "pause did not go to $HB"
expect_cell node1 node3 not-running
ek lab fault "$TOPO" resume node3 --state "$LAB" >/dev/null || fail "resume node3"
[ "$(DB inspect -f '{{.State.Status}}' "$c3")" = running ] || fail "node3 still paused"
expect_cell node1 node3 up

log "down: nothing of the lab on either engine"
ek lab down "$TOPO" --state "$LAB" >"$T/down.out" 2>&1 || fail "down: $(cat "$T/down.out")"
for d in DA DB; do
	[ -z "$($d ps -aq --filter "label=ekulab.id=$ID")" ] || fail "$d: containers left"
	[ -z "$($d volume ls -q --filter "label=ekulab.id=$ID")" ] || fail "$d: volumes left"
done
[ -z "$(DA service ls -q --filter "label=ekulab.id=$ID")" ] || fail "services left"
[ -z "$(DA network ls -q --filter "label=ekulab.id=$ID")" ] || fail "network left"
[ -z "$(DA config ls -q --filter "label=ekulab.id=$ID")" ] || fail "configs left"
[ -z "$(DA secret ls -q --filter "label=ekulab.id=$ID")" ] || fail "secrets left"
[ ! -e "$LAB" ] || fail "state directory left"

log "all two-host checks passed"

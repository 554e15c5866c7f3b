#!/usr/bin/env bash
# it_repl_split.sh: two nodes promoted on either side of a partition, live
# (a process lab, its links cut by the lab's proxy): each opens an epoch of
# its own, takes writes alone, and once the partition heals every node
# follows the higher epoch's primary and holds its history; the other
# primary's writes of the split are replaced (docs/replication.md).
source "${EKL_IT_LIB:?}"

LAB="$T/lab"
TOPO="$T/split.yaml"
cat >"$TOPO" <<'YAML'
name: it-split
cluster: {verify: enforce, primary: node1, dial: both, link: both}
defaults: {version: X15.3.2, role: c, cert: {profile: combined, ca: unrestricted}}
nodes:
  node1: {}
  node2: {}
  node3: {}
YAML
lab_cleanup() {
	"$EKULAB" lab down "$TOPO" --state "$LAB" >/dev/null 2>&1 || true
	pkill -KILL -f "$T/" 2>/dev/null || true
}
trap 'rc=$?; lab_cleanup; (exit $rc); it_cleanup' EXIT
lab() { "$EKULAB" lab "$@" --state "$LAB"; }

lab up "$TOPO" >"$T/up.out" 2>&1 || fail "lab up: $(cat "$T/up.out")"
# lib.sh's ctl/db/wait_converged find NODE's socket at $T/NODE.sock.
for n in node1 node2 node3; do
	ln -s "$LAB/$n/admin.sock" "$(sock_of "$n")"
done
ctl node1 --ack all 'xConfiguration Split/before: all' >/dev/null ||
	fail "the first write"
wait_converged 20 node1 node2 node3

log "every node cut off from the others; node2 and node3 promoted"
lab fault "$TOPO" partition isolate node2 --name i2 >/dev/null
lab fault "$TOPO" partition isolate node3 --name i3 >/dev/null
cut_off() {
	local out
	out=$(lab status "$TOPO" --json) || return 1
	! grep -q '"state":"up"' <<<"$out"
}
wait_until 20 cut_off || fail "links still up: $(lab status "$TOPO")"
out=$(ctl node2 'xCommand ClusterPrimary Name: node2') || fail "promote node2: $out"
out=$(ctl node3 'xCommand ClusterPrimary Name: node3') || fail "promote node3: $out"
e2=$(db node2 epoch)
e3=$(db node3 epoch)
[ "$e2" != "$e3" ] || fail "node2 and node3 both opened epoch $e2"
# node3 ranks above node2 among the members: its epoch is the higher.
[ "$e3" -gt "$e2" ] || fail "node3's epoch $e3 is not above node2's $e2"
ctl node2 'xConfiguration Split/node2: lost' >/dev/null || fail "write on node2"
ctl node3 'xConfiguration Split/node3: kept' >/dev/null || fail "write on node3"

log "healed: every node follows node3"
lab fault "$TOPO" heal all >/dev/null
follows_node3() {
	local n
	for n in node1 node2 node3; do
		[ "$(db "$n" primary)" = node3 ] && [ "$(db "$n" epoch)" = "$e3" ] ||
			return 1
	done
}
wait_until 30 follows_node3 ||
	fail "not every node follows node3: $(for n in node1 node2 node3; do echo "$n $(db "$n" primary) $(db "$n" epoch)"; done)"
wait_converged 30 node1 node2 node3
for n in node1 node2 node3; do
	assert_eq "$(ctl "$n" 'xConfiguration Split/node3')" "Split/node3: kept" \
		"Split/node3 on $n"
	assert_eq "$(ctl "$n" 'xConfiguration Split/before')" "Split/before: all" \
		"Split/before on $n"
	rc=0
	ctl "$n" 'xConfiguration Split/node2' >/dev/null 2>&1 || rc=$?
	[ "$rc" -ne 0 ] || fail "node2's write of the split is still on $n"
done
rc=0
err=$(ctl node2 'xConfiguration Split/after: refused' 2>&1) || rc=$?
assert_eq "$rc" 1 "a write on node2 after the split"
assert_contains "$err" "send writes to node3" "node2's refusal"
out=$(ctl node3 --ack all 'xConfiguration Split/after: yes') ||
	fail "--ack all on node3 after the split: $out"

#!/usr/bin/env bash
# it_repl_certs.sh: the field notice, seen by replication. Two X15.3.2
# nodes with server-only certificates in enforce mode reject each other's
# client certificate: replication stops with reason client-purpose.
# Upgrading the peer to X15.4 lets the primary's dial through, but under
# the default link rule (both) the pair stays down until the primary is
# upgraded too; under --link either the peer catches up at once.
# --version-skew strict stops replication across versions.
. "${EKL_IT_LIB:-$(dirname "$0")/lib.sh}"

# A write that must not arrive is checked after an event that shows it
# would have arrived by then, never after a guessed sleep:
#   retried_since NAME PEER N: NAME's dials to PEER failed more than N
#   times in all (so a dial after the write failed too: no link carried it);
#   frames_since NAME PEER N: NAME's connection carrying PEER's link handled
#   more than N frames (frames arrive in order: anything PEER sent before
#   its answer to the write has been handled).
retried_since() {
	local n
	n=$(node_get "$1" "peers[name=$2].outbound_failures") && [ "$n" -gt "$3" ]
}
carrier_frames() {
	local dir
	dir=$(node_get "$1" "peers[name=$2].direction") || return 1
	node_get "$1" "peers[name=$2].$dir.frames_in"
}
frames_since() {
	local n
	n=$(carrier_frames "$1" "$2") && [ "$n" -gt "$3" ]
}

pki_setup
issue node1 server-only
issue node2 server-only
issue node3 combined
issue node4 combined

# ---- both server-only, both X15.3.2: no direction works ----
start_node node1 X15.3.2 enforce node1 @node2 --primary node1
start_node node2 X15.3.2 enforce node2 @node1 --primary node1
wait_admin node1
wait_admin node2
wait_for node1 'peers[name=node2].outbound_error.code' client-purpose
wait_for node1 'peers[name=node2].inbound_error.code' client-purpose
wait_for node2 'peers[name=node1].outbound_error.code' client-purpose
expect node1 'peers[name=node2].link' down
expect node1 'peers[name=node2].replication.state' stopped
expect node1 'peers[name=node2].replication.reason' client-purpose
expect node2 'peers[name=node1].replication.state' stopped
expect node2 'peers[name=node1].replication.reason' client-purpose
assert_contains "$(ctl node1 'xStatus Cluster')" client-purpose \
	"node1's text status"

# Writes on node1 are durable there but do not reach node2. With the link
# down no peer is waited for: --ack all returns at once.
f1=$(node_get node1 'peers[name=node2].outbound_failures')
f2=$(node_get node2 'peers[name=node1].outbound_failures')
for i in 1 2 3; do
	ctl node1 --ack all "xConfiguration Notice/$i: written while cut off" \
		>/dev/null || fail "write $i on node1"
done
assert_eq "$(db node1 revision)" 3 "node1's revision"
wait_for node1 'peers[name=node2].replication.lag' 3
# Both directions were tried again after the writes, and failed.
wait_until 15 retried_since node1 node2 "$f1" ||
	fail "node1 did not dial node2 again"
wait_until 15 retried_since node2 node1 "$f2" ||
	fail "node2 did not dial node1 again"
assert_eq "$(db node2 revision)" 0 "node2's revision while cut off"
assert_eq "$(db node2 rows)" 0 "node2's rows while cut off"
rc=0
ctl node2 'xConfiguration Notice/1' >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 1 "Notice/1 read on node2 while cut off"

# ---- node2 upgraded to X15.4 (same data, certificate and port) ----
# node1 -> node2 now works: node2 (X15.4) no longer checks node1's client
# purpose, and node2's server-only certificate passes node1's serverAuth
# check. node2 -> node1 still fails: node1 is X15.3.2. Under the default
# link rule (both: every direction must work, the field notice's "my
# cluster replication broke after renewing the certificate") the pair
# stays down.
stop_node node2
start_node node2 X15.4 enforce node2 @node1 --primary node1
wait_admin node2
wait_for node1 'peers[name=node2].outbound.state' up
wait_for node2 'peers[name=node1].inbound.state' up
wait_for node2 'peers[name=node1].outbound_error.code' client-purpose
expect node1 'peers[name=node2].link' down
expect node1 'peers[name=node2].replication.state' stopped
expect node1 'peers[name=node2].replication.reason' client-purpose
expect node2 link_rule both
assert_eq "$(db node2 revision)" 0 "node2's revision, one direction up"

# The same pair under --link either: one working direction carries the
# link (node1's dial), and node2 catches up.
stop_node node1
stop_node node2
start_node node1 X15.3.2 enforce node1 @node2 --primary node1 --link either
start_node node2 X15.4 enforce node2 @node1 --primary node1 --link either
wait_admin node1
wait_admin node2
wait_for node1 'peers[name=node2].link' up
expect node1 'peers[name=node2].direction' outbound
expect node1 link_rule either
wait_converged 20 node1 node2
wait_for node1 'peers[name=node2].replication.state' replicating
expect node1 'peers[name=node2].replication.reason' null
wait_for node2 'peers[name=node1].replication.state' replicating
expect node2 'peers[name=node1].inbound.unenforced' client-purpose
assert_eq "$(ctl node2 'xConfiguration Notice/2')" \
	"Notice/2: written while cut off" "Notice/2 on node2"
wait_for node2 'peers[name=node1].outbound_error.code' client-purpose
out=$(ctl node1 --ack all 'xConfiguration Notice/after: upgraded') ||
	fail "--ack all after the upgrade: $out"
assert_eq "$(ctl node2 'xConfiguration Notice/after')" \
	"Notice/after: upgraded" "Notice/after on node2"

# Back to the default rule, node1 upgraded as well: both directions work
# and the pair is linked again.
stop_node node1
stop_node node2
start_node node1 X15.4 enforce node1 @node2 --primary node1
start_node node2 X15.4 enforce node2 @node1 --primary node1
wait_admin node1
wait_admin node2
wait_for node1 'peers[name=node2].link' up
wait_for node2 'peers[name=node1].link' up
expect node1 'peers[name=node2].direction' outbound
expect node2 'peers[name=node1].direction' inbound
out=$(ctl node1 --ack all 'xConfiguration Notice/both: upgraded') ||
	fail "--ack all with both nodes upgraded: $out"
assert_eq "$(ctl node2 'xConfiguration Notice/both')" \
	"Notice/both: upgraded" "Notice/both on node2"
stop_node node1
stop_node node2

# ---- --version-skew strict: X15.3.2 primary, X15.4 peer ----
start_node node3 X15.3.2 enforce node3 @node4 --primary node3 \
	--version-skew strict
start_node node4 X15.4 enforce node4 @node3 --primary node3 \
	--version-skew strict
wait_admin node3
wait_admin node4
wait_for node3 'peers[name=node4].link' up
wait_for node4 'peers[name=node3].link' up
ctl node3 'xConfiguration Skew/1: one' >/dev/null || fail "write on node3"
k=$(carrier_frames node4 node3) || fail "node4's carrier to node3"
wait_for node3 'peers[name=node4].replication.state' stopped
expect node3 'peers[name=node4].replication.reason' version-skew
assert_contains "$(ctl node3 'xStatus Cluster')" version-skew \
	"node3's text status"
# Three more frames from node3 (its heartbeats) have been handled since
# the write was answered: a batch sent for it would have come first.
wait_until 15 frames_since node4 node3 $((k + 3)) ||
	fail "node4 heard nothing more from node3"
assert_eq "$(db node4 revision)" 0 "node4's revision under strict skew"
expect node3 'peers[name=node4].link' up
# node4, strict as well, sees the same: it is not being replicated to.
expect node4 'peers[name=node3].replication.state' stopped
expect node4 'peers[name=node3].replication.reason' version-skew
# An --ack all write does not wait for a peer that cannot replicate.
out=$(ctl node3 --ack all --timeout 3000 'xConfiguration Skew/2: two') ||
	fail "--ack all under strict skew: $out"
stop_node node3
stop_node node4

# The default (allow): the same pair replicates.
start_node node3 X15.3.2 enforce node3 @node4 --primary node3
start_node node4 X15.4 enforce node4 @node3 --primary node3
wait_admin node3
wait_admin node4
wait_for node3 'peers[name=node4].link' up
wait_converged 20 node3 node4
expect node3 'peers[name=node4].replication.state' replicating
assert_eq "$(ctl node4 'xConfiguration Skew/2')" "Skew/2: two" "Skew/2 on node4"
stop_node node3
stop_node node4

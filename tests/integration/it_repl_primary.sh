#!/usr/bin/env bash
# it_repl_primary.sh: move the primary with xCommand ClusterPrimary: a new
# epoch everywhere, the old primary refuses writes and names the new one,
# the new one's writes replicate to every node.
. "${EKL_IT_LIB:-$(dirname "$0")/lib.sh}"

pki_setup
for n in node1 node2 node3; do
	issue "$n" combined
done
start_cluster3
write_batch_file "$T/first" 1 500 First
ctl node1 --batch "$T/first" >/dev/null || fail "writes on node1"
wait_converged 20 node1 node2 node3
epoch=$(db node1 epoch)
rev=$(db node1 revision)

# ClusterPrimary goes to the node that becomes primary, nowhere else.
rc=0
err=$(ctl node1 'xCommand ClusterPrimary Name: node2' 2>&1) || rc=$?
assert_eq "$rc" 1 "ClusterPrimary for node2 sent to node1"
assert_contains "$err" "node2" "ClusterPrimary refusal"
assert_eq "$(db node1 epoch)" "$epoch" "epoch after a refused ClusterPrimary"

out=$(ctl node2 'xCommand ClusterPrimary Name: node2') ||
	fail "ClusterPrimary on node2: $out"
# A promotion opens the next band of 2^20's epoch that is the promoted
# node's own: node2 ranks 1 among node1..node3 (a primary's restart opens
# only the next of its own in its band; docs/replication.md).
new_epoch=$(((epoch / 1048576 + 1) * 1048576 + 1))
for n in node1 node2 node3; do
	wait_db "$n" epoch "$new_epoch" 10
	assert_eq "$(db "$n" primary)" node2 "$n's primary"
done

# The old primary refuses writes and says where to send them.
rc=0
err=$(ctl node1 'xConfiguration Old/primary: refused' 2>&1) || rc=$?
assert_eq "$rc" 1 "write on the old primary"
assert_contains "$err" "send writes to node2" "refusal on node1"
rc=0
err=$(ctl node3 'xConfiguration Old/primary: refused' 2>&1) || rc=$?
assert_eq "$rc" 1 "write on node3"
assert_contains "$err" node2 "refusal on node3"

# The new primary takes writes; they reach node1 and node3.
out=$(ctl node2 --ack all 'xConfiguration New/primary: node2') ||
	fail "--ack all write on node2: $out"
assert_eq "$out" "revision $((rev + 1))" "first revision of the new epoch"
for n in node1 node3; do
	assert_eq "$(ctl "$n" 'xConfiguration New/primary')" \
		"New/primary: node2" "New/primary on $n"
done
write_batch_file "$T/second" 1 500 Second
ctl node2 --batch "$T/second" >/dev/null || fail "batch on node2"
ctl node2 --ack all 'xCommand ConfigurationDelete Path: First/1' >/dev/null ||
	fail "delete on node2"
wait_converged 20 node1 node2 node3
assert_eq "$(db node3 rows)" 1000 "rows on node3"
for n in node1 node2 node3; do
	assert_eq "$(db "$n" rev_epoch)" "$new_epoch" "$n's rev_epoch"
done
wait_for node2 'peers[name=node1].replication.state' replicating
wait_for node2 'peers[name=node3].replication.state' replicating
expect node2 primary node2
expect node1 primary node2
# Replication now runs node2 -> node1, not node1 -> node3.
expect node1 'peers[name=node3].replication' null

# The old primary restarted with its old --primary flag: the stored epoch
# wins, node2 stays the primary.
stop_node node1
restart_node node1
wait_for node2 'peers[name=node1].replication.state' replicating
assert_eq "$(db node1 primary)" node2 "node1's primary after its restart"
rc=0
err=$(ctl node1 'xConfiguration Old/primary: refused' 2>&1) || rc=$?
assert_eq "$rc" 1 "write on node1 after its restart"
assert_contains "$err" node2 "refusal on node1 after its restart"
out=$(ctl node2 --ack all 'xConfiguration After/restart: yes') ||
	fail "--ack all on node2: $out"
assert_eq "$(ctl node1 'xConfiguration After/restart')" "After/restart: yes" \
	"After/restart on node1"
wait_converged 20 node1 node2 node3
out=$(verify_cluster node1 node2 node3) || fail "verify-cluster: $out"

for n in node1 node2 node3; do
	stop_node "$n"
done

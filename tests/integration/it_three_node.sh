#!/usr/bin/env bash
# it_three_node.sh: mixed certificates and versions in an enforce cluster:
# which directions fail, which links stay up, and an upgrade that heals.
. "${EKL_IT_LIB:-$(dirname "$0")/lib.sh}"

pki_setup
# node1: X15.3.2 with a combined certificate (serverAuth+clientAuth).
issue node1 combined
# node2: X15.3.2 with a server-only certificate from the unrestricted CA
# (the intermediate has no EKU, so only the leaf's EKU matters).
issue node2 server-only --ca unrestricted
# node3: X15.4 with a server-only certificate.
issue node3 server-only

for f in node1 node2 node3; do
	assert_eq "$(file_mode "$PKI/$f.key")" 600 "mode of $f.key"
done

# Under --link either (one working direction carries a pair) first; the
# default rule, both, comes after.
start_node node1 X15.3.2 enforce node1 @node2 @node3 --link either
start_node node2 X15.3.2 enforce node2 @node1 @node3 --link either
start_node node3 X15.4 enforce node3 @node1 @node2 --link either
wait_admin node1
wait_admin node2
wait_admin node3

# The admin socket is for the node's owner only.
for n in node1 node2 node3; do
	assert_eq "$(file_mode "$(sock_of "$n")")" 600 "mode of $n admin socket"
done

# Expected outcomes (docs/model.md, rules table: the initiator checks serverAuth on the
# acceptor; a pre-X15.4 acceptor checks clientAuth on the initiator; X15.4
# skips that check for ClusterDB). Every certificate has serverAuth, so no
# initiator ever rejects; only pre-X15.4 acceptors (node1, node2) reject
# initiators presenting a server-only certificate (node2, node3).
#
# node1 <-> node3:
#   node1 -> node3 ok: node3 (X15.4) skips the client purpose; node3's
#     server-only certificate has serverAuth for node1's check.
#   node3 -> node1 fails: node1 is pre-X15.4 and node3 presents a
#     server-only certificate: node1 rejects it, client-purpose.
#   => up, carried by node1's outbound connection.
# node1 <-> node2:
#   node2 -> node1 fails: node1 rejects node2's server-only certificate.
#   node1 -> node2 ok: node2 is pre-X15.4 but node1's certificate is
#     combined, so the client purpose check passes.
#   => up, carried by node1's outbound connection.
# node2 <-> node3:
#   node2 -> node3 ok: node3 (X15.4) skips the client purpose.
#   node3 -> node2 fails: node2 (pre-X15.4) rejects node3's server-only
#     certificate.
#   => up, carried by node2's outbound connection.
# So every link is up, yet four of the six directions fail.

wait_for node1 'peers[name=node2].link' up
wait_for node1 'peers[name=node3].link' up
wait_for node2 'peers[name=node1].link' up
wait_for node2 'peers[name=node3].link' up
wait_for node3 'peers[name=node1].link' up
wait_for node3 'peers[name=node2].link' up

# Each failing direction is recorded at both ends: the acceptor that
# rejected (inbound_error) and the initiator that was rejected
# (outbound_error, learned from the TLS alert). Both name the acceptor.
wait_for node1 'peers[name=node3].inbound_error.code' client-purpose
wait_for node3 'peers[name=node1].outbound_error.code' client-purpose
wait_for node1 'peers[name=node2].inbound_error.code' client-purpose
wait_for node2 'peers[name=node1].outbound_error.code' client-purpose
wait_for node2 'peers[name=node3].inbound_error.code' client-purpose
wait_for node3 'peers[name=node2].outbound_error.code' client-purpose

# node1: both links carried by its own dials, no outbound failure.
expect node1 'peers[name=node2].direction' outbound
expect node1 'peers[name=node3].direction' outbound
expect node1 'peers[name=node2].outbound_error' null
expect node1 'peers[name=node3].outbound_error' null
expect node1 'peers[name=node3].inbound_error.rejected_by' acceptor
expect node1 'peers[name=node3].inbound_error.depth' 0
expect node1 'peers[name=node2].inbound_error.depth' 0
expect node1 'peers[name=node2].outbound.peer_version' X15.3.2
expect node1 'peers[name=node3].outbound.peer_version' X15.4
expect node1 'peers[name=node3].outbound.peer_eku' '["serverAuth"]'
# node2: node1 dials it; it dials node3.
expect node2 'peers[name=node1].direction' inbound
expect node2 'peers[name=node1].inbound_error' null
expect node2 'peers[name=node1].outbound_error.rejected_by' acceptor
expect node2 'peers[name=node3].direction' outbound
expect node2 'peers[name=node3].outbound_error' null
expect node2 'peers[name=node3].inbound_error.rejected_by' acceptor
# node3: every link is carried by the other side's dial.
expect node3 'peers[name=node1].direction' inbound
expect node3 'peers[name=node2].direction' inbound
expect node3 'peers[name=node1].inbound_error' null
expect node3 'peers[name=node2].inbound_error' null
expect node3 'peers[name=node1].outbound_error.rejected_by' acceptor
# node3 accepted node2's server-only certificate without enforcing the
# client purpose: it says so.
expect node3 'peers[name=node2].inbound.unenforced' client-purpose
expect node3 'peers[name=node1].inbound.unenforced' null
expect node3 version_class X15.4
expect node3 unknown_callers '[]'

# The text table names every peer and its state.
text=$("$EKULAB" ctl --socket "$(sock_of node1)" 'xStatus Cluster')
assert_contains "$text" node2 "ctl text status of node1"
assert_contains "$text" node3 "ctl text status of node1"
assert_contains "$text" client-purpose "ctl text status of node1"
assert_not_contains "$text" down "ctl text status of node1"

stop_node node1
stop_node node2
stop_node node3

# ---- the same cluster under the default link rule, both ----
# Every pair has one failing direction, so no pair is linked and the
# primary replicates to nobody; each link says why (client-purpose).
start_node node1 X15.3.2 enforce node1 @node2 @node3 --primary node1
start_node node2 X15.3.2 enforce node2 @node1 @node3 --primary node1
start_node node3 X15.4 enforce node3 @node1 @node2 --primary node1
wait_admin node1
wait_admin node2
wait_admin node3
wait_for node1 'peers[name=node2].outbound.state' up
wait_for node1 'peers[name=node3].outbound.state' up
wait_for node2 'peers[name=node3].outbound.state' up
wait_for node1 'peers[name=node2].inbound_error.code' client-purpose
wait_for node1 'peers[name=node3].inbound_error.code' client-purpose
wait_for node2 'peers[name=node3].inbound_error.code' client-purpose
for pair in node1:node2 node1:node3 node2:node3 node2:node1 node3:node1 \
	node3:node2; do
	expect "${pair%%:*}" "peers[name=${pair#*:}].link" down
	expect "${pair%%:*}" "peers[name=${pair#*:}].direction" null
done
expect node1 link_rule both
expect node1 'peers[name=node2].replication.reason' client-purpose
expect node1 'peers[name=node3].replication.reason' client-purpose
# The failure is logged once, at warn, with a plain sentence.
# (The inbound_error above was set at the same moment as the log line.)
n=$(last_run_log node1 | grep -c "warn: peer node2 inbound: client-purpose at depth 0: node2's certificate has no clientAuth EKU" || true)
assert_eq "$n" 1 "warn lines about node2's certificate in node1's log"
stop_node node1
stop_node node2
stop_node node3

# ---- second topology: both server-only and pre-X15.4: the link is down ----
#
# A -> B: B (pre-X15.4) rejects A's server-only certificate, client-purpose.
# B -> A: A rejects B's the same way. No direction works: down at both ends.
issue nodea server-only
issue nodeb server-only
start_node nodea X15.3.2 enforce nodea @nodeb --link either
start_node nodeb X15.3.2 enforce nodeb @nodea --link either
wait_admin nodea
wait_admin nodeb
for n in nodea nodeb; do
	other=nodeb
	[ "$n" = nodeb ] && other=nodea
	wait_for "$n" "peers[name=$other].outbound_error.code" client-purpose
	wait_for "$n" "peers[name=$other].inbound_error.code" client-purpose
	expect "$n" "peers[name=$other].link" down
	expect "$n" "peers[name=$other].direction" null
done
text=$("$EKULAB" ctl --socket "$(sock_of nodea)" 'xStatus Cluster')
assert_contains "$text" nodeb "ctl text status of nodea"
assert_contains "$text" down "ctl text status of nodea"

# Upgrade B to X15.4 (same data dir, port and certificate): B now skips
# the client purpose, so A -> B works and the link comes up, carried by
# A's dial. B -> A still fails: A is still pre-X15.4.
stop_node nodeb
start_node nodeb X15.4 enforce nodeb @nodea --link either
wait_admin nodeb
wait_for nodea 'peers[name=nodeb].link' up
expect nodea 'peers[name=nodeb].direction' outbound
expect nodea 'peers[name=nodeb].outbound_error' null
wait_for nodeb 'peers[name=nodea].link' up
expect nodeb 'peers[name=nodea].direction' inbound
wait_for nodeb 'peers[name=nodea].outbound_error.code' client-purpose
expect nodeb 'peers[name=nodea].inbound.unenforced' client-purpose
wait_for nodea 'peers[name=nodeb].inbound_error.code' client-purpose

#!/usr/bin/env bash
# it_hostile.sh: peers that misbehave, against a live cluster. node1
# (primary) and node2 are real; node3 is configured on node1 and holds a
# valid certificate, but is played by peer.py, which completes TLS and
# Hello and then does what a real node never does:
#   - floods heartbeat frames without pause: the node1-node2 link must stay
#     up, node1 must keep serving its admin socket and replicating;
#   - sends its Hello one byte a second: it is cut at the 5 s deadline,
#     long before the last byte;
#   - acknowledges revision 999999: the link is closed as `protocol` and an
#     `--ack all` write waiting for node3 does not count it.
# And a stranger with a self-signed certificate naming node2 is filed
# under unknown callers, not over node2's status.
. "${EKL_IT_LIB:-$(dirname "$0")/lib.sh}"

PEER_PY="$(dirname "${EKL_IT_LIB:-$0}")/peer.py"
OTHER="$T/other" # a PKI the cluster does not trust
pki_setup
pki_setup "$OTHER"
issue node1 combined
issue node2 combined
issue node3 combined
issue --dir "$OTHER" node2 combined

# node3 is peer.py, which only dials: node1 does not dial it (dial=no), so
# under the default link rule (both) node3's own connection is the link.
alloc_port node3
start_node node1 X15.3.2 enforce node1 @node2 @node3,dial=no --primary node1
start_node node2 X15.3.2 enforce node2 @node1 --primary node1
wait_admin node1
wait_admin node2
wait_for node1 'peers[name=node2].replication.state' replicating

# peer3 STEP...: peer.py as node3 against node1.
peer3() {
	python3 "$PEER_PY" --port "${PORT[node1]}" --ca "$PKI/ca.crt" \
		--cert "$PKI/node3.crt" --key "$PKI/node3.key" \
		--expect node1 --name node3 "$@"
}

# Each part is a function; IT_PARTS (default: all of them, in order) picks
# some, to look at one on its own.

# ---- a flood of tiny frames ----
part_flood() {
log "flood: node3 sends heartbeat frames without pause for 8 s"
peer3 hello wait-hello flood:8 >"$T/flood.out" 2>&1 &
FLOOD=$!
wait_for node1 'peers[name=node3].link' up 10
# While it floods, node1 answers, takes writes and replicates them.
for i in 1 2 3; do
	out=$(timeout 5 "$EKULAB" ctl --socket "$(sock_of node1)" \
		"xConfiguration Flood/$i: during the flood") ||
		fail "write $i on node1 during the flood: $out"
	assert_eq "$out" "revision $i" "write $i during the flood"
	sleep 1
done
wait "$FLOOD" || true
log "flood: $(cat "$T/flood.out")"
assert_contains "$(cat "$T/flood.out")" "flooded" "peer.py's flood"
wait_db node2 revision 3
expect node1 'peers[name=node2].link' up
expect node2 'peers[name=node1].link' up
# The real link never went down (--dead-ms 1000: a node1 that stalled for
# a second would have been dropped by node2).
assert_not_contains "$(cat "$T/node2.log")" "link node1 down" "node2's log"
assert_not_contains "$(cat "$T/node1.log")" "link node2 down" "node1's log"
}

# ---- a Hello at one byte a second ----
part_slow_hello() {
log "slow Hello: node3 sends its Hello one byte a second"
out=$(peer3 drip-hello:1 2>&1)
log "slow Hello: $out"
dripped=$(sed -n 's/^dripped \([0-9]*\) of \([0-9]*\) bytes.*/\1 \2/p' <<<"$out")
[ -n "$dripped" ] || fail "peer.py's drip: $out"
set -- $dripped
[ "$1" -lt "$2" ] || fail "the whole Hello ($2 bytes, one a second) got through: $out"
wait_for node1 'peers[name=node3].inbound_error.code' timeout
assert_contains "$(node_get node1 'peers[name=node3].inbound_error.message')" \
	"hello with" "node3's inbound error"
}

# ---- an acknowledgement of a revision never sent ----
part_ack() {
log "ack 999999: node3 catches up, then acknowledges revision 999999"
ctl node1 'xConfiguration Acked/before: 1' >/dev/null ||
	fail "write before node3 comes"
rev=$(db node1 revision)
# From revision 0: the first batch holds 1..rev, acknowledged as it
# should be; the next one (the write below) is acknowledged as 999999,
# two seconds later: by then node1 has made the write durable and waits
# for node3's confirmation (a write made durable after node3's link went
# down would not wait for node3 at all).
peer3 hello wait-hello wait:repl_state state:E:node1:0:0 \
	wait:batch "ack:E:$rev" wait:batch sleep:2 ack:E:999999 \
	expect-close:10 >"$T/ack.out" 2>&1 &
ACKER=$!
wait_for node1 'peers[name=node3].replication.applied_revision' "$rev"
expect node1 'peers[name=node3].replication.state' replicating
rc=0
out=$(ctl node1 --ack all --timeout 10000 \
	'xConfiguration Acked/by: everyone' 2>&1) || rc=$?
wait "$ACKER" || true
log "ack 999999: write answered ($rc) '$out'; peer saw: $(cat "$T/ack.out")"
[ "$rc" -ne 0 ] || fail "an --ack all write counted node3's ack of 999999: $out"
assert_contains "$out" "the link to node3 went down before it confirmed" \
	"the --ack all answer"
assert_contains "$(cat "$T/ack.out")" "bye protocol" "what node3 was told"
assert_contains "$(cat "$T/ack.out")" "999999" "what node3 was told"
wait_for node1 'peers[name=node3].inbound_error.code' protocol
applied=$(node_get node1 'peers[name=node3].replication.applied_revision')
[ "$applied" != 999999 ] || fail "node1 believes node3 applied 999999"
# node2 has the write (it stays committed on the primary).
wait_converged 10 node1 node2
}

# ---- a stranger naming node2 ----
part_stranger() {
log "stranger: a certificate from another CA naming node2"
before=$(node_get node1 'peers[name=node2].inbound_error')
out=$(python3 "$PEER_PY" --port "${PORT[node1]}" --ca "$PKI/ca.crt" \
	--cert "$OTHER/node2.crt" --key "$OTHER/node2.key" \
	--expect node1 --name node2 hello expect-close:5 2>&1) || true
log "stranger: $out"
wait_for node1 'unknown_callers[claimed=node2].code' untrusted
assert_eq "$(node_get node1 'peers[name=node2].inbound_error')" "$before" \
	"node2's inbound error after the stranger"
expect node1 'peers[name=node2].link' up
}

for part in ${IT_PARTS:-flood slow_hello ack stranger}; do
	"part_$part"
done
stop_node node1
stop_node node2

#!/usr/bin/env bash
# it_repl_limits.sh: replication frames are bounded by bytes, not only by
# rows. 1300 rows of 1.5 KiB with --log-keep 100: a new peer can only get
# them as a snapshot, and 1000 of those rows would be a 1.5 MiB chunk, over
# the 1 MiB frame maximum (the link would drop and the snapshot restart
# forever). The snapshot is installed once, in chunks under the limit,
# with no link lost, and the stream then goes on from it.
. "${EKL_IT_LIB:-$(dirname "$0")/lib.sh}"

pki_setup
issue node1 combined
issue node2 combined

start_node node1 X15.3.2 enforce node1 @node2 --primary node1 --log-keep 100
wait_admin node1
python3 - "$T/big.batch" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1300):
        f.write("xConfiguration Big/%04d: %s\n" % (i, chr(97 + i % 26) * 1536))
PY
ctl node1 --batch "$T/big.batch" >"$T/big.acks" ||
	fail "writing 1300 rows of 1.5 KiB: $(tail -3 "$T/big.acks")"
assert_eq "$(db node1 rows)" 1300 "node1's rows"
first=$(db node1 log_first)
[ "$first" -gt 1 ] || fail "node1 kept its whole log (log_first $first)"

log "node2 joins: it needs a snapshot of 1300 x 1.5 KiB"
start_node node2 X15.3.2 enforce node2 @node1 --primary node1 --log-keep 100
wait_admin node2
wait_converged 60 node1 node2
wait_for node1 'peers[name=node2].replication.state' replicating
# Installed once, with no link lost and nothing refused on the way. (The
# primary may begin it again while both directions come up and the link
# settles on one carrier; a peer only takes it from that carrier.)
assert_eq "$(grep -c 'snapshot installed' "$T/node2.log")" 1 "snapshots installed"
assert_not_contains "$(cat "$T/node1.log")" "link node2 down" "node1's log"
assert_not_contains "$(cat "$T/node2.log")" " warn: " "node2's log"

# And the stream goes on from the snapshot.
out=$(ctl node1 --ack all 'xConfiguration Big/after: streamed') ||
	fail "--ack all after the snapshot: $out"
wait_converged 10 node1 node2
assert_eq "$(ctl node2 'xConfiguration Big/after')" "Big/after: streamed" \
	"the row written after the snapshot"
stop_node node1
stop_node node2

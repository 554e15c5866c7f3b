#!/usr/bin/env bash
# it_repl_catchup.sh: a peer that was stopped during a write burst catches
# up from the change log when it restarts; one that fell further behind
# than the log keeps gets a snapshot.
. "${EKL_IT_LIB:-$(dirname "$0")/lib.sh}"

pki_setup
for n in node1 node2 node3; do
	issue "$n" combined
done
start_cluster3
ctl node1 --ack all 'xConfiguration Start: 1' >/dev/null

# ---- stop node2 (TERM) in the middle of 10 000 writes ----
write_batch_file "$T/burst" 1 10000 Burst
ctl node1 --batch "$T/burst" >"$T/burst.acks" 2>"$T/burst.err" &
burst=$!
wait_until 60 file_has_lines "$T/burst.acks" 2000 ||
	fail "fewer than 2000 of 10 000 writes acknowledged after 60 s"
stop_node node2
log "node2 stopped after $(lines "$T/burst.acks") acknowledged writes"
wait "$burst" || fail "the write burst failed: $(cat "$T/burst.err")"
assert_eq "$(grep -c ' ok revision ' "$T/burst.acks")" 10000 "acknowledged writes"
# node2 is down: writes it must miss for sure.
write_batch_file "$T/more" 1 100 WhileDown
ctl node1 --batch "$T/more" >/dev/null || fail "writes while node2 is down"
rev=$(db node1 revision)
assert_eq "$rev" 10101 "primary revision"
wait_for node1 'peers[name=node2].replication.state' stopped
applied=$(node_get node1 'peers[name=node2].replication.applied_revision')
log "node2 had applied revision $applied of $rev when it stopped"
[ "$applied" -lt "$rev" ] || fail "node2 missed nothing ($applied of $rev)"
wait_converged 30 node1 node3

restart_node node2
wait_converged 60 node1 node2 node3
assert_eq "$(db node2 revision)" "$rev" "node2's revision after catching up"
# The log still held everything node2 needed: no snapshot.
expect node1 'peers[name=node2].replication.snapshots' 0
expect node1 'peers[name=node2].replication.state' replicating
assert_not_contains "$(cat "$T/node2.log")" "snapshot" "node2's log"
assert_eq "$(ctl node2 'xConfiguration Burst/9999')" "Burst/9999: v9999" \
	"Burst/9999 on node2"

# ---- the log no longer holds it: a snapshot ----
# node1 keeps only ~500 changes; node3 misses 5000.
stop_node node1
restart_node node1 --log-keep 500
wait_for node1 'peers[name=node2].replication.state' replicating
wait_for node1 'peers[name=node3].replication.state' replicating
stop_node node3
write_batch_file "$T/far" 1 5000 Far
ctl node1 --batch "$T/far" >"$T/far.acks" || fail "5000 writes while node3 is down"
ctl node1 --ack all 'xCommand ConfigurationDelete Path: Burst/1' >/dev/null ||
	fail "delete while node3 is down"
rev=$(db node1 revision)
log_first=$(db node1 log_first)
log "primary at revision $rev keeps the log from $log_first"
[ "$log_first" -gt 10102 ] || fail "the log was not compacted (log_first $log_first)"
[ $((rev - log_first + 1))  -le 1000 ] ||
	fail "the log holds $((rev - log_first + 1)) changes with --log-keep 500"
restart_node node3
wait_converged 60 node1 node2 node3
snaps=$(node_get node1 'peers[name=node3].replication.snapshots')
[ "$snaps" -ge 1 ] || fail "node1 sent node3 no snapshot ($snaps)"
grep -q "snapshot installed" "$T/node3.log" ||
	fail "node3's log does not say 'snapshot installed'"
# (node2 stayed linked, but compaction does not wait for a lagging peer:
# under load it may fall more than 500 behind and get a snapshot too.)
rc=0
ctl node3 'xConfiguration Burst/1' >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 1 "the row deleted before the snapshot is gone on node3"
assert_eq "$(ctl node3 'xConfiguration Far/4321')" "Far/4321: v4321" "Far/4321 on node3"

# After the snapshot node3 streams again.
out=$(ctl node1 --ack all 'xConfiguration After/snapshot: yes') ||
	fail "--ack all after the snapshot: $out"
assert_eq "$(ctl node3 'xConfiguration After/snapshot')" "After/snapshot: yes" \
	"After/snapshot on node3"
wait_converged 20 node1 node2 node3
expect node1 'peers[name=node3].replication.state' replicating

# ---- a peer that lost its data directory starts empty and catches up ----
stop_node node2
rm -rf "$T/node2.data"
restart_node node2
wait_converged 60 node1 node2 node3
assert_eq "$(ctl node2 'xConfiguration After/snapshot')" "After/snapshot: yes" \
	"After/snapshot on node2 after losing its data"
log "node2 after losing its data: $(last_run_log node2 | grep -c 'link node1 down' || true) link drops"

for n in node1 node2 node3; do
	stop_node "$n"
done

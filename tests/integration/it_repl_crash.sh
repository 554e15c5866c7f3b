#!/usr/bin/env bash
# it_repl_crash.sh: kill -9 in the middle of a write burst. The primary:
# every write it acknowledged survives, on every node, and nothing that was
# never sent appears. A peer: it restarts and converges.
. "${EKL_IT_LIB:-$(dirname "$0")/lib.sh}"

pki_setup
for n in node1 node2 node3; do
	issue "$n" combined
done
start_cluster3
ctl node1 --ack all 'xConfiguration Before/crash: here' >/dev/null

# ---- kill -9 the primary during 20 000 pipelined writes ----
write_batch_file "$T/burst1" 1 20000 Burst1
ctl node1 --ack primary --batch "$T/burst1" >"$T/burst1.acks" \
	2>"$T/burst1.err" &
burst=$!
# About a second into the burst (bounded by the acks, not by a sleep).
wait_until 60 file_has_lines "$T/burst1.acks" 3000 ||
	fail "fewer than 3000 writes acknowledged after 60 s"
crash_node node1
rc=0
wait "$burst" || rc=$?
acked=$(grep -c ' ok revision ' "$T/burst1.acks" || true)
log "primary killed after $acked acknowledged writes (ctl exit $rc)"
[ "$acked" -lt 20000 ] || fail "the burst ended before the primary was killed"
[ "$rc" -ne 0 ] || fail "ctl --batch exited 0 although the primary died"
assert_contains "$(cat "$T/burst1.err")" "admin socket" "ctl's error"

# The peers keep what they had; the primary comes back on the same data.
restart_node node1
wait_converged 60 node1 node2 node3
for n in node1 node2 node3; do
	dump_rows "$n" "$T/$n.rows1"
done
check_acked "$T/burst1" "$T/burst1.acks" Burst1/ \
	"$T/node1.rows1" "$T/node2.rows1" "$T/node3.rows1"
assert_eq "$(ctl node2 'xConfiguration Before/crash')" "Before/crash: here" \
	"the row written before the crash"
# The cluster takes writes again and replicates them.
out=$(ctl node1 --ack all 'xConfiguration After/crash: yes') ||
	fail "--ack all write after the primary restarted: $out"
assert_eq "$(ctl node3 'xConfiguration After/crash')" "After/crash: yes" \
	"After/crash on node3"

# ---- kill -9 a peer during 20 000 writes ----
write_batch_file "$T/burst2" 1 20000 Burst2
ctl node1 --batch "$T/burst2" >"$T/burst2.acks" 2>"$T/burst2.err" &
burst=$!
wait_until 60 file_has_lines "$T/burst2.acks" 3000 ||
	fail "fewer than 3000 writes acknowledged after 60 s"
crash_node node2
log "node2 killed after $(lines "$T/burst2.acks") acknowledged writes"
wait "$burst" || fail "the burst failed although the primary lived: $(cat "$T/burst2.err")"
assert_eq "$(grep -c ' ok revision ' "$T/burst2.acks")" 20000 "acknowledged writes"
restart_node node2
wait_converged 60 node1 node2 node3
for n in node1 node2 node3; do
	dump_rows "$n" "$T/$n.rows2"
done
check_acked "$T/burst2" "$T/burst2.acks" Burst2/ \
	"$T/node1.rows2" "$T/node2.rows2" "$T/node3.rows2"
out=$(verify_cluster node1 node2 node3) || fail "verify-cluster: $out"

for n in node1 node2 node3; do
	stop_node "$n"
done

#!/usr/bin/env bash
# it_toxics.sh: what two ekunodes do under the proxy's Toxiproxy-style
# faults (docs/faults.md): slicer (TLS records and frames split into
# 1-byte pieces: the link comes up and replicates), limit_data (closed
# mid-handshake: the link stays down; mid-frame: nothing partial is
# applied; mid-snapshot: the snapshot starts again, nothing is installed
# until it completes, then the peer converges), timeout (the link goes
# down as `timeout` and heals when removed), slow_close (a peer's Bye
# arrives on time though its close is late), a direction (a reset
# downstream reaches the dialling node, upstream the dialled one) and a
# toxicity (some connections cut, the cluster converges when it ends).
# The TLS and frame code of both nodes survives every one.
. "${EKL_IT_LIB:-$(dirname "$0")/lib.sh}"

pki_setup
issue node1 combined
issue node2 combined

alloc_port node1
alloc_port node2
alloc_port p12 # the proxy's listener for node1 -> node2
alloc_port p21 # and for node2 -> node1
CTL="$T/proxy.sock"
"$EKULAB" proxy --control "$CTL" \
	--route "node1>node2=127.0.0.1:${PORT[p12]},127.0.0.1:${PORT[node2]}" \
	--route "node2>node1=127.0.0.1:${PORT[p21]},127.0.0.1:${PORT[node1]}" \
	--log "$T/proxy.log" </dev/null &
PROXY_PID=$!
IT_PIDS+=("$PROXY_PID")
wait_until 10 test -S "$CTL" || fail "the proxy's control socket did not appear"

pctl() { "$EKULAB" ctl --socket "$CTL" "$@" >/dev/null || fail "proxy: $*"; }
route_get() {
	local j
	j=$("$EKULAB" ctl --socket "$CTL" --json routes) || return 1
	jget "routes[name=$1].$2" <<<"$j"
}
# node1 keeps 100 changes: a peer further behind needs a snapshot.
N1=(--peer "node2=127.0.0.1:${PORT[p12]}" --primary node1 --log-keep 100)
N2=(--peer "node1=127.0.0.1:${PORT[p21]}" --primary node1)
start_node node1 X15.4 enforce node1 "${N1[@]}"
start_node node2 X15.4 enforce node2 "${N2[@]}"
wait_admin node1
wait_admin node2

link_is() { node_is node1 'peers[name=node2].link' "$1" &&
	node_is node2 'peers[name=node1].link' "$1"; }
wait_link() {
	wait_until "${2:-20}" link_is "$1" ||
		fail "node1-node2 is not $1: $(status_json node1)"
}
# Failed or ended connections of NAME to PEER, both directions.
ends() {
	local o i
	o=$(node_get "$1" "peers[name=$2].outbound_failures") &&
		i=$(node_get "$1" "peers[name=$2].inbound_failures") &&
		echo $((o + i))
}
more_ends() { local n; n=$(ends "$1" "$2") && [ "$n" -gt "$3" ]; }
alive() { node_alive node1 || fail "node1 died"; node_alive node2 || fail "node2 died"; }
count() { grep -c "$1" "$2" || true; }
# more PATTERN FILE N: FILE has more than N lines with PATTERN (for
# wait_until, which runs it again each time).
more() { [ "$(count "$1" "$2")" -gt "$3" ]; }
failures_over() { [ "$(node_get node1 'peers[name=node2].outbound_failures')" -gt "$1" ]; }
route_over() { [ "$(route_get "$1" "$2")" -gt "$3" ]; }

wait_link up
wait_for node1 'peers[name=node2].replication.state' replicating

# ---- slicer: every byte alone ----
log "slicer: 1-byte pieces both ways; new connections"
pctl 'fault add thin slicer * average_size=1 delay_us=20'
# New connections, so the handshakes go through in pieces too.
pctl 'fault add kick reset *'
wait_link down
pctl 'fault remove kick'
b0=$(route_get 'node1>node2' bytes_to_target)
wait_link up 60
write_batch_file "$T/thin.batch" 1 50 Thin
ctl node1 --ack all --batch "$T/thin.batch" >"$T/thin.acks" ||
	fail "--ack all writes through 1-byte pieces: $(tail -3 "$T/thin.acks")"
wait_converged 60 node1 node2
[ "$(route_get 'node1>node2' bytes_to_target)" -gt "$b0" ] ||
	fail "nothing went through the slicer"
pctl 'fault remove thin'
alive

# ---- limit_data mid-handshake: no connection gets through ----
log "limit_data: closed mid-handshake"
pctl 'fault add hs limit_data * bytes=200'
wait_link down
e=$(ends node1 node2)
wait_until 20 more_ends node1 node2 $((e + 2)) || fail "node1 stopped redialling"
expect node1 'peers[name=node2].link' down
assert_eq "$(route_get 'node1>node2' state)" limit_data "state of node1>node2"
pctl 'fault remove hs'
wait_link up
alive

# ---- limit_data mid-frame: the batch never arrives in part ----
log "limit_data: closed mid-frame (batches of 60 KiB rows, 30000 bytes each way a connection: the stream goes on whichever connection carries the link)"
r0=$(db node2 revision)
d0=$(db node2 digest)
pctl 'fault add frame limit_data * bytes=30000'
python3 - "$T/big.batch" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(10):
        f.write("xConfiguration Frame/%d: %s\n" % (i, chr(97 + i) * 61440))
PY
ctl node1 --batch "$T/big.batch" >"$T/big.acks" || fail "big writes on node1"
# The link is cut and redialled, and each connection ends inside the
# first big batch: node2 stays where it was, whole.
e=$(ends node2 node1)
wait_until 30 more_ends node2 node1 $((e + 3)) || fail "the link was not cut mid-frame"
assert_eq "$(db node2 revision)" "$r0" "node2's revision under the mid-frame cut"
assert_eq "$(db node2 digest)" "$d0" "node2's digest under the mid-frame cut"
pctl 'fault remove frame'
wait_converged 60 node1 node2
alive

# ---- limit_data mid-snapshot: started again, installed once, whole ----
log "limit_data: closed mid-snapshot"
stop_node node2
python3 - "$T/snap.batch" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1300):
        f.write("xConfiguration Snap/%04d: %s\n" % (i, chr(97 + i % 26) * 1536))
PY
ctl node1 --batch "$T/snap.batch" >"$T/snap.acks" || fail "writing the snapshot's rows"
[ "$(db node1 log_first)" -gt 1000 ] ||
	fail "node1 kept its log: no snapshot would be needed"
recv0=$(count 'receiving a snapshot' "$T/node2.log")
inst0=$(count 'snapshot installed' "$T/node2.log")
pctl 'fault add snap limit_data * bytes=400000'
start_node node2 X15.4 enforce node2 "${N2[@]}"
wait_admin node2
r0=$(db node2 revision)
d0=$(db node2 digest)
# Two snapshots begun (and cut), none installed, node2's rows untouched.
wait_until 60 more 'receiving a snapshot' "$T/node2.log" $((recv0 + 1)) ||
	fail "node2 did not begin the snapshot twice: $(tail -5 "$T/node2.log")"
assert_eq "$(count 'snapshot installed' "$T/node2.log")" "$inst0" \
	"snapshots installed while every connection is cut mid-snapshot"
assert_eq "$(db node2 revision)" "$r0" "node2's revision mid-snapshot"
assert_eq "$(db node2 digest)" "$d0" "node2's digest mid-snapshot"
pctl 'fault remove snap'
wait_converged 90 node1 node2
assert_eq "$(count 'snapshot installed' "$T/node2.log")" $((inst0 + 1)) \
	"snapshots installed once the limit is gone"
alive

# ---- timeout: nothing moves; the dead timer ends the link ----
log "timeout: the link goes down as timeout, heals when removed"
n0=$(count 'link node2 down: timeout' "$T/node1.log")
pctl 'fault add stall timeout * ms=0'
wait_link down
wait_until 20 more 'link node2 down: timeout' "$T/node1.log" "$n0" ||
	fail "node1's link to node2 did not end as timeout: $(tail -3 "$T/node1.log")"
assert_eq "$(route_get 'node1>node2' state)" timeout "state of node1>node2"
pctl 'fault remove stall'
wait_link up
ctl node1 --ack all 'xConfiguration After/timeout: yes' >/dev/null ||
	fail "--ack all after the timeout"
alive

# ---- slow_close: closes arrive late, bytes on time ----
log "slow_close: node2 restarts; its Bye arrives on time, its close 2 s late"
n0=$(count 'link node2 down: shutdown' "$T/node1.log")
pctl 'fault add lateclose slow_close * ms=2000'
stop_node node2
# The Bye is data: node1 learns the reason at once, not from a dead timer.
wait_until 20 more 'link node2 down: shutdown' "$T/node1.log" "$n0" ||
	fail "node1 did not hear node2's Bye: $(tail -3 "$T/node1.log")"
start_node node2 X15.4 enforce node2 "${N2[@]}"
wait_admin node2
wait_link up
ctl node1 --ack all 'xConfiguration After/slow_close: yes' >/dev/null ||
	fail "--ack all under slow_close"
pctl 'fault remove lateclose'
wait_converged 30 node1 node2
alive

# ---- direction: where the reset lands ----
log "direction: a reset downstream reaches the dialling node, upstream the dialled one"
pctl 'fault add rd reset node1>node2 direction=downstream'
wait_until 20 sh -c "'$EKULAB' ctl --socket '$(sock_of node1)' --json 'xStatus Cluster' |
	grep -q 'reset by peer'" || fail "node1 never saw the reset: $(status_json node1)"
pctl 'fault remove rd'
wait_link up
pctl 'fault add ru reset node1>node2 direction=upstream'
e=$(node_get node1 'peers[name=node2].outbound_failures')
wait_until 20 failures_over $((e + 1)) ||
	fail "node1 did not redial under the upstream reset"
assert_contains "$(node_get node1 'peers[name=node2].outbound_error.message')" \
	"eof" "node1's error under a reset that lands on node2"
pctl 'fault remove ru'
wait_link up
alive

# ---- toxicity: half the connections reset ----
log "toxicity: half the connections reset; writes go on; the cluster converges"
pctl 'fault add half reset * toxicity=0.5'
write_batch_file "$T/half.batch" 1 300 Half
ctl node1 --batch "$T/half.batch" >"$T/half.acks" || fail "writes under toxicity"
pctl 'fault add kick reset *'
wait_link down
pctl 'fault remove kick'
wait_until 30 route_over 'node1>node2' refused 0 ||
	fail "no connection was reset: $("$EKULAB" ctl --socket "$CTL" routes)"
pctl 'fault remove half'
wait_link up
wait_converged 60 node1 node2
alive

stop_pid "$PROXY_PID"
[ "$STOP_RC" -eq 0 ] || fail "ekulab proxy exited $STOP_RC on SIGTERM"
stop_node node1
stop_node node2

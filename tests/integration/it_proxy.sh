#!/usr/bin/env bash
# it_proxy.sh: two ekunodes whose peer links go through `ekulab proxy`: link
# faults take the link down (down: at once; blackhole: by the dead timer),
# latency leaves it up, and removing the faults brings it back.
. "${EKL_IT_LIB:-$(dirname "$0")/lib.sh}"

pki_setup
issue node1 combined
issue node2 combined

alloc_port node1
alloc_port node2
alloc_port p12 # the proxy's listener for node1 -> node2
alloc_port p21 # and for node2 -> node1
CTL="$T/proxy.sock"
R12="node1>node2=127.0.0.1:${PORT[p12]},127.0.0.1:${PORT[node2]}"
R21="node2>node1=127.0.0.1:${PORT[p21]},127.0.0.1:${PORT[node1]}"

pctl() { "$EKULAB" ctl --socket "$CTL" "$@"; }
route_get() { # route_get ROUTE FIELD: one field of `routes` (JSON)
	local j
	j=$(pctl --json routes) || return 1
	jget "routes[name=$1].$2" <<<"$j"
}
link_is() { node_is node1 'peers[name=node2].link' "$1" &&
	node_is node2 'peers[name=node1].link' "$1"; }
# Events to wait for instead of sleeping: NAME's count of PEER's failed or
# ended connections (both directions), and frames handled on the
# connection carrying the link.
ends() {
	local o i
	o=$(node_get "$1" "peers[name=$2].outbound_failures") &&
		i=$(node_get "$1" "peers[name=$2].inbound_failures") &&
		echo $((o + i))
}
more_ends() { local n; n=$(ends "$1" "$2") && [ "$n" -gt "$3" ]; }
frames() {
	local dir
	dir=$(node_get "$1" "peers[name=$2].direction") || return 1
	node_get "$1" "peers[name=$2].$dir.frames_in"
}
more_frames() { local n; n=$(frames "$1" "$2") && [ "$n" -gt "$3" ]; }

# Bad invocations fail, say why and leave nothing behind.
rc=0
out=$("$EKULAB" proxy --control "$T/bad.sock" --route nogood 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "ekulab proxy accepted --route nogood"
assert_contains "$out" "FROM>TO=LISTEN,TARGET" "ekulab proxy --route nogood"
[ ! -e "$T/bad.sock" ] || fail "a refused proxy left its control socket"
rc=0
out=$("$EKULAB" proxy --route "$R12" 2>&1) || rc=$?
[ "$rc" -eq 2 ] || fail "ekulab proxy without --control exited $rc"
assert_contains "$out" "--control" "ekulab proxy without --control"

"$EKULAB" proxy --control "$CTL" --route "$R12" --route "$R21" \
	--log "$T/proxy.log" </dev/null &
PROXY_PID=$!
IT_PIDS+=("$PROXY_PID")
wait_until 10 test -S "$CTL" || fail "the proxy's control socket did not appear"
assert_eq "$(file_mode "$CTL")" 600 "mode of the proxy control socket"

# A second proxy on the same control socket is refused.
rc=0
out=$("$EKULAB" proxy --control "$CTL" --route \
	"x>y=127.0.0.1:$(free_port),127.0.0.1:${PORT[node1]}" 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "a second proxy took a live control socket"
assert_contains "$out" "another process serves" "second proxy"

# Every dial goes through the proxy.
start_node node1 X15.3.2 enforce node1 --peer "node2=127.0.0.1:${PORT[p12]}"
start_node node2 X15.3.2 enforce node2 --peer "node1=127.0.0.1:${PORT[p21]}"
wait_admin node1
wait_admin node2
wait_for node1 'peers[name=node2].link' up
wait_for node2 'peers[name=node1].link' up
for r in 'node1>node2' 'node2>node1'; do
	wait_until 10 test "$(route_get "$r" bytes_to_target)" -gt 0 ||
		fail "route $r forwarded nothing: $(pctl routes)"
	[ "$(route_get "$r" bytes_to_client)" -gt 0 ] ||
		fail "route $r: nothing came back: $(pctl routes)"
done
assert_eq "$(route_get 'node1>node2' target)" "127.0.0.1:${PORT[node2]}" \
	"target of node1>node2"

# ---- down, both directions: the link goes down and stays down ----
pctl 'fault add cut down node1>node2,node2>node1' >/dev/null ||
	fail "fault add cut failed"
assert_contains "$(pctl 'fault list')" \
	"cut down routes=node1>node2,node2>node1" "fault list"
wait_for node1 'peers[name=node2].link' down
wait_for node2 'peers[name=node1].link' down
# Three more redials each way, and each failed.
e1=$(ends node1 node2)
e2=$(ends node2 node1)
wait_until 15 more_ends node1 node2 $((e1 + 2)) || fail "node1 stopped redialling"
wait_until 15 more_ends node2 node1 $((e2 + 2)) || fail "node2 stopped redialling"
expect node1 'peers[name=node2].link' down
expect node2 'peers[name=node1].link' down
node_set node1 'peers[name=node2].outbound_error' ||
	fail "node1 records no outbound error while its route is down"
log "node1 -> node2 under 'down': $(node_get node1 'peers[name=node2].outbound_error.code')"
assert_eq "$(route_get 'node1>node2' state)" down "state of node1>node2"
[ "$(route_get 'node1>node2' refused)" -gt 0 ] ||
	fail "no redial reached the downed route: $(pctl routes)"
assert_eq "$(route_get 'node1>node2' connections)" 0 "connections under down"

pctl 'fault remove all' >/dev/null || fail "fault remove all failed"
wait_for node1 'peers[name=node2].link' up
wait_for node2 'peers[name=node1].link' up
assert_eq "$(pctl --json 'fault list')" '{"faults":[]}' "fault list after remove all"

# ---- latency with jitter on every route: the link stays up ----
pctl 'fault add slow latency * ms=50 jitter=20' >/dev/null ||
	fail "fault add slow failed"
assert_eq "$(route_get 'node2>node1' latency_ms)" 50 "latency of node2>node1"
# Ten heartbeats each way, each 50 +- 20 ms late (under --dead-ms 1000),
# and no connection ended meanwhile.
e1=$(ends node1 node2)
e2=$(ends node2 node1)
k1=$(frames node1 node2) || fail "node1's carrier to node2"
k2=$(frames node2 node1) || fail "node2's carrier to node1"
wait_until 15 more_frames node1 node2 $((k1 + 9)) || fail "node1 heard too little"
wait_until 15 more_frames node2 node1 $((k2 + 9)) || fail "node2 heard too little"
expect node1 'peers[name=node2].link' up
expect node2 'peers[name=node1].link' up
assert_eq "$(ends node1 node2)" "$e1" "node1's ended connections under latency"
assert_eq "$(ends node2 node1)" "$e2" "node2's ended connections under latency"

# ---- blackhole: nothing moves, the dead timer notices ----
pctl 'fault add hole blackhole *' >/dev/null || fail "fault add hole failed"
wait_for node1 'peers[name=node2].link' down
wait_for node2 'peers[name=node1].link' down
assert_eq "$(route_get 'node1>node2' faults)" '["slow", "hole"]' \
	"faults on node1>node2"
pctl 'fault remove hole' >/dev/null || fail "fault remove hole failed"
pctl 'fault remove slow' >/dev/null || fail "fault remove slow failed"
wait_until 15 link_is up || fail "the link did not come back after the blackhole"

# ---- errors are answers, not crashes ----
rc=0
out=$(pctl 'fault add x down node1>node3' 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "a fault on an unknown route was accepted"
assert_contains "$out" "node1>node3" "unknown route error"
rc=0
out=$(pctl 'fault remove nosuch' 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "removing an unknown fault succeeded"

# SIGTERM: exit 0, the control socket removed.
stop_pid "$PROXY_PID"
[ "$STOP_RC" -eq 0 ] || fail "ekulab proxy exited $STOP_RC on SIGTERM"
[ ! -e "$CTL" ] || fail "ekulab proxy left its control socket behind"
stop_node node1
stop_node node2

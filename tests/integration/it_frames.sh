#!/usr/bin/env bash
# it_frames.sh: a peer with a valid certificate that sends bad frames, both
# before its Hello and after it (when replication messages are taken):
# oversized, zero-length, truncated or undecodable frames, and replication
# batches whose rows are not text (a NUL byte, bytes that are not UTF-8, a
# line break). Each closes the link with the reason `protocol`, nothing is
# applied and the node keeps running. A good batch over the same path is
# applied, so "nothing applied" is a check that can fail.
#
# node1 is a replica whose primary is node2; node2 is played first by
# `openssl s_client` (TLS, no Hello), then by peer.py (TLS and Hello, then
# whatever the test says).
source "${EKL_IT_LIB:?}"

PEER_PY="$(dirname "$EKL_IT_LIB")/peer.py"
pki_setup
issue node1 combined
issue node2 combined
# node2 is played by openssl s_client and peer.py, which only dial: node1
# does not dial it (dial=no).
start_node node1 X15.3.2 enforce node1 @node2,dial=no --primary node2
wait_admin node1

in_code() { node_get node1 "peers[name=node2].inbound_error.code"; }
in_msg() { node_get node1 "peers[name=node2].inbound_error.message"; }
msg_changed() { [ "$(in_msg 2>/dev/null)" != "$LAST" ]; }

# expect_refused WHAT PATTERN: node1 recorded a new inbound failure for
# node2, with code protocol and PATTERN in its message, applied nothing and
# is alive.
expect_refused() {
	local what=$1 pattern=$2
	wait_until 10 msg_changed || fail "$what: no inbound error recorded"
	LAST=$(in_msg)
	[ "$(in_code)" = protocol ] || fail "$what: code $(in_code), expected protocol ($LAST)"
	case "$LAST" in *"$pattern"*) ;; *) fail "$what: message '$LAST' lacks '$pattern'" ;; esac
	node_alive node1 || fail "node1 died on $what"
	[ "$(db node1 revision)" = 0 ] || fail "$what: something was applied"
}

# ---- before Hello: TLS, then frames instead of a Hello ----

# send_frame BYTES: a TLS client presenting node2's certificate sends BYTES
# (printf format) and then holds the connection for a moment.
send_frame() {
	{ printf "$1"; sleep 1; } | timeout 5 openssl s_client -quiet \
		-connect "127.0.0.1:${PORT[node1]}" -CAfile "$PKI/ca.crt" \
		-cert "$PKI/node2.crt" -cert_chain "$PKI/node2.crt" -key "$PKI/node2.key" \
		-servername node1 >/dev/null 2>&1 || true
}

before_hello() {
	log "before Hello: $1"
	send_frame "$2"
	expect_refused "$1 before Hello" "$3"
}

LAST=""
before_hello "oversized frame" '\xff\xff\xff\xff' "too-big"
before_hello "zero-length frame" '\x00\x00\x00\x00' "zero-length"
before_hello "undecodable frame" '\x00\x00\x00\x04\xff\xff\xff\xff' "undecodable"
# A truncated frame never completes: the peer goes silent, the Hello
# deadline (5 s) closes it, nothing is applied.
log "before Hello: truncated frame"
send_frame '\x00\x00\x00\x40\x0a\x02'
node_alive node1 || fail "node1 died on a truncated frame"
[ "$(db node1 revision)" = 0 ] || fail "truncated frame: something was applied"

# ---- after Hello: node2 is up as node1's primary ----

# peer2 STEP...: peer.py as node2 (see peer.py for the steps).
peer2() {
	python3 "$PEER_PY" --port "${PORT[node1]}" --ca "$PKI/ca.crt" \
		--cert "$PKI/node2.crt" --key "$PKI/node2.key" \
		--expect node1 --name node2 "$@"
}
hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }

# after_hello WHAT PATTERN STEP: Hello both ways, then STEP; node1 closes
# the link as protocol, saying PATTERN, and applies nothing.
after_hello() {
	local what=$1 pattern=$2 out
	log "after Hello: $what"
	out=$(peer2 hello wait-hello "$3" expect-close:10 2>&1) || true
	assert_contains "$out" "hello node1" "$what: the Hello exchange"
	assert_contains "$out" "bye protocol" "$what: what node2 was told"
	expect_refused "$what after Hello" "$pattern"
}

after_hello "oversized frame" "too-big" raw:ffffffff
after_hello "zero-length frame" "zero-length" raw:00000000
after_hello "undecodable frame" "undecodable" raw:00000004ffffffff
after_hello "a NUL inside a value" "the value contains a NUL byte" \
	"batch:1:1:$(hex Frames/nul):61006200"
after_hello "a NUL inside a path" "the path contains a NUL byte" \
	"batch:1:1:$(hex Frames/a)00$(hex b):$(hex v)"
after_hello "bytes that are not UTF-8" "the value is not valid UTF-8" \
	"batch:1:1:$(hex Frames/utf8):c328"
after_hello "a line break in a value" "the value contains a line break" \
	"batch:1:1:$(hex Frames/lf):610a62"
after_hello "a second Hello" "second Hello" hello
# None of it reached the rows: a listing is still valid JSON, and empty.
assert_eq "$(ctl node1 --json xConfiguration)" "{}" "node1's rows"

# The same path takes a good batch: the checks above could have failed.
log "after Hello: a good batch is applied"
out=$(peer2 hello wait-hello "batch:1:1:$(hex Frames/good):$(hex 'café')" \
	wait:ack 2>&1) || true
assert_contains "$out" "ack" "the good batch's acknowledgement"
wait_db node1 revision 1
assert_eq "$(ctl node1 'xConfiguration Frames/good')" "Frames/good: café" \
	"the good row"
node_alive node1 || fail "node1 died"
stop_node node1

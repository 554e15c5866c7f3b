#!/usr/bin/env bash
# it_frames.sh: a peer that sends an oversized, zero-length, truncated or
# undecodable frame after a valid mTLS handshake has its link closed with
# the reason `protocol`; the node applies nothing and keeps running.
source "${EKL_IT_LIB:?}"

pki_setup
issue node1 combined
issue node2 combined
start_node node1 X15.3.2 enforce node1 @node2 --primary node1
wait_admin node1

# send_frame BYTES: a TLS client presenting node2's certificate sends BYTES
# (printf format) and then holds the connection for a moment.
send_frame() {
	{ printf "$1"; sleep 1; } | timeout 5 openssl s_client -quiet \
		-connect "127.0.0.1:${PORT[node1]}" -CAfile "$PKI/ca.crt" \
		-cert "$PKI/node2.crt" -cert_chain "$PKI/node2.crt" -key "$PKI/node2.key" \
		-servername node1 >/dev/null 2>&1 || true
}
in_code() { node_get node1 "peers[name=node2].inbound_error.code"; }
in_msg() { node_get node1 "peers[name=node2].inbound_error.message"; }

check() {
	local what=$1 bytes=$2 pattern=$3
	log "$what"
	send_frame "$bytes"
	wait_until 10 sh -c "[ \"\$(cd / && '$EKULAB' ctl --socket '$(sock_of node1)' --json 'xStatus Cluster' | python3 -c 'import json,sys; d=json.load(sys.stdin); p=[x for x in d[\"peers\"] if x[\"name\"]==\"node2\"][0]; e=p[\"inbound_error\"]; print(e[\"message\"] if e else \"\")')\" != '$LAST' ]" ||
		fail "$what: no inbound error recorded"
	LAST=$(in_msg)
	[ "$(in_code)" = protocol ] || fail "$what: code $(in_code), expected protocol ($LAST)"
	case "$LAST" in *$pattern*) ;; *) fail "$what: message '$LAST' lacks '$pattern'" ;; esac
	node_alive node1 || fail "node1 died on $what"
	[ "$(db node1 revision)" = 0 ] || fail "$what: something was applied"
}

LAST=""
check "oversized frame" '\xff\xff\xff\xff' "too-big"
check "zero-length frame" '\x00\x00\x00\x00' "zero-length"
check "undecodable frame" '\x00\x00\x00\x04\xff\xff\xff\xff' "undecodable"
# A truncated frame never completes: the peer goes silent, the handshake
# timer (5 s) or the dead-link timer closes it, nothing is applied.
log "truncated frame"
send_frame '\x00\x00\x00\x40\x0a\x02'
node_alive node1 || fail "node1 died on a truncated frame"
[ "$(db node1 revision)" = 0 ] || fail "truncated frame: something was applied"

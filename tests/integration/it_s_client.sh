#!/usr/bin/env bash
# it_s_client.sh: a foreign TLS client (openssl s_client) against ekunode:
# no certificate, a certificate from another CA, and a server-only
# certificate before and after X15.4.
. "${EKL_IT_LIB:-$(dirname "$0")/lib.sh}"

command -v openssl >/dev/null || fail "openssl (the program) is required"

OTHER="$T/other" # an independent PKI that the cluster does not trust
pki_setup
pki_setup "$OTHER"
issue node1 combined
issue node3 combined
# A server-only certificate for the configured peer "p2" (SAN DNS:p2).
issue p2-server server-only --san p2
# Certificates from the other CA: one naming the configured peer p2, one
# naming nobody the node knows.
issue --dir "$OTHER" p2 combined
issue --dir "$OTHER" stranger combined

# node1: pre-X15.4, enforce. node3: X15.4, enforce. Both list p2 (which
# never runs: their outbound side just records connect-failed).
alloc_port p2
start_node node1 X15.3.2 enforce node1 @p2
start_node node3 X15.4 enforce node3 @p2
wait_admin node1
wait_admin node3

# sclient NODE SECONDS [s_client flags...]: connect to NODE with stdin at
# EOF but -ign_eof, so s_client stays until the node closes the connection
# (or SECONDS pass: exit status 124). Sets OUT and RC.
sclient() {
	local node=$1 secs=$2
	shift 2
	RC=0
	timeout "$secs" openssl s_client \
		-connect "127.0.0.1:${PORT[$node]}" -brief -ign_eof \
		-CAfile "$PKI/ca.crt" -verify_hostname "$node" "$@" \
		</dev/null >"$T/s_client.out" 2>&1 || RC=$?
	OUT=$(tr -d '\000' <"$T/s_client.out")
}

# (a) No client certificate against an enforce node. In TLS 1.3 the client
# finishes its side of the handshake first, then reads the node's
# certificate_required alert: s_client fails.
sclient node1 5
[ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] ||
	fail "(a) s_client without a certificate: status $RC, expected failure: $OUT"
assert_contains "$OUT" "alert certificate required" "(a) s_client output"
wait_for node1 'unknown_callers[code=no-certificate].claimed' null
expect node1 'peers[name=p2].inbound_error' null

# (b) Certificates from a CA the cluster does not trust: "untrusted".
# Anyone can make one that names a configured peer, so the name proves
# nothing: the failure goes to unknown_callers with its claim, never over
# p2's own status...
sclient node1 5 -cert "$OTHER/p2.crt" -key "$OTHER/p2.key" \
	-cert_chain "$OTHER/ca-unrestricted.crt"
[ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] ||
	fail "(b) s_client with another CA's certificate: status $RC: $OUT"
assert_contains "$OUT" "alert unknown ca" "(b) s_client output"
wait_for node1 'unknown_callers[claimed=p2].code' untrusted
expect node1 'peers[name=p2].inbound_error' null
# ...as does the one that names nobody.
sclient node1 5 -cert "$OTHER/stranger.crt" -key "$OTHER/stranger.key" \
	-cert_chain "$OTHER/ca-unrestricted.crt"
[ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] ||
	fail "(b) s_client as stranger: status $RC: $OUT"
wait_for node1 'unknown_callers[claimed=stranger].code' untrusted

# (c) A trusted server-only certificate naming peer p2, against the
# pre-X15.4 node: it checks the client purpose and rejects it.
sclient node1 5 -cert "$PKI/p2-server.crt" -key "$PKI/p2-server.key" \
	-cert_chain "$PKI/ca-unrestricted.crt"
[ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] ||
	fail "(c) server-only certificate against X15.3.2: status $RC: $OUT"
assert_contains "$OUT" "Verification: OK" "(c) s_client output"
assert_contains "$OUT" "alert unsupported certificate" "(c) s_client output"
wait_for node1 'peers[name=p2].inbound_error.code' client-purpose
expect node1 'peers[name=p2].inbound_error.depth' 0
expect node1 'peers[name=p2].inbound_error.rejected_by' acceptor
expect node1 'peers[name=p2].link' down

# (d) The same certificate against the X15.4 node: the ClusterDB client
# purpose check is skipped, so the handshake is accepted and the node
# waits for a Hello that s_client never sends. s_client is still
# connected when `timeout` ends it (124), with no alert.
sclient node3 2 -cert "$PKI/p2-server.crt" -key "$PKI/p2-server.key" \
	-cert_chain "$PKI/ca-unrestricted.crt"
assert_eq "$RC" 124 "(d) s_client status (124: still connected, not rejected)"
assert_contains "$OUT" "CONNECTION ESTABLISHED" "(d) s_client output"
assert_contains "$OUT" "Protocol version: TLSv1.3" "(d) s_client output"
assert_contains "$OUT" "Verification: OK" "(d) s_client output"
assert_not_contains "$OUT" "alert" "(d) s_client output"
# When s_client goes away the node records that, not a certificate error.
wait_until 10 node_set node3 'peers[name=p2].inbound_error.code' ||
	fail "(d) node3 recorded no end for the s_client connection"
code=$(node_get node3 'peers[name=p2].inbound_error.code')
expect node3 'peers[name=p2].inbound_error.rejected_by' null
log "(d) after s_client left, node3 recorded: $code"
case "$code" in
client-purpose | untrusted | no-certificate | name-mismatch)
	fail "(d) node3 rejected the certificate: $code" ;;
esac
expect node3 unknown_callers '[]'

stop_node node1
stop_node node3

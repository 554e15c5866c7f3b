#!/usr/bin/env bash
# it_bad_config.sh: ekunode refuses a bad configuration at start-up, says
# what to fix on stderr, and leaves no admin socket or listener behind.
. "${EKL_IT_LIB:-$(dirname "$0")/lib.sh}"

pki_setup
issue node1 combined
issue node2 combined
issue loose combined
chmod 644 "$PKI/loose.key"
# A certificate with somebody else's key.
cp "$PKI/node1.crt" "$PKI/mismatch.crt"
cp -p "$PKI/node2.key" "$PKI/mismatch.key"

# The key file is readable by others.
expect_start_fail bad1 X15.3.2 enforce loose @p2
assert_contains "$START_ERR" "$PKI/loose.key" "key mode error"
assert_contains "$START_ERR" "chmod 600" "key mode error"

# The key does not belong to the certificate.
expect_start_fail bad2 X15.3.2 enforce mismatch @p2
assert_contains "$START_ERR" "$PKI/mismatch.key" "key mismatch error"
assert_contains "$START_ERR" "does not match" "key mismatch error"

# A version ekulab does not model.
expect_start_fail bad3 X16.0 enforce node1 @p2
assert_contains "$START_ERR" "--version" "version error"
assert_contains "$START_ERR" "X16.0" "version error"

# No trust bundle at the given path.
CA_FILE="$T/no-such-ca.crt" expect_start_fail bad4 X15.3.2 enforce node1 @p2
assert_contains "$START_ERR" "--ca $T/no-such-ca.crt" "trust bundle error"
assert_contains "$START_ERR" "No such file" "trust bundle error"

# The same peer twice (by another case, with another address).
expect_start_fail bad5 X15.3.2 enforce node1 @p2 --peer P2=127.0.0.1:1
assert_contains "$START_ERR" "--peer" "duplicate peer error"
assert_contains "$START_ERR" "listed twice" "duplicate peer error"

# A port that a running node already listens on.
start_node node1 X15.3.2 enforce node1 @p2
wait_admin node1
PORT[twin]=${PORT[node1]}
IT_BUSY_PORT=1 expect_start_fail twin X15.3.2 enforce node2 @p2
assert_contains "$START_ERR" "127.0.0.1:${PORT[node1]}" "port in use error"
assert_contains "$START_ERR" "in use" "port in use error"

# The admin socket of a running node.
ADMIN_PATH=$(sock_of node1) IT_BUSY_ADMIN=1 \
	expect_start_fail intruder X15.3.2 enforce node2 @p2
assert_contains "$START_ERR" "--admin $(sock_of node1)" "admin socket error"
assert_contains "$START_ERR" "another node" "admin socket error"

# node1 was not disturbed: it still serves its socket and its port.
admin_ready "$(sock_of node1)" || fail "node1 lost its admin socket"
port_listening "${PORT[node1]}" || fail "node1 stopped listening"
expect node1 node node1
stop_node node1

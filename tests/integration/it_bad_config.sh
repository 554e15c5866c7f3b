#!/usr/bin/env bash
# it_bad_config.sh: ekunode refuses a bad configuration at start-up, says
# what to fix on stderr, and leaves no admin socket or listener behind:
# bad keys and certificates, versions, trust bundles, peers, a --config
# that is a directory or gives a key twice, a peer at the node's own
# address, a certificate for another name, a port, admin socket or data
# directory that a running node holds.
. "${EKL_IT_LIB:-$(dirname "$0")/lib.sh}"

pki_setup
# Each node name has its own certificate: a certificate for another name
# is refused before anything else (see the end).
for n in node1 node2 loose bad2 bad4 bad5 twin intruder squatter selfie \
	dup dirconf; do
	issue "$n" combined
done
chmod 644 "$PKI/loose.key"
# A certificate with somebody else's key.
cp -p "$PKI/node2.key" "$PKI/bad2.key"

# The key file is readable by others.
expect_start_fail loose X15.3.2 enforce loose @p2
assert_contains "$START_ERR" "$PKI/loose.key" "key mode error"
assert_contains "$START_ERR" "chmod 600" "key mode error"

# The key does not belong to the certificate.
expect_start_fail bad2 X15.3.2 enforce bad2 @p2
assert_contains "$START_ERR" "$PKI/bad2.key" "key mismatch error"
assert_contains "$START_ERR" "does not match" "key mismatch error"

# A version ekulab does not model.
expect_start_fail bad3 X16.0 enforce node1 @p2
assert_contains "$START_ERR" "--version" "version error"
assert_contains "$START_ERR" "X16.0" "version error"

# No trust bundle at the given path.
CA_FILE="$T/no-such-ca.crt" expect_start_fail bad4 X15.3.2 enforce bad4 @p2
assert_contains "$START_ERR" "--ca $T/no-such-ca.crt" "trust bundle error"
assert_contains "$START_ERR" "No such file" "trust bundle error"

# The same peer twice (by another case, with another address).
expect_start_fail bad5 X15.3.2 enforce bad5 @p2 --peer P2=127.0.0.1:1
assert_contains "$START_ERR" "--peer" "duplicate peer error"
assert_contains "$START_ERR" "listed twice" "duplicate peer error"

# A port that a running node already listens on.
start_node node1 X15.3.2 enforce node1 @p2
wait_admin node1
PORT[twin]=${PORT[node1]}
IT_BUSY_PORT=1 expect_start_fail twin X15.3.2 enforce twin @p2
assert_contains "$START_ERR" "127.0.0.1:${PORT[node1]}" "port in use error"
assert_contains "$START_ERR" "in use" "port in use error"

# The admin socket of a running node.
ADMIN_PATH=$(sock_of node1) IT_BUSY_ADMIN=1 \
	expect_start_fail intruder X15.3.2 enforce intruder @p2
assert_contains "$START_ERR" "--admin $(sock_of node1)" "admin socket error"
assert_contains "$START_ERR" "another node" "admin socket error"

# The data directory of a running node: a second node there would open a
# new epoch under the first one's feet.
DATA_DIR="$T/node1.data" expect_start_fail squatter X15.3.2 enforce squatter @p2
assert_contains "$START_ERR" "--data $T/node1.data" "data directory error"
assert_contains "$START_ERR" \
	"data directory in use by pid ${NODE_PID[node1]}" "data directory error"

# A peer at the node's own address: it would dial itself forever.
alloc_port selfie
expect_start_fail selfie X15.3.2 enforce selfie @p2 \
	--peer "p3=127.0.0.1:${PORT[selfie]}"
assert_contains "$START_ERR" "--peer p3=127.0.0.1:${PORT[selfie]}" "self peer"
assert_contains "$START_ERR" "own --listen" "self peer"

# A certificate that names another node: every peer would refuse it.
expect_start_fail stranger X15.3.2 enforce node2 @p2
assert_contains "$START_ERR" "--cert $PKI/node2.crt names 'node2'" "wrong name"
assert_contains "$START_ERR" "--name stranger" "wrong name"

# A --config that is a directory, and one that gives a key twice.
expect_start_fail dirconf X15.3.2 enforce dirconf @p2 --config "$T"
assert_contains "$START_ERR" "--config $T is a directory" "--config directory"
printf 'heartbeat-ms = 100\nheartbeat-ms = 200\n' >"$T/dup.conf"
expect_start_fail dup X15.3.2 enforce dup @p2 --config "$T/dup.conf"
assert_contains "$START_ERR" "$T/dup.conf:2: 'heartbeat-ms' is given twice" \
	"key twice"

# node1 was not disturbed: it still serves its socket and its port.
admin_ready "$(sock_of node1)" || fail "node1 lost its admin socket"
port_listening "${PORT[node1]}" || fail "node1 stopped listening"
expect node1 node node1
stop_node node1

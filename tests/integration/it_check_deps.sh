#!/bin/bash
# scripts/check-deps.sh passes on the tree and fails, naming the file, when
# a file includes across a forbidden layer boundary.
. "$EKL_IT_LIB"
src=${EKL_SOURCE_DIR:?}

log "the tree follows the layer rules"
"$src/scripts/check-deps.sh" "$src" >"$T/ok.out" 2>&1 || {
	cat "$T/ok.out"
	fail "check-deps refused the committed tree"
}

# A copy of the sources, then one wrong arrow at a time.
copy() {
	rm -rf "$T/tree"
	mkdir -p "$T/tree"
	(cd "$src" && tar cf - include lib model node cli proto) | (cd "$T/tree" && tar xf -)
}
expect_refused() { # FILE INCLUDE
	copy
	sed -i "0,/^#include/s||#include \"$2\"\n#include|" "$T/tree/$1"
	if "$src/scripts/check-deps.sh" "$T/tree" >"$T/bad.out" 2>&1; then
		fail "check-deps accepted $1 including $2"
	fi
	grep -q "$1: #include \"$2\"" "$T/bad.out" ||
		fail "check-deps did not name $1 / $2: $(cat "$T/bad.out")"
}

log "core must not include x509 (core links no OpenSSL)"
expect_refused lib/core/err.c ekulab/x509/policy.h
log "the model must not include the wire protocol"
expect_refused model/topology.c ekulab/wire/frame.h
log "lib must not include the model"
expect_refused lib/x509/policy.c model/topology.h
log "the node must not include the model"
expect_refused node/config.c model/topology.h
log "the store must not include the node above it"
expect_refused node/store/store.c node.h
log "cli must not include node internals"
expect_refused cli/cmd_ctl.c net/conn.h
log "no climbing out with .."
expect_refused cli/cmd_ctl.c ../node/node.h

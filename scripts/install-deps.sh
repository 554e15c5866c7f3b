#!/bin/sh
# Install the Debian 12 packages ekulab needs to build and test
# (libclang-rt-14-dev: libFuzzer, for scripts/fuzz.sh).
# Idempotent; prints nothing when everything is already there.
set -eu

PKGS="build-essential cmake pkg-config libssl-dev openssl libprotobuf-c-dev
protobuf-c-compiler libev-dev libsqlite3-dev check libyaml-dev ca-certificates
procps iproute2 python3 clang-format clang libclang-rt-14-dev git groff-base man-db
chromium"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing:$missing" >&2
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null

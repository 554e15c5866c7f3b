#!/bin/sh
# Build the Debian package: a Release tree (build-pkg/, no tests), then
# `cpack -G DEB`: ekulab_VERSION_ARCH.deb with ekulab, ekunode, the man
# pages ekulab(1), ekunode(8), ekulab-topology(5), bash completion, the
# docs and the node image's recipe; its dependencies are the libraries the
# programs load (dpkg-shlibdeps).
#
# Usage: scripts/package.sh [--install-test]
#   --install-test  then, as root (CI): apt-get install ./ekulab_*.deb,
#                   check `ekulab --version`, `man -w ekulab` and a 2-node
#                   lab run from the installed files only, and purge it.
# Prints the package's path.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-pkg}
scripts/install-deps.sh
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
	-DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null
(cd "$BUILD" && cpack -G DEB >/dev/null)
deb=$(ls -t "$BUILD"/ekulab_*.deb | head -n 1)
echo "$deb"
[ "${1:-}" = --install-test ] || exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
if dpkg-query -W -f='${Status}' ekulab 2>/dev/null | grep -q 'ok installed'; then
	echo "package.sh: ekulab is installed already; refusing to replace it" >&2
	exit 1
fi
t=$(mktemp -d "${TMPDIR:-/tmp}/ekulab-pkg.XXXXXX")
purge() {
	cd /
	/usr/bin/ekulab lab down "$t/pair.yaml" --state "$t/lab" >/dev/null 2>&1 || true
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get purge -y -qq ekulab >/dev/null 2>&1 || true
	rm -rf "$t"
}
trap purge EXIT
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$(realpath "$deb")" >/dev/null
cd "$t"
env -u EKUNODE -u EKULAB /usr/bin/ekulab --version
man -w ekulab >/dev/null && man -w ekunode >/dev/null && man -w 5 ekulab-topology >/dev/null
cat >pair.yaml <<'YAML'
name: pkg-pair
cluster: {verify: enforce, primary: node1}
defaults: {version: X15.3.2, role: c, cert: {profile: combined, ca: unrestricted}}
nodes:
  node1: {}
  node2: {}
YAML
env -u EKUNODE -u EKULAB /usr/bin/ekulab lab up pair.yaml --state "$t/lab"
env -u EKUNODE -u EKULAB /usr/bin/ekulab lab exec pair.yaml node1 --ack all \
	'xConfiguration Package Test: 1' --state "$t/lab"
env -u EKUNODE -u EKULAB /usr/bin/ekulab lab down pair.yaml --state "$t/lab"
echo "package.sh: installed, ran a 2-node lab from /usr/bin, purged"

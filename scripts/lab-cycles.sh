#!/usr/bin/env bash
# Consecutive `ekulab lab up` / `lab down` cycles of one lab: each up must
# come up and settle as the model predicts, each down must leave no
# process and no state directory. Counts the failures (with the first
# lines of each error) and exits 1 when there was one.
#
# Usage: scripts/lab-cycles.sh [--cycles N] [--nodes N] [--runtime R]
#   --cycles N   how many cycles (default 100)
#   --nodes N    nodes in the lab, 2-64 (default 6)
#   --runtime R  process (default) or docker
# EKULAB=path/to/ekulab uses that program; otherwise the script builds
# into $BUILD (default build) as scripts/demo.sh does. Temporary files go
# under $TMPDIR (or /tmp).
set -u

cycles=100
nodes=6
runtime=process
while [ $# -gt 0 ]; do
	case "$1" in
	--cycles) cycles=$2; shift 2 ;;
	--nodes) nodes=$2; shift 2 ;;
	--runtime) runtime=$2; shift 2 ;;
	-h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "lab-cycles: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
case "$cycles$nodes" in
*[!0-9]*) echo "lab-cycles: --cycles and --nodes are numbers" >&2; exit 2 ;;
esac
if [ "$nodes" -lt 2 ] || [ "$nodes" -gt 64 ]; then
	echo "lab-cycles: --nodes is 2-64" >&2
	exit 2
fi

cd "$(dirname "$0")/.."
if [ -z "${EKULAB:-}" ]; then
	BUILD=${BUILD:-build}
	cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
		cmake --build "$BUILD" -j"$(nproc)" >/dev/null || {
		echo "lab-cycles: the build failed" >&2
		exit 2
	}
	EKULAB="$PWD/$BUILD/cli/ekulab"
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/lab-cycles.XXXXXX")
topo="$work/cycles.yaml"
state="$work/lab"
{
	echo "# $nodes nodes, mixed versions and certificates"
	echo "name: cycles-$$"
	echo "cluster: {verify: enforce, primary: node1, dial: both, link: both}"
	echo "defaults: {version: X15.3.2, cert: {profile: combined}}"
	echo "nodes:"
	for ((i = 1; i <= nodes; i++)); do
		case $((i % 3)) in
		0) echo "  node$i: {version: X15.4, cert: {profile: server-only}}" ;;
		1) echo "  node$i: {}" ;;
		2) echo "  node$i: {version: X15.5}" ;;
		esac
	done
} >"$topo"
trap '"$EKULAB" lab down "$topo" --state "$state" >/dev/null 2>&1; rm -rf "$work"; echo "lab-cycles: interrupted" >&2; exit 130' INT TERM

fail=0 t0=$SECONDS
for ((c = 1; c <= cycles; c++)); do
	problem=
	if ! "$EKULAB" lab up "$topo" --state "$state" --runtime "$runtime" \
		>"$work/up.out" 2>&1; then
		problem="up: $(head -c 400 "$work/up.out")"
	elif ! grep -q "links settled as the model predicts" "$work/up.out"; then
		problem="up did not settle: $(head -c 400 "$work/up.out")"
	fi
	if ! "$EKULAB" lab down "$topo" --state "$state" >"$work/down.out" 2>&1; then
		problem="${problem:+$problem; }down: $(head -c 300 "$work/down.out")"
	fi
	if [ -e "$state" ]; then
		problem="${problem:+$problem; }down left $state"
		rm -rf "$state"
	fi
	if pgrep -f "$state/" >/dev/null; then
		problem="${problem:+$problem; }down left processes: $(pgrep -f "$state/" | tr '\n' ' ')"
		pkill -KILL -f "$state/" 2>/dev/null
	fi
	if [ -n "$problem" ]; then
		fail=$((fail + 1))
		echo "cycle $c: FAILED: $problem"
	fi
done
rm -rf "$work"
echo "lab cycles: $cycles cycles of a $nodes-node lab ($runtime runtime): $fail failed; $((SECONDS - t0)) s"
[ "$fail" -eq 0 ]

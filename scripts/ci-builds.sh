#!/bin/sh
# Build every configuration CI guards, with -Werror, so a warning that only
# one compiler or optimisation level reports cannot land: gcc and clang, each
# in Debug, Release, RelWithDebInfo and MinSizeRel, plus gcc at -Og (its
# flow analysis differs). Builds only; scripts/test.sh runs the tests.
# Usage: scripts/ci-builds.sh [BUILD_ROOT]   (default build-ci)
set -eu
cd "$(dirname "$0")/.."
out=${1:-build-ci}
for cc in gcc clang; do
	for type in Debug Release RelWithDebInfo MinSizeRel; do
		dir="$out/$cc-$type"
		echo "ci-builds: $cc $type" >&2
		CC=$cc cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=$type \
			-DEKULAB_WERROR=ON >/dev/null
		cmake --build "$dir" -j"$(nproc)" >"$dir.log" 2>&1 || {
			grep -E 'error|warning' "$dir.log" | head -n 40 >&2
			echo "ci-builds: $cc $type failed (full log: $dir.log)" >&2
			exit 1
		}
	done
done
dir="$out/gcc-Og"
echo "ci-builds: gcc -Og" >&2
CC=gcc cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS=-Og \
	-DEKULAB_WERROR=ON >/dev/null
cmake --build "$dir" -j"$(nproc)" >"$dir.log" 2>&1 || {
	grep -E 'error|warning' "$dir.log" | head -n 40 >&2
	echo "ci-builds: gcc -Og failed (full log: $dir.log)" >&2
	exit 1
}
echo "ci-builds: every configuration builds warning-free" >&2

#!/bin/sh
# Build with ASan+UBSan and -Werror, then run every test (unit + integration).
# Usage: scripts/test.sh [ctest args...]
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
BUILD=${BUILD:-build-test}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DEKULAB_SANITIZE=ON \
	-DEKULAB_WERROR=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD"
ctest --output-on-failure -j2 "$@"

#!/bin/sh
# Build with ASan+UBSan and -Werror, then run every test (unit + integration).
# Also checks the formatting and the layer rules, and makes sure a Docker
# engine runs for the container tests (scripts/docker-engine.sh; without one
# those tests report SKIPPED, never passed). Then the fuzz step:
# scripts/fuzz.sh builds the libFuzzer targets with clang (build-fuzz/),
# runs every committed fuzz input once and fuzzes each target for
# EKL_FUZZ_SECONDS (default 10; 0 skips the step), two targets at a time.
# It runs only when no ctest arguments narrow the run.
# Usage: scripts/test.sh [ctest args...]
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/format.sh --check
scripts/check-deps.sh >/dev/null
scripts/docker-engine.sh --quiet || echo "test.sh: no Docker engine; the container tests will be skipped" >&2
BUILD=${BUILD:-build-test}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DEKULAB_SANITIZE=ON \
	-DEKULAB_WERROR=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd "$BUILD" && ctest --output-on-failure -j2 "$@")
if [ $# -eq 0 ] && [ "${EKL_FUZZ_SECONDS:-10}" -gt 0 ]; then
	FUZZ_JOBS=${FUZZ_JOBS:-2} scripts/fuzz.sh "${EKL_FUZZ_SECONDS:-10}"
fi

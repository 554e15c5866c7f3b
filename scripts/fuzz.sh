#!/bin/sh
# Build the libFuzzer targets (tests/fuzz) with clang into their own build
# directory, run every committed input once (the seeds and the regression
# inputs of every crash found so far), then fuzz each target for SECONDS.
# Prints, per target: executions, executions per second, coverage (cov:
# code edges, ft: features), corpus size, and the result. Exits 1 when a
# target crashed (the input is kept, with the command that replays it).
#
# Usage: scripts/fuzz.sh [SECONDS]      (default 60 per target)
# Environment:
#   FUZZ_BUILD    build directory (default build-fuzz)
#   FUZZ_TARGETS  targets to run (default: every fuzz_* target)
#   FUZZ_OUT      where the growing corpora, crashes and logs go
#                 (default $FUZZ_BUILD/fuzz-out)
#   FUZZ_JOBS     targets run at the same time (default 1; scripts/test.sh
#                 uses 2, one per core of a CI machine)
#   FUZZ_ARGS     extra libFuzzer flags (e.g. -runs=10000000)
#   TMPDIR        the targets' scratch files (fuzz_repl's SQLite store);
#                 a tmpfs (TMPDIR=/dev/shm) makes fuzz_repl faster
# A long run, niced so it shares the machine:
#   nice scripts/fuzz.sh 3600
set -eu
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
case $SECONDS_EACH in
'' | *[!0-9]*)
	echo "usage: scripts/fuzz.sh [SECONDS]" >&2
	exit 2
	;;
esac
BUILD=${FUZZ_BUILD:-build-fuzz}
OUT=${FUZZ_OUT:-$BUILD/fuzz-out}
ALL="fuzz_frame fuzz_repl fuzz_adminproto fuzz_linesrv fuzz_jsonr
fuzz_topology fuzz_plan fuzz_audit fuzz_config"
TARGETS=${FUZZ_TARGETS:-$ALL}
JOBS=${FUZZ_JOBS:-1}

command -v clang >/dev/null || {
	echo "fuzz.sh: clang not found; run scripts/install-deps.sh" >&2
	exit 2
}
CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DEKULAB_FUZZ=ON -DEKULAB_WERROR=ON >/dev/null
# shellcheck disable=SC2086
cmake --build "$BUILD" -j"$(nproc)" --target $TARGETS >"$BUILD/fuzz-build.log" 2>&1 || {
	grep -E 'error|warning' "$BUILD/fuzz-build.log" | head -n 40 >&2
	echo "fuzz.sh: build failed (log: $BUILD/fuzz-build.log)" >&2
	exit 1
}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BIN=$(cd "$BUILD" && pwd)/tests/fuzz
SRC=$(pwd)/tests/fuzz/corpus
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# One target: committed inputs once, then fuzz; writes its table row to
# $OUT/$t.row and fails when it crashed.
run_target() {
	t=$1
	bin=$BIN/$t
	log=$OUT/$t.log
	mkdir -p "$OUT/$t"
	rm -f "$OUT/$t"-crash-* "$OUT/$t"-leak-* "$OUT/$t"-timeout-* \
		"$OUT/$t"-oom-* "$OUT/$t"-slow-unit-*
	# 1. Every committed input once: seeds and regression inputs.
	if ! "$bin" -runs=0 -timeout=30 "-artifact_prefix=$OUT/$t-" \
		"$SRC/$t" >"$log.regress" 2>&1; then
		printf '%-16s %12s %6s %9s %6s %7s %8s  %s\n' "$t" - - - - - - \
			"FAIL on a committed input ($log.regress)" >"$OUT/$t.row"
		return 1
	fi
	# 2. Fuzz: new inputs go to $OUT/$t, the committed corpus is read
	#    only. -timeout: an input running 10 s is a hang.
	rc=0
	start=$(date +%s)
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -print_final_stats=1 \
		"-artifact_prefix=$OUT/$t-" ${FUZZ_ARGS:-} "$OUT/$t" "$SRC/$t" \
		>"$log" 2>&1 || rc=$?
	secs=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	last=$(grep -aE '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1)
	cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(printf '%s\n' "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
	if [ "$rc" -eq 0 ]; then
		result="0 crashes"
	else
		art=$(ls "$OUT/$t"-* 2>/dev/null | grep -v '\.log' | head -n 1)
		result="CRASH: ${art:-see $log}; replay: $bin ${art:-INPUT}"
	fi
	printf '%-16s %12s %6s %9s %6s %7s %8s  %s\n' "$t" "${execs:-?}" \
		"$secs" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
		"$result" >"$OUT/$t.row"
	[ "$rc" -eq 0 ]
}

# FUZZ_JOBS targets at a time (each one process: -jobs is libFuzzer's).
failed=""
printf '%-16s %12s %6s %9s %6s %7s %8s  %s\n' target executions secs exec/s cov ft corpus result
set -- $TARGETS
while [ $# -gt 0 ]; do
	batch=""
	while [ $# -gt 0 ] && [ "$(echo $batch | wc -w)" -lt "$JOBS" ]; do
		(run_target "$1" && echo 0 >"$OUT/$1.rc" || echo 1 >"$OUT/$1.rc") &
		batch="$batch $1"
		shift
	done
	wait
	for t in $batch; do
		cat "$OUT/$t.row"
		[ "$(cat "$OUT/$t.rc")" = 0 ] || failed="$failed $t"
	done
done
if [ -n "$failed" ]; then
	echo "fuzz.sh: FAILED:$failed (logs in $OUT)" >&2
	echo "fuzz.sh: a crash is a bug: fix it and add its input to tests/fuzz/corpus/TARGET/regress-NAME" >&2
	exit 1
fi
echo "fuzz.sh: 0 crashes in every target (at most ${SECONDS_EACH}s each; logs in $OUT)" >&2

#!/bin/sh
# bench-steady.sh: `ekulab bench` on a steady stand-in machine, for comparing
# two builds of ekulab on a machine that others load (docs/benchmarks.md).
#
#   scripts/bench-steady.sh [--ekulab PATH] [--sync-us N]
#                           [--sched fifo|other] [BENCH ARGS...]
#
# Three things a shared machine varies are held still, for the bench's
# nodes and its local SQLite reference alike, so the ratios compare the
# software path and nothing else:
#   - the disk: the bench's directory is on tmpfs (/dev/shm), and every
#     fsync/fdatasync costs a fixed N microseconds more (default 100, about
#     one fdatasync of this machine's disk when it is quiet), by a small
#     LD_PRELOAD library built here with cc;
#   - the CPU: the bench and its nodes run SCHED_FIFO (chrt -f 50), so
#     other engineers' processes never preempt them (needs root or
#     CAP_SYS_NICE; without, the run goes on at normal priority and says
#     so). --sched other keeps the normal scheduler instead, as a plain
#     `ekulab bench` runs: the two place woken processes differently
#     (docs/benchmarks.md, round 7), which moves the ratios;
#   - nothing else of the code changes: same binary, same options.
# The figures are not this disk's: quote them as "tmpfs, N us per sync".
set -eu
here=$(cd "$(dirname "$0")" && pwd)
ekulab=$here/../build-rel/cli/ekulab
sync_us=100
sched=fifo
while [ $# -gt 0 ]; do
	case $1 in
	--ekulab) ekulab=$2; shift 2 ;;
	--sync-us) sync_us=$2; shift 2 ;;
	--sched) sched=$2; shift 2 ;;
	*) break ;;
	esac
done
case $sync_us in
'' | *[!0-9]*)
	echo "bench-steady.sh: --sync-us '$sync_us': a number of microseconds" >&2
	exit 2 ;;
esac
case $sched in
fifo | other) ;;
*)
	echo "bench-steady.sh: --sched '$sched': fifo (SCHED_FIFO, the" \
	     "default) or other (the normal scheduler)" >&2
	exit 2 ;;
esac
if [ ! -x "$ekulab" ]; then
	echo "bench-steady.sh: no ekulab at $ekulab; build a release first" \
	     "(cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release &&" \
	     "cmake --build build-rel -j2) or give --ekulab PATH" >&2
	exit 2
fi
work=$(mktemp -d /dev/shm/ekulab-steady.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
cat >"$work/slowsync.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>
static long us = 100;
__attribute__((constructor)) static void init(void)
{
	const char *e = getenv("EKULAB_STEADY_SYNC_US");
	if (e != NULL)
		us = atol(e);
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* sleep N us, not N + 50 */
}
static int wait_after(int r)
{
	struct timespec t = {us / 1000000, (us % 1000000) * 1000};
	nanosleep(&t, NULL);
	return r;
}
int fdatasync(int fd)
{
	static int (*real)(int);
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "fdatasync");
	return wait_after(real(fd));
}
int fsync(int fd)
{
	static int (*real)(int);
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "fsync");
	return wait_after(real(fd));
}
EOF
cc -O2 -shared -fPIC -o "$work/slowsync.so" "$work/slowsync.c" -ldl
mkdir "$work/tmp"
rt="chrt -f 50"
if [ "$sched" = other ]; then
	rt=
elif ! chrt -f 50 true 2>/dev/null; then
	echo "bench-steady.sh: cannot use SCHED_FIFO here (not root?):" \
	     "running at normal priority, other load will show" >&2
	rt=
fi
echo "bench-steady.sh: tmpfs, fsync/fdatasync + ${sync_us} us, ${rt:-normal priority}" >&2
TMPDIR=$work/tmp LD_PRELOAD=$work/slowsync.so EKULAB_STEADY_SYNC_US=$sync_us \
	$rt "$ekulab" bench "$@"

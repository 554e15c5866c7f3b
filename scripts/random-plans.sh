#!/usr/bin/env bash
# Random plans, live: for each seed, `ekulab plan generate --seed S` and
# `ekulab plan run` of that plan; every step is compared with the model.
# Reports each seed's deviations and any run that hangs (killed after
# --timeout seconds), keeps the plan, the report and the node logs of
# every seed that failed, and exits 1 when one did.
#
# Usage: scripts/random-plans.sh [--seeds N] [--from S] [--nodes N]
#                                [--steps K] [--timeout SECONDS] [--out DIR]
#   --seeds N    how many seeds (default 20), from --from (default 1)
#   --nodes N    nodes per plan (default: 3 or 4, from the seed)
#   --steps K    actions per plan (default: 8-16, from the seed)
#   --timeout S  a run that takes longer is a hang (default 900)
#   --out DIR    where failing seeds' plans and reports go (default
#                random-plans-out/ under $TMPDIR or /tmp)
# EKULAB=path/to/ekulab uses that program; otherwise the script builds
# into $BUILD (default build) as scripts/demo.sh does.
# A seed that fails is reproduced with
#   ekulab plan generate --seed S [--nodes N] [--steps K] > p.yaml
#   ekulab plan run p.yaml
set -u

seeds=20
from=1
nodes=
steps=
timeout_s=900
out=
while [ $# -gt 0 ]; do
	case "$1" in
	--seeds) seeds=$2; shift 2 ;;
	--from) from=$2; shift 2 ;;
	--nodes) nodes=$2; shift 2 ;;
	--steps) steps=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "random-plans: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
for v in "$seeds" "$from" "$timeout_s" ${nodes:+"$nodes"} ${steps:+"$steps"}; do
	case "$v" in
	'' | *[!0-9]*) echo "random-plans: '$v' is not a number" >&2; exit 2 ;;
	esac
done

cd "$(dirname "$0")/.."
if [ -z "${EKULAB:-}" ]; then
	BUILD=${BUILD:-build}
	cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
		cmake --build "$BUILD" -j"$(nproc)" >/dev/null || {
		echo "random-plans: the build failed" >&2
		exit 2
	}
	EKULAB="$PWD/$BUILD/cli/ekulab"
fi
tmp=${TMPDIR:-/tmp}
out=${out:-$tmp/random-plans-out}
mkdir -p "$out"
work=$(mktemp -d "$tmp/random-plans.XXXXXX")
child=
# Ctrl-C: the running `plan run` stops its lab (it handles SIGINT) and we
# say where things are.
trap 'echo "random-plans: interrupted" >&2; [ -n "$child" ] && kill -INT "$child" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; exit 130' INT TERM

# keep_logs SEED: the failing run's node and proxy logs into $out.
keep_logs() {
	local f
	mkdir -p "$out/seed-$1-logs"
	for f in "$work/lab-$1"/*/node.log "$work/lab-$1"/proxy.log; do
		[ -e "$f" ] || continue
		cp "$f" "$out/seed-$1-logs/$(basename "$(dirname "$f")")-$(basename "$f")"
	done
	# plan run stopped the lab (--keep keeps only its files).
	pkill -KILL -f "$work/lab-$1/" 2>/dev/null
	rm -rf "$work/lab-$1"
}

opts=()
[ -n "$nodes" ] && opts+=(--nodes "$nodes")
[ -n "$steps" ] && opts+=(--steps "$steps")
ok=0 bad=0 hung=0 devs=0 t0=$SECONDS
last=$((from + seeds - 1))
for ((s = from; s <= last; s++)); do
	plan="$work/seed-$s.yaml"
	if ! "$EKULAB" plan generate --seed "$s" "${opts[@]}" >"$plan" 2>"$work/gen.err"; then
		echo "seed $s: generate failed: $(cat "$work/gen.err")"
		bad=$((bad + 1))
		cp "$work/gen.err" "$out/seed-$s.generate.err"
		continue
	fi
	start=$SECONDS
	timeout -k 30 "$timeout_s" "$EKULAB" plan run "$plan" \
		--state "$work/lab-$s" --keep \
		--json "$work/seed-$s.json" >"$work/seed-$s.out" 2>&1 &
	child=$!
	rc=0
	wait "$child" || rc=$?
	child=
	took=$((SECONDS - start))
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "seed $s: HANG (killed after ${timeout_s} s)"
		hung=$((hung + 1))
		cp "$plan" "$work/seed-$s.out" "$out/" 2>/dev/null
		keep_logs "$s"
		continue
	fi
	n=$(python3 -c '
import json, sys
try:
    r = json.load(open(sys.argv[1]))
    print(r["deviations"], r["expectations_failed"], r["writes"]["lost"] + r["writes"]["unexpected"])
except Exception:
    print("? ? ?")' "$work/seed-$s.json" 2>/dev/null)
	read -r d e w <<<"$n"
	if [ "$rc" -eq 0 ] && [ "$d" = 0 ] && [ "$e" = 0 ] && [ "$w" = 0 ]; then
		echo "seed $s: ok (${took} s)"
		ok=$((ok + 1))
	else
		echo "seed $s: FAILED (exit $rc, deviations $d, expectations failed $e, lost or unexpected writes $w, ${took} s); see $out/seed-$s.out"
		bad=$((bad + 1))
		[ "$d" != "?" ] && devs=$((devs + d))
		cp "$plan" "$work/seed-$s.out" "$work/seed-$s.json" "$out/" 2>/dev/null
		keep_logs "$s"
	fi
	rm -rf "$work/lab-$s"
done
rm -rf "$work"
echo "random plans: seeds $from-$last: $ok ok, $bad with deviations or errors ($devs deviations), $hung hung; $((SECONDS - t0)) s"
[ "$bad" -eq 0 ] && [ "$hung" -eq 0 ]

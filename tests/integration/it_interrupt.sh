#!/usr/bin/env bash
# it_interrupt.sh: Ctrl-C (SIGINT) or SIGTERM on the commands that start a
# lab stops everything the command started and says so: `plan run` (its
# hidden state directory included), `lab up`, `bench` and `plan explore
# --verify-live`. Each exits 128 + the signal and leaves no process and no
# directory of its own under $TMPDIR.
source "${EKL_IT_LIB:?}"

EX="$(cd "$(dirname "$0")/../../examples/plans" && pwd)"
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
trap 'rc=$?; pkill -KILL -f "$TMPDIR/" 2>/dev/null || true; (exit $rc); it_cleanup' EXIT

# left: what is left under $TMPDIR (processes and directories).
left() {
	pgrep -fa "$TMPDIR/" || true
	find "$TMPDIR" -mindepth 1 -maxdepth 2 \( -name 'ekulab-*' -o -name '*plan-*' \) \
		-not -path "$TMPDIR/ekulab-$(id -u)" || true
	[ -d "$TMPDIR/ekulab-$(id -u)" ] && ls "$TMPDIR/ekulab-$(id -u)"
	true
}

# interrupt SIGNAL PATTERN CMD...: run CMD in the background, send SIGNAL
# once its output matches PATTERN (at most 60 s), or after @SECONDS, and
# wait for it. Sets RC and OUT (its output file).
interrupt() {
	local sig=$1 pat=$2 pid i
	shift 2
	OUT="$T/interrupt.$RANDOM.out"
	"$@" >"$OUT" 2>&1 &
	pid=$!
	if [ "${pat#@}" != "$pat" ]; then
		sleep "${pat#@}"
	else
		for ((i = 0; i < 600; i++)); do
			grep -qE "$pat" "$OUT" && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		grep -qE "$pat" "$OUT" || { cat "$OUT" >&2; fail "'$pat' never appeared"; }
	fi
	kill "-$sig" "$pid" 2>/dev/null || true
	RC=0
	wait "$pid" || RC=$?
}

log "plan run, SIGINT during a step"
interrupt INT '^  3 ' "$EKULAB" plan run "$EX/g-faults.yaml"
[ "$RC" -eq 130 ] || { cat "$OUT" >&2; fail "plan run exited $RC, expected 130"; }
grep -q "interrupted by SIGINT during step" "$OUT" || fail "plan run did not say it was interrupted: $(tail -3 "$OUT")"
grep -q "stopped the writer, the 3 nodes and the proxy it started and removed" "$OUT" ||
	fail "plan run did not say what it stopped: $(tail -3 "$OUT")"
[ -z "$(left)" ] || fail "plan run left: $(left)"

log "lab up, SIGTERM while it waits for the links"
TOPO="$T/six.yaml"
cat >"$TOPO" <<'YAML'
name: it-interrupt
cluster: {verify: enforce, primary: node1, dial: both}
defaults: {version: X15.3.2, cert: {profile: combined}}
nodes: {node1: {}, node2: {}, node3: {}, node4: {}, node5: {}, node6: {}}
YAML
interrupt TERM @0.3 "$EKULAB" lab up "$TOPO"
[ "$RC" -eq 143 ] || [ "$RC" -eq 0 ] || { cat "$OUT" >&2; fail "lab up exited $RC"; }
if [ "$RC" -eq 143 ]; then
	grep -q "stopped every node and the proxy it started and removed" "$OUT" ||
		fail "lab up did not say what it stopped: $(cat "$OUT")"
	[ -z "$(left)" ] || fail "lab up left: $(left)"
else
	# It was up before the signal: down must leave nothing either.
	"$EKULAB" lab down "$TOPO" >/dev/null
fi

log "bench, SIGINT during the writers"
interrupt INT 'writers' "$EKULAB" bench --seconds 30 --catchup 1000
[ "$RC" -eq 130 ] || { cat "$OUT" >&2; fail "bench exited $RC, expected 130"; }
grep -q "interrupted by SIGINT: stopped the bench's 3 nodes and removed" "$OUT" ||
	fail "bench did not say what it stopped: $(tail -3 "$OUT")"
[ -z "$(pgrep -fa "$TMPDIR/" || true)" ] || fail "bench left processes: $(pgrep -fa "$TMPDIR/")"
[ -z "$(find "$TMPDIR" -maxdepth 1 -name 'ekulab-bench.*')" ] || fail "bench left its directory"

log "plan explore --verify-live, SIGINT during an ordering"
interrupt INT '^  2 ' "$EKULAB" plan explore "$EX/cluster-x15.3.yaml" --goal-version X15.4 \
	--goal-cert combined --verify-live 3
[ "$RC" -eq 130 ] || { cat "$OUT" >&2; fail "explore exited $RC, expected 130"; }
grep -q "interrupted by SIGINT during ordering" "$OUT" || fail "explore did not say so: $(tail -3 "$OUT")"
[ -z "$(pgrep -fa "$TMPDIR/" || true)" ] || fail "explore left processes: $(pgrep -fa "$TMPDIR/")"
[ -z "$(find "$TMPDIR" -maxdepth 1 -name 'ekulab-explore.*')" ] || fail "explore left its plans"
[ -z "$(left)" ] || fail "explore left: $(left)"

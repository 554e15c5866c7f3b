#!/usr/bin/env bash
# it_soak.sh: `ekulab soak` (docs/testing.md). A short soak of 30 faults
# of every kind (seed 6 draws all 16) passes: one JSON object on stdout
# with every key, nothing lost, nothing unexpected, converged, no process
# left, and the faults it put on the lab are the ones --dry-run draws for
# that seed (a seed replays its faults).
# A primary move keeps the writers paused until the old primary has
# stepped down: with the link-fault proxy starved (stopped 3/4 of the
# time, so a new epoch reaches the old primary late), ten moves lose no
# acknowledged write.
# The checker can fail: a row written behind ekulab's back into the
# primary's SQLite file while a soak runs is reported as unexpected, an
# acknowledged row deleted from it as lost, and the soak exits 1, keeping
# its state directory without --keep (lost.txt names the lost write).
# Ctrl-C stops everything the soak started. Bad arguments are refused
# with a message.
# A failed soak's evidence (its state directory: node logs, SQLite files,
# writer logs, lost.txt) is printed and copied to
# $EKL_BUILD_DIR/it-evidence/ for the post-mortem.
source "${EKL_IT_LIB:?}"

EX="$(cd "$(dirname "$0")/../../examples/plans" && pwd)"
TOPO="$EX/cluster-x15.3.yaml"
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
SOAK_PID=
cleanup_soak() {
	if [ -n "$SOAK_PID" ] && kill -0 "$SOAK_PID" 2>/dev/null; then
		kill -TERM "$SOAK_PID" 2>/dev/null || true
		wait "$SOAK_PID" 2>/dev/null || true
	fi
}
trap 'rc=$?; cleanup_soak; (exit $rc); it_cleanup' EXIT

# left DIR: processes still running from a state directory.
left() { pgrep -fa "$1" || true; }

# soak_fail NAME MESSAGE: a soak failed: print what it kept (the JSON, the
# last progress lines, lost.txt, each node's epoch changes), copy its state
# directory out of $T (removed at the end) and fail.
soak_fail() {
	local name=$1 msg=$2 dir keep
	dir=$(jget state <"$T/$name.json" 2>/dev/null || true)
	log "soak $name: $(cat "$T/$name.json" 2>/dev/null)"
	tail -n 15 "$T/$name.err" >&2 || true
	if [ -n "$dir" ] && [ "$dir" != null ] && [ -d "$dir" ]; then
		[ -f "$dir/lost.txt" ] && head -n 40 "$dir/lost.txt" >&2
		grep -h 'epoch\|promoted\|snapshot installed' "$dir"/node*/node.log |
			sort | tail -n 40 >&2 || true
		if [ -n "${EKL_BUILD_DIR:-}" ]; then
			keep="$EKL_BUILD_DIR/it-evidence/it_soak-$name-$(date +%Y%m%dT%H%M%S)"
			mkdir -p "$keep" && cp -a "$dir" "$T/$name.json" "$T/$name.err" "$keep/" &&
				log "the soak's evidence is in $keep"
		fi
	fi
	fail "$msg"
}

# ---- refusals ----
log "bad arguments"
rc=0
out=$("$EKULAB" soak "$TOPO" --faults 0 --seed 1 2>&1) || rc=$?
assert_eq "$rc" 2 "--faults 0"
assert_contains "$out" "--faults '0'" "refusal of --faults 0"
rc=0
out=$("$EKULAB" soak "$TOPO" --faults 3 2>&1) || rc=$?
assert_eq "$rc" 2 "no --seed"
assert_contains "$out" "--seed" "refusal without --seed"
rc=0
out=$("$EKULAB" soak "$TOPO" --faults 3 --seed 1 --kinds kill,flood 2>&1) || rc=$?
assert_eq "$rc" 2 "--kinds with an unknown kind"
assert_contains "$out" "'flood' is not a fault kind" "refusal of --kinds flood"
assert_contains "$out" "limit_data" "the known kinds are listed"

# ---- a short soak passes ----
log "30 faults, seed 6 (it draws every kind)"
S1="$T/s1"
rc=0
"$EKULAB" soak "$TOPO" --faults 30 --seed 6 --json --state "$S1" \
	>"$T/s1.json" 2>"$T/s1.err" || rc=$?
[ "$rc" -eq 0 ] || soak_fail s1 "soak exited $rc"
python3 - "$T/s1.json" <<'PY' || soak_fail s1 "the soak's JSON: $(cat "$T/s1.json")"
import json, sys
text = open(sys.argv[1]).read()
doc = json.loads(text)                 # exactly one object, nothing else
assert isinstance(doc, dict), "not an object"
for k in ("faults", "by_kind", "acked", "lost", "unexpected", "converged",
          "seconds", "acked_all", "acked_primary", "left_behind"):
    assert k in doc, "no key " + k
assert doc["faults"] == 30, doc["faults"]
assert sum(doc["by_kind"].values()) == 30, doc["by_kind"]
# Seed 6 draws every kind in 30 faults on this topology: the toxics, the
# node faults, partitions, renewal, upgrade and a primary move all ran.
assert len(doc["by_kind"]) == 16 and min(doc["by_kind"].values()) > 0, doc["by_kind"]
assert doc["lost"] == 0 and doc["unexpected"] == 0, doc
assert doc["converged"] is True and doc["left_behind"] == 0, doc
assert doc["acked_all"] > 0 and doc["acked_primary"] > 0, doc
assert doc["passed"] is True, doc
assert doc["state"] is None, doc       # removed: it passed, no --keep
PY
grep -q '^PASS' "$T/s1.err" || fail "no summary on stderr: $(tail -3 "$T/s1.err")"
[ -z "$(left "$S1")" ] || fail "the soak left: $(left "$S1")"
[ ! -e "$S1" ] || fail "the soak kept its state directory without --keep"

log "the same seed draws the same faults"
"$EKULAB" soak "$TOPO" --faults 30 --seed 6 --dry-run >"$T/dry5" ||
	fail "--dry-run"
sed -n 's/^soak *[0-9.]*s: \[\([0-9]*\)\/30\] /\1 /p' "$T/s1.err" >"$T/live5"
assert_eq "$(wc -l <"$T/dry5")" 30 "faults --dry-run prints"
cmp -s "$T/dry5" "$T/live5" ||
	fail "the live run's faults differ from --dry-run's: $(diff "$T/dry5" "$T/live5" | head -5)"
"$EKULAB" soak "$TOPO" --faults 30 --seed 7 --dry-run >"$T/dry6"
! cmp -s "$T/dry5" "$T/dry6" || fail "seeds 6 and 7 draw the same faults"

# ---- a primary move waits until the old primary has stepped down ----
# Every connection between nodes goes through the lab's proxy: stopped
# 150 ms out of every 200, it delivers the new primary's epoch to the old
# one late. The writers' connection to the old primary does not go through
# it: resumed before the old primary stepped down, they would write on there
# and its --ack primary answers would be discarded when it rejoins (by
# design: docs/replication.md), which the checker rightly counts as lost.
log "10 primary moves with the proxy starved"
S4="$T/s4"
"$EKULAB" soak "$TOPO" --faults 10 --seed 1 --kinds primary --json \
	--state "$S4" >"$T/s4.json" 2>"$T/s4.err" &
SOAK_PID=$!
wait_until 60 grep -q '^proxy_pid [1-9]' "$S4/lab.conf" ||
	fail "the soak's lab did not start: $(tail -5 "$T/s4.err")"
PROXY=$(awk '$1 == "proxy_pid" {print $2}' "$S4/lab.conf")
# Starve it until the soak heals everything for its checker (the
# checker's wait for the links is no part of this test).
while kill -0 "$SOAK_PID" 2>/dev/null &&
	! grep -q 'healing every fault' "$T/s4.err"; do
	kill -STOP "$PROXY" 2>/dev/null || break
	sleep 0.15
	kill -CONT "$PROXY" 2>/dev/null || break
	sleep 0.05
done
kill -CONT "$PROXY" 2>/dev/null || true
rc=0
wait "$SOAK_PID" || rc=$?
SOAK_PID=
[ "$rc" -eq 0 ] || soak_fail s4 "10 primary moves with a slow proxy: soak exited $rc"
assert_eq "$(jget by_kind.primary <"$T/s4.json")" 10 "primary moves"
assert_eq "$(jget lost <"$T/s4.json")" 0 "acknowledged writes lost"
[ "$(jget acked_primary <"$T/s4.json")" -gt 0 ] ||
	fail "no ack=primary write acknowledged: $(cat "$T/s4.json")"
[ -z "$(left "$S4")" ] || fail "the soak left: $(left "$S4")"

# ---- the checker fails on a row no writer sent ----
log "the primary's SQLite file changed behind ekulab's back"
S2="$T/s2"
"$EKULAB" soak "$TOPO" --faults 40 --seed 9 --kinds latency,slicer,bandwidth \
	--json --state "$S2" >"$T/s2.json" 2>"$T/s2.err" &
SOAK_PID=$!
DB="$S2/node1/data/clusterdb.sqlite3"
wait_until 60 grep -q '\[3/40\]' "$T/s2.err" ||
	fail "the soak did not start: $(tail -5 "$T/s2.err")"
# One row no writer sent, and one acknowledged row taken away.
python3 - "$DB" "$S2/writes-All.log" <<'PY' || fail "could not change $DB"
import sqlite3, sys
acked = [l.split()[1] for l in open(sys.argv[2]) if l.startswith("K ")]
assert acked, "no acknowledged write yet"
c = sqlite3.connect(sys.argv[1], timeout=10)
c.execute("INSERT INTO config(path, value) VALUES ('Behind Ekulab Back', 'x')")
n = c.execute("DELETE FROM config WHERE path = ?",
              ("Plan All %s Value" % acked[0],)).rowcount
assert n == 1, "write %s is not in the file" % acked[0]
c.commit()
PY
rc=0
wait "$SOAK_PID" || rc=$?
SOAK_PID=
assert_eq "$rc" 1 "soak exit with a row nobody sent and an acknowledged row gone"
# At least on node1 (a replica that got a snapshot of it would count too).
[ "$(jget unexpected <"$T/s2.json")" -ge 1 ] || fail "no unexpected row: $(cat "$T/s2.json")"
[ "$(jget lost <"$T/s2.json")" -ge 1 ] || fail "no lost write: $(cat "$T/s2.json")"
assert_eq "$(jget passed <"$T/s2.json")" false "passed"
grep -q '^FAIL: [0-9]* acknowledged writes lost' "$T/s2.err" ||
	fail "the summary does not say why: $(tail -3 "$T/s2.err")"
[ -z "$(left "$S2")" ] || fail "the failed soak left: $(left "$S2")"
# The failed run keeps its evidence without --keep, and says where.
assert_eq "$(jget state <"$T/s2.json")" "$S2" "the state directory kept"
grep -q "lab state kept in $S2" "$T/s2.err" ||
	fail "the summary does not say where the evidence is: $(tail -3 "$T/s2.err")"
N=$(python3 -c 'import sys; print([l.split()[1] for l in open(sys.argv[1]) if l.startswith("K ")][0])' "$S2/writes-All.log")
grep -qx "node1 All $N-$N" "$S2/lost.txt" ||
	fail "lost.txt does not name write All $N on node1: $(head -5 "$S2/lost.txt")"
[ -f "$S2/node1/node.log" ] && [ -f "$DB" ] || fail "the node logs or SQLite files are gone"

# ---- Ctrl-C ----
log "SIGINT while faults are applied"
S3="$T/s3"
"$EKULAB" soak "$TOPO" --faults 500 --seed 3 --state "$S3" >"$T/s3.out" 2>&1 &
SOAK_PID=$!
wait_until 60 grep -q '\[5/500\]' "$T/s3.out" ||
	fail "the soak did not start: $(tail -5 "$T/s3.out")"
kill -INT "$SOAK_PID"
rc=0
wait "$SOAK_PID" || rc=$?
SOAK_PID=
assert_eq "$rc" 130 "soak exit after SIGINT"
grep -q 'interrupted by SIGINT' "$T/s3.out" ||
	fail "the soak did not say it was interrupted: $(tail -3 "$T/s3.out")"
[ -z "$(left "$S3")" ] || fail "the interrupted soak left: $(left "$S3")"
[ ! -e "$S3" ] || fail "the interrupted soak left its state directory"

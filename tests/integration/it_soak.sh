#!/usr/bin/env bash
# it_soak.sh: `ekulab soak` (docs/testing.md). A short soak of 30 faults
# of every kind (seed 6 draws all 16) passes: one JSON object on stdout
# with every key, nothing lost, nothing unexpected, converged, no process
# left, and the faults it put on the lab are the ones --dry-run draws for
# that seed (a seed replays its faults).
# The checker can fail: a row written behind ekulab's back into the
# primary's SQLite file while a soak runs is reported as unexpected, an
# acknowledged row deleted from it as lost, and the soak exits 1. Ctrl-C stops everything the soak started. Bad arguments
# are refused with a message.
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
[ "$rc" -eq 0 ] || { tail -20 "$T/s1.err" >&2; fail "soak exited $rc"; }
python3 - "$T/s1.json" <<'PY' || fail "the soak's JSON: $(cat "$T/s1.json")"
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

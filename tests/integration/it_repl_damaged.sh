#!/usr/bin/env bash
# it_repl_damaged.sh: a node whose database file is damaged or foreign
# refuses to start, names the file, says it left it untouched, and does
# leave it untouched; with its own file back it starts with its rows.
. "${EKL_IT_LIB:-$(dirname "$0")/lib.sh}"

pki_setup
issue node1 combined
issue node2 combined
start_node node1 X15.3.2 enforce node1 @node2 --primary node1
start_node node2 X15.3.2 enforce node2 @node1 --primary node1
wait_admin node1
wait_admin node2
write_batch_file "$T/rows" 1 300 Row
ctl node1 --batch "$T/rows" >/dev/null || fail "writes on node1"
wait_converged 20 node1 node2
stop_node node2
db_file="$T/node2.data/clusterdb.sqlite3"
[ -f "$db_file" ] || fail "no database file at $db_file"
cp -p "$db_file" "$T/good.sqlite3"

# refuse_start LABEL: node2 must refuse its data; the file keeps its bytes
# and nothing is written next to it.
refuse_start() {
	local label=$1 before after files
	before=$(sha256sum <"$db_file")
	files=$(ls -A "$T/node2.data")
	expect_start_fail node2 X15.3.2 enforce node2 @node1 --primary node1
	log "$label: $START_ERR"
	assert_contains "$START_ERR" "$db_file" "$label: the refusal"
	assert_contains "$START_ERR" "left untouched" "$label: the refusal"
	after=$(sha256sum <"$db_file")
	assert_eq "$after" "$before" "$label: checksum of $db_file"
	# SQLite may add an empty -wal and a -shm index when it reads a file
	# whose header says WAL mode: no content of ours goes anywhere.
	assert_eq "$(ls -A "$T/node2.data" | grep -vE -- '-(wal|shm)$')" \
		"$files" "$label: files in node2.data"
	if [ -e "$db_file-wal" ] && ! grep -q -- '-wal$' <<<"$files"; then
		assert_eq "$(stat -c %s "$db_file-wal")" 0 "$label: size of a new -wal"
	fi
}

# Garbage of the size of the real file.
head -c "$(stat -c %s "$T/good.sqlite3")" /dev/urandom >"$db_file"
refuse_start garbage
assert_contains "$START_ERR" damaged "garbage: the refusal"

# The real file cut in half.
head -c "$(($(stat -c %s "$T/good.sqlite3") / 2))" "$T/good.sqlite3" >"$db_file"
refuse_start truncated

# A valid SQLite database that is not a ClusterDB.
rm -f "$db_file" "$db_file-wal" "$db_file-shm"
python3 - "$db_file" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("CREATE TABLE photos(id INTEGER PRIMARY KEY, name TEXT)")
db.execute("INSERT INTO photos(name) VALUES ('holiday.jpg')")
db.commit()
db.close()
PY
refuse_start foreign

# Its own file back: node2 starts with its 300 rows and keeps replicating.
rm -f "$db_file-wal" "$db_file-shm"
cp -p "$T/good.sqlite3" "$db_file"
start_node node2 X15.3.2 enforce node2 @node1 --primary node1
wait_admin node2
assert_eq "$(db node2 rows)" 300 "node2's rows with its own file back"
ctl node1 --ack all 'xConfiguration After/repair: yes' >/dev/null ||
	fail "write after node2 came back"
wait_converged 20 node1 node2
stop_node node1
stop_node node2

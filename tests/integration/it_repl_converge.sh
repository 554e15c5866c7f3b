#!/usr/bin/env bash
# it_repl_converge.sh: three nodes replicate the configuration database:
# single writes and a pipelined batch converge, only the primary takes
# writes, --ack all, reads / lists / deletes, quoting, bad paths.
. "${EKL_IT_LIB:-$(dirname "$0")/lib.sh}"

pki_setup
for n in node1 node2 node3 solo1 solo2 solo3 solo4; do
	issue "$n" combined
done
start_cluster3
wait_for node2 'peers[name=node1].replication.state' replicating
# Two non-primary nodes do not replicate between themselves.
expect node2 'peers[name=node3].replication' null
assert_eq "$(db node1 primary)" node1 "node1's primary"
assert_eq "$(db node2 primary)" node1 "node2's primary"
assert_eq "$(db node3 epoch)" 1 "node3's epoch"

# ---- single writes ----
for i in 1 2 3 4 5; do
	out=$(ctl node1 "xConfiguration Single/$i: value $i") ||
		fail "write Single/$i on the primary failed"
	assert_eq "$out" "revision $i" "answer to write $i"
done
wait_converged 20 node1 node2 node3
assert_eq "$(db node2 revision)" 5 "node2's revision after 5 writes"
assert_eq "$(ctl node3 'xConfiguration Single/4')" "Single/4: value 4" \
	"Single/4 read on node3"

# ---- a pipelined batch of 2000 writes ----
write_batch_file "$T/batch" 1 2000 Batch
ctl node1 --batch "$T/batch" >"$T/batch.acks" ||
	fail "ctl --batch of 2000 writes failed: $(grep -m3 ' err ' "$T/batch.acks")"
assert_eq "$(grep -c ' ok revision ' "$T/batch.acks")" 2000 "acked batch lines"
# Revisions are handed out in order, one per line.
assert_eq "$(awk '$2 == "ok" { print $4 }' "$T/batch.acks" | sort -n | uniq | wc -l)" \
	2000 "distinct revisions in the batch acks"
assert_eq "$(tail -n 1 "$T/batch.acks")" "2000 ok revision 2005" "last batch ack"
wait_converged 30 node1 node2 node3
assert_eq "$(db node3 rows)" 2005 "node3's rows"
assert_eq "$(db node3 revision)" 2005 "node3's revision"
assert_eq "$(ctl node2 'xConfiguration Batch/1234')" "Batch/1234: v1234" \
	"Batch/1234 on node2"

# ---- only the primary takes writes; the refusal names it ----
rc=0
err=$(ctl node2 'xConfiguration Refused/1: x' 2>&1) || rc=$?
assert_eq "$rc" 1 "exit status of a write on node2"
assert_contains "$err" "not the primary" "refusal on node2"
assert_contains "$err" node1 "refusal on node2"
rc=0
ctl node3 'xCommand ConfigurationDelete Path: Single/1' 2>/dev/null || rc=$?
assert_eq "$rc" 1 "exit status of a delete on node3"
rc=0
ctl node2 'xConfiguration Refused/1' >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 1 "the refused write is nowhere (node2)"
assert_eq "$(db node1 revision)" 2005 "primary revision after refusals"

# ---- --ack all: every peer has the write when ctl returns ----
out=$(ctl node1 --ack all 'xConfiguration Ack/1: all') ||
	fail "--ack all write failed: $out"
assert_eq "$out" "revision 2006" "--ack all answer"
for n in node2 node3; do
	assert_eq "$(ctl "$n" 'xConfiguration Ack/1')" "Ack/1: all" \
		"Ack/1 on $n right after --ack all returned"
done

# ---- quoting: one pair of surrounding quotes is stripped ----
ctl node1 'xConfiguration Quote/outer: "two words"' >/dev/null ||
	fail "quoted write failed"
ctl node1 'xConfiguration Quote/inner: say "hi" now' >/dev/null ||
	fail "inner-quote write failed"
ctl node1 'xConfiguration Quote/colon: a: b: c' >/dev/null ||
	fail "write with ': ' in the value failed"
ctl node1 --ack all 'xConfiguration Quote/empty: ""' >/dev/null ||
	fail "empty-value write failed"
for n in node2 node3; do
	assert_eq "$(ctl "$n" 'xConfiguration Quote/outer')" \
		"Quote/outer: two words" "Quote/outer on $n"
	assert_eq "$(ctl "$n" 'xConfiguration Quote/inner')" \
		'Quote/inner: say "hi" now' "Quote/inner on $n"
	assert_eq "$(ctl "$n" 'xConfiguration Quote/colon')" \
		'Quote/colon: a: b: c' "Quote/colon on $n"
	assert_eq "$(ctl "$n" --json 'xConfiguration Quote/inner' | jget 'Quote/inner')" \
		'say "hi" now' "Quote/inner as JSON on $n"
done

# ---- bad requests are refused and consume no revision ----
rev=$(db node1 revision)
rc=0
err=$(ctl node1 'xConfiguration : no path' 2>&1) || rc=$?
assert_eq "$rc" 1 "exit status of a write with an empty path"
assert_contains "$err" "path is empty" "refusal of an empty path"
rc=0
err=$(ctl node1 'xConfiguration Missing/value:' 2>&1) || rc=$?
assert_eq "$rc" 1 "exit status of a write without a value"
assert_contains "$err" "missing value" "refusal of a write without a value"
rc=0
err=$(ctl node1 'xCommand ConfigurationDelete Path: No/such/row' 2>&1) || rc=$?
assert_eq "$rc" 1 "exit status of deleting a missing row"
assert_contains "$err" "No/such/row" "delete of a missing row"
assert_eq "$(db node1 revision)" "$rev" "revision after refused requests"

# ---- delete replicates ----
out=$(ctl node1 --ack all 'xCommand ConfigurationDelete Path: Single/2') ||
	fail "delete failed: $out"
for n in node2 node3; do
	rc=0
	err=$(ctl "$n" 'xConfiguration Single/2' 2>&1) || rc=$?
	assert_eq "$rc" 1 "read of deleted Single/2 on $n"
	assert_contains "$err" "no configuration at 'Single/2'" "read on $n"
done

# ---- list: the same rows, in path order, everywhere ----
wait_converged 20 node1 node2 node3
ctl node1 xConfiguration >"$T/list1"
ctl node3 xConfiguration >"$T/list3"
cmp -s "$T/list1" "$T/list3" || fail "xConfiguration lists of node1 and node3 differ"
assert_eq "$(wc -l <"$T/list1")" "$(db node1 rows)" "list length vs rows"
awk -F': ' '{ print $1 }' "$T/list1" | LC_ALL=C sort -c 2>/dev/null ||
	fail "the list is not in path order"
ctl node2 --json xConfiguration | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["Quote/empty"] == "", d["Quote/empty"]
assert "Single/2" not in d
assert d["Batch/2000"] == "v2000"
assert len(d) == int(sys.argv[1]), len(d)
' "$(db node1 rows)" || fail "JSON list of node2"

# ---- verify-cluster: text and JSON ----
out=$(verify_cluster node1 node2 node3) || fail "verify-cluster: $out"
assert_contains "$out" "3 nodes agree: revision $(db node1 revision)" \
	"verify-cluster text"
verify_cluster node1 node2 node3 -- --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["agree"] is True, d
assert [n["node"] for n in d["nodes"]] == ["node1", "node2", "node3"], d
assert len({n["digest"] for n in d["nodes"]}) == 1, d
assert d["differences"] == [], d
' || fail "verify-cluster --json"

# ---- verify-cluster on nodes that do differ ----
# Two single-node clusters (each its own primary, its peer never runs):
# same path with different values, rows on one side only.
start_node solo1 X15.3.2 enforce solo1 @ghost1 --primary solo1
start_node solo2 X15.3.2 enforce solo2 @ghost2 --primary solo2
wait_admin solo1
wait_admin solo2
for n in solo1 solo2; do
	ctl "$n" 'xConfiguration Same/path: same' >/dev/null
	ctl "$n" "xConfiguration Diff/value: on $n" >/dev/null
done
ctl solo1 'xConfiguration Only/solo1: a "b"' >/dev/null
write_batch_file "$T/solo2.batch" 1 60 Only/solo2
ctl solo2 --batch "$T/solo2.batch" >/dev/null
rc=0
out=$(verify_cluster solo1 solo2) || rc=$?
assert_eq "$rc" 1 "verify-cluster exit status on differing nodes"
assert_contains "$out" "2 nodes differ" "verify-cluster text"
assert_contains "$out" "solo1: revision 3, 3 rows" "verify-cluster text"
assert_contains "$out" "solo2: revision 62, 62 rows" "verify-cluster text"
assert_contains "$out" 'Diff/value: solo1 "on solo1", solo2 "on solo2"' \
	"verify-cluster text"
assert_contains "$out" 'Only/solo1: solo1 "a \"b\"", solo2 (missing)' \
	"verify-cluster text"
assert_not_contains "$out" "Same/path" "verify-cluster text"
# 62 differing paths: 50 printed, then the count.
assert_contains "$out" "... and 12 more" "verify-cluster text"
assert_contains "$out" "62 paths differ" "verify-cluster text"
# Diff/value, Only/solo1, then 48 of the 60 Only/solo2 rows.
assert_eq "$(grep -c "^  Only/solo2/" <<<"$out")" 48 "printed Only/solo2 lines"
rc=0
verify_cluster solo1 solo2 -- --json >"$T/verify.json" || rc=$?
assert_eq "$rc" 1 "verify-cluster --json exit status on differing nodes"
python3 - "$T/verify.json" <<'PY' || fail "verify-cluster --json on differing nodes"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["agree"] is False, d["agree"]
nodes = {n["node"]: n for n in d["nodes"]}
assert nodes["solo1"]["revision"] == 3 and nodes["solo1"]["rows"] == 3, nodes
assert nodes["solo2"]["revision"] == 62 and nodes["solo2"]["rows"] == 62, nodes
assert nodes["solo1"]["digest"] != nodes["solo2"]["digest"], nodes
diffs = {x["path"]: x["values"] for x in d["differences"]}
assert len(diffs) == 62, len(diffs)
assert diffs["Diff/value"] == {"solo1": "on solo1", "solo2": "on solo2"}, diffs["Diff/value"]
assert diffs["Only/solo1"] == {"solo1": 'a "b"', "solo2": None}, diffs["Only/solo1"]
assert diffs["Only/solo2/7"] == {"solo1": None, "solo2": "v7"}, diffs["Only/solo2/7"]
assert "Same/path" not in diffs
PY

# The same rows at different revisions: not in agreement either.
start_node solo3 X15.3.2 enforce solo3 @ghost3 --primary solo3
start_node solo4 X15.3.2 enforce solo4 @ghost4 --primary solo4
wait_admin solo3
wait_admin solo4
ctl solo3 'xConfiguration Same/rows: yes' >/dev/null
ctl solo4 'xConfiguration Same/rows: yes' >/dev/null
ctl solo4 'xConfiguration Same/rows: yes' >/dev/null
rc=0
out=$(verify_cluster solo3 solo4) || rc=$?
assert_eq "$rc" 1 "verify-cluster exit status on equal rows, other revisions"
assert_contains "$out" "the rows are equal; the revisions differ" \
	"verify-cluster text"
assert_contains "$out" "solo4: revision 2, 1 rows" "verify-cluster text"

# ---- verify-cluster usage errors and unreachable nodes: exit 2 ----
rc=0
err=$("$EKULAB" verify-cluster --socket "$(sock_of node1)" 2>&1) || rc=$?
assert_eq "$rc" 2 "verify-cluster with one socket"
rc=0
err=$(verify_cluster node1 node2 -- --bogus 2>&1) || rc=$?
assert_eq "$rc" 2 "verify-cluster with an unknown flag"
rc=0
err=$(verify_cluster node1 node1 2>&1) || rc=$?
assert_eq "$rc" 2 "verify-cluster with the same node twice"
rc=0
err=$(verify_cluster node1 nowhere 2>&1) || rc=$?
assert_eq "$rc" 2 "verify-cluster with a missing socket"
assert_contains "$err" "$(sock_of nowhere)" "verify-cluster error"

# ---- a read pipelined right behind a write to the same path sees it ----
awk 'BEGIN { for (i = 1; i <= 100; i++)
	printf "xConfiguration Raw/x: v%d\nxConfiguration Raw/x\n", i }' \
	>"$T/raw.batch"
ctl node1 --batch "$T/raw.batch" >"$T/raw.out" ||
	fail "ctl --batch of writes and reads failed: $(grep -m3 ' err ' "$T/raw.out")"
assert_eq "$(awk '$1 % 2 == 0' "$T/raw.out" | wc -l)" 100 "reads answered"
assert_eq "$(awk '$1 % 2 == 0 && $0 != $1 " ok Raw/x: v" ($1 / 2)' \
	"$T/raw.out" | head -n 3)" "" "reads pipelined behind their writes"

for n in node1 node2 node3 solo1 solo2 solo3 solo4; do
	stop_node "$n"
done

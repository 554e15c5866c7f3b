#!/usr/bin/env bash
# it_lab_list.sh: `ekulab lab list` and labs by name. Every lab on this
# host (the default state directories and those brought up with --state
# elsewhere) with its topology, runtime, nodes running/total, age and
# status, as text and --json; every lab verb takes a lab's name from any
# directory; a name two labs share is refused; a failed up is listed as
# failed; down forgets the lab. `lab graph` of a topology that is not up
# draws the model's prediction (marked so) as DOT, SVG and Mermaid.
source "${EKL_IT_LIB:?}"

# A TMPDIR of its own: the list holds this test's labs only.
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
TOPO="$T/pair.yaml"
cat >"$TOPO" <<'YAML'
name: it-list-pair
cluster: {verify: enforce, primary: node1, dial: both, link: both}
defaults: {version: X15.3.2, role: c, cert: {profile: combined, ca: unrestricted}}
nodes:
  node1: {}
  node2: {cert: {profile: server-only}}
YAML
TOPO2="$T/solo.yaml"
sed 's/^name: it-list-pair/name: it-list-other/' "$TOPO" >"$TOPO2"
OTHER="$T/elsewhere"
cleanup_labs() {
	"$EKULAB" lab down "$TOPO" >/dev/null 2>&1 || true
	"$EKULAB" lab down "$TOPO2" --state "$OTHER" >/dev/null 2>&1 || true
	"$EKULAB" lab down "$TOPO" --state "$T/twin" >/dev/null 2>&1 || true
}
trap 'rc=$?; cleanup_labs; (exit $rc); it_cleanup' EXIT

listing() { "$EKULAB" lab list --json; }
field() {
	listing | python3 -c '
import json, sys
labs = [l for l in json.load(sys.stdin)["labs"] if l["name"] == sys.argv[1]]
print(labs[0][sys.argv[2]] if labs else "absent")' "$1" "$2"
}

log "no labs"
[ "$(listing)" = '{"labs":[]}' ] || fail "lab list --json with no lab: $(listing)"
"$EKULAB" lab list | grep -q "no labs" || fail "lab list with no lab says nothing"

log "graph of a topology that is not up: the model's prediction"
"$EKULAB" lab graph "$TOPO" >"$T/pred.dot" 2>"$T/pred.err" || fail "lab graph of a topology not up failed: $(cat "$T/pred.err")"
grep -q "prediction (the lab is not up)" "$T/pred.dot" || fail "the DOT does not say it is a prediction"
grep -q '"node2" -> "node1" .*label="client-purpose"' "$T/pred.dot" || fail "the DOT lacks the predicted refusal: $(cat "$T/pred.dot")"
grep -q "not up" "$T/pred.err" || fail "lab graph does not say the lab is not up"
"$EKULAB" lab graph "$TOPO" --mermaid - --svg "$T/pred.svg" >"$T/pred.md" 2>/dev/null || fail "lab graph --mermaid - --svg failed"
grep -q '^flowchart LR$' "$T/pred.md" || fail "no Mermaid flowchart: $(cat "$T/pred.md")"
grep -q "prediction" "$T/pred.md" || fail "the Mermaid chart does not say it is a prediction"
grep -q 'n1 -.->|client-purpose| n0' "$T/pred.md" || fail "the Mermaid chart lacks the refusal: $(cat "$T/pred.md")"
grep -q 'n0 ==>|ok| n1' "$T/pred.md" || fail "the Mermaid chart lacks node1 -> node2 ok"
grep -q "prediction" "$T/pred.svg" || fail "the SVG does not say it is a prediction"
[ ! -e "$TMPDIR/ekulab-$(id -u)/it-list-pair" ] || fail "graph of a lab not up made a state directory"

log "two labs: the default state directory and --state elsewhere"
"$EKULAB" lab up "$TOPO" --no-wait >/dev/null || fail "lab up failed"
"$EKULAB" lab up "$TOPO2" --state "$OTHER" --no-wait >/dev/null || fail "lab up --state failed"
"$EKULAB" lab list --json >"$T/list.json"
python3 - "$T/list.json" "$TOPO" "$TOPO2" "$OTHER" <<'PY' || fail "lab list --json: $(cat "$T/list.json")"
import json, os, sys
d = json.load(open(sys.argv[1]))
labs = {l["name"]: l for l in d["labs"]}
assert set(labs) == {"it-list-pair", "it-list-other"}, labs
a, b = labs["it-list-pair"], labs["it-list-other"]
assert a["topology"] == os.path.realpath(sys.argv[2]), a
assert b["topology"] == os.path.realpath(sys.argv[3]), b
assert b["state"] == os.path.realpath(sys.argv[4]), b
for l in (a, b):
    assert l["runtime"] == "process" and l["status"] == "up", l
    assert l["nodes_running"] == 2 and l["nodes_total"] == 2, l
    assert isinstance(l["age_s"], int) and 0 <= l["age_s"] < 600, l
PY
"$EKULAB" lab list | grep -E '^it-list-other +process +2/2 +up ' >/dev/null || fail "lab list text: $("$EKULAB" lab list)"

log "every verb by name, from another directory"
(
	cd /
	"$EKULAB" lab status it-list-other --json >"$T/st.json" || exit 1
	"$EKULAB" lab exec it-list-other node1 --ack all 'xConfiguration Byname A: 1' >/dev/null || exit 2
	"$EKULAB" lab graph it-list-other --mermaid - >"$T/live.md" 2>/dev/null || exit 3
	"$EKULAB" lab fault it-list-other kill node2 --name k2 >/dev/null || exit 4
) || fail "a lab verb by name failed (step $?)"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert len(d["nodes"]) == 2' "$T/st.json" ||
	fail "lab status by name is not the lab's"
! grep -q prediction "$T/live.md" || fail "the graph of a running lab says prediction"
[ "$(field it-list-other nodes_running)" = 1 ] || fail "a killed node is still counted running: $(listing)"
[ "$(field it-list-other status)" = partial ] || fail "status with a node killed: $(field it-list-other status)"

log "a name two labs share is refused"
"$EKULAB" lab up "$TOPO" --state "$T/twin" --no-wait >/dev/null || fail "second lab of the same topology failed"
rc=0
"$EKULAB" lab status it-list-pair 2>"$T/twin.err" >/dev/null || rc=$?
[ "$rc" -eq 2 ] && grep -q "2 labs are named" "$T/twin.err" || fail "an ambiguous name: exit $rc, $(cat "$T/twin.err")"
"$EKULAB" lab down "$TOPO" --state "$T/twin" >/dev/null

log "down by name forgets the lab"
(cd / && "$EKULAB" lab down it-list-other >/dev/null) || fail "lab down by name failed"
[ "$(field it-list-other name)" = absent ] || fail "a lab that is down is still listed"
# it-list-pair alone is left registered
[ "$(ls "$TMPDIR/ekulab-$(id -u)/.labs" | wc -l)" -eq 1 ] || fail "the registry keeps labs that are down"

log "a failed up is listed as failed"
"$EKULAB" lab down "$TOPO" >/dev/null
EKUNODE=/bin/false "$EKULAB" lab up "$TOPO" >/dev/null 2>&1 && fail "lab up with a broken ekunode succeeded"
[ "$(field it-list-pair status)" = failed ] || fail "a failed up: $(listing)"
[ "$(field it-list-pair nodes_running)" = 0 ] || fail "a failed up has nodes running"
"$EKULAB" lab up "$TOPO" --no-wait >/dev/null || fail "lab up after a failed one"
[ "$(field it-list-pair status)" = up ] || fail "the new up is not listed up"

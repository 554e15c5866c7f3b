#!/usr/bin/env bash
# it_readme.sh: the README's "Using it" example works as written: its
# first block (PKI, two nodes, ctl: the link is down, client-purpose),
# then node2 reissued combined and both nodes restarted with `--primary
# node1` added (as the README says), then the second block
# (a write, `--batch examples/changes.txt` with every line acknowledged,
# the replica's rows, verify-cluster, audit); `bench` is left out (its own
# test). The commands are taken from README.md itself; only the fixed
# /tmp paths and ports 7001/7002 are replaced by the test's own.
source "${EKL_IT_LIB:?}"
: "${EKL_SOURCE_DIR:?}"

alloc_port p1
alloc_port p2
ln -s "$(realpath "$EKL_SOURCE_DIR")/examples" "$T/examples"
python3 - "$EKL_SOURCE_DIR/README.md" "$T" "${PORT[p1]}" "${PORT[p2]}" >"$T/readme.sh" <<'EOF'
import re, sys
readme, t, p1, p2 = sys.argv[1:]
text = open(readme).read()
part = text.split("## Using it", 1)[1]
blocks = re.findall(r"```sh\n(.*?)```", part, re.S)[:2]
if len(blocks) < 2:
    sys.exit("README: the two code blocks of 'Using it' are missing")
def lines(block):
    out = []
    for line in block.replace("\\\n", " ").splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line and not line.startswith("B=") and " bench" not in line:
            line = line.replace("/tmp/", t + "/").replace("7001", p1).replace("7002", p2)
            out.append(re.sub(r"\s+", " ", line))
    return out
first, second = lines(blocks[0]), lines(blocks[1])
nodes = [l for l in first if l.startswith("$N ")]
if len(nodes) != 2 or not all(l.endswith("&") for l in nodes):
    sys.exit("README: expected two '$N ... &' node commands")
print('cd "%s"' % t)
def emit(l):
    if l.endswith("&"):
        print(l[:-1].rstrip() + ' >>"%s/node.log" 2>&1 & PIDS+=($!)' % t)
    else:
        print(l + ' || exit_fail "%s"' % l.replace('"', '\\"').replace("$", "\\$"))
for l in first:
    emit(l)
    if l == nodes[-1]:
        print("WAIT_UP")
for l in [l for l in second if l.startswith("$B pki ")]:
    emit(l)
second = [l for l in second if not l.startswith("$B pki ")]
print("RESTART")
for l in nodes:
    emit(l[:-1].rstrip() + " --primary node1 &")
print("WAIT_LINKED")
for l in second:
    emit(l)
EOF
[ -s "$T/readme.sh" ] || fail "could not read the README's example"

B=$EKULAB
N=$EKUNODE
PIDS=()
exit_fail() { fail "README command failed: $1"; }
sock_ok() { "$EKULAB" ctl --socket "$1" 'xStatus Database' >/dev/null 2>&1; }
WAIT_UP() {
	local p
	for p in "${PIDS[@]}"; do IT_PIDS+=("$p"); done
	wait_until 15 sock_ok "$T/node1.sock" || fail "node1 never answered"
	wait_until 15 sock_ok "$T/node2.sock" || fail "node2 never answered"
}
linked() {
	"$EKULAB" ctl --socket "$T/node1.sock" --json 'xStatus Cluster' |
		python3 -c 'import json, sys; sys.exit(json.load(sys.stdin)["peers"][0]["link"] != "up")'
}
WAIT_LINKED() {
	WAIT_UP
	wait_until 30 linked || fail "node1 and node2 never linked with --primary node1"
}
RESTART() {
	local p
	for p in "${PIDS[@]}"; do stop_pid "$p"; done
	PIDS=()
}
source "$T/readme.sh" >"$T/out.txt"
for p in "${PIDS[@]}"; do IT_PIDS+=("$p"); done

# The first block shows the refusal the README describes.
grep -q 'client-purpose' "$T/out.txt" || fail "node1's link table does not show client-purpose"
# Every line of examples/changes.txt acknowledged after --ack all.
n=$(grep -cv '^\s*\(#\|$\)' "$EKL_SOURCE_DIR/examples/changes.txt")
[ "$(grep -cE '^[0-9]+ ok revision [0-9]+' "$T/out.txt")" -eq "$n" ] ||
	fail "not every line of changes.txt was acknowledged: $(cat "$T/out.txt")"
# The replica holds the batch's rows and verify-cluster agrees.
grep -q 'SIP Domain 3 Name' "$T/out.txt" || fail "node2 does not show the batch's rows"
grep -qi 'same\|agree\|identical' "$T/out.txt" || fail "verify-cluster did not agree: $(cat "$T/out.txt")"

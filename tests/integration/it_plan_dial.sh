#!/usr/bin/env bash
# it_plan_dial.sh: dial modes run live. The same plan (j-dial-modes.yaml:
# the primary renewed server-only, upgrades, writes while the primary is
# killed and paused, a partition) runs under all three dial modes with 0
# deviations and every expectation held. A lab under each mode has a proxy
# route for exactly the directions the mode makes, tells each node which
# peers it dials (dial=no / accept=no), and every connection between nodes
# goes through the proxy: no node dials a peer it must not, and `lab
# status` shows "-" only for directions the mode does not make.
source "${EKL_IT_LIB:?}"

EX="$(cd "$(dirname "$0")/../../examples/plans" && pwd)"
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
trap 'rc=$?; pkill -KILL -f "$TMPDIR/" 2>/dev/null || true; (exit $rc); it_cleanup' EXIT

for dial in primary lower-name both; do
	log "plan j-dial-modes under dial $dial"
	if ! "$EKULAB" plan run "$EX/j-dial-modes.yaml" --dial "$dial" \
		--json "$T/j-$dial.json" >"$T/j-$dial.out" 2>&1; then
		cat "$T/j-$dial.out" >&2
		fail "dial $dial: the plan did not run as the model predicts"
	fi
	python3 - "$T/j-$dial.json" "$dial" <<'PY' || fail "dial $dial: report check failed"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["dial"] == sys.argv[2], r["dial"]
assert r["deviations"] == 0 and r["expectations_failed"] == 0, r
assert r["writes"]["lost"] == 0 and r["writes"]["unexpected"] == 0, r["writes"]
# The writes while the primary was killed and paused: as predicted.
texts = {s["text"]: s for s in r["steps"]}
obs = [s["observed"]["text"] for s in r["steps"] if s["text"] == "write 10"]
assert obs[0].startswith("writes refused"), obs
assert obs[1].startswith("writes timeout"), obs
PY
done

# The lab under each dial mode: routes, peer options, connections.
TOPO="$T/modes.yaml"
for dial in primary lower-name both; do
	log "lab under dial $dial: routes, peers and connections"
	cat >"$TOPO" <<YAML
name: it-dial
cluster: {verify: enforce, primary: node2, dial: $dial, link: both}
defaults: {version: X15.4, cert: {profile: combined}}
nodes: {node1: {}, node2: {}, node3: {}, node4: {}}
YAML
	LAB="$T/lab-$dial"
	"$EKULAB" lab up "$TOPO" --state "$LAB" >"$T/up.out" ||
		fail "lab up ($dial): $(cat "$T/up.out")"
	# The routes the proxy has: exactly the dialled directions.
	"$EKULAB" ctl --socket "$LAB/proxy.sock" --json routes >"$T/routes.json" ||
		fail "cannot list the proxy's routes"
	python3 - "$T/routes.json" "$dial" <<'PY' || fail "dial $dial: wrong routes"
import json, sys
routes = sorted(r["name"] for r in json.load(open(sys.argv[1]))["routes"])
nodes = ["node1", "node2", "node3", "node4"]
dial = sys.argv[2]
want = sorted("%s>%s" % (a, b) for a in nodes for b in nodes if a != b and (
    dial == "both" or (dial == "lower-name" and a < b) or
    (dial == "primary" and a == "node2")))
assert routes == want, (routes, want)
PY
	# Each node knows which peers it dials; none dials another way.
	for n in node1 node2 node3 node4; do
		"$EKULAB" ctl --socket "$LAB/$n/admin.sock" --json 'xStatus Cluster' \
			>"$T/$n.json" || fail "status of $n"
	done
	python3 - "$T" "$dial" <<'PY' || fail "dial $dial: wrong peer options or links"
import json, sys
t, dial = sys.argv[1], sys.argv[2]
nodes = ["node1", "node2", "node3", "node4"]
def dials(a, b):
    return dial == "both" or (dial == "lower-name" and a < b) or \
        (dial == "primary" and a == "node2")
for a in nodes:
    st = json.load(open("%s/%s.json" % (t, a)))
    assert st["link_rule"] == "both", st["link_rule"]
    peers = {p["name"]: p for p in st["peers"]}
    for b in nodes:
        if a == b:
            continue
        if not dials(a, b) and not dials(b, a):
            assert b not in peers, (a, b, "a peer the mode never connects")
            continue
        p = peers[b]
        assert p["dial"] == dials(a, b) and p["accept"] == dials(b, a), (a, b, p)
        if not dials(a, b):
            # Never dialled: no outbound connection, no outbound failure.
            assert p["outbound"] is None and p["outbound_error"] is None, (a, b, p)
        assert p["link"] == "up", (a, b, p)
PY
	# Every connection to a node's listening port comes from the proxy.
	proxy=$(pgrep -f "proxy --control $LAB/proxy.sock")
	ss -tnpH state established >"$T/ss.txt"
	python3 - "$T/ss.txt" "$LAB" "$proxy" <<'PY' || fail "dial $dial: a connection around the proxy"
import re, sys
ss, lab, proxy = open(sys.argv[1]).read().splitlines(), sys.argv[2], sys.argv[3]
ports = {}
for n in ["node1", "node2", "node3", "node4"]:
    conf = open("%s/%s/node.conf" % (lab, n)).read()
    ports[re.search(r"listen = 127.0.0.1:(\d+)", conf).group(1)] = n
socks = {}
for line in ss:
    f = line.split()
    pid = re.search(r"pid=(\d+)", line)
    socks[(f[2], f[3])] = pid.group(1) if pid else None
seen = 0
for (local, peer), pid in socks.items():
    port = local.rsplit(":", 1)[1]
    if port not in ports or not local.startswith("127.0.0.1:"):
        continue
    other = socks.get((peer, local))
    assert other == proxy, "%s: connection from %s (pid %s), not the proxy %s" % (
        ports[port], peer, other, proxy)
    seen += 1
assert seen > 0, "no connection to any node seen"
PY
	"$EKULAB" lab status "$TOPO" --state "$LAB" --json >"$T/status.json"
	python3 - "$T/status.json" "$dial" <<'PY' || fail "dial $dial: status"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["dial"] == sys.argv[2]
for l in d["links"]:
    assert l["state"] == "up", l
for p in d["pairs"]:
    if p["linked"]:
        continue
    # Only pairs the mode never connects are down.
    assert p["reason"] == "not-dialled", p
PY
	"$EKULAB" lab down "$TOPO" --state "$LAB" >/dev/null || fail "lab down ($dial)"
done

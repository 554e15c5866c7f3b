#!/usr/bin/env bash
# it_plan_html.sh: `plan run --html` is a timeline: a summary at the top
# naming the step where replication breaks, the node and the reason, and
# the step where it heals; one row per step with a connection matrix in
# the graph's colours (the refused direction red) and who replicates; the
# break and heal rows marked; no row flagged when prediction and
# observation agree.
source "${EKL_IT_LIB:?}"
cat >"$T/pair.yaml" <<'YAML'
name: it-html-pair
cluster: {verify: enforce, primary: node1, dial: both, link: both}
defaults: {version: X15.3.2, role: c, cert: {profile: combined, ca: unrestricted}}
nodes:
  node1: {}
  node2: {}
YAML
cat >"$T/plan.yaml" <<'YAML'
topology: pair.yaml
steps:
  - write: 5
  - renew: {node: node2, profile: server-only, ca: server-only, via: scp}
  - expect: {replicating: none}
  - upgrade: {node: node1, version: X15.4}
  - expect: {replicating: all}
YAML
"$EKULAB" plan run "$T/plan.yaml" --no-workload --html "$T/r.html" --json "$T/r.json" >"$T/run.out" 2>&1 ||
	fail "plan run failed: $(cat "$T/run.out")"
python3 - "$T/r.html" <<'PY' || fail "the HTML timeline (above)"
import re, sys
h = open(sys.argv[1]).read()
summary = re.search(r'<p class="summary">(.*?)</p>', h, re.S).group(1)
summary = re.sub("<[^>]+>", "", summary)
assert "Replication breaks after step 2 (renew node2 server-only" in summary, summary
assert "node2 stops replicating (" in summary and "client-purpose" in summary, summary
assert "it heals after step 4 (upgrade node1 to X15.4)" in summary, summary
assert "0 deviations" in summary and "0 steps where prediction and observation differ" in summary, summary
rows = re.findall(r'<tr class="([^"]*)"><td>(\d+)</td>', h)
assert [int(n) for _, n in rows] == [1, 2, 3, 4, 5], rows
cls = {int(n): c for c, n in rows}
assert cls[2].startswith("break") and cls[4].startswith("heal"), cls
assert h.count('class="badge b"') == 1 and h.count('class="badge h"') == 1, "badges"
assert "differs" not in "".join(cls.values()), cls
# step 3: node2 -> node1 refused (red, C), node1 -> node2 up (green)
row3 = h.split('<td>3</td>')[1].split('</tr>\n')[0]
assert 'title="node2 &rarr; node1: client-purpose"' in row3, row3
assert re.search(r'background:#d62728" title="node2 &rarr; node1', row3), row3
assert re.search(r'background:#2ca02c" title="node1 &rarr; node2: ok"', row3), row3
assert 'class="n norep" title="node2: not replicating (' in row3, row3
assert h.count("<html") == 1 and h.rstrip().endswith("</html>")
print("ok")
PY

#!/usr/bin/env bash
# it_lab_graph.sh: `lab graph` without a lab: a deployment topology
# (clusters:, externals:, zones:) and a plan, as the model predicts them,
# in DOT, SVG and Mermaid; `--step N` of a plan; the refusals.
source "${EKL_IT_LIB:?}"
DEP="$EKL_SOURCE_DIR/examples/deployment/mra-lab.yaml"
PLAN="$EKL_SOURCE_DIR/examples/deployment/a-mra-e-before-c.yaml"
cd "$T"

log "a deployment that is not up: DOT to stdout, marked as the prediction"
"$EKULAB" lab graph "$DEP" >dep.dot 2>dep.err || fail "lab graph of a deployment: $(cat dep.err)"
grep -q "the model's prediction" dep.err || fail "stderr does not say it is the prediction"
grep -q 'label="deployment mra-lab: the model.s prediction' dep.dot || fail "DOT title"
grep -q 'subgraph cluster_g0' dep.dot && grep -q 'label="cluster core (Expressway-C)' dep.dot &&
	grep -q 'label="cluster edge (Expressway-E)' dep.dot && grep -q 'label="external cucm (cucm)"' dep.dot ||
	fail "DOT: clusters and the external are not groups: $(cat dep.dot)"
grep -q 'ltail=cluster_g0, lhead=cluster_g1.*label="traversal: ok (4)"' dep.dot ||
	fail "DOT: no traversal zone between core and edge"
grep -q 'label="mra: ok (4)"' dep.dot || fail "DOT: no MRA service"
grep -q 'label="neighbour: ok (2)"' dep.dot || fail "DOT: no neighbour zone to cucm"

log "the same as SVG and Mermaid (to a file and to stdout)"
"$EKULAB" lab graph "$DEP" --svg dep.svg --mermaid dep.md 2>/dev/null || fail "--svg --mermaid"
python3 - dep.svg <<'PY' || fail "SVG is not well-formed or lacks the groups"
import sys, xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[1]).getroot()
classes = [g.get("class") for g in root.iter("{http://www.w3.org/2000/svg}g")]
assert classes.count("cluster") == 2, classes
assert classes.count("external") == 1, classes
assert classes.count("node") == 5, classes
texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
for w in ("cluster core (Expressway-C)", "cluster edge (Expressway-E)", "external cucm (cucm)",
          "traversal: ok (4)", "mra: ok (4)", "neighbour: ok (2)", "the model's prediction"):
    assert w in texts, w
PY
grep -q '^flowchart LR' dep.md && grep -q 'subgraph g0\["cluster core (Expressway-C)' dep.md &&
	grep -q 'subgraph g2\["external cucm"\]' dep.md && grep -q 'g0 ==>|"traversal: ok (4)"| g1' dep.md ||
	fail "Mermaid: $(cat dep.md)"
"$EKULAB" lab graph "$DEP" --mermaid - 2>/dev/null | cmp -s - dep.md || fail "--mermaid - differs from the file"

log "a plan: before its first step, and after step 8 (E renewed server-only: C rejects E in MRA)"
"$EKULAB" lab graph "$PLAN" --mermaid - >p0.md 2>p0.err || fail "plan graph: $(cat p0.err)"
grep -q 'before its first step' p0.md && grep -q '"mra: ok (4)"' p0.md || fail "plan, step 0: $(cat p0.md)"
"$EKULAB" lab graph "$PLAN" --step 8 --mermaid - >p8.md 2>/dev/null || fail "plan --step 8"
grep -q 'after step 8 (renew e2' p8.md || fail "step 8 title: $(head -3 p8.md)"
grep -q 'g0 -.->|"mra: client-purpose, 4 of 4 (c1 rejects) \[C and E versions differ\]"| g1' p8.md ||
	fail "step 8: MRA not refused by C: $(grep mra p8.md)"
grep -q '"traversal: ok (4) \[C and E versions differ\]"' p8.md || fail "step 8: traversal should work"
grep -q 'e2\["e1<br/>X15.4<br/>server-only/server-only' p8.md || fail "step 8: e1 not upgraded and renewed"
# The last step: every C upgraded, MRA works again.
n=$(grep -c '^  - ' "$PLAN")
"$EKULAB" lab graph "$PLAN" --step "$n" --mermaid - >pn.md 2>/dev/null || fail "plan --step $n"
grep -q '"mra: ok (4)"' pn.md || fail "after the last step MRA should work: $(grep mra pn.md)"
# A single-cluster plan too (the plan's topology as a group).
cat >one.yaml <<'YAML'
topology: {name: pair, cluster: {primary: a}, defaults: {version: X15.3.2}, nodes: {a: {}, b: {}}}
steps:
  - renew: {node: b, profile: server-only, via: scp}
YAML
"$EKULAB" lab graph one.yaml --step 1 --dot - 2>/dev/null >one.dot || fail "single-cluster plan"
grep -q 'e1 -> e0 \[color="#d62728".*label="client-purpose"' one.dot && grep -q 'e0 -> e1 \[color="#2ca02c"' one.dot || fail "b -> a refused by a (b lost clientAuth), a -> b up: $(cat one.dot)"

log "refusals: --step out of range, --step on a topology or another verb, a broken plan"
rc=0; "$EKULAB" lab graph "$PLAN" --step 999 --dot - >/dev/null 2>err || rc=$?
[ $rc = 2 ] && grep -q 'has [0-9]* steps; give 0' err || fail "--step 999: rc $rc $(cat err)"
rc=0; "$EKULAB" lab graph "$DEP" --step 1 >/dev/null 2>err || rc=$?
[ $rc = 2 ] && grep -q -- '--step takes a plan' err || fail "--step on a topology: rc $rc $(cat err)"
rc=0; "$EKULAB" lab status "$DEP" --step 1 >/dev/null 2>err || rc=$?
[ $rc = 2 ] && grep -q -- '--step is for lab graph' err || fail "--step on status: rc $rc $(cat err)"
rc=0; "$EKULAB" lab graph "$PLAN" --step x >/dev/null 2>err || rc=$?
[ $rc = 2 ] || fail "--step x: rc $rc"
printf 'topology: ../nope.yaml\nsteps: []\n' >bad.yaml
rc=0; "$EKULAB" lab graph bad.yaml >/dev/null 2>err || rc=$?
[ $rc = 2 ] && grep -q 'nope.yaml' err || fail "a plan with a missing topology: rc $rc $(cat err)"
rc=0; "$EKULAB" lab graph "$DEP" --svg /nonexistent/dir/x.svg --dot d.dot >/dev/null 2>err || rc=$?
[ $rc = 1 ] && grep -q '/nonexistent/dir/x.svg' err && [ -s d.dot ] ||
	fail "an unwritable output: rc $rc $(cat err)"
log "ok"

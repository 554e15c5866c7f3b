#!/usr/bin/env bash
# it_browser.sh: the pictures checked in a real browser. Headless Chromium
# (Debian's chromium, installed by scripts/install-deps.sh) renders the
# HTML report of a plan run and the SVG of `lab graph` (a 3-node lab up,
# a 6-node topology's prediction, a deployment's prediction with C and E
# clusters and an external, and a plan's state after a step); the test
# fails on a console
# message (the pages have no script: any message is a fault), a blank
# picture, or a clipped one (content reaching the window's edge).
source "${EKL_IT_LIB:?}"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || fail "no chromium (scripts/install-deps.sh installs Debian's chromium)"
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"

# shot FILE W H PNG: render FILE in a W x H window; console messages fail.
shot() {
	"$CHROMIUM" --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
		--no-first-run --user-data-dir="$T/chromium" --enable-logging=stderr --v=0 \
		--window-size="$2,$3" --screenshot="$4" "file://$1" >"$T/chromium.out" 2>&1 ||
		fail "chromium failed on $1: $(tail -3 "$T/chromium.out")"
	! grep ':CONSOLE' "$T/chromium.out" || fail "console messages rendering $1 (above)"
	[ -s "$4" ] || fail "no screenshot of $1"
	python3 "$(dirname "${BASH_SOURCE[0]}")/pngcheck.py" "$4" || fail "$1 renders badly (above)"
}
# A window of the SVG's own size: a drawing that reaches its edge was cut
# off by the SVG's own bounds.
svg_shot() {
	local w h
	read -r w h < <(python3 -c '
import re, sys
s = open(sys.argv[1]).read(2000)
print(re.search(r"width=\"(\d+)\"", s).group(1), re.search(r"height=\"(\d+)\"", s).group(1))' "$1")
	shot "$1" "$w" "$h" "$2"
}

log "the HTML report of a plan run"
cat >"$T/pair.yaml" <<'YAML'
name: it-browser-pair
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
  - upgrade: {node: node1, version: X15.4}
YAML
"$EKULAB" plan run "$T/plan.yaml" --no-workload --html "$T/report.html" >"$T/run.out" 2>&1 ||
	fail "plan run: $(cat "$T/run.out")"
shot "$T/report.html" 1280 900 "$T/report.png"

log "lab graph of a running lab"
cat >"$T/three.yaml" <<'YAML'
name: it-browser-three
cluster: {verify: enforce, primary: node1, dial: both, link: both}
defaults: {version: X15.3.2, role: c, cert: {profile: combined, ca: unrestricted}}
nodes:
  node1: {}
  node2: {cert: {profile: server-only}}
  node3: {version: X15.4, cert: {profile: server-only}}
YAML
trap 'rc=$?; "$EKULAB" lab down "$T/three.yaml" >/dev/null 2>&1 || true; (exit $rc); it_cleanup' EXIT
"$EKULAB" lab up "$T/three.yaml" >/dev/null || fail "lab up failed"
"$EKULAB" lab fault "$T/three.yaml" kill node3 >/dev/null || fail "kill node3"
"$EKULAB" lab graph "$T/three.yaml" --svg "$T/three.svg" 2>/dev/null || fail "lab graph --svg"
svg_shot "$T/three.svg" "$T/three.png"
"$EKULAB" lab down "$T/three.yaml" >/dev/null

log "lab graph of a 6-node topology (the prediction)"
cat >"$T/six.yaml" <<'YAML'
name: it-browser-six
cluster: {verify: enforce, primary: n1, dial: both, link: both}
defaults: {version: X15.3.2, role: c, cert: {profile: combined, ca: unrestricted}}
nodes:
  n1: {}
  n2: {cert: {profile: server-only}}
  n3: {version: X15.4, cert: {profile: server-only}}
  n4: {}
  n5: {version: X15.5}
  n6: {cert: {profile: server-only}}
YAML
"$EKULAB" lab graph "$T/six.yaml" --svg "$T/six.svg" 2>/dev/null || fail "lab graph of the prediction"
svg_shot "$T/six.svg" "$T/six.png"

log "lab graph of a deployment (C and E clusters, an external, zones): the prediction"
"$EKULAB" lab graph "$EKL_SOURCE_DIR/examples/deployment/mra-lab.yaml" --svg "$T/deploy.svg" 2>/dev/null ||
	fail "lab graph of a deployment"
grep -q 'class="external"' "$T/deploy.svg" || fail "no external group in the deployment SVG"
svg_shot "$T/deploy.svg" "$T/deploy.png"

log "lab graph of a plan after a step that breaks MRA"
"$EKULAB" lab graph "$EKL_SOURCE_DIR/examples/deployment/a-mra-e-before-c.yaml" --step 8 \
	--svg "$T/plan8.svg" 2>/dev/null || fail "lab graph of a plan --step 8"
grep -q 'mra: client-purpose' "$T/plan8.svg" || fail "the plan's step 8 SVG does not show MRA refused"
svg_shot "$T/plan8.svg" "$T/plan8.png"

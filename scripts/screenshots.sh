#!/bin/sh
# Write the README's pictures into docs/img/ from real runs, rendered by
# headless Chromium (Debian's chromium; scripts/install-deps.sh):
#   lab-graph.svg, lab-graph.png  examples/three-node.yaml up, node1's
#                                 certificate renewed server-only (--force),
#                                 as `lab graph --svg` draws it
#   plan-report.png               `plan run --html` of
#                                 examples/plans/a-renewal-breaks-pre-x15.4.yaml
#   deployment-graph.svg, .png    `lab graph --step 8` of
#                                 examples/deployment/a-mra-e-before-c.yaml:
#                                 C and E clusters, an external, the zones
#                                 (the model's prediction; no lab needed)
# Each picture is checked (tests/integration/pngcheck.py: not blank, not
# clipped). Usage: scripts/screenshots.sh [BUILD_DIR]   (default build)
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
build=${1:-build}
ekulab=$root/$build/cli/ekulab
[ -x "$ekulab" ] || { echo "screenshots: build first (cmake --build $build)" >&2; exit 1; }
export EKUNODE=$root/$build/node/ekunode
chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || { echo "screenshots: no chromium (scripts/install-deps.sh)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ekulab-shots.XXXXXX")
export TMPDIR=$tmp
topo=$root/examples/three-node.yaml
cleanup() {
	"$ekulab" lab down "$topo" --state "$tmp/lab" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p docs/img

# shot FILE W H PNG
shot() {
	"$chromium" --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
		--no-first-run --user-data-dir="$tmp/chromium" \
		--window-size="$2,$3" --screenshot="$4" "file://$1" >/dev/null 2>&1
	python3 tests/integration/pngcheck.py "$4"
}

"$ekulab" lab up "$topo" --state "$tmp/lab" >/dev/null
"$ekulab" lab fault "$topo" renew node1 server-only --force --state "$tmp/lab" >/dev/null
sleep 2
"$ekulab" lab graph "$topo" --state "$tmp/lab" --svg docs/img/lab-graph.svg 2>/dev/null
"$ekulab" lab down "$topo" --state "$tmp/lab" >/dev/null
size=$(python3 -c '
import re
s = open("docs/img/lab-graph.svg").read(2000)
print(int(re.search(r"width=\"(\d+)\"", s).group(1)), int(re.search(r"height=\"(\d+)\"", s).group(1)))')
set -- $size
shot "$root/docs/img/lab-graph.svg" "$1" "$2" docs/img/lab-graph.png

"$ekulab" plan run examples/plans/a-renewal-breaks-pre-x15.4.yaml --no-workload \
	--html "$tmp/report.html" >/dev/null
shot "$tmp/report.html" 1280 1900 docs/img/plan-report.png

"$ekulab" lab graph examples/deployment/a-mra-e-before-c.yaml --step 8 \
	--svg docs/img/deployment-graph.svg 2>/dev/null
size=$(python3 -c '
import re
s = open("docs/img/deployment-graph.svg").read(2000)
print(int(re.search(r"width=\"(\d+)\"", s).group(1)), int(re.search(r"height=\"(\d+)\"", s).group(1)))')
set -- $size
shot "$root/docs/img/deployment-graph.svg" "$1" "$2" docs/img/deployment-graph.png
echo "screenshots: docs/img/lab-graph.svg, lab-graph.png, plan-report.png, deployment-graph.svg, deployment-graph.png"

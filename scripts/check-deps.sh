#!/bin/sh
# Check that #include lines follow the layer rules (docs/architecture.md).
#
# Every C file belongs to the folder of the longest rule below that holds it;
# each quoted include is resolved to the folder it names and must be either
# that same folder or one the rule allows. A rule lists the folders a layer
# may include; everything else is a wrong arrow.
#
# Usage: scripts/check-deps.sh [ROOT]   (ROOT defaults to the repository)
# Exit 0 when every include is allowed, 1 listing the violations otherwise.
set -eu
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

# folder: folders it may include (besides itself). node/store takes its
# path and value limits from the admin protocol (ekulab/wire/adminproto.h,
# a libc-only header), so a maximal row always fits one request line.
rules='
include/ekulab/core:
include/ekulab/x509: include/ekulab/core
include/ekulab/wire: include/ekulab/core proto
lib/core: include/ekulab/core
lib/x509: include/ekulab/core include/ekulab/x509
lib/wire: include/ekulab/core include/ekulab/wire proto
model: include/ekulab/core include/ekulab/x509
model/plan: model include/ekulab/core include/ekulab/x509
node/store: include/ekulab/core include/ekulab/x509 include/ekulab/wire
node/repl: node/store include/ekulab/core include/ekulab/x509 include/ekulab/wire proto
node/net: include/ekulab/core include/ekulab/x509 include/ekulab/wire proto
node/admin: node node/net node/repl node/store include/ekulab/core include/ekulab/x509 include/ekulab/wire proto
node: node/admin node/net node/repl node/store include/ekulab/core include/ekulab/x509 include/ekulab/wire proto
cli/client: include/ekulab/core include/ekulab/wire
cli/proxy: cli/client include/ekulab/core include/ekulab/wire
cli/matrix: include/ekulab/core include/ekulab/x509
cli/audit: model model/plan include/ekulab/core include/ekulab/x509
cli/lab: cli/client model model/plan include/ekulab/core include/ekulab/x509 include/ekulab/wire
cli/plan: cli/lab cli/client model model/plan include/ekulab/core include/ekulab/x509 include/ekulab/wire
cli/bench: cli/lab cli/client include/ekulab/core include/ekulab/x509 include/ekulab/wire
cli: cli/client cli/proxy cli/matrix cli/audit cli/lab cli/plan cli/bench model model/plan include/ekulab/core include/ekulab/x509 include/ekulab/wire
'

# The rule (folder) that holds a file: the longest folder prefix with a rule.
rule_of() {
	d=$(dirname "$1")
	while [ "$d" != . ]; do
		if printf '%s\n' "$rules" | grep -q "^$d:"; then
			echo "$d"
			return
		fi
		d=$(dirname "$d")
	done
	echo ""
}

# The folder an include names, seen from file $1 whose program root is $2
# (node, cli or ""): same directory first (as the compiler searches), then
# the include roots the build gives.
folder_of() {
	f=$1 prog=$2 inc=$3
	if [ -e "$(dirname "$f")/$inc" ]; then
		dirname "$(dirname "$f")/$inc" | sed 's|/\./|/|g; s|^\./||'
		return
	fi
	case $inc in
	ekulab.pb-c.h) echo proto; return ;;
	esac
	if [ -e "include/$inc" ]; then dirname "include/$inc"; return; fi
	if [ -n "$prog" ] && [ -e "$prog/$inc" ]; then dirname "$prog/$inc"; return; fi
	if [ -e "$inc" ]; then dirname "$inc"; return; fi
	echo "?"
}

bad=0
for f in $(find include lib model node cli -name '*.[ch]' | sort); do
	r=$(rule_of "$f")
	if [ -z "$r" ]; then
		echo "check-deps: $f: no layer rule covers this folder; add one to scripts/check-deps.sh" >&2
		bad=1
		continue
	fi
	allowed=$(printf '%s\n' "$rules" | sed -n "s|^$r:||p")
	case $f in node/*) prog=node ;; cli/*) prog=cli ;; *) prog="" ;; esac
	for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
		case $inc in
		*..*)
			echo "check-deps: $f: #include \"$inc\" climbs out with '..'" >&2
			bad=1
			continue
			;;
		esac
		to=$(folder_of "$f" "$prog" "$inc")
		[ "$to" = "$r" ] && continue
		# a file may include its own layer's subfolders' headers only
		# through an explicit rule, never implicitly
		ok=0
		for a in $allowed; do [ "$to" = "$a" ] && ok=1; done
		if [ $ok = 0 ]; then
			echo "check-deps: $f: #include \"$inc\" ($to) crosses a layer boundary: $r may include only: ${allowed:-its own folder}" >&2
			bad=1
		fi
	done
done
[ $bad = 0 ] && echo "check-deps: every include follows the layer rules"
exit $bad

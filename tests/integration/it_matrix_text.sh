#!/usr/bin/env bash
# it_matrix_text.sh: `ekulab matrix` text output people read. By default
# the compact grids, each headed "this grid holds for all N version pairs
# below" with exactly N pairs listed, and a one-line summary, without the
# case list; progress on a terminal (a pty here, via script(1)) and none
# when stderr is not one; --verbose adds the X15.5, edge and zone-edge
# cases, and the summary counts them.
source "${EKL_IT_LIB:?}"
export TMPDIR="$T"
command -v script >/dev/null || fail "script(1) (util-linux) is needed"

log "default output on a terminal"
rc=0
script -qec "'$EKULAB' matrix --jobs 2 >'$T/compact.txt'" "$T/tty.txt" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "matrix exited $rc: $(tail -5 "$T/compact.txt")"
grep -q 'matrix: [0-9]* of [0-9]* handshakes' "$T/tty.txt" || fail "no progress on a terminal: $(head -c 300 "$T/tty.txt")"
python3 - "$T/compact.txt" <<'PY' || fail "compact output: $(head -40 "$T/compact.txt")"
import re, sys
lines = open(sys.argv[1]).read().split("\n")
heads = [i for i, l in enumerate(lines) if "this grid holds for all" in l]
assert len(heads) >= 3, "no grid headers"
total = 0
for i in heads:
    n = int(re.search(r"holds for all (\d+) version pairs?", lines[i]).group(1))
    pairs = []
    k = i + 1
    while lines[k].startswith("  X"):
        pairs += lines[k].split()
        k += 1
    assert len(pairs) == n, (lines[i], pairs)
    total += n
# 4 versions x 4 versions, both verify modes
assert total == 32, total
summary = [l for l in lines if re.match(r"^\d+ cases, 0 disagreements: ", l)]
assert len(summary) == 1, "no one-line summary"
assert "--verbose lists them" in summary[0], summary
assert not any(l.startswith("  edge ") or l.startswith("  zone-edge ") for l in lines), "case list in the compact output"
PY

log "--verbose lists the cases; no progress off a terminal"
"$EKULAB" matrix --jobs 2 --verbose >"$T/verbose.txt" 2>"$T/verbose.err" || fail "matrix --verbose failed"
[ ! -s "$T/verbose.err" ] || fail "progress off a terminal: $(head -c 200 "$T/verbose.err")"
n=$(grep -oE '[0-9]+ X15.5, edge and zone-edge cases' "$T/compact.txt" | cut -d' ' -f1)
[ "$(grep -cE '^  (x15.5|edge|zone-edge) ' "$T/verbose.txt")" -eq "$n" ] ||
	fail "--verbose lists $(grep -cE '^  (x15.5|edge|zone-edge) ' "$T/verbose.txt") cases, the summary said $n"

#!/usr/bin/env bash
# it_lab_watch.sh: `ekulab lab status NAME --watch` draws the status once,
# draws it again only when it changes (a node killed shows as
# not-running), and stops with exit 0 on Ctrl-C (SIGINT). Off a terminal
# each frame follows a "--- HH:MM:SS" line.
source "${EKL_IT_LIB:?}"
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
TOPO="$T/pair.yaml"
cat >"$TOPO" <<'YAML'
name: it-watch-pair
cluster: {verify: enforce, primary: node1, dial: both, link: both}
defaults: {version: X15.4, role: c, cert: {profile: combined, ca: unrestricted}}
nodes:
  node1: {}
  node2: {}
YAML
WPID=""
trap 'rc=$?; [ -z "$WPID" ] || kill "$WPID" 2>/dev/null; "$EKULAB" lab down "$TOPO" >/dev/null 2>&1 || true; (exit $rc); it_cleanup' EXIT
"$EKULAB" lab up "$TOPO" >/dev/null || fail "lab up failed"
frames() { grep -c '^--- [0-9][0-9]:[0-9][0-9]:[0-9][0-9]$' "$T/watch.out" 2>/dev/null || true; }
frames_ge() { [ "$(frames)" -ge "$1" ]; }
# not-running outside the legend (which explains the word) in the last frame
last_frame() { awk '/^--- /{buf = ""} {buf = buf $0 "\n"} END {printf "%s", buf}' "$T/watch.out"; }
killed_shown() { [ "$(last_frame | grep -c not-running)" -ge 2 ]; }

"$EKULAB" lab status it-watch-pair --watch >"$T/watch.out" 2>"$T/watch.err" &
WPID=$!
wait_until 15 frames_ge 1 || fail "no first frame: $(cat "$T/watch.err")"
sleep 2
[ "$(frames)" -eq 1 ] || fail "redrawn with nothing changed: $(frames) frames"
! killed_shown || fail "not-running before any fault"
"$EKULAB" lab fault it-watch-pair kill node2 >/dev/null || fail "kill node2"
wait_until 15 killed_shown || fail "the kill never showed: $(tail -20 "$T/watch.out")"
[ "$(frames)" -ge 2 ] || fail "no new frame for the kill"
kill -INT "$WPID"
rc=0
wait "$WPID" || rc=$?
WPID=""
[ "$rc" -eq 0 ] || fail "--watch ended with $rc on SIGINT"

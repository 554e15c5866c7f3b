#!/usr/bin/env bash
# it_help.sh: help, version, man pages and completion.
# Every command and every verb (lab up|down|status|graph|exec|fault, plan
# check|run|explore, ...) answers --help (and -h) on stdout with exit 0;
# each lab and plan verb's help has its purpose, every flag with its
# meaning and a default (or "required"), and its exit codes, and names
# every flag its usage line shows; ekulab --version and ekunode --version
# print the version and the git commit; ekunode -h works; the man pages
# ekulab(1), ekunode(8), ekulab-topology(5) render without a warning,
# hold every verb and flag, and `cmake --install` installs them with the
# bash completion, which completes commands, verbs and flags.
source "${EKL_IT_LIB:?}"
: "${EKL_BUILD_DIR:?}" "${EKL_SOURCE_DIR:?}"

log "--help of every command and verb"
main=$("$EKULAB" --help)
cmds=$(printf '%s\n' "$main" | awk '$0 == "commands:" {on = 1; next} on && NF == 0 {on = 0} on {print $1}')
[ "$(echo $cmds | wc -w)" -ge 9 ] || fail "ekulab --help lists too few commands: $cmds"
for c in $cmds; do
	"$EKULAB" "$c" --help >"$T/h" 2>"$T/e" || fail "ekulab $c --help exited $?"
	grep -q '^usage: ekulab' "$T/h" || fail "ekulab $c --help has no usage line"
	[ ! -s "$T/e" ] || fail "ekulab $c --help wrote to stderr: $(cat "$T/e")"
done
for v in up down status graph exec fault; do
	"$EKULAB" lab "$v" --help >"$T/lab-$v" || fail "lab $v --help exited $?"
	"$EKULAB" lab "$v" -h | cmp -s - "$T/lab-$v" || fail "lab $v -h differs from --help"
done
for v in check run explore; do
	"$EKULAB" plan "$v" --help >"$T/plan-$v" || fail "plan $v --help exited $?"
	"$EKULAB" plan "$v" -h | cmp -s - "$T/plan-$v" || fail "plan $v -h differs from --help"
done
grep -q -- '--verify-live N' "$T/plan-explore" || fail "plan explore --help does not explain --verify-live"
python3 - "$T" <<'PY' || fail "a verb's help lacks a purpose, a flag's meaning or default, or exit codes"
import re, sys
t = sys.argv[1]
for name in ["lab-up", "lab-down", "lab-status", "lab-graph", "lab-exec",
             "lab-fault", "plan-check", "plan-run", "plan-explore"]:
    text = open("%s/%s" % (t, name)).read()
    usage, _, rest = text.partition("\n\n")
    purpose = rest.split("\n\n")[0]
    assert len(purpose.split()) >= 6, (name, "no purpose", purpose)
    assert "\nexit status:\n  0  " in text and "\n  2  " in text, (name, "exit codes")
    opts = text.split("\noptions:\n")[1].split("\n\n")[0]
    items, cur = {}, None
    for line in opts.split("\n"):
        m = re.match(r"^  (--[a-z-]+)", line)
        if m:
            cur = m.group(1)
            items[cur] = line
        elif cur:
            items[cur] += " " + line.strip()
    for flag, item in items.items():
        if flag == "--help":
            continue
        meaning = re.sub(r"^\s*--\S+( [A-Z_|.-]+)?", "", item).strip()
        assert len(meaning.split()) >= 3, (name, flag, "no meaning")
        assert "default" in item or "required" in item, (name, flag, "no default")
    for flag in re.findall(r"--[a-z][a-z-]*", usage):
        assert flag in items, (name, flag, "in the usage line, not explained")
print("ok")
PY

log "--version and ekunode -h"
"$EKULAB" --version | grep -Eq '^ekulab [0-9]+\.[0-9]+\.[0-9]+ \(commit [0-9a-f]{7,}(-dirty)?\)$' ||
	fail "ekulab --version: $("$EKULAB" --version)"
"$EKUNODE" --version | grep -Eq '^ekunode [0-9]+\.[0-9]+\.[0-9]+ \(commit [0-9a-f]{7,}(-dirty)?\)$' ||
	fail "ekunode --version: $("$EKUNODE" --version)"
[ "$("$EKULAB" --version | cut -d' ' -f2-)" = "$("$EKUNODE" --version | cut -d' ' -f2-)" ] ||
	fail "ekulab and ekunode report different versions"
( cd "$EKL_SOURCE_DIR" && git rev-parse --short=12 HEAD 2>/dev/null ) >"$T/head" || true
if [ -s "$T/head" ]; then
	"$EKULAB" --version | grep -q "commit $(cat "$T/head")" ||
		fail "ekulab --version does not name HEAD $(cat "$T/head"): $("$EKULAB" --version)"
fi
"$EKUNODE" -h >"$T/node-h" || fail "ekunode -h exited $?"
"$EKUNODE" --help | cmp -s - "$T/node-h" || fail "ekunode -h differs from --help"
for f in --heartbeat-ms --dead-ms --backoff-max-ms --log-keep --ack-timeout-ms --link --log-level --version-skew; do
	grep -A2 -- "$f" "$T/node-h" | grep -q 'default' || fail "ekunode --help: $f has no default"
done

log "man pages render"
cmake --install "$EKL_BUILD_DIR" --prefix "$T/inst" >/dev/null || fail "cmake --install failed"
for p in man1/ekulab.1 man8/ekunode.8 man5/ekulab-topology.5; do
	f="$T/inst/share/man/$p"
	[ -s "$f" ] || fail "not installed: share/man/$p"
	groff -man -Tutf8 -ww -z "$f" 2>"$T/groff.err" || fail "groff failed on $p"
	[ ! -s "$T/groff.err" ] || fail "groff warns on $p: $(head -5 "$T/groff.err")"
	if command -v man >/dev/null; then
		MANWIDTH=80 man -l "$f" >"$T/$(basename "$p").txt" 2>/dev/null || fail "man -l $p failed"
	else
		groff -man -Tutf8 "$f" >"$T/$(basename "$p").txt"
	fi
	[ "$(wc -l <"$T/$(basename "$p").txt")" -gt 40 ] || fail "$p renders almost nothing"
done
for v in up down status graph exec fault; do
	grep -q "ekulab lab $v\$" "$T/ekulab.1.txt" || fail "ekulab(1) has no section for lab $v"
done
for v in check run explore; do
	grep -q "ekulab plan $v\$" "$T/ekulab.1.txt" || fail "ekulab(1) has no section for plan $v"
done
grep -q -- '--verify-live' "$T/ekulab.1.txt" || fail "ekulab(1) lacks --verify-live"
grep -q -- '--ack-timeout-ms' "$T/ekunode.8.txt" || fail "ekunode(8) lacks --ack-timeout-ms"
grep -q 'server_eku_upload' "$T/ekulab-topology.5.txt" || fail "ekulab-topology(5) lacks server_eku_upload"
# The page is the help: a sentence of lab up's help is in ekulab(1).
grep -q "until the next 'lab up'" "$T/ekulab.1.txt" || fail "ekulab(1) does not hold lab up's help"

log "bash completion"
comp="$T/inst/share/bash-completion/completions/ekulab"
[ -s "$comp" ] && [ -s "$T/inst/share/bash-completion/completions/ekunode" ] ||
	fail "bash completion not installed"
# The words into a file first: `grep -q` in a pipe may close it early and
# pipefail would count the writer's SIGPIPE as a failure.
complete_words() {
	bash -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		case "$1" in *ekunode) _ekunode ;; *) _ekulab ;; esac
		printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$@" >"$T/words"
}
complete_words "$EKULAB" "l" && grep -qx lab "$T/words" || fail "completion: 'ekulab l' does not give lab"
complete_words "$EKULAB" "--v" && grep -qx -- --version "$T/words" || fail "completion: no --version"
complete_words "$EKULAB" lab "" && grep -qx fault "$T/words" || fail "completion: lab verbs"
complete_words "$EKULAB" plan "ex" && grep -qx explore "$T/words" || fail "completion: plan explore"
complete_words "$EKULAB" pki "" && grep -qx issue "$T/words" || fail "completion: pki issue"
complete_words "$EKULAB" lab up x.yaml "--no" && grep -qx -- --no-wait "$T/words" || fail "completion: lab up --no-wait"
complete_words "$EKULAB" plan explore x.yaml "--ver" && grep -qx -- --verify-live "$T/words" || fail "completion: --verify-live"
complete_words "$EKUNODE" "--ack" && grep -qx -- --ack-timeout-ms "$T/words" || fail "completion: ekunode flags"

# lib.sh: shared helpers for the ekunode integration tests (sourced by it_*.sh).
#
# Each test gets a private temp dir $T and an EXIT trap that stops every
# ekunode the test started (TERM, then KILL after 2 s) and removes $T, so no
# process outlives a test, also when it fails. Nodes run on 127.0.0.1 with
# ports picked by free_port, log to $T/NAME.log and serve their admin socket
# at $T/NAME.sock. JSON is read with python3 (no jq).
#
# Environment: EKUNODE and EKULAB (the built programs; ctest sets them).
# EKL_IT_KEEP=1 keeps $T for a post-mortem.

set -euo pipefail

: "${EKUNODE:?set EKUNODE to the ekunode binary}"
: "${EKULAB:?set EKULAB to the ekulab binary}"
command -v python3 >/dev/null || {
	echo "integration tests need python3 (scripts/install-deps.sh)" >&2
	exit 1
}

IT_NAME=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/ekl-${IT_NAME}.XXXXXX")
PKI="$T/pki"        # the cluster PKI (pki_setup)
CLUSTER=lab
# Fast timers so that links settle in well under a second.
FAST_FLAGS=(--heartbeat-ms 200 --dead-ms 1000 --backoff-max-ms 300)

declare -A NODE_PID=()  # NAME -> pid of the running ekunode
declare -A PORT=()      # NAME -> TCP port on 127.0.0.1
IT_PIDS=()              # every ekunode pid ever started, for the trap

log() { printf '[%s] %s\n' "$IT_NAME" "$*" >&2; }

# The last lines of every node log, to explain a failure.
dump_logs() {
	local f
	for f in "$T"/*.log; do
		[ -e "$f" ] || continue
		printf -- '----- %s (last 40 lines) -----\n' "$(basename "$f")" >&2
		tail -n 40 "$f" >&2 || true
	done
}

fail() {
	local n
	printf '[%s] FAIL: %s\n' "$IT_NAME" "$*" >&2
	# A node that should run but has gone (crashed, or killed by someone
	# else's broad pkill) explains many failures: say so first.
	for n in "${!NODE_PID[@]}"; do
		kill -0 "${NODE_PID[$n]}" 2>/dev/null ||
			printf '[%s] note: ekunode %s (pid %s) is no longer running\n' \
				"$IT_NAME" "$n" "${NODE_PID[$n]}" >&2
	done
	dump_logs
	exit 1
}

# Stop one pid: TERM, then KILL if it is still there after 2 s. Sets
# STOP_RC to its exit status (137 when it had to be killed). Must run in
# the test's shell (wait only knows its own children), never in $(...).
STOP_RC=0
stop_pid() {
	local pid=$1 i
	STOP_RC=0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 20; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || STOP_RC=$?
}

it_cleanup() {
	local rc=$? pid f
	trap - EXIT
	set +e
	for pid in "${IT_PIDS[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			stop_pid "$pid"
		fi
	done
	# A sanitizer report in any node log fails the test.
	for f in "$T"/*.log; do
		[ -e "$f" ] || continue
		if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$f"; then
			printf '[%s] FAIL: sanitizer report in %s:\n' \
				"$IT_NAME" "$(basename "$f")" >&2
			grep -A 30 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
				"$f" | head -n 60 >&2
			[ "$rc" -eq 0 ] && rc=1
		fi
	done
	if [ "${EKL_IT_KEEP:-0}" = 1 ]; then
		log "kept $T"
	else
		rm -rf "$T"
	fi
	if [ "$rc" -eq 0 ]; then
		log "PASS"
	fi
	exit "$rc"
}
trap it_cleanup EXIT
# A test killed by ctest's timeout or ^C still cleans up.
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

# ---- ports ----

# An unused TCP port on 127.0.0.1, below the ephemeral range (so a node's
# outbound connections cannot hold it), different from every port this
# test handed out already.
free_port() {
	python3 - "${PORT[@]}" <<'EOF'
import random, socket, sys
taken = set(int(p) for p in sys.argv[1:])
for _ in range(200):
    p = random.randint(20000, 32000)
    if p in taken:
        continue
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    sys.exit(0)
sys.exit("no free port found")
EOF
}

# Give NAME a port (once); must run in the test's shell, not in $(...).
alloc_port() {
	local name=$1
	if [ -z "${PORT[$name]:-}" ]; then
		PORT[$name]=$(free_port)
	fi
}

# ---- PKI ----

# pki_setup [DIR]: a lab PKI (default $PKI).
pki_setup() {
	local dir=${1:-$PKI}
	"$EKULAB" pki init --dir "$dir" >/dev/null ||
		fail "ekulab pki init --dir $dir failed"
}

# issue NAME PROFILE [more ekulab pki issue flags...], in $PKI unless
# --dir is given first: issue --dir D NAME PROFILE ...
issue() {
	local dir=$PKI
	if [ "$1" = --dir ]; then
		dir=$2
		shift 2
	fi
	local name=$1 profile=$2
	shift 2
	"$EKULAB" pki issue --dir "$dir" --name "$name" --profile "$profile" \
		"$@" >/dev/null ||
		fail "ekulab pki issue $name ($profile $*) failed"
}

# ---- nodes ----

sock_of() { printf '%s/%s.sock' "$T" "$1"; }

# node_args NAME VERSION VERIFY CERTNAME [extra ekunode flags...]
# Sets NODE_ARGS to a full ekunode command line (without the program):
# the certificate CERTNAME from $PKI (trust bundle $CA_FILE, default
# $PKI/ca.crt), data in $DATA_DIR (default $T/NAME.data), admin socket
# $ADMIN_PATH (default $T/NAME.sock), listening
# on 127.0.0.1:PORT[NAME] (allocated when missing) with the fast timers.
# An extra argument @PEER stands for --peer PEER=127.0.0.1:PORT[PEER], and
# @PEER,dial=no for the same with that peer option.
NODE_ARGS=()
node_args() {
	local name=$1 version=$2 verify=$3 certname=$4 a
	shift 4
	alloc_port "$name"
	NODE_ARGS=(--name "$name" --cluster "$CLUSTER"
		--listen "127.0.0.1:${PORT[$name]}"
		--cert "$PKI/$certname.crt" --key "$PKI/$certname.key"
		--ca "${CA_FILE:-$PKI/ca.crt}" --version "$version" --role c
		--verify "$verify" --data "${DATA_DIR:-$T/$name.data}"
		--admin "${ADMIN_PATH:-$(sock_of "$name")}" "${FAST_FLAGS[@]}")
	for a in "$@"; do
		if [ "${a#@}" != "$a" ]; then
			# @PEER[,OPTION...]: options such as dial=no go after
			# the address.
			local p=${a#@} o=
			if [ "${p#*,}" != "$p" ]; then
				o=",${p#*,}"
				p=${p%%,*}
			fi
			alloc_port "$p"
			NODE_ARGS+=(--peer "$p=127.0.0.1:${PORT[$p]}$o")
		else
			NODE_ARGS+=("$a")
		fi
	done
}

# start_node NAME VERSION VERIFY CERTNAME [extra...]: node_args, then run
# ekunode in the background, its output appended to $T/NAME.log (so a
# restart keeps the history).
start_node() {
	node_args "$@"
	echo "=== start $* $(date +%T.%N)" >>"$T/$1.log"
	"$EKUNODE" "${NODE_ARGS[@]}" >>"$T/$1.log" 2>&1 </dev/null &
	NODE_PID[$1]=$!
	IT_PIDS+=("$!")
}

# expect_start_fail NAME VERSION VERIFY CERTNAME [extra...]: ekunode must
# refuse to start: exit non-zero within 10 s, leaving neither its admin
# socket nor a listener on its port. Sets START_ERR to its stderr.
# IT_BUSY_PORT=1 / IT_BUSY_ADMIN=1: the port / admin path belongs to
# another (live) node, so it is expected to be there still.
START_ERR=
expect_start_fail() {
	local name=$1 rc=0
	node_args "$@"
	echo "=== expect start failure: $* $(date +%T.%N)" >>"$T/$name.log"
	timeout 10 "$EKUNODE" "${NODE_ARGS[@]}" </dev/null \
		>>"$T/$name.log" 2>"$T/$name.stderr" || rc=$?
	START_ERR=$(cat "$T/$name.stderr")
	cat "$T/$name.stderr" >>"$T/$name.log"
	[ "$rc" -ne 124 ] ||
		fail "ekunode $name started (ran 10 s) but should have refused"
	[ "$rc" -ne 0 ] || fail "ekunode $name exited 0 but should have refused"
	[ -n "$START_ERR" ] || fail "ekunode $name failed (status $rc) silently"
	case "$START_ERR" in
	*Sanitizer* | *"runtime error"*) fail "sanitizer report: $START_ERR" ;;
	esac
	if [ "${IT_BUSY_ADMIN:-0}" != 1 ]; then
		[ ! -e "$(sock_of "$name")" ] ||
			fail "refused ekunode $name left $(sock_of "$name") behind"
	fi
	if [ "${IT_BUSY_PORT:-0}" != 1 ]; then
		! port_listening "${PORT[$name]}" ||
			fail "refused ekunode $name left port ${PORT[$name]} listening"
	fi
}

# stop_node NAME: TERM and wait; the node must exit 0 (clean shutdown,
# no sanitizer report) and remove its admin socket.
stop_node() {
	local name=$1 pid
	pid=${NODE_PID[$name]:-}
	[ -n "$pid" ] || fail "stop_node: $name is not running"
	stop_pid "$pid"
	unset "NODE_PID[$name]"
	[ "$STOP_RC" -eq 0 ] ||
		fail "ekunode $name exited with status $STOP_RC on SIGTERM"
	[ ! -e "$(sock_of "$name")" ] ||
		fail "ekunode $name left its admin socket $(sock_of "$name")"
}

# wait_until TIMEOUT_S COMMAND...: run COMMAND every 0.1 s until it
# succeeds; returns 1 after TIMEOUT_S seconds.
wait_until() {
	local timeout=$1
	shift
	local deadline=$((SECONDS + timeout))
	while :; do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

node_alive() { kill -0 "${NODE_PID[$1]}" 2>/dev/null; }

admin_ready() { "$EKULAB" ctl --socket "$1" help >/dev/null 2>&1; }

# wait_admin NAME [TIMEOUT]: the node answers on its admin socket.
wait_admin() {
	local name=$1 timeout=${2:-10} deadline
	deadline=$((SECONDS + timeout))
	while ! admin_ready "$(sock_of "$name")"; do
		node_alive "$name" || fail "ekunode $name exited during start-up"
		[ "$SECONDS" -lt "$deadline" ] ||
			fail "ekunode $name: admin socket not ready after ${timeout}s"
		sleep 0.1
	done
}

# status_json NAME: `xStatus Cluster` as JSON on stdout.
status_json() {
	"$EKULAB" ctl --socket "$(sock_of "$1")" --json 'xStatus Cluster'
}

# jget PATH < JSON: one value. PATH is dot-separated; a part may be
# key, key[N] or key[field=value] (the element whose field equals value).
# Strings print raw, null prints "null", anything else as JSON.
jget() {
	python3 -c '
import json, re, sys
doc = json.load(sys.stdin)
v = doc
for part in sys.argv[1].split("."):
    m = re.fullmatch(r"([^\[\]]*)(?:\[([^\]]*)\])?", part)
    key, sel = m.group(1), m.group(2)
    if key:
        if not isinstance(v, dict) or key not in v:
            sys.exit("no key %r at %r" % (key, part))
        v = v[key]
    if sel is None:
        continue
    if "=" in sel:
        f, want = sel.split("=", 1)
        hits = [e for e in v if isinstance(e, dict) and str(e.get(f)) == want]
        if len(hits) != 1:
            sys.exit("%d elements with %s=%s" % (len(hits), f, want))
        v = hits[0]
    else:
        v = v[int(sel)]
if v is None:
    print("null")
elif isinstance(v, str):
    print(v)
else:
    print(json.dumps(v, sort_keys=True))
' "$1"
}

# node_get NAME PATH: one value of NAME's status JSON.
node_get() {
	local j
	j=$(status_json "$1") || return 1
	jget "$2" <<<"$j"
}

node_is() { [ "$(node_get "$1" "$2" 2>/dev/null)" = "$3" ]; }

# node_set NAME PATH: the value exists and is not null.
node_set() {
	local v
	v=$(node_get "$1" "$2" 2>/dev/null) && [ "$v" != null ]
}

# expect NAME PATH VALUE: assert now.
expect() {
	local name=$1 path=$2 want=$3 got j
	j=$(status_json "$name") || fail "cannot read the status of $name"
	got=$(jget "$path" <<<"$j" 2>&1) || got="<$got>"
	if [ "$got" != "$want" ]; then
		printf '%s status:\n%s\n' "$name" "$j" >&2
		fail "$name: $path is '$got', expected '$want'"
	fi
}

# wait_for NAME PATH VALUE [TIMEOUT]: poll until it holds (default 15 s).
wait_for() {
	local name=$1 path=$2 want=$3 timeout=${4:-15} got j
	if wait_until "$timeout" node_is "$name" "$path" "$want"; then
		return 0
	fi
	j=$(status_json "$name" 2>&1) || true
	got=$(jget "$path" <<<"$j" 2>&1) || got="<$got>"
	printf '%s status:\n%s\n' "$name" "$j" >&2
	fail "$name: $path is '$got' after ${timeout}s, expected '$want'"
}

assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-value}: got '$1', expected '$2'"
}

assert_contains() {
	case "$1" in
	*"$2"*) ;;
	*) printf 'text was:\n%s\n' "$1" >&2
	   fail "${3:-text} does not contain '$2'" ;;
	esac
}

assert_not_contains() {
	case "$1" in
	*"$2"*) printf 'text was:\n%s\n' "$1" >&2
		fail "${3:-text} contains '$2'" ;;
	*) ;;
	esac
}

# file_mode PATH: octal permission bits, e.g. 600.
file_mode() { stat -c %a "$1"; }

# Is something listening on 127.0.0.1:PORT?
port_listening() {
	python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.settimeout(1)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
s.close()
EOF
}

# ---- the configuration database (replication tests) ----

# ctl NAME [ekulab ctl flags...] 'COMMAND': ekulab ctl on NAME's socket.
ctl() {
	local name=$1
	shift
	"$EKULAB" ctl --socket "$(sock_of "$name")" "$@"
}

# db NAME KEY: one value of NAME's `xStatus Database` (revision, digest,
# epoch, primary, rows, log_first, rev_epoch, node).
db() {
	local out
	out=$(ctl "$1" 'xStatus Database') || return 1
	awk -v k="$2" '$1 == k { print $2; found = 1 } END { exit !found }' \
		<<<"$out"
}

# db_sig NAME: "revision digest" of NAME.
db_sig() {
	local out
	out=$(ctl "$1" 'xStatus Database') || return 1
	awk '$1 == "revision" { r = $2 } $1 == "digest" { d = $2 }
	     END { if (r == "" || d == "") exit 1; print r, d }' <<<"$out"
}

# same_db NAME...: every node has the first one's revision and digest.
same_db() {
	local first n s
	first=$(db_sig "$1") || return 1
	for n in "${@:2}"; do
		s=$(db_sig "$n") || return 1
		[ "$s" = "$first" ] || return 1
	done
}

# verify_cluster NAME... [-- verify-cluster flags]: ekulab verify-cluster
# over these nodes' sockets.
verify_cluster() {
	local a=() n
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		a+=(--socket "$(sock_of "$1")")
		shift
	done
	[ $# -eq 0 ] || shift
	"$EKULAB" verify-cluster "${a[@]}" "$@"
}

# wait_converged TIMEOUT NAME...: poll (cheaply: revision and digest)
# until every node agrees with the first, then require verify-cluster to
# say so too (exit 0). Fails with verify-cluster's report otherwise.
wait_converged() {
	local timeout=$1 out rc=0 n
	shift
	if ! wait_until "$timeout" same_db "$@"; then
		for n in "$@"; do
			printf '%s: %s\n' "$n" "$(db_sig "$n" 2>&1)" >&2
		done
		verify_cluster "$@" >&2 || true
		fail "nodes $* did not converge within ${timeout}s"
	fi
	out=$(verify_cluster "$@") || rc=$?
	[ "$rc" -eq 0 ] || {
		printf '%s\n' "$out" >&2
		fail "verify-cluster $* exited $rc after convergence"
	}
	log "converged: $out"
}

# write_batch_file FILE FIRST LAST PREFIX: xConfiguration lines
# "PREFIX/N: vN" for N in FIRST..LAST.
write_batch_file() {
	awk -v a="$2" -v b="$3" -v p="$4" 'BEGIN {
		for (i = a; i <= b; i++)
			printf "xConfiguration %s/%d: v%d\n", p, i, i
	}' >"$1"
}

# start_cluster3 [extra ekunode flags for every node...]: node1 (primary),
# node2, node3, all X15.3.2 enforce with their own combined certificates
# (issued by the caller), fully meshed; waits until node1 replicates to
# both peers.
start_cluster3() {
	local n p peers
	for n in node1 node2 node3; do
		peers=()
		for p in node1 node2 node3; do
			[ "$p" = "$n" ] || peers+=("@$p")
		done
		start_node "$n" X15.3.2 enforce "$n" "${peers[@]}" \
			--primary node1 "$@"
	done
	for n in node1 node2 node3; do
		wait_admin "$n"
	done
	for p in node2 node3; do
		wait_for node1 "peers[name=$p].replication.state" replicating
	done
}

# restart_node NAME [extra ekunode flags...]: start NAME again as
# start_cluster3 did (same data, port and certificate).
restart_node() {
	local n=$1 p peers=()
	shift
	for p in node1 node2 node3; do
		[ "$p" = "$n" ] || peers+=("@$p")
	done
	start_node "$n" X15.3.2 enforce "$n" "${peers[@]}" --primary node1 "$@"
	wait_admin "$n"
}

# lines FILE: number of lines (0 when missing).
lines() { if [ -e "$1" ]; then wc -l <"$1"; else echo 0; fi; }
file_has_lines() { [ "$(lines "$1")" -ge "$2" ]; }

# crash_node NAME: kill -9 NAME and reap it (no clean shutdown: its admin
# socket file stays behind, as after a power cut).
crash_node() {
	local name=$1 pid
	pid=${NODE_PID[$name]:-}
	[ -n "$pid" ] || fail "crash_node: $name is not running"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "NODE_PID[$name]"
	echo "=== kill -9 $(date +%T.%N)" >>"$T/$name.log"
}

# dump_rows NAME FILE: NAME's rows as a JSON object (path -> value).
dump_rows() {
	ctl "$1" --json xConfiguration >"$2" ||
		fail "cannot list the rows of $1"
}

# check_acked BATCH ACKS PREFIX DUMP...: every write of the ctl --batch
# file BATCH acknowledged in ACKS ("LINE ok revision R") is in each DUMP
# (dump_rows output) with its value; no DUMP holds a PREFIX row that BATCH
# never sent (or with another value). Prints the counts; fails otherwise.
check_acked() {
	python3 - "$@" <<'PY' || fail "acknowledged writes lost or rows invented (above)"
import json, re, sys
batch, acks, prefix, dumps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
sent = {}
by_line = {}
with open(batch) as f:
    for no, line in enumerate(f, 1):
        m = re.fullmatch(r"xConfiguration (.*?): (.*)", line.rstrip("\n"))
        if m:
            sent[m.group(1)] = m.group(2)
            by_line[no] = m.group(1)
acked = {}
with open(acks) as f:
    for line in f:
        m = re.fullmatch(r"(\d+) ok revision (\d+)", line.rstrip("\n"))
        if m:
            p = by_line[int(m.group(1))]
            acked[p] = sent[p]
bad = False
for d in dumps:
    rows = json.load(open(d))
    mine = {p: v for p, v in rows.items() if p.startswith(prefix)}
    lost = [p for p, v in acked.items() if rows.get(p) != v]
    unexpected = [p for p, v in mine.items() if sent.get(p) != v]
    unacked = len([p for p in mine if p not in acked])
    print("%s: %d sent, %d acked, %d present, lost %d, unexpected %d, "
          "present but not acked %d" % (d.rsplit("/", 1)[-1], len(sent),
          len(acked), len(mine), len(lost), len(unexpected), unacked),
          file=sys.stderr)
    if lost or unexpected:
        print("  lost e.g. %s; unexpected e.g. %s" % (lost[:5], unexpected[:5]),
              file=sys.stderr)
        bad = True
sys.exit(1 if bad else 0)
PY
}

# db_is NAME KEY VALUE: NAME's `xStatus Database` KEY is VALUE now.
db_is() { [ "$(db "$1" "$2" 2>/dev/null)" = "$3" ]; }

# wait_db NAME KEY VALUE [TIMEOUT]: poll until db_is holds (default 15 s).
wait_db() {
	wait_until "${4:-15}" db_is "$1" "$2" "$3" ||
		fail "$1: database $2 is '$(db "$1" "$2" 2>&1)' after ${4:-15}s, expected '$3'"
}

# last_run_log NAME: NAME's log since its last start.
last_run_log() {
	awk '/^=== start / { buf = "" } { buf = buf $0 "\n" }
	     END { printf "%s", buf }' "$T/$1.log"
}

# ---- example plans under every dial mode and link rule ----

# example_plans_under LINK: every example plan (examples/plans/*.yaml with
# steps) run live under each dial mode with link rule LINK (plan run --dial
# --link): 0 deviations from the model and no acknowledged write lost.
# Under the plan's own dial mode and link rule every expectation must hold
# too (exit 0); under another, an expectation may fail only where the
# model says it fails (expectations_failed, not a deviation). Runs go
# under $TMPDIR, which the caller points into $T.
example_plans_under() {
	local link=$1 ex plan name dial own rc
	ex="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../examples/plans" && pwd)"
	for plan in "$ex"/*.yaml; do
		grep -q '^steps:' "$plan" || continue
		name=$(basename "$plan" .yaml)
		own=$("$EKULAB" plan check "$plan" --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["topology"]
print(t["dial"], t["link"])') || fail "plan check $name"
		for dial in both lower-name primary; do
			log "$name under dial $dial, link $link (own: $own)"
			rc=0
			"$EKULAB" plan run "$plan" --dial "$dial" --link "$link" \
				--json "$T/$name-$dial-$link.json" \
				>"$T/$name-$dial-$link.out" 2>&1 || rc=$?
			[ -s "$T/$name-$dial-$link.json" ] || {
				cat "$T/$name-$dial-$link.out" >&2
				fail "$name ($dial, $link): no report (exit $rc)"
			}
			python3 - "$T/$name-$dial-$link.json" "$rc" \
				"$([ "$own" = "$dial $link" ] && echo own)" <<'PY' || {
import json, sys
r = json.load(open(sys.argv[1]))
rc, own = int(sys.argv[2]), sys.argv[3] == "own"
bad = [(s["step"], s["text"], s["detail"]) for s in r["steps"] if s["deviated"]]
assert r["deviations"] == 0, bad
assert r["writes"]["lost"] == 0 and r["writes"]["unexpected"] == 0, r["writes"]
if own:
    assert rc == 0 and r["expectations_failed"] == 0, (rc, r["expectations_failed"])
else:
    assert rc == (1 if r["expectations_failed"] else 0), rc
PY
				cat "$T/$name-$dial-$link.out" >&2
				fail "$name under dial $dial, link $link deviated"
			}
		done
	done
}

# ---- deployment plans, run live ----

# deployment_plan_run PLAN WHERE [ARGS...]: plan run PLAN (with ARGS, e.g.
# --runtime docker) on its own lab state $T/NAME, with its report in
# $T/NAME.json and its output in $T/NAME.out (NAME: PLAN's base name).
# Fails ("plan NAME<WHERE>: ...") unless the run exits 0 with 0 deviations
# and 0 failed expectations, every step matches the model's prediction,
# and the plan's zone expectations (expect service, expect finding) were
# checked live and met. What the lab leaves behind is the caller's check.
deployment_plan_run() {
	local plan=$1 where=$2 name
	shift 2
	name=$(basename "$plan" .yaml)
	log "plan run $name${*:+ $*}"
	if ! "$EKULAB" plan run "$plan" "$@" --state "$T/$name" \
		--json "$T/$name.json" >"$T/$name.out" 2>&1; then
		cat "$T/$name.out" >&2
		fail "plan $name$where: deviations or failed expectations"
	fi
	python3 - "$T/$name.json" <<'PY' || fail "plan $name: report check failed"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["deviations"] == 0, r["deviations"]
assert r["expectations_failed"] == 0, r["expectations_failed"]
assert all(s["matches_prediction"] for s in r["steps"]), \
    [s["text"] for s in r["steps"] if not s["matches_prediction"]]
# Zone expectations were checked live, not skipped.
zs = [s for s in r["steps"] if s["text"].startswith("expect service")
      or s["text"].startswith("expect finding")]
assert zs and all(s["expectation_met"] for s in zs), zs
PY
}

# ---- a container lab next to a process lab of the same topology ----
#
# it_docker.sh and it_swarm.sh run one topology ($TOPO) as a container lab
# (state $TWIN_LAB, runtime named $TWIN_KIND in messages: docker, swarm)
# and as a process lab (state $PLAB), and compare what `lab status --json`
# says of both. Set those four before calling these.

# twin_links STATE: the directed link matrix of `lab status --json`, one
# "FROM>TO state-or-code" per line, sorted.
twin_links() {
	"$EKULAB" lab status "$TOPO" --json --state "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for l in sorted(d["links"], key=lambda l: (l["from"], l["to"])):
    print("%s>%s %s" % (l["from"], l["to"],
                        "up" if l["state"] == "up" else (l["code"] or l["state"])))
'
}
twin_settled() { ! twin_links "$1" | grep -qE ' (pending|not-running|\?|null)$'; }
# Both labs settled and equal, twice in a row half a second apart.
twin_same_matrix() {
	twin_settled "$TWIN_LAB" && twin_settled "$PLAB" || return 1
	[ "$(twin_links "$TWIN_LAB")" = "$(twin_links "$PLAB")" ] || return 1
	sleep 0.5
	[ "$(twin_links "$TWIN_LAB")" = "$(twin_links "$PLAB")" ]
}
# twin_expect_same_matrix WHEN: within 30 s, or fail showing both.
twin_expect_same_matrix() {
	wait_until 30 twin_same_matrix || fail "$1: $TWIN_KIND and process matrices differ:
$TWIN_KIND:
$(twin_links "$TWIN_LAB")
process:
$(twin_links "$PLAB")"
}
# twin_cell FROM TO: the container lab's state-or-code of FROM -> TO.
twin_cell() { twin_links "$TWIN_LAB" | awk -v k="$1>$2" '$1 == k { print $2 }'; }
twin_cell_is() { [ "$(twin_cell "$1" "$2")" = "$3" ]; }
# twin_expect_cell FROM TO WANT [SECONDS (20)]
twin_expect_cell() {
	wait_until "${4:-20}" twin_cell_is "$1" "$2" "$3" ||
		fail "$TWIN_KIND lab: $1 -> $2: expected $3, got $(twin_cell "$1" "$2")"
}
# twin_node_field NODE FIELD: a field of NODE in the container lab's status.
twin_node_field() {
	"$EKULAB" lab status "$TOPO" --json --state "$TWIN_LAB" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print([n for n in d["nodes"] if n["name"] == sys.argv[1]][0][sys.argv[2]])
' "$1" "$2"
}
twin_process_is() { [ "$(twin_node_field "$1" process)" = "$2" ]; }

#!/bin/sh
# Make sure the Docker engine is a swarm manager: a single-node swarm on
# loopback for tests (`docker swarm init --advertise-addr 127.0.0.1`), and
# undo it afterwards when this script made it. Idempotent; says what it did.
#
# Usage: scripts/swarm-engine.sh [--marker FILE] [--quiet]
#        scripts/swarm-engine.sh --leave [--marker FILE] [--quiet]
# Without --leave: when no engine answers, scripts/docker-engine.sh is run
# first (it installs docker.io and starts dockerd when it can); when the
# engine is in no swarm, it initialises one and writes FILE (default
# ${TMPDIR:-/tmp}/ekulab-swarm-engine.init) to say so; when the engine is a
# manager already, it does nothing. Exit 0: the engine is a swarm manager.
# Exit 1: it is not; the last line says why.
# --leave: when FILE exists (this script initialised the swarm), leave the
# swarm (and remove the docker_gwbridge network the init made, when it
# made one) and remove FILE, unless services of others still run on it
# (then it says so and leaves the swarm as it is). Without FILE: nothing
# to undo.
set -u

leave=0
quiet=0
marker="${TMPDIR:-/tmp}/ekulab-swarm-engine.init"
while [ $# -gt 0 ]; do
	case "$1" in
	--leave) leave=1 ;;
	--quiet) quiet=1 ;;
	--marker)
		[ $# -ge 2 ] || {
			echo "swarm-engine: --marker needs a FILE" >&2
			exit 2
		}
		marker=$2
		shift
		;;
	-h | --help)
		sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "swarm-engine: unknown option $1" >&2
		exit 2
		;;
	esac
	shift
done

say() { [ "$quiet" = 1 ] || echo "swarm-engine: $*"; }
fail() {
	echo "swarm-engine: $*" >&2
	exit 1
}

state() { docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}' 2>/dev/null; }

if [ "$leave" = 1 ]; then
	if [ ! -e "$marker" ]; then
		say "nothing to undo (this script did not initialise the swarm; no $marker)"
		exit 0
	fi
	others=$(docker service ls -q 2>/dev/null | wc -l)
	if [ "$others" -gt 0 ]; then
		say "the swarm still runs $others service(s) of others: left as it is"
		exit 0
	fi
	if out=$(docker swarm leave --force 2>&1); then
		# docker_gwbridge, when the swarm init made it (and nothing
		# else uses it now).
		if grep -qx gwbridge "$marker" 2>/dev/null; then
			docker network rm docker_gwbridge >/dev/null 2>&1 || true
		fi
		rm -f "$marker"
		say "left the swarm this script initialised"
		exit 0
	fi
	fail "docker swarm leave: $(printf '%s\n' "$out" | tail -n 1)"
fi

# 1. An engine (scripts/docker-engine.sh installs and starts one).
if ! docker info >/dev/null 2>&1; then
	here=$(cd "$(dirname "$0")" && pwd)
	if [ "$quiet" = 1 ]; then
		"$here/docker-engine.sh" --quiet || fail "no Docker engine (scripts/docker-engine.sh says why above)"
	else
		"$here/docker-engine.sh" || fail "no Docker engine (scripts/docker-engine.sh says why above)"
	fi
fi

# 2. A manager already: nothing to do.
case "$(state)" in
"active true")
	say "the engine is a swarm manager already ($(docker info --format '{{.Swarm.NodeAddr}}' 2>/dev/null))"
	exit 0
	;;
"active false")
	fail "the engine is a swarm worker, not a manager: run ekulab on a manager (docker node ls there)"
	;;
"pending "* | "error "* | "locked "*)
	fail "the engine's swarm is $(state | cut -d' ' -f1): fix it (docker swarm leave --force, or unlock it) and run again"
	;;
esac

# 3. In no swarm: a single-node swarm on loopback. `swarm init` also makes
# the bridge docker_gwbridge when there is none: --leave removes it then.
gw=""
docker network inspect docker_gwbridge >/dev/null 2>&1 || gw=gwbridge
if ! out=$(docker swarm init --advertise-addr 127.0.0.1 2>&1); then
	fail "docker swarm init --advertise-addr 127.0.0.1: $(printf '%s\n' "$out" | tail -n 1)"
fi
echo "$gw" >"$marker" || {
	docker swarm leave --force >/dev/null 2>&1
	fail "cannot write $marker; left the swarm again"
}
say "initialised a single-node swarm on 127.0.0.1 (undo: $0 --leave --marker $marker)"

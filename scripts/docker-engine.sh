#!/bin/sh
# Make sure a Docker engine answers: install Debian's docker.io when dockerd
# is missing and start dockerd when none runs. Idempotent; says what it did.
#
# Usage: scripts/docker-engine.sh [--no-install] [--quiet]
# Exit 0: an engine answers `docker info`. Exit 1: none could be had; the
# last line says why (tests print it in their SKIPPED line).
#
# The engine is left running (it is shared, like any system daemon). Its log
# is /var/log/ekulab-dockerd.log; its data the engine's default /var/lib/docker.
set -u

install=1
quiet=0
for a in "$@"; do
	case "$a" in
	--no-install) install=0 ;;
	--quiet) quiet=1 ;;
	-h | --help)
		sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "docker-engine: unknown option $a" >&2
		exit 2
		;;
	esac
done

say() { [ "$quiet" = 1 ] || echo "docker-engine: $*"; }
fail() {
	echo "docker-engine: $*" >&2
	exit 1
}

LOG=/var/log/ekulab-dockerd.log
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		SUDO="sudo -n"
	fi
fi

engine_ok() { docker info >/dev/null 2>&1; }

# 1. An engine already answers: nothing to do.
if command -v docker >/dev/null 2>&1 && engine_ok; then
	say "an engine is running (server $(docker version --format '{{.Server.Version}}' 2>/dev/null))"
	exit 0
fi

# 2. dockerd (and the client) from Debian's docker.io when missing.
if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
	[ "$install" = 1 ] || fail "no dockerd, and --no-install was given"
	if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then
		fail "dockerd is not installed and this user can neither install it nor sudo (install Debian's docker.io)"
	fi
	command -v apt-get >/dev/null 2>&1 ||
		fail "dockerd is not installed and there is no apt-get to install docker.io"
	say "installing Debian's docker.io (apt-get)"
	$SUDO apt-get update -qq >/dev/null 2>&1 || true
	if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
		--no-install-recommends docker.io iptables >/dev/null 2>&1; then
		fail "apt-get install docker.io failed (no package mirror reachable?)"
	fi
	command -v dockerd >/dev/null 2>&1 || fail "docker.io installed but no dockerd on PATH"
	say "installed docker.io ($(dpkg-query -W -f='${Version}' docker.io 2>/dev/null))"
fi

# 3. A daemon runs (or is starting) but does not answer this user yet.
dockerd_alive() {
	for pid in $(pgrep -x dockerd 2>/dev/null); do
		case $(ps -o stat= -p "$pid" 2>/dev/null) in
		Z* | "") ;; # a zombie of a killed engine does not count
		*) return 0 ;;
		esac
	done
	return 1
}
if dockerd_alive; then
	for _ in $(seq 1 20); do
		engine_ok && {
			say "the running engine answers now"
			exit 0
		}
		dockerd_alive || break
		sleep 0.5
	done
	if dockerd_alive; then
		hint=""
		[ "$(id -u)" -ne 0 ] && hint=" (is $(id -un) in group docker?)"
		fail "dockerd runs but 'docker info' fails for $(id -un): $(docker info 2>&1 | tail -n 1)$hint"
	fi
fi

# 4. Start dockerd, detached, and wait until it answers.
if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then
	fail "no engine runs and this user cannot start dockerd (not root, no sudo)"
fi
start_dockerd() {
	# The pid file of an engine that was killed (e.g. when a CI run ended)
	# stops a new one from starting: remove it once its pid is gone.
	if [ -f /var/run/docker.pid ] && ! dockerd_alive; then
		for _ in $(seq 1 20); do
			old=$(cat /var/run/docker.pid 2>/dev/null)
			[ -n "$old" ] && [ -d "/proc/$old" ] || break
			sleep 0.5 # a zombie not reaped yet
		done
		say "removing the stale /var/run/docker.pid"
		$SUDO rm -f /var/run/docker.pid
	fi
	say "starting dockerd${1:+ $*} (log $LOG)"
	$SUDO sh -c "exec setsid dockerd $* >>$LOG 2>&1 </dev/null &"
	for _ in $(seq 1 60); do
		engine_ok && return 0
		# dockerd gone already: no point waiting.
		dockerd_alive || return 1
		sleep 0.5
	done
	return 1
}
stop_dockerd() {
	# Only the dockerd this script started; it is the only one (step 3).
	pid=$(pgrep -x dockerd | head -n 1)
	[ -n "$pid" ] && $SUDO kill "$pid" 2>/dev/null
	for _ in $(seq 1 20); do
		dockerd_alive || return 0
		sleep 0.5
	done
}
if start_dockerd; then
	say "engine started (server $(docker version --format '{{.Server.Version}}' 2>/dev/null))"
	exit 0
fi
stop_dockerd
# A kernel or sandbox without overlayfs: the vfs driver (slow, but works).
if tail -n 30 "$LOG" 2>/dev/null | grep -qi 'overlay\|graphdriver\|storage-driver'; then
	if start_dockerd --storage-driver=vfs; then
		say "engine started with the vfs storage driver (overlayfs did not work)"
		exit 0
	fi
	stop_dockerd
fi
reason=$(grep -i 'level=fatal\|level=error\|failed to start' "$LOG" 2>/dev/null | tail -n 1 | cut -c1-300)
fail "dockerd did not start: ${reason:-see $LOG}"

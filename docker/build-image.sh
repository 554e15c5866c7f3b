#!/bin/sh
# Build the ekulab node image with no registry: assemble a root filesystem
# from the built ekunode and ekulab and exactly the shared libraries they
# load (ldd), then `docker build` docker/Dockerfile (FROM scratch, COPY).
#
# Usage: docker/build-image.sh [--build DIR] [--tag IMAGE] [--no-strip]
#                              [--rootfs DIR] [--label KEY=VALUE]...
#   --build DIR   the CMake build directory (default: build); $EKUNODE and
#                 $EKULAB, when set, name the two programs instead
#   --tag IMAGE   the image name (default: ekulab-node:latest, the name
#                 `ekulab lab --runtime docker` uses unless $EKULAB_IMAGE)
#   --no-strip    keep symbols (sanitizer builds symbolize better)
#   --rootfs DIR  only assemble the root filesystem into DIR; no docker
#   --label K=V   an image label (repeatable; ekulab notes its programs)
# Prints the image name and its size.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build="$here/../build"
tag=${EKULAB_IMAGE:-ekulab-node:latest}
strip=1
rootfs_only=""
labels=""
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--tag) tag=$2; shift 2 ;;
	--no-strip) strip=0; shift ;;
	--rootfs) rootfs_only=$2; shift 2 ;;
	--label) labels="$labels --label $2"; shift 2 ;;
	-h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "build-image: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done

ekunode=${EKUNODE:-$build/node/ekunode}
ekulab=${EKULAB:-$build/cli/ekulab}
for p in "$ekunode" "$ekulab"; do
	[ -x "$p" ] || {
		echo "build-image: no program $p; build first (cmake --build $build) or give --build DIR" >&2
		exit 1
	}
done
command -v ldd >/dev/null || { echo "build-image: ldd is needed" >&2; exit 1; }

if [ -n "$rootfs_only" ]; then
	ctx=""
	root=$rootfs_only
	rm -rf "$root"
else
	ctx=$(mktemp -d "${TMPDIR:-/tmp}/ekulab-image.XXXXXX")
	trap 'rm -rf "$ctx"' EXIT
	root=$ctx/rootfs
fi
mkdir -p "$root/usr/bin" "$root/etc" "$root/tmp"
chmod 1777 "$root/tmp"

install -m 0755 "$ekunode" "$root/usr/bin/ekunode"
install -m 0755 "$ekulab" "$root/usr/bin/ekulab"
if [ "$strip" = 1 ] && command -v strip >/dev/null; then
	strip --strip-unneeded "$root/usr/bin/ekunode" "$root/usr/bin/ekulab"
fi

# Exactly the libraries the two programs load, each at the path the loader
# resolved (the real file, not the symlink), plus the loader itself.
libs=$(ldd "$ekunode" "$ekulab" |
	awk '$2 == "=>" && $3 ~ /^\// { print $3 }
	     $1 ~ /^\// && $1 !~ /:$/ { print $1 }' |
	sort -u)
for lib in $libs; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
	chmod 0755 "$root$lib"
	[ "$strip" = 1 ] && strip --strip-unneeded "$root$lib" 2>/dev/null || true
done

# A user for the node, and no shell anywhere in the image.
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/nonexistent:/nonexistent
ekunode:x:10001:10001:ekulab node:/lab:/nonexistent
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
ekunode:x:10001:
EOF
# Nodes resolve nothing (peers are addresses); the lab proxy of the swarm
# runtime looks its routes' node services up in the engine's DNS (glibc's
# files and dns services are built into libc.so since 2.34).
echo "hosts: files dns" >"$root/etc/nsswitch.conf"

if [ -n "$rootfs_only" ]; then
	mkdir -p "$root/lab" "$root/data" "$root/pki"
	echo "build-image: root filesystem in $root ($(du -sh "$root" | cut -f1))"
	exit 0
fi

command -v docker >/dev/null || { echo "build-image: no docker client" >&2; exit 1; }
cp "$here/Dockerfile" "$ctx/Dockerfile"
# Directories the node's user owns (COPY --chown in the Dockerfile).
mkdir -p "$ctx/userdirs/lab" "$ctx/userdirs/data" "$ctx/userdirs/pki"
chmod 0700 "$ctx/userdirs/lab" "$ctx/userdirs/data" "$ctx/userdirs/pki"
# The classic builder is enough for FROM scratch + COPY and needs no
# buildx plugin; it pulls nothing.
# shellcheck disable=SC2086 # labels are KEY=VALUE words without spaces
if ! DOCKER_BUILDKIT=0 docker build -q -t "$tag" --label ekulab.image=node \
	$labels "$ctx" >"$ctx/build.log" 2>&1; then
	grep -v -i 'deprecated\|buildkit\|^ *$' "$ctx/build.log" >&2
	echo "build-image: docker build failed" >&2
	exit 1
fi
size=$(docker image inspect --format '{{.Size}}' "$tag")
mb=$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }')
echo "build-image: built $tag ($mb MB as docker images counts: $(echo "$libs" | wc -l) libraries, $(du -sh "$root/usr/bin" | cut -f1) of programs)"

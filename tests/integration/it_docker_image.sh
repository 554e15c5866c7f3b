#!/usr/bin/env bash
# it_docker_image.sh: containers with no manual step. `lab up --runtime
# docker` builds the node image when it is missing (one line on stderr
# says so), not again when it is current, and again when the programs are
# newer than it; `plan run --runtime docker` does the same. Offline
# (docker/build-image.sh: FROM scratch, no registry). The test removes only
# the images, containers, networks and volumes it made.
# Needs a Docker engine (scripts/docker-engine.sh); without one it exits 77
# (skipped), never a silent pass.
source "${EKL_IT_LIB:?}"

if ! engine_out=$(docker info --format '{{.ServerVersion}}' 2>&1); then
	echo "SKIPPED: no Docker engine: $(printf '%s\n' "$engine_out" | tail -n 1) (run scripts/docker-engine.sh)"
	exit 77
fi

# Copies of the programs, so that the test can make them newer than the
# image without touching the build.
mkdir -p "$T/bin"
cp "$EKUNODE" "$T/bin/ekunode"
cp "$EKULAB" "$T/bin/ekulab"
export EKUNODE="$T/bin/ekunode" EKULAB="$T/bin/ekulab"
IMAGE="ekulab-node:it-image-$$"
IMAGE2="ekulab-node:it-image-plan-$$"
export EKULAB_IMAGE=$IMAGE
NAME=it-image-$$
TOPO="$T/pair.yaml"
cat >"$TOPO" <<YAML
name: $NAME
cluster: {verify: enforce, primary: node1, dial: both, link: both}
defaults: {version: X15.4, role: c, cert: {profile: combined, ca: unrestricted}}
nodes:
  node1: {}
  node2: {}
YAML
cat >"$T/plan.yaml" <<'YAML'
topology: pair.yaml
steps:
  - write: 3
  - expect: {replicating: all}
YAML
LAB="$T/lab"
image_cleanup() {
	local id
	"$EKULAB" lab down "$TOPO" --state "$LAB" >/dev/null 2>&1 || true
	for id in $(docker ps -aq --filter "label=ekulab.lab=$NAME" 2>/dev/null); do
		docker rm -f "$id" >/dev/null 2>&1 || true
	done
	docker network ls -q --filter "label=ekulab.lab=$NAME" 2>/dev/null |
		xargs -r docker network rm >/dev/null 2>&1 || true
	docker volume ls -q --filter "label=ekulab.lab=$NAME" 2>/dev/null |
		xargs -r docker volume rm >/dev/null 2>&1 || true
	docker image rm "$IMAGE" "$IMAGE2" >/dev/null 2>&1 || true
	# the first build, replaced by the rebuild (untagged now)
	[ -z "${id1:-}" ] || docker image rm "$id1" >/dev/null 2>&1 || true
}
trap 'rc=$?; image_cleanup; (exit $rc); it_cleanup' EXIT
! docker image inspect "$IMAGE" >/dev/null 2>&1 || fail "$IMAGE exists before the test"
up() { "$EKULAB" lab up "$TOPO" --runtime docker --state "$LAB" >"$T/up.out" 2>"$T/up.err" ||
	fail "lab up --runtime docker failed: $(cat "$T/up.err")"; }
down() { "$EKULAB" lab down "$TOPO" --state "$LAB" >/dev/null || fail "lab down failed"; }

log "a missing image is built, in one line"
up
[ "$(grep -c 'built the node image' "$T/up.err")" -eq 1 ] ||
	fail "no single line about the image: $(cat "$T/up.err")"
grep -q "built the node image $IMAGE offline .*(it was missing)" "$T/up.err" ||
	fail "the line does not say why: $(cat "$T/up.err")"
docker image inspect "$IMAGE" >/dev/null || fail "no image after lab up"
grep -q 'links settled' "$T/up.out" || fail "the lab did not come up: $(cat "$T/up.out")"
id1=$(docker image inspect -f '{{.Id}}' "$IMAGE")
down

log "a current image is used as it is"
up
! grep -q 'built the node image' "$T/up.err" || fail "a current image was built again: $(cat "$T/up.err")"
down

log "programs newer than the image: built again"
touch -d "@$(($(date +%s) + 5))" "$T/bin/ekunode"
up
grep -q "(it was older than the programs)" "$T/up.err" || fail "a stale image was not rebuilt: $(cat "$T/up.err")"
[ "$(docker image inspect -f '{{.Id}}' "$IMAGE")" != "$id1" ] || fail "the image is the same"
down

log "plan run --runtime docker builds it too"
export EKULAB_IMAGE=$IMAGE2
"$EKULAB" plan run "$T/plan.yaml" --runtime docker --no-workload >"$T/plan.out" 2>"$T/plan.err" ||
	fail "plan run --runtime docker: $(tail -5 "$T/plan.out") $(cat "$T/plan.err")"
grep -q "built the node image $IMAGE2 .*(it was missing)" "$T/plan.err" ||
	fail "plan run did not build the image: $(cat "$T/plan.err")"
grep -q '^0 deviations' "$T/plan.out" || fail "plan run deviated: $(cat "$T/plan.out")"

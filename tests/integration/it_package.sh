#!/usr/bin/env bash
# it_package.sh: the Debian package. `cpack -G DEB` on the build under
# test makes ekulab_VERSION_ARCH.deb holding both programs, the three man
# pages, bash completion, the docs and the node image's recipe, with its
# library dependencies declared; unpacked (dpkg -x, no root, nothing
# installed on the host) its programs answer --version, its man pages
# render, and they run a 2-node lab from the unpacked files only.
# (scripts/package.sh builds the Release package; with --install-test, as
# CI does, it installs it with apt-get, runs the same and purges it.)
source "${EKL_IT_LIB:?}"
: "${EKL_BUILD_DIR:?}"
command -v cpack >/dev/null && command -v dpkg-deb >/dev/null || fail "cpack and dpkg-deb are needed"

log "cpack -G DEB"
(cd "$T" && cpack -G DEB --config "$EKL_BUILD_DIR/CPackConfig.cmake" -B "$T/pkg" >"$T/cpack.out" 2>&1) ||
	fail "cpack failed: $(tail -5 "$T/cpack.out")"
deb=$(ls "$T"/pkg/ekulab_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "no ekulab_*.deb: $(ls "$T/pkg")"
dpkg-deb -f "$deb" Package Version Depends >"$T/fields"
grep -qx 'Package: ekulab' "$T/fields" || fail "package name: $(cat "$T/fields")"
for lib in libssl3 libev4 libsqlite3-0 libyaml-0-2 libprotobuf-c1 libc6; do
	grep -q "Depends:.*$lib" "$T/fields" || fail "Depends lacks $lib: $(cat "$T/fields")"
done
dpkg-deb -c "$deb" | awk '{print $6}' >"$T/files"
for f in ./usr/bin/ekulab ./usr/bin/ekunode ./usr/share/man/man1/ekulab.1 \
	./usr/share/man/man8/ekunode.8 ./usr/share/man/man5/ekulab-topology.5 \
	./usr/share/bash-completion/completions/ekulab ./usr/share/doc/ekulab/README.md \
	./usr/share/doc/ekulab/lab.md ./usr/share/ekulab/docker/build-image.sh; do
	grep -qx "$f" "$T/files" || fail "the package lacks $f"
done

log "the unpacked files alone"
dpkg -x "$deb" "$T/root"
R="$T/root/usr/bin"
env -u EKUNODE -u EKULAB "$R/ekulab" --version | grep -q '^ekulab ' || fail "unpacked ekulab --version"
"$R/ekunode" --version | grep -q '^ekunode ' || fail "unpacked ekunode --version"
MANWIDTH=80 man -l "$T/root/usr/share/man/man1/ekulab.1" 2>/dev/null | grep -q 'ekulab lab up' ||
	fail "the packaged ekulab(1) does not render"
cat >"$T/pair.yaml" <<'YAML'
name: it-pkg-pair
cluster: {verify: enforce, primary: node1}
defaults: {version: X15.3.2, role: c, cert: {profile: combined, ca: unrestricted}}
nodes:
  node1: {}
  node2: {}
YAML
pkg_lab() { env -u EKUNODE -u EKULAB "$R/ekulab" lab "$@" --state "$T/lab"; }
trap 'rc=$?; pkg_lab down "$T/pair.yaml" >/dev/null 2>&1 || true; (exit $rc); it_cleanup' EXIT
pkg_lab up "$T/pair.yaml" >"$T/up.out" 2>&1 || fail "lab up from the package: $(cat "$T/up.out")"
grep -q 'links settled' "$T/up.out" || fail "the packaged lab did not settle: $(cat "$T/up.out")"
# The nodes are the package's ekunode, not the build's.
pid=$(pkg_lab status "$T/pair.yaml" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["nodes"][0]["pid"])')
[ "$(readlink "/proc/$pid/exe")" = "$R/ekunode" ] || fail "the lab's node is $(readlink "/proc/$pid/exe"), not the package's"
pkg_lab exec "$T/pair.yaml" node1 --ack all 'xConfiguration Package A: 1' >/dev/null || fail "a write on the packaged lab"
pkg_lab down "$T/pair.yaml" >/dev/null || fail "lab down from the package"

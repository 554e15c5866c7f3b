#!/usr/bin/env bash
# it_audit_text.sh: `ekulab audit` text output people read: findings as
# sentences (the machine form, e.g. upload:c/X15.3.2, stays in the JSON),
# a CA certificate shown once however many chains hold it, and a closing
# summary of the certificates that need action and when ("N certificates
# need action now:" / "... before DATE:", one line each).
source "${EKL_IT_LIB:?}"

P="$T/pki"
"$EKULAB" pki init --dir "$P" >/dev/null
"$EKULAB" pki issue --dir "$P" --name good --profile combined >/dev/null
"$EKULAB" pki issue --dir "$P" --name renewed --profile server-only --ca server-only >/dev/null
"$EKULAB" pki issue --dir "$P" --name other --profile combined >/dev/null

log "sentences, each CA once, the summary"
rc=0
"$EKULAB" audit --ca "$P/ca.crt" --role c --version X15.3.2 "$P/good.crt" "$P/renewed.crt" "$P/other.crt" \
	>"$T/a.txt" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "audit with a finding exited $rc"
grep -q '^  findings  - An Expressway-C on X15.3.2 refuses to upload it: pre-X15.4 upload rejects' "$T/a.txt" ||
	fail "no upload sentence: $(cat "$T/a.txt")"
grep -q 'refuses its ClusterDB connection when this node dials (client-purpose at depth 0)' "$T/a.txt" ||
	fail "no ClusterDB sentence"
! grep -qE 'upload:c/|clusterdb_as_client:' "$T/a.txt" || fail "finding codes in the text output"
# ca-unrestricted is in good's and other's chains: one block, one pointer.
[ "$(grep -c '^  subject   CN=ca-unrestricted$' "$T/a.txt")" -eq 1 ] || fail "the CA block is repeated"
grep -q '^.*other.crt #1  (CA certificate CN=ca-unrestricted: shown above as .*good.crt #1)$' "$T/a.txt" ||
	fail "no pointer to the CA shown above: $(grep 'CA certificate' "$T/a.txt")"
tail -n 2 "$T/a.txt" | head -1 | grep -qx '1 certificate needs action now:' || fail "summary: $(tail -n 3 "$T/a.txt")"
tail -n 1 "$T/a.txt" | grep -q "renewed.crt #0 (CN=renewed) now: upload refused by c X15.3.2; ClusterDB refused by c X15.3.2 (client-purpose)" ||
	fail "summary line: $(tail -n 1 "$T/a.txt")"
"$EKULAB" audit --ca "$P/ca.crt" --role c --version X15.3.2 --json "$P/renewed.crt" >"$T/a.json" || true
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert "upload:c/X15.3.2" in d["certificates"][0]["findings"], d
' "$T/a.json" || fail "the JSON lost the finding codes"

log "nothing to do"
"$EKULAB" audit --ca "$P/ca.crt" --role c --version X15.4 "$P/good.crt" >"$T/b.txt" || fail "a clean audit exited $?"
tail -n 1 "$T/b.txt" | grep -qx 'No certificate needs action.' || fail "clean summary: $(tail -n 2 "$T/b.txt")"

log "a public certificate: action before the first rule's date"
"$EKULAB" pki issue --dir "$P" --name pub --profile combined --self-signed \
	--not-before 2025-06-01 --not-after 2026-08-01 >/dev/null
"$EKULAB" audit --public-ca "$P/pub.crt" --role c --version X15.4 --at 2026-01-01 "$P/pub.crt" >"$T/c.txt" || true
grep -qx '1 certificate needs action before 2026-03-15:' "$T/c.txt" || fail "dated summary: $(tail -n 3 "$T/c.txt")"
grep -q '^  findings  - From 2026-05-01: public CAs issue no clientAuth' "$T/c.txt" || fail "risk sentence: $(cat "$T/c.txt")"

log "a deployment whose clusters verify differently: each forecast with its own mode"
cat >"$T/dep.yaml" <<'YAML'
defaults: {version: X15.3.2, cert: {root: public}}
clusters:
  core: {role: c, verify: permissive, nodes: {c1: {}, c2: {cert: {profile: server-only}}}}
  edge: {role: e, nodes: {e1: {}, e2: {cert: {profile: server-only}}}}
YAML
rc=0
"$EKULAB" audit --cluster "$T/dep.yaml" --at 2026-01-15 >"$T/d.txt" 2>&1 || rc=$?
[ $rc = 1 ] || fail "audit of a breaking deployment exited $rc: $(cat "$T/d.txt")"
grep -q '^Cluster forecast: dep (verify per cluster,' "$T/d.txt" || fail "header: $(head -4 "$T/d.txt")"
grep -q '(its cluster verifies permissive)' "$T/d.txt" && grep -q '(its cluster verifies enforce)' "$T/d.txt" ||
	fail "per-node modes: $(cat "$T/d.txt")"
grep -q '^  BREAKS on 2026-01-15: 1 link down' "$T/d.txt" && grep -q '^    e1 - e2$' "$T/d.txt" ||
	fail "only the enforcing cluster's link breaks: $(cat "$T/d.txt")"
"$EKULAB" audit --cluster "$T/dep.yaml" --at 2026-01-15 --json >"$T/d.json" 2>/dev/null || true
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
f = d["forecast"]
modes = {n["name"]: n["verify"] for n in f["nodes"]}
assert modes == {"c1": "permissive", "c2": "permissive", "e1": "enforce", "e2": "enforce"}, modes
' "$T/d.json" || fail "JSON per-node verify: $(head -c 600 "$T/d.json")"

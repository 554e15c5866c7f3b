#!/bin/bash
# `ekulab matrix`: every case live (real TLS handshakes on loopback, and for
# MRA the SIP SERVICE certificate message checked with tls_verify_chain)
# agrees with the policy model, and the table covers what docs/model.md
# says it covers: ClusterDB, every zone service in every direction the
# policy dials, externals that check client EKU and externals that do not,
# the X15.5 switch per service, and MRA per version. Any disagreement fails.
. "$EKL_IT_LIB"

# The matrix makes its PKI under $TMPDIR: inside this test's $T.
export TMPDIR="$T"

log "ekulab matrix --json: every case agrees with the model"
rc=0
"$EKULAB" matrix --json --jobs 2 >"$T/matrix.json" 2>"$T/matrix.err" || rc=$?
[ "$rc" -eq 0 ] || fail "matrix exited $rc: $(head -c 2000 "$T/matrix.err")
$(python3 - "$T/matrix.json" <<'EOF' 2>/dev/null
import json, sys
d = json.load(open(sys.argv[1]))
for c in d["cases"]:
    if not c["agree"]:
        print("DISAGREE", c["group"], c["service"], c["initiator"]["kind"],
              "->", c["acceptor"]["kind"], "model", c["predicted"],
              "live", c["observed"], c["detail"])
EOF
)"

python3 - "$T/matrix.json" <<'EOF' || fail "the matrix does not cover what it should (above)"
import json, sys
from collections import Counter

d = json.load(open(sys.argv[1]))
cases = d["cases"]
problems = []

def need(cond, what):
    if not cond:
        problems.append(what)

need(d["disagreements"] == 0, "disagreements: %s" % d["disagreements"])
need(d["total"] == len(cases), "total %s != %d cases" % (d["total"], len(cases)))
need(all(c["agree"] for c in cases), "a case does not agree")
for c in cases:  # today's keys are still there
    for k in ("group", "service", "initiator", "acceptor", "initiator_expects",
              "predicted", "observed", "peer_saw", "detail", "agree"):
        need(k in c, "key %s missing" % k)
    for s in ("initiator", "acceptor"):
        for k in ("kind", "role", "version", "verify", "certificate"):
            need(k in c[s], "%s.%s missing" % (s, k))

services = Counter(c["service"] for c in cases)
for s in ("clusterdb", "traversal", "mra", "neighbour", "b2b", "federation",
          "cloud"):
    need(services[s] > 0, "no %s case" % s)

def kinds(c):
    return (c["initiator"]["kind"], c["acceptor"]["kind"])

def dirs(svc):
    return {kinds(c) for c in cases if c["service"] == svc}

# Who dials (F17-F19): C -> E for traversal and mra; both ways for the
# neighbour, b2b and federation zones; only the Expressway for cloud.
for svc in ("traversal", "mra"):
    for c in cases:
        if c["service"] == svc:
            need(c["initiator"]["role"] == "c" and c["acceptor"]["role"] == "e",
                 "%s not C -> E" % svc)
for svc, ext in (("neighbour", "cucm"), ("b2b", "b2b-peer"),
                 ("federation", "federation-peer")):
    need(("expressway", ext) in dirs(svc), "%s: no Expressway -> %s" % (svc, ext))
    need((ext, "expressway") in dirs(svc), "%s: no %s -> Expressway" % (svc, ext))
need(dirs("cloud") == {("expressway", "cloud")}, "cloud: %s" % dirs("cloud"))

# Externals that check client EKU and externals that do not, both live.
for svc in ("neighbour", "b2b", "federation", "cloud"):
    seen = {c["acceptor"]["checks_client_eku"] for c in cases
            if c["service"] == svc and c["acceptor"]["kind"] != "expressway"}
    need(seen == {True, False}, "%s: externals checking EKU: %s" % (svc, seen))

def find(**kw):
    out = []
    for c in cases:
        ok = True
        for k, v in kw.items():
            path = k.split("__")
            x = c
            for p in path:
                x = x.get(p) if isinstance(x, dict) else None
            if x != v:
                ok = False
        if ok:
            out.append(c)
    return out

# Facts the table must show, live (docs/model.md services table).
# MRA (F17): a pre-X15.4 C refuses E's server-only certificate in the SIP
# SERVICE message (client-purpose, by C); an X15.4 C accepts it.
pre = find(group="mra", initiator__version="X15.3.2",
           acceptor__certificate__profile="server-only",
           acceptor__certificate__ca="unrestricted")
x154 = find(group="mra", initiator__version="X15.4",
            acceptor__certificate__profile="server-only",
            acceptor__certificate__ca="unrestricted")
need(pre and all(c["observed"]["code"] == "client-purpose" and
                 c["observed"]["side"] == "initiator" and
                 c["peer_saw"] == "client-purpose" for c in pre),
     "MRA: pre-X15.4 C must refuse a server-only E: %s" % [c["observed"] for c in pre])
need(x154 and all(c["observed"]["ok"] for c in x154),
     "MRA: X15.4 C must accept a server-only E")
# Traversal (F18): E checks C's clientAuth on X15.4 too; the X15.5
# switch off for traversal lifts it.
t = find(group="services", service="traversal", initiator__version="X15.4",
         initiator__certificate__profile="server-only",
         initiator__certificate__ca="unrestricted",
         initiator__client_certificate=None)
need(any(c["acceptor"]["version"] == "X15.4" and
         c["observed"]["code"] == "client-purpose" for c in t),
     "traversal: an X15.4 E must refuse a server-only C")
need(any(c["acceptor"]["client_eku_check_services"].get("traversal") is False
         and c["observed"]["ok"] for c in t),
     "traversal: E with the switch off for traversal must accept")
# Neighbour (F19): an X15.4 Expressway acceptor still checks clientAuth.
n = find(group="services", service="neighbour", initiator__kind="cucm",
         initiator__certificate__profile="server-only",
         acceptor__version="X15.4")
need(n and all(c["observed"]["code"] == "client-purpose" for c in n),
     "neighbour: an X15.4 Expressway must refuse a server-only CUCM")

print("%d cases: %s" % (len(cases), dict(services)))
if problems:
    print("\n".join(problems))
    sys.exit(1)
EOF

log "text output: grids for the services, the summary line"
rc=0
"$EKULAB" matrix --jobs 2 >"$T/matrix.txt" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "matrix (text) exited $rc: $(tail -n 20 "$T/matrix.txt")"
grep -q "^traversal:" "$T/matrix.txt" || fail "no traversal grid"
grep -q "^mra:" "$T/matrix.txt" || fail "no mra grid"
grep -q "neighbour (cucm)" "$T/matrix.txt" || fail "no neighbour grid"
grep -qE '^[0-9]+ cases, 0 disagreements' "$T/matrix.txt" ||
	fail "no summary line: $(tail -n 3 "$T/matrix.txt")"
! grep -q DISAGREE "$T/matrix.txt" || fail "text output shows a disagreement"

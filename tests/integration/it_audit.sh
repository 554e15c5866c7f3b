#!/usr/bin/env bash
# it_audit.sh: `ekulab audit` end to end: lab PKI profiles, certificates
# made with the openssl program (an issuing CA restricted to serverAuth, a
# Let's Encrypt-like CA, no-EKU, anyExtendedKeyUsage, expired and not yet
# valid leaves, a self-signed leaf), DER and PKCS#7 files, a directory, a
# live endpoint served by `openssl s_server`, every bad input of the issue,
# exit codes and the cluster forecast. JSON is checked with python3.
#
# Environment: EKULAB (the built program; ctest sets it). EKL_IT_KEEP=1
# keeps the temporary directory.
set -euo pipefail

: "${EKULAB:?set EKULAB to the ekulab binary}"
for p in openssl python3; do
	command -v "$p" >/dev/null || {
		echo "it_audit needs $p (scripts/install-deps.sh)" >&2
		exit 1
	}
done

HERE=$(cd "$(dirname "$0")" && pwd)
EXAMPLES="$HERE/../../examples"
T=$(mktemp -d "${TMPDIR:-/tmp}/ekl-it_audit.XXXXXX")
PIDS=() # background servers this test started

log() { printf '[it_audit] %s\n' "$*" >&2; }
fail() {
	printf '[it_audit] FAIL: %s\n' "$*" >&2
	exit 1
}

cleanup() {
	local rc=$? pid
	trap - EXIT
	set +e
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ "${EKL_IT_KEEP:-0}" = 1 ]; then
		log "kept $T"
	else
		rm -rf "$T"
	fi
	[ "$rc" -eq 0 ] && log PASS
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

# ---- helpers ----

# audit NAME ARGS...: run `ekulab audit ARGS --json`, stdout to
# $T/NAME.json, stderr to $T/NAME.err, exit status in RC. A sanitizer
# report fails the test.
RC=0
audit() {
	local name=$1
	shift
	RC=0
	"$EKULAB" audit "$@" --json >"$T/$name.json" 2>"$T/$name.err" || RC=$?
	if grep -qE 'Sanitizer|runtime error:' "$T/$name.err"; then
		cat "$T/$name.err" >&2
		fail "$name: sanitizer report"
	fi
}

expect_rc() {
	[ "$RC" -eq "$2" ] || {
		cat "$T/$1.err" >&2
		fail "$1: exit status $RC, expected $2"
	}
}

# check NAME 'python statements': assertions on $T/NAME.json, where
# d is the document, cert(SUFFIX, INDEX) one certificate whose source ends
# with SUFFIX, errs(SUFFIX) the error messages of a source, tgt(c, V) a
# target of certificate c.
check() {
	python3 - "$T/$1.json" "$2" <<'EOF' || fail "$1: assertion failed (JSON in $T/$1.json)"
import json, sys, traceback
d = json.load(open(sys.argv[1]))
def cert(suffix, index=0):
    hits = [c for c in d["certificates"]
            if c["source"].endswith(suffix) and c["index"] == index]
    assert len(hits) == 1, "%d certificates from %s #%d" % (len(hits), suffix, index)
    return hits[0]
def errs(suffix):
    return [e["message"] for e in d["errors"] if e["source"].endswith(suffix)]
def tgt(c, version, role=None):
    hits = [t for t in c["targets"] if t["version"] == version
            and (role is None or t["role"] == role)]
    assert len(hits) == 1, "target %s" % version
    return hits[0]
try:
    exec(sys.argv[2])
except Exception:
    traceback.print_exc()
    print(json.dumps(d, indent=1)[:6000], file=sys.stderr)
    sys.exit(1)
EOF
}

free_port() {
	python3 - <<'EOF'
import random, socket, sys
for _ in range(200):
    p = random.randint(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    sys.exit(0)
sys.exit("no free port")
EOF
}

wait_listening() {
	local port=$1 i
	for ((i = 0; i < 100; i++)); do
		if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$port" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	fail "nothing listens on 127.0.0.1:$port"
}

# ---- 1. the lab PKI: every profile ----

log "lab PKI profiles"
L="$T/lab"
"$EKULAB" pki init --dir "$L" >/dev/null
for p in combined server-only client-only no-eku any-eku; do
	"$EKULAB" pki issue --dir "$L" --name "$p" --profile "$p" >/dev/null
done
"$EKULAB" pki issue --dir "$L" --name under-so --profile combined \
	--ca server-only >/dev/null
"$EKULAB" pki issue --dir "$L" --name under-combined --profile server-only \
	--ca combined >/dev/null

audit lab --no-system-store --ca "$L/ca.crt" --role c --version X15.3.2 \
	--version X15.4 --version X15.5 \
	"$L"/combined.crt "$L"/server-only.crt "$L"/client-only.crt \
	"$L"/no-eku.crt "$L"/any-eku.crt "$L"/under-so.crt "$L"/under-combined.crt
expect_rc lab 1
check lab '
assert d["errors"] == [], d["errors"]
c = cert("/combined.crt")
assert c["root"] == "private" and c["eku"] == ["serverAuth", "clientAuth"]
assert c["subject"] == "CN=combined" and c["sans"] == ["DNS:combined"]
assert c["chain"][-1] == c["root_subject"] == "CN=ekulab lab root"
assert c["key_type"] == "EC" and c["key_bits"] == 256
for v in ("X15.3.2", "X15.4", "X15.5"):
    t = tgt(c, v)
    assert t["role"] == "c"
    assert t["upload"]["verdict"] == "accept", t
    assert t["clusterdb_as_client"] == "ok" and t["clusterdb_as_server"] == "ok"
assert c["findings"] == [] and c["options"][0]["option"] == "no-action"
assert cert("/combined.crt", 1)["ca"] is True
s = cert("/server-only.crt")
assert s["eku"] == ["serverAuth"]
assert tgt(s, "X15.3.2")["upload"]["verdict"] == "reject"
assert tgt(s, "X15.3.2")["clusterdb_as_client"] == "client-purpose"
assert tgt(s, "X15.4")["upload"]["verdict"] == "reject"   # Expressway-C
assert tgt(s, "X15.4")["clusterdb_as_client"] == "ok"     # the bypass
assert tgt(s, "X15.5")["upload"]["verdict"] == "accept"
assert tgt(s, "X15.5")["upload_client"]["verdict"] == "reject"
assert "upload:c/X15.3.2" in s["findings"]
cl = cert("/client-only.crt")
assert tgt(cl, "X15.5")["clusterdb_as_server"] == "server-purpose"
assert tgt(cl, "X15.5")["upload_client"]["verdict"] == "accept"
n = cert("/no-eku.crt")
assert n["eku"] is None
assert all(t["upload"]["verdict"] == "accept" for t in n["targets"])
a = cert("/any-eku.crt")
assert a["eku"] == ["anyExtendedKeyUsage"]
assert tgt(a, "X15.3.2")["clusterdb_as_client"] == "client-purpose"
assert tgt(a, "X15.3.2")["clusterdb_as_server"] == "server-purpose"
assert tgt(a, "X15.3.2")["upload"]["verdict"] == "reject"
u = cert("/under-so.crt")
assert tgt(u, "X15.3.2")["clusterdb_as_client"] == "client-purpose"
assert tgt(u, "X15.3.2")["upload"]["verdict"] == "accept"   # leaf has it
assert cert("/under-so.crt", 1)["eku"] == ["serverAuth"]
uc = cert("/under-combined.crt")
assert tgt(uc, "X15.4")["clusterdb_as_client"] == "ok"
assert d["summary"]["exit"] == 1
'

# Without --ca (and no system store) the lab chain is not anchored.
audit lab-unknown --no-system-store --version X15.4 "$L/combined.crt"
expect_rc lab-unknown 1
check lab-unknown '
c = cert("/combined.crt")
assert c["root"] == "unknown" and c["root_subject"] is None
assert tgt(c, "X15.4")["clusterdb_as_client"] == "untrusted"
assert c["options"][0]["option"] == "classify-root"
'

# Only combined certificates and X15.5 targets: nothing found, exit 0.
audit clean --no-system-store --ca "$L/ca.crt" --role e --version X15.5 \
	"$L/combined.crt"
expect_rc clean 0

# ---- 2. certificates made with the openssl program ----

log "openssl-made hierarchy"
O="$T/ossl"
mkdir -p "$O/ca/new"
: >"$O/ca/index.txt"
echo 1000 >"$O/ca/serial"
cat >"$O/ext.cnf" <<'EOF'
[sub_server]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[sub_open]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leaf_combined]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = DNS:combined.example.com,IP:192.0.2.7
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:server.example.com
[leaf_noeku]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectAltName = DNS:noeku.example.com
[leaf_anyeku]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = anyExtendedKeyUsage
subjectAltName = DNS:anyeku.example.com
EOF
cat >"$O/ca.cnf" <<EOF
[ca]
default_ca = lab
[lab]
database = $O/ca/index.txt
new_certs_dir = $O/ca/new
serial = $O/ca/serial
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
EOF

ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
rsa_key() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }
csr() { openssl req -new -key "$1" -subj "$2" -out "$3"; }
# sign CSR CA_NAME EXT_SECTION OUT DAYS
sign() {
	openssl x509 -req -in "$1" -CA "$O/$2.pem" -CAkey "$O/$2.key" \
		-set_serial "0x$(openssl rand -hex 8)" -days "$5" \
		-extfile "$O/ext.cnf" -extensions "$3" -out "$4" 2>/dev/null
}

ec_key "$O/pubroot.key"
openssl req -x509 -new -key "$O/pubroot.key" -days 3650 \
	-subj "/O=Example Public Trust/CN=Example Public Root R1" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$O/pubroot.pem"
# The 2026-style issuing CA: restricted to serverAuth.
ec_key "$O/pubca.key"
csr "$O/pubca.key" "/O=Example Public Trust/CN=Example TLS Server CA" "$O/pubca.csr"
sign "$O/pubca.csr" pubroot sub_server "$O/pubca.pem" 1825
# A Let's Encrypt-like issuing CA (no EKU restriction).
ec_key "$O/le.key"
csr "$O/le.key" "/C=US/O=Let's Encrypt/CN=R99" "$O/le.csr"
sign "$O/le.csr" pubroot sub_open "$O/le.pem" 1825

leaf() { # NAME CA SECTION DAYS [rsa]
	if [ "${5:-}" = rsa ]; then rsa_key "$O/$1.key"; else ec_key "$O/$1.key"; fi
	csr "$O/$1.key" "/CN=$1.example.com" "$O/$1.csr"
	sign "$O/$1.csr" "$2" "$3" "$O/$1.leaf" "$4"
	cat "$O/$1.leaf" "$O/$2.pem" >"$O/$1.pem"
}
leaf pub-combined pubca leaf_combined 200 rsa
leaf pub-server pubca leaf_server 90
leaf le-combined le leaf_combined 90
leaf pub-noeku le leaf_noeku 90
leaf pub-anyeku le leaf_anyeku 90

# Expired and not yet valid, with explicit dates (openssl ca).
for w in expired notyet; do
	ec_key "$O/$w.key"
	csr "$O/$w.key" "/CN=$w.example.com" "$O/$w.csr"
done
openssl ca -batch -config "$O/ca.cnf" -cert "$O/pubca.pem" -keyfile "$O/pubca.key" \
	-in "$O/expired.csr" -startdate 20250101000000Z -enddate 20250301000000Z \
	-extfile "$O/ext.cnf" -extensions leaf_server -notext -out "$O/expired.leaf" 2>/dev/null
openssl ca -batch -config "$O/ca.cnf" -cert "$O/pubca.pem" -keyfile "$O/pubca.key" \
	-in "$O/notyet.csr" -startdate 20400101000000Z -enddate 20400301000000Z \
	-extfile "$O/ext.cnf" -extensions leaf_server -notext -out "$O/notyet.leaf" 2>/dev/null
cat "$O/expired.leaf" "$O/pubca.pem" >"$O/expired.pem"
cat "$O/notyet.leaf" "$O/pubca.pem" >"$O/notyet.pem"

# A self-signed leaf (CA:FALSE), as appliances make them.
ec_key "$O/self.key"
openssl req -x509 -new -key "$O/self.key" -days 30 -subj "/CN=self.example.com" \
	-addext "basicConstraints=critical,CA:FALSE" \
	-addext "extendedKeyUsage=serverAuth" -out "$O/self.pem"

audit ossl --no-system-store --public-ca "$O/pubroot.pem" --role e \
	--version X15.3.2 --version X15.4 --server-eku-upload \
	"$O"/pub-combined.pem "$O"/pub-server.pem "$O"/le-combined.pem \
	"$O"/pub-noeku.pem "$O"/pub-anyeku.pem "$O"/expired.pem \
	"$O"/notyet.pem "$O"/self.pem
expect_rc ossl 1
check ossl '
assert d["errors"] == [], d["errors"]
c = cert("/pub-combined.pem")
assert c["root"] == "public" and c["root_subject"] == "CN=Example Public Root R1,O=Example Public Trust"
assert c["key_type"] == "RSA" and c["key_bits"] == 2048
assert c["sans"] == ["DNS:combined.example.com", "IP:192.0.2.7"]
assert c["issuer"] == "CN=Example TLS Server CA,O=Example Public Trust"
assert len(c["chain"]) == 3
t = tgt(c, "X15.3.2")
assert t["upload"]["verdict"] == "accept"            # the leaf has clientAuth
assert t["clusterdb_as_client"] == "client-purpose"  # the CA has not
assert tgt(c, "X15.4")["clusterdb_as_client"] == "ok"
assert tgt(c, "X15.4")["upload"]["verdict"] == "accept"
risks = [r["risk"] for r in c["risks"]]
assert "public-no-client-auth" in risks and "validity-cap" in risks, risks
assert "chrome-policy" in risks and "lets-encrypt-classic" not in risks, risks
opts = [o["option"] for o in c["options"]]
assert opts[0] == "alternate-root" and opts[1] == "upgrade-x15.4", opts
# renewed server-only, the zones E opens fail (both targets): never
# "monitor"
assert opts[2:] == ["zones", "zones"] and "monitor" not in opts, opts
assert "private-pki" not in opts   # Expressway-E targets only
ca = cert("/pub-combined.pem", 1)
assert ca["ca"] and ca["eku"] == ["serverAuth"] and ca["risks"] == []
s = cert("/pub-server.pem")
assert tgt(s, "X15.4")["upload"]["verdict"] == "accept"  # EnableServerEkuUpload
# An X15.4 E with a server-only certificate: ClusterDB, traversal and MRA
# pass; neighbour, b2b and federation may still fail, each a finding.
sv = {x["service"]: x for x in tgt(s, "X15.4")["services"]}
assert list(sv) == ["traversal", "mra", "neighbour", "b2b", "federation"], list(sv)
assert sv["traversal"]["now"] == "ok" and sv["mra"]["now"] == "ok", sv
for z in ("neighbour", "b2b", "federation"):
    assert sv[z]["now"] == "client-purpose" and sv[z]["now_rejected_by"] == "peer", sv[z]
    assert "may still fail" in sv[z]["fix"], sv[z]
    assert "zone_%s:e/X15.4:client-purpose" % z in s["findings"], s["findings"]
assert tgt(s, "X15.3.2")["services"][1]["now"] == "client-purpose"  # mra, pre-X15.4 C
zo = [o["text"] for o in s["options"] if o["option"] == "zones"]
assert any(t.startswith("Zones of Expressway-E X15.4: neighbour, b2b, federation: may still fail") for t in zo), zo
assert tgt(s, "X15.3.2")["upload"]["verdict"] == "reject"
assert "public-no-client-auth" not in [r["risk"] for r in s["risks"]]
le = cert("/le-combined.pem")
assert "lets-encrypt-classic" in [r["risk"] for r in le["risks"]]
assert tgt(le, "X15.3.2")["clusterdb_as_client"] == "ok"  # LE CA unrestricted
assert tgt(le, "X15.3.2")["renewed_server_only"]["clusterdb_as_client"] == "client-purpose"
assert tgt(le, "X15.3.2")["renewed_server_only"]["breaks"] is True
n = cert("/pub-noeku.pem")
assert n["eku"] is None and tgt(n, "X15.3.2")["clusterdb_as_client"] == "ok"
a = cert("/pub-anyeku.pem")
assert a["eku"] == ["anyExtendedKeyUsage"]
assert tgt(a, "X15.3.2")["clusterdb_as_server"] == "server-purpose"
e = cert("/expired.pem")
assert e["validity"] == "expired" and e["days_left"] < 0
assert e["not_after"] == "2025-03-01T00:00:00Z"
assert "expired" in e["findings"]
assert tgt(e, "X15.4")["clusterdb_as_client"] == "expired"
y = cert("/notyet.pem")
assert y["validity"] == "not-yet-valid" and "not-yet-valid" in y["findings"]
assert y["not_before"] == "2040-01-01T00:00:00Z"
ss = cert("/self.pem")
assert ss["self_signed"] and ss["root"] == "private" and not ss["ca"]
assert ss["options"][0]["option"] == "no-action"
'

# Time travel: the same public leaf audited on 2026-01-10 gets option B.
audit ossl-early --no-system-store --public-ca "$O/pubroot.pem" \
	--at 2026-01-10 --role e --version X15.3.2 "$O/pub-combined.pem"
check ossl-early '
opts = [o["option"] for o in cert("/pub-combined.pem")["options"]]
assert opts[:2] == ["alternate-root", "renew-before-deadline"], opts
assert d["at"] == "2026-01-10T00:00:00Z"
'

# The system store: a real public root classifies as public.
SYS_ROOT=$(ls /etc/ssl/certs/*.pem 2>/dev/null | head -n 1 || true)
if [ -n "$SYS_ROOT" ]; then
	audit system "$SYS_ROOT"
	check system 'assert cert("") ["root"] == "public", d'
else
	log "no /etc/ssl/certs/*.pem: system store check skipped"
fi

# ---- 3. formats: DER, PKCS#7 (PEM and DER), bundles ----

log "formats"
F="$T/formats"
mkdir -p "$F"
openssl x509 -in "$O/pub-server.leaf" -outform DER -out "$F/server.der"
openssl crl2pkcs7 -nocrl -certfile "$O/pub-combined.pem" -out "$F/chain.p7b"
openssl crl2pkcs7 -nocrl -certfile "$O/pub-combined.pem" -outform DER -out "$F/chain.p7c"
cat "$O/pub-server.pem" "$O/pubroot.pem" >"$F/bundle.pem"
audit formats --no-system-store --public-ca "$O/pubroot.pem" \
	"$F/server.der" "$F/chain.p7b" "$F/chain.p7c" "$F/bundle.pem"
check formats '
assert d["errors"] == [], d["errors"]
assert cert("/server.der")["subject"] == "CN=pub-server.example.com"
assert cert("/server.der")["root"] == "unknown"   # the issuer is not in the file
for f in ("/chain.p7b", "/chain.p7c"):
    subs = sorted(cert(f, i)["subject"] for i in (0, 1))
    assert subs[0].startswith("CN=Example TLS Server CA"), subs
    assert subs[1] == "CN=pub-combined.example.com", subs
    leaf = [cert(f, i) for i in (0, 1) if not cert(f, i)["ca"]][0]
    assert leaf["root"] == "public"
assert [cert("/bundle.pem", i)["index"] for i in (0, 1, 2)] == [0, 1, 2]
assert cert("/bundle.pem", 2)["self_signed"]
'

# ---- 4. a directory, recursively ----

log "directory"
D="$T/dir"
mkdir -p "$D/a/b"
cp "$L/combined.crt" "$D/a/"
cp "$L/combined.key" "$D/a/"
cp "$O/self.pem" "$D/a/b/"
audit dir --no-system-store --ca "$L/ca.crt" "$D"
check dir '
assert d["errors"] == [], d["errors"]
assert cert("/a/combined.crt")["root"] == "private"
assert cert("/a/b/self.pem")["self_signed"]
assert d["summary"]["skipped_key_files"] == 1
assert d["summary"]["certificates"] == 3
'

# ---- 5. a live endpoint: openssl s_server ----

log "live endpoint"
PORT=$(free_port)
openssl s_server -accept "127.0.0.1:$PORT" -cert "$O/pub-combined.leaf" \
	-key "$O/pub-combined.key" -cert_chain "$O/pubca.pem" -www -quiet \
	</dev/null >"$T/s_server.log" 2>&1 &
PIDS+=("$!")
wait_listening "$PORT"
audit live --no-system-store --public-ca "$O/pubroot.pem" --role c \
	--version X15.3.2 "127.0.0.1:$PORT"
check live '
assert d["errors"] == [], d["errors"]
c = cert("127.0.0.1:'"$PORT"'", 0)
assert c["source"] == "127.0.0.1:'"$PORT"'"
assert c["subject"] == "CN=pub-combined.example.com"
assert c["root"] == "public" and len(c["chain"]) == 3
assert tgt(c, "X15.3.2")["clusterdb_as_client"] == "client-purpose"
assert cert("127.0.0.1:'"$PORT"'", 1)["ca"]
'

# ---- 6. bad input: each gets its error, the rest is still audited ----

log "bad input"
B="$T/bad"
mkdir -p "$B"
head -c 1500 /dev/urandom >"$B/garbage.bin"
printf 'hello, this is not a certificate\n' >"$B/notes.txt"
: >"$B/empty.pem"
# A PEM cut in half, and one cut inside its first block.
head -c "$(($(wc -c <"$O/pub-server.pem") * 3 / 4))" "$O/pub-server.pem" >"$B/cut.pem"
head -c 300 "$O/pub-server.leaf" >"$B/cut-first.pem"
# The chain out of order: the issuing CA first.
cat "$O/pubca.pem" "$O/pub-server.leaf" >"$B/out-of-order.pem"
# Private keys where certificates are expected (PEM, DER, with a cert).
cp "$O/pub-server.key" "$B/key.pem"
openssl pkey -in "$O/pub-server.key" -outform DER -out "$B/key.der"
cat "$O/pub-server.leaf" "$O/pub-server.key" >"$B/cert-and-key.pem"
# A file nobody may read (only meaningful when not root).
cp "$O/pub-server.leaf" "$B/unreadable.pem"
chmod 000 "$B/unreadable.pem"
# Endpoints: nothing listening; a TCP server that is not TLS; one that
# accepts and never answers.
DEAD=$(free_port)
NOTLS=$(free_port)
MUTE=$(free_port)
python3 - "$NOTLS" <<'EOF' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
while True:
    c, _ = s.accept()
    c.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n" * 40)
    c.close()
EOF
PIDS+=("$!")
python3 - "$MUTE" <<'EOF' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
held = []
while True:
    c, _ = s.accept()
    held.append(c)   # never answers
EOF
PIDS+=("$!")
wait_listening "$NOTLS"
wait_listening "$MUTE"

audit bad --no-system-store --public-ca "$O/pubroot.pem" --timeout 1 \
	"$B/garbage.bin" "$B/notes.txt" "$B/empty.pem" "$B/cut.pem" \
	"$B/cut-first.pem" "$B/out-of-order.pem" "$B/key.pem" "$B/key.der" \
	"$B/cert-and-key.pem" "$B/unreadable.pem" "$B/missing.pem" \
	"127.0.0.1:$DEAD" "127.0.0.1:$NOTLS" "127.0.0.1:$MUTE" \
	"$O/pub-combined.pem"
expect_rc bad 2
check bad '
def one(src, *words):
    m = errs(src)
    assert len(m) == 1, (src, m)
    for w in words:
        assert w in m[0], (src, w, m[0])
one("/garbage.bin", "not a certificate")
one("/notes.txt", "not a certificate")
one("/empty.pem", "empty")
one("/cut.pem", "PEM block 2", "cut short or corrupt")
one("/cut-first.pem", "PEM block 1", "cut short or corrupt")
one("/out-of-order.pem", "out of order", "#1 -> #0")
one("/key.pem", "private key", "PEM block 1")
one("/key.der", "private key")
one("/cert-and-key.pem", "private key", "PEM block 2")
one("/missing.pem", "No such file")
one("127.0.0.1:'"$DEAD"'", "unreachable", "refused")
one("127.0.0.1:'"$NOTLS"'", "TLS handshake failed", "TLS endpoint")
one("127.0.0.1:'"$MUTE"'", "no TLS answer within 1000 ms")
# The rest was audited: the good chain, and the readable certificates of
# the damaged files.
assert cert("/pub-combined.pem")["root"] == "public"
assert cert("/cut.pem")["subject"] == "CN=pub-server.example.com"
assert cert("/out-of-order.pem", 1)["subject"] == "CN=pub-server.example.com"
assert cert("/out-of-order.pem", 1)["root"] == "public"
assert cert("/cert-and-key.pem")["subject"] == "CN=pub-server.example.com"
assert d["summary"]["exit"] == 2
'
if [ "$(id -u)" -ne 0 ]; then
	check bad 'm = errs("/unreadable.pem"); assert len(m) == 1 and "Permission denied" in m[0], m'
fi
# Key material never appears, in JSON or in text.
KEYLINE=$(sed -n 2p "$O/pub-server.key")
"$EKULAB" audit "$B/key.pem" "$B/cert-and-key.pem" >"$T/bad.txt" 2>&1 || true
for f in "$T/bad.json" "$T/bad.err" "$T/bad.txt"; do
	if grep -qF -- "$KEYLINE" "$f" || grep -q 'BEGIN' "$f"; then
		fail "key material printed in $f"
	fi
done
grep -q 'private key' "$T/bad.txt" || fail "text output lacks the key error"

# ---- 6b. input that must not hold the audit: a FIFO, a dripping endpoint ----

# A FIFO used to block the audit forever (opened before its type was
# checked); a server that sends one byte every 2 s held it indefinitely
# although --timeout promised a bound (each byte restarted the per-read
# timeout). Both end promptly now, each with its own error, and the rest
# is still audited. `timeout 60` only keeps a regression from hanging CI.
log "a FIFO and an endpoint dripping a byte every 2 s, --timeout 3"
mkfifo "$B/pipe.pem"
DRIP=$(free_port)
python3 - "$DRIP" <<'EOF' &
import socket, sys, threading, time
def drip(c):
    # A TLS handshake record announcing 16 KiB, a byte at a time: it never
    # ends, and never goes quiet for 2 s.
    data = b"\x16\x03\x03\x40\x00" + b"\x02" * 16384
    try:
        for b in data:
            c.sendall(bytes([b]))
            time.sleep(2)
    except OSError:
        pass
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
while True:
    c, _ = s.accept()
    threading.Thread(target=drip, args=(c,), daemon=True).start()
EOF
PIDS+=("$!")
wait_listening "$DRIP"
start=$(date +%s)
RC=0
timeout 60 "$EKULAB" audit --timeout 3 --no-system-store "$B/pipe.pem" \
	"127.0.0.1:$DRIP" "$O/pub-combined.pem" --json \
	>"$T/held.json" 2>"$T/held.err" || RC=$?
elapsed=$(($(date +%s) - start))
[ "$RC" -ne 124 ] || fail "audit still held after 60 s by a FIFO or a dripping endpoint"
expect_rc held 2
# Bounded by --timeout (3 s); the slack is for a loaded machine, the
# failure it guards against never ends.
[ "$elapsed" -le 20 ] || fail "audit took ${elapsed}s with --timeout 3"
check held '
def one(src, *words):
    m = errs(src)
    assert len(m) == 1, (src, m)
    for w in words:
        assert w in m[0], (src, w, m[0])
one("/pipe.pem", "not a regular file")
one("127.0.0.1:'"$DRIP"'", "no TLS answer within 3000 ms", "--timeout")
assert cert("/pub-combined.pem")["subject"]  # still audited
'

# ---- 7. exit codes, also in text mode ----

log "exit codes"
rc=0
"$EKULAB" audit --no-system-store --ca "$L/ca.crt" --version X15.5 \
	"$L/combined.crt" >"$T/t0.txt" || rc=$?
[ "$rc" -eq 0 ] || fail "clean audit: exit $rc, expected 0"
grep -q 'CN=combined' "$T/t0.txt" || fail "text output lacks the subject"
grep -q 'findings  none' "$T/t0.txt" || fail "text output lacks 'findings  none'"
rc=0
"$EKULAB" audit --no-system-store --ca "$L/ca.crt" --version X15.3.2 \
	"$L/server-only.crt" >"$T/t1.txt" || rc=$?
[ "$rc" -eq 1 ] || fail "findings: exit $rc, expected 1"
grep -q 'upload reject' "$T/t1.txt" || fail "text output lacks the upload verdict"
rc=0
"$EKULAB" audit "$B/garbage.bin" >"$T/t2.txt" || rc=$?
[ "$rc" -eq 2 ] || fail "errors: exit $rc, expected 2"
grep -q 'garbage.bin: not a certificate' "$T/t2.txt" || fail "text output lacks the error"
for args in "--version X9 $L/combined.crt" "--role x --version X15.4 $L/combined.crt" \
	"--at yesterday $L/combined.crt" "--role c --role e --version X15.4 $L/combined.crt" \
	"" "--ca /nonexistent/ca.pem $L/combined.crt"; do
	rc=0
	# shellcheck disable=SC2086
	"$EKULAB" audit $args >/dev/null 2>"$T/usage.err" || rc=$?
	[ "$rc" -eq 2 ] || fail "'audit $args': exit $rc, expected 2"
	[ -s "$T/usage.err" ] || fail "'audit $args': no message"
done

# ---- 8. the cluster forecast ----

log "cluster forecast"
audit fc-example --at 2026-01-15 --cluster "$EXAMPLES/three-node.yaml"
expect_rc fc-example 1
check fc-example '
f = d["forecast"]
assert f["name"] == "three-node" and f["breaks"] is True and f["link"] == "both"
# node2 is server-only already: node1 refuses its dial, which is enough
# under the link rule both.
assert f["date"] == "2026-01-15", f["date"]
assert [(l["a"], l["b"]) for l in f["links_down"]] == [("node1", "node2")]
dirs = {(x["initiator"], x["acceptor"]): x for x in f["links_down"][0]["directions"]}
assert dirs[("node2", "node1")]["verdict"] == "client-purpose"
assert dirs[("node2", "node1")]["rejected_by"] == "acceptor"
assert dirs[("node1", "node2")]["verdict"] == "ok"
assert all(n["root"] == "public" and n["renewal_kind"] == "server-only" for n in f["nodes"])
assert f["nodes"][2]["renewal_upload"]["rule"] == "X15.4 Expressway-C upload"
# Nothing can be done in time: X15.4 and X15.5 are not out in January
# 2026, and a renewal at expiry comes too late.
assert f["prevention"] is None, f["prevention"]
x154 = [s for s in f["steps"] if s["step"] == "upgrade-x15.4"][0]
assert x154["in_time"] is False and x154["available_from"] == "2026-03-01", x154
assert x154["upload_ok"] is False and x154["refused_by"]["rule"] == "X15.4 Expressway-C upload", x154
assert f["steps"][-1]["step"] == "permissive" and f["steps"][-1]["prevents"]
assert d["summary"]["forecast_nodes"] == 3 and d["summary"]["forecast_breaks"] is True
'
"$EKULAB" audit --at 2026-01-15 --cluster "$EXAMPLES/three-node.yaml" >"$T/fc-example.txt" 2>&1 || true
grep -q '^0 certificates, 0 with findings, cluster forecast of 3 nodes: breaks on 2026-01-15 (1 link down), 0 errors.$' \
	"$T/fc-example.txt" || fail "fc-example: the summary does not count the forecast: $(tail -1 "$T/fc-example.txt")"
grep -q 'upgrade every node to X15.4 .* (X15.4 is due February 2026, counted from 2026-03-01: too late)' \
	"$T/fc-example.txt" || fail "fc-example: the X15.4 release is not said"

# Staggered public renewals: in January the alternate root prevents the
# break (no upgrade is out in time; X15.4 would need SCP copies on
# Expressway-C anyway); in July X15.5 is out and prevents it.
audit fc-stag --at 2026-01-15 --cluster "$EXAMPLES/staggered-renewals.yaml"
expect_rc fc-stag 1
check fc-stag '
f = d["forecast"]
assert f["date"] == "2026-02-14", f["date"]
assert f["cause"] == "renewed server-only from a public CA: c1 (2026-02-14)", f["cause"]
assert f["prevention"]["step"] == "alternate-root", f["prevention"]
x155 = [s for s in f["steps"] if s["step"] == "upgrade-x15.5"][0]
assert x155["prevents"] and not x155["in_time"], x155
'
audit fc-stag-jul --at 2026-07-01 --cluster "$EXAMPLES/staggered-renewals.yaml"
expect_rc fc-stag-jul 1
check fc-stag-jul '
f = d["forecast"]
assert f["prevention"]["step"] == "upgrade-x15.5", f["prevention"]
x154 = [s for s in f["steps"] if s["step"] == "upgrade-x15.4"][0]
assert x154["prevents"] and x154["in_time"] and not x154["upload_ok"], x154
assert "only with SCP copies" in x154["text"], x154["text"]
'
audit fc-ok --cluster "$EXAMPLES/x15.5-client-certs.yaml"
expect_rc fc-ok 0
check fc-ok 'assert d["forecast"]["breaks"] is False and d["forecast"]["prevention"] is None'

# Real certificates through `file:`, and the list form.
cp "$L/combined.crt" "$L/server-only.crt" "$T/"
cat >"$T/files.yaml" <<'EOF'
name: files
defaults: {version: X15.3.2}
nodes:
  n1: {cert: {file: combined.crt}}
  n2: {cert: {file: server-only.crt}}
EOF
audit fc-files --no-system-store --ca "$L/ca.crt" --cluster "$T/files.yaml"
expect_rc fc-files 1
check fc-files '
f = d["forecast"]
assert f["nodes"][0]["certificate"].startswith("file ") and f["nodes"][0]["root"] == "private"
# A private root is renewed like for like, never server-only by a public CA.
assert all(n["renewal_kind"] == "like-for-like" for n in f["nodes"]), f["nodes"]
assert "public" not in f["cause"], f["cause"]
assert f["breaks"] and [(l["a"], l["b"]) for l in f["links_down"]] == [("n1", "n2")]
assert f["date"] == d["at"][:10], (f["date"], d["at"])  # n1 refuses n2 today
'
printf 'n1 X15.4 combined.crt\nn2 X15.4 server-only.crt e\n' >"$T/nodes.txt"
audit fc-list --no-system-store --ca "$L/ca.crt" --cluster "$T/nodes.txt"
expect_rc fc-list 0
check fc-list 'assert d["forecast"]["nodes"][1]["role"] == "e" and not d["forecast"]["breaks"]'
# A topology error is an error of the run, with file:line:column.
printf 'nodes:\n  n1: {version: X15.4, cert: {profle: combined}}\n' >"$T/typo.yaml"
audit fc-typo --cluster "$T/typo.yaml"
expect_rc fc-typo 2
check fc-typo 'm = errs("typo.yaml"); assert len(m) == 1 and "typo.yaml:2:31: key '"'"'nodes.n1.cert.profle'"'"'" in m[0], m'

# ---- the deployment: C and E clusters, zones, the version mismatch ----
# Every node's certificate stands for a public one: each renewal is
# server-only. ClusterDB holds (X15.4/X15.5 skip clientAuth), but
# traversal (E checks C's clientAuth on every version), MRA (riding on
# it) and the neighbour zone to Unified CM fail after the renewals; C and
# E run different versions: a finding.
cat >"$T/deploy.yaml" <<'EOF2'
name: deploy
defaults: {version: X15.4, cert: {profile: combined, root: public}}
clusters:
  core: {role: c, nodes: {c1: {version: X15.5}, c2: {version: X15.5}}}
  edge: {role: e, server_eku_upload: true, nodes: {e1: {}, e2: {}}}
externals:
  cucm: {kind: cucm, checks_client_eku: true}
zones:
  - {type: traversal, client: core, server: edge, mra: true}
  - {type: neighbour, from: core, to: cucm}
EOF2
audit fc-deploy --no-system-store --at 2026-07-01 --cluster "$T/deploy.yaml"
expect_rc fc-deploy 1
check fc-deploy '
f = d["forecast"]
assert not f["breaks"] and f["links_down"] == [], f["links_down"]
z = f["zones"]
assert z["connections"] == 12 and z["now"] == [], z
down = {(x["service"], x["initiator"], x["acceptor"]): (x["verdict"], x["rejected_by"]) for x in z["after_renewals"]["down"]}
assert len(down) == 10, down
assert down[("traversal", "c1", "e2")] == ("client-purpose", "acceptor"), down
assert down[("mra", "c2", "e1")] == ("client-purpose", "acceptor"), down
assert down[("neighbour", "c1", "cucm")] == ("client-purpose", "acceptor"), down
assert not any(k[0] == "neighbour" and k[1] == "cucm" for k in down), down
assert f["version_mismatch"] == [{"zone": ["core", "edge"], "client_versions": "X15.5", "server_versions": "X15.4"}], f["version_mismatch"]
assert d["summary"]["forecast_zones_down"] == 10 and d["summary"]["forecast_version_mismatch"] == 1
'
"$EKULAB" audit --no-system-store --at 2026-07-01 --cluster "$T/deploy.yaml" >"$T/fc-deploy.txt" 2>&1 || true
grep -q 'finding: version-mismatch: traversal zone core -> edge: C runs X15.5, E runs X15.4' "$T/fc-deploy.txt" ||
	fail "fc-deploy: no mismatch line: $(cat "$T/fc-deploy.txt")"
grep -q 'zones after every renewal (2027-07-01): 10 of 12 connections FAIL' "$T/fc-deploy.txt" ||
	fail "fc-deploy: no zones line"
# The shipped example: private certificates, every zone works, no finding.
audit fc-example --no-system-store --at 2026-07-01 --cluster "$EXAMPLES/deployment/mra-lab.yaml"
expect_rc fc-example 0
check fc-example '
f = d["forecast"]
assert f["zones"]["after_renewals"]["down"] == [] and f["version_mismatch"] == []
assert [n["name"] for n in f["nodes"]] == ["c1", "c2", "e1", "e2"]
'

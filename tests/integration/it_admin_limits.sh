#!/usr/bin/env bash
# it_admin_limits: the admin protocol's limits on a live node, on one
# connection: a maximal path and value in a request line of exactly the
# maximum length is accepted and reads back; a value one byte over is
# refused by the store with an "err"; a line one byte over the maximum gets
# an "err" naming the limit; and the same connection then still serves the
# next requests, in order. A NUL byte, bytes that are not UTF-8 and a
# negative timeout get an "err" each and store nothing, so the rows stay
# valid JSON. ekulab ctl refuses an over-long line itself.
. "${EKL_IT_LIB:?}"

pki_setup
issue solo combined
# A single node that is its own primary (its peer never runs).
start_node solo X15.3.2 enforce solo @ghost --primary solo
wait_admin solo

python3 - "$(sock_of solo)" <<'PY' || fail "limits on one admin connection (above)"
import socket, sys

KEY_MAX, VALUE_MAX, LINE_MAX = 512, 65536, 66132
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(20)
buf = b""

def reply():
    global buf
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("connection closed while waiting for a header")
        buf += chunk
    hdr, buf = buf.split(b"\n", 1)
    word, n = hdr.decode().split(" ")
    n = int(n)
    while len(buf) < n:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("connection closed inside a body")
        buf += chunk
    body, buf = buf[:n], buf[n:]
    return word, body.decode()

# A 64-byte prefix (the longest the protocol allows), a maximal path and a
# maximal quoted value: exactly LINE_MAX bytes before the newline.
prefix = "text" + ",ack=primary" * 5
assert len(prefix) == 64
path = "Max/" + "p" * (KEY_MAX - 4)
value = "v" * VALUE_MAX
line = '%s xConfiguration %s: "%s"' % (prefix, path, value)
assert len(line) == LINE_MAX, len(line)
over_value = "text xConfiguration %s: %s" % (path, value + "w")
over_line = '%s xConfiguration %s: "%s"' % (prefix, path, value + "w")
assert len(over_line) == LINE_MAX + 1

# Everything pipelined on one connection; the answers come in order.
s.sendall((line + "\n" + over_value + "\n" + over_line + "\n" +
           "json xConfiguration " + path + "\n" + "text help\n").encode())
w, b = reply()
assert w == "ok", ("maximal line", w, b)
w, b = reply()
assert w == "err" and "65536" in b, ("value one byte over", w, b)
w, b = reply()
assert w == "err" and "limit of 66132 bytes" in b, ("line one byte over", w, b)
w, b = reply()
assert w == "ok", ("read back", w, b)
import json
got = json.loads(b)
assert got == {path: value}, "the maximal value did not read back intact"
w, b = reply()
assert w == "ok" and "xStatus Cluster" in b, ("help after the errors", w, b)

# A line far beyond the limit, sent in pieces, is answered once and the
# connection goes on.
s.sendall(b"text xConfiguration Huge: ")
for _ in range(40):
    s.sendall(b"h" * 8192)
s.sendall(b"\ntext xStatus Database\n")
w, b = reply()
assert w == "err" and "limit" in b, ("huge line", w, b)
w, b = reply()
assert w == "ok" and "revision 1" in b, ("after the huge line", w, b)

# Not text: a NUL (a C server would see "a" and store it), invalid UTF-8
# (it would replicate and make `json xConfiguration` invalid on every
# node), a negative timeout. Each gets an err naming what is wrong and
# nothing is stored.
s.sendall(b"text xConfiguration Nul: a\x00b\n"
          b"text xConfiguration Bad: \xff\xfe\n"
          b"text xConfiguration \xc3\x28: 1\n"
          b"text,timeout=-5 xConfiguration T: 1\n"
          b"json xConfiguration\n")
w, b = reply()
assert w == "err" and "NUL byte (byte 27)" in b, ("NUL", w, b)
w, b = reply()
assert w == "err" and "not UTF-8 (byte 26 is 0xff)" in b, ("UTF-8", w, b)
w, b = reply()
assert w == "err" and "not UTF-8" in b, ("UTF-8 path", w, b)
w, b = reply()
assert w == "err" and "timeout=-5" in b, ("negative timeout", w, b)
w, b = reply()
assert w == "ok", ("list", w, b)
rows = json.loads(b)
assert set(rows) == {path}, ("rows after the refusals", sorted(rows))
s.close()
print("limits: max accepted, +1 value refused by the store, +1 line refused "
      "with the limit named, NUL / not UTF-8 / negative timeout refused, "
      "connection kept", file=sys.stderr)
PY

# The same through ekulab ctl: a maximal value is written and read back;
# a line over the limit is refused by the client, naming the limit.
big=$(head -c 65536 /dev/zero | tr '\0' 'c')
out=$(ctl solo "xConfiguration Max/ctl: $big") || fail "ctl maximal write: $out"
assert_eq "$(ctl solo --json 'xConfiguration Max/ctl' | jget 'Max/ctl' | wc -c)" \
	65537 "length of the value read back (with newline)"
path=$(head -c 600 /dev/zero | tr '\0' 'p')
rc=0
err=$(ctl solo "xConfiguration $path: $big" 2>&1) || rc=$?
assert_eq "$rc" 1 "exit status of an over-long line"
assert_contains "$err" "limit of 66132 bytes" "ctl over-long line"
assert_eq "$(db solo revision)" 2 "revision after the refusals"
node_alive solo || fail "the node died"
stop_node solo

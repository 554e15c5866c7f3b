#!/usr/bin/env python3
"""Write the wire-format seed corpora of the fuzz targets.

The seeds are committed (tests/fuzz/corpus/); this script says how the
binary ones were made, and makes them again: real Envelopes encoded by
protoc-c from proto/ekulab.proto (text format below), framed as a node
frames them (u32 big-endian length, then the Envelope).

Usage: tests/fuzz/mkseeds.py   (from anywhere; needs protoc-c)
"""
import hashlib
import os
import struct
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def env(text):
    """One Envelope, encoded from protobuf text format."""
    return subprocess.run(
        ["protoc-c", "--proto_path=" + os.path.join(ROOT, "proto"),
         "--encode=ekl.Envelope", os.path.join(ROOT, "proto", "ekulab.proto")],
        input=text.encode(), stdout=subprocess.PIPE, check=True).stdout


def frame(text):
    payload = env(text)
    return struct.pack(">I", len(payload)) + payload


def digest(rows):
    """The store's digest (node/store/store.h invariant 3) of rows."""
    total = 0
    for path, value in rows:
        p, v = path.encode(), value.encode()
        h = hashlib.sha256(struct.pack(">I", len(p)) + p +
                           struct.pack(">I", len(v)) + v).digest()
        total = (total + int.from_bytes(h, "big")) % (1 << 256)
    return total.to_bytes(32, "big")


def octal(b):
    return "".join("\\%03o" % c for c in b)


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


HELLO = 'hello { proto_version: 1 cluster: "lab" node: "n2" ' \
        'version: "X15.3.2" role: "c" }'
HEARTBEAT = "heartbeat { seq: 7 }"
BYE = 'bye { code: "wrong-cluster" message: "cluster lab2, expected lab" }'
STATE_PEER = 'repl_state { epoch: 1 primary: "n1" revision: 0 rev_epoch: 0 }'
STATE_PRIMARY = 'repl_state { epoch: 1 primary: "n1" revision: 3 ' \
                'rev_epoch: 1 }'
BATCH = ('batch { epoch: 1 primary_revision: 3 '
         'changes { rev: 1 epoch: 1 path: "xConfiguration/SIP/Domain" '
         'value: "example.com" } '
         'changes { rev: 2 epoch: 1 path: "xConfiguration/NTP/Server" '
         'value: "10.0.0.1" } '
         'changes { rev: 3 epoch: 1 path: "xConfiguration/NTP/Server" '
         'deleted: true } }')
BATCH_GAP = ('batch { epoch: 1 primary_revision: 9 changes { rev: 5 epoch: 1 '
             'path: "a" value: "gap" } }')
ACK = "ack { epoch: 1 revision: 3 }"
SNAP_ROWS = [("xConfiguration/SIP/Domain", "example.com"),
             ("xConfiguration/Zone/1/Name", "traversal")]
SNAP_BEGIN = ('snap_begin { epoch: 1 revision: 40 rev_epoch: 1 digest: "%s" '
              'rows: 2 }' % octal(digest(SNAP_ROWS)))
SNAP_CHUNK = ('snap_chunk { paths: "%s" paths: "%s" values: "%s" '
              'values: "%s" }' % (SNAP_ROWS[0][0], SNAP_ROWS[1][0],
                                  SNAP_ROWS[0][1], SNAP_ROWS[1][1]))
SNAP_END = "snap_end { }"
SNAP_ACK = "snap_ack { chunks: 1 }"


def main():
    # fuzz_frame: byte 0 picks the read sizes (top bit: a small maximum).
    t = "fuzz_frame"
    write(t, "hello", b"\x05" + frame(HELLO))
    write(t, "heartbeat", b"\x11" + frame(HEARTBEAT))
    write(t, "bye", b"\x02" + frame(BYE))
    write(t, "session", b"\x07" + frame(HELLO) + frame(HEARTBEAT) +
          frame(STATE_PEER) + frame(BATCH) + frame(ACK))
    write(t, "snapshot", b"\x03" + frame(SNAP_BEGIN) + frame(SNAP_CHUNK) +
          frame(SNAP_END) + frame(SNAP_ACK))
    write(t, "too-big-small-max", b"\x90" + frame(BATCH))
    write(t, "too-big", b"\x01" + struct.pack(">I", (1 << 20) + 1) + b"x")
    write(t, "zero-length", b"\x01" + frame(HEARTBEAT) + b"\0\0\0\0")
    write(t, "undecodable", b"\x01\x00\x00\x00\x03\xff\xff\xff")
    write(t, "truncated", b"\x01" + frame(BATCH)[:-5])

    # fuzz_repl: byte 0 bit 0: this node is the primary; Heartbeat seq
    # steers (see fuzz_repl.c).
    t = "fuzz_repl"
    run = frame("heartbeat { seq: 0 }")
    write(t, "peer-batch", b"\x00" + frame(STATE_PEER) + frame(BATCH) + run)
    write(t, "peer-gap", b"\x00" + frame(BATCH_GAP) + run)
    write(t, "peer-snapshot", b"\x00" + frame(SNAP_BEGIN) +
          frame(SNAP_CHUNK) + frame(SNAP_END) + run)
    write(t, "peer-snapshot-then-batch", b"\x00" + frame(SNAP_BEGIN) +
          frame(SNAP_CHUNK) + frame(SNAP_END) + run +
          frame('batch { epoch: 1 primary_revision: 41 changes { rev: 41 '
                'epoch: 1 path: "after" value: "snap" } }') + run)
    write(t, "peer-newer-epoch", b"\x00" +
          frame('repl_state { epoch: 4 primary: "n3" revision: 0 }') +
          frame("hello { }") +
          frame('batch { epoch: 4 primary_revision: 1 changes { rev: 1 '
                'epoch: 4 path: "p" value: "v" } }') + run)
    write(t, "peer-reconnect", b"\x00" + frame(BATCH) + frame(BYE) +
          frame(BATCH) + run)
    write(t, "primary-old-peer", b"\x01" + frame(
        'repl_state { epoch: 64 primary: "n1" revision: 0 }') + run +
        frame(SNAP_ACK) + frame(SNAP_ACK) + run +
        frame("ack { epoch: 64 revision: 80 }") + run)
    write(t, "primary-writes-ack-all", b"\x01" + frame(
        'repl_state { epoch: 64 primary: "n1" revision: 80 rev_epoch: 1 }') +
        frame("heartbeat { seq: 5 }") + run +
        frame("ack { epoch: 64 revision: 81 }") + frame("heartbeat { seq: 9 }")
        + frame("heartbeat { seq: 10 }") + run)
    write(t, "primary-ack-beyond", b"\x01" + frame(
        'repl_state { epoch: 64 primary: "n1" revision: 80 rev_epoch: 1 }') +
        frame("ack { epoch: 64 revision: 999999 }") + run)
    write(t, "primary-promote-other", b"\x01" +
          frame('repl_state { epoch: 1048577 primary: "n2" revision: 80 }') +
          frame("heartbeat { seq: 3 }") + run)


if __name__ == "__main__":
    main()

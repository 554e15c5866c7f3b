#!/usr/bin/env python3
"""peer.py: a scripted ekunode peer for the integration tests.

A real mTLS client (python's ssl module) that speaks the node's frames
(u32 big-endian length + one protobuf Envelope, see proto/ekulab.proto,
encoded here by hand: no protobuf module needed), so a test can do after
Hello what a well-behaved peer never does.

    peer.py --port P --ca CA --cert CRT --key KEY --expect NODE \
            --name NAME [--cluster lab] [--version X15.3.2] STEP...

Steps run in order; each prints what it saw on stdout, one line each.
Once both Hellos are through, the steps that wait also send a heartbeat
every 200 ms, so the node's dead-link timer never ends a test early.

    hello            send our Hello
    wait-hello       read frames until the node's Hello ("hello NODE")
    wait:KIND        read frames until one of KIND arrives (hello, heartbeat,
                     bye, repl_state, batch, ack, snap_begin, snap_chunk,
                     snap_end, snap_ack); a repl_state remembers its epoch
    raw:HEX          send these bytes as they are
    state:E:PRIMARY:REV:REV_EPOCH   send a ReplState
    batch:E:REV:PATH:VALUE          send a ReplBatch of one change made in
                     epoch E (PATH and VALUE are hex)
    ack:E:REV        send a ReplAck
    flood:SECONDS    send heartbeat frames as fast as TLS takes them
    drip-hello:S     send our Hello one byte every S seconds, stopping when
                     the node closes ("dripped N of M bytes in T s")
    expect-close:S   read until the node closes (at most S seconds) and
                     print "bye CODE: MESSAGE", "closed" or "open"
    sleep:S          keep reading (and answering nothing) for S seconds

In a step, E stands for the epoch of the last ReplState received.
Exit status 0 when every step ran, 1 when the connection failed first.
"""
import argparse
import select
import socket
import ssl
import struct
import sys
import time

KINDS = {1: "hello", 2: "heartbeat", 3: "bye", 4: "repl_state", 5: "batch",
         6: "ack", 7: "snap_begin", 8: "snap_chunk", 9: "snap_end",
         10: "snap_ack"}


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(field, n):
    return varint(field << 3) + varint(n) if n else b""


def f_bytes(field, b):
    if isinstance(b, str):
        b = b.encode()
    return varint(field << 3 | 2) + varint(len(b)) + b


def envelope(field, body):
    payload = f_bytes(field, body)
    return struct.pack(">I", len(payload)) + payload


def read_varint(b, i):
    n = shift = 0
    while True:
        c = b[i]
        i += 1
        n |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return n, i


def fields(b):
    """Top-level fields of a protobuf message: {number: [value, ...]}."""
    out = {}
    i = 0
    while i < len(b):
        key, i = read_varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(b, i)
        elif wt == 2:
            n, i = read_varint(b, i)
            v = b[i:i + n]
            i += n
        elif wt == 1:
            v = b[i:i + 8]
            i += 8
        elif wt == 5:
            v = b[i:i + 4]
            i += 4
        else:
            raise ValueError("wire type %d" % wt)
        out.setdefault(num, []).append(v)
    return out


class Peer:
    def __init__(self, a):
        self.a = a
        self.buf = b""
        self.epoch = 0
        self.closed = False
        self.up = False       # both Hellos through: heartbeats are due
        self.hb_at = 0.0
        self.hb_seq = 0
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(a.ca)
        ctx.load_cert_chain(a.cert, a.key)
        raw = socket.create_connection(("127.0.0.1", a.port), timeout=10)
        self.s = ctx.wrap_socket(raw, server_hostname=a.expect)
        self.s.settimeout(None)

    def hello_bytes(self):
        h = (f_varint(1, 1) + f_bytes(2, self.a.cluster) +
             f_bytes(3, self.a.name) + f_bytes(4, self.a.version) +
             f_bytes(5, "c"))
        return envelope(1, h)

    def send(self, b):
        self.s.sendall(b)

    def heartbeat(self):
        if self.up and time.time() - self.hb_at >= 0.2:
            self.hb_seq += 1
            self.hb_at = time.time()
            self.send(envelope(2, f_varint(1, self.hb_seq)))

    def read_some(self, timeout):
        """Read what is there (waiting up to timeout); False on close."""
        if self.closed:
            return False
        try:
            self.heartbeat()
        except (OSError, ssl.SSLError):
            self.closed = True
            return False
        if not self.s.pending():
            r, _, _ = select.select([self.s], [], [], timeout)
            if not r:
                return True
        try:
            d = self.s.recv(65536)
        except (ssl.SSLError, OSError):
            self.closed = True
            return False
        if not d:
            self.closed = True
            return False
        self.buf += d
        return True

    def next_frame(self):
        if len(self.buf) < 4:
            return None
        n = struct.unpack(">I", self.buf[:4])[0]
        if len(self.buf) < 4 + n:
            return None
        payload = self.buf[4:4 + n]
        self.buf = self.buf[4 + n:]
        f = fields(payload)
        num = next(iter(f))
        body = f[num][0]
        kind = KINDS.get(num, str(num))
        if kind == "repl_state":
            self.epoch = fields(body).get(1, [0])[0]
        return kind, body

    def wait(self, kinds, seconds=15):
        end = time.time() + seconds
        while time.time() < end:
            fr = self.next_frame()
            if fr is None:
                if not self.read_some(0.2):
                    print("closed while waiting for %s" % "/".join(kinds))
                    return None
                continue
            if fr[0] == "bye":
                b = fields(fr[1])
                print("bye %s: %s" % (b.get(1, [b""])[0].decode(),
                                      b.get(2, [b""])[0].decode()))
                return None
            if fr[0] in kinds:
                return fr
        print("timed out waiting for %s" % "/".join(kinds))
        return None

    def expect_close(self, seconds):
        end = time.time() + seconds
        while time.time() < end:
            fr = self.next_frame()
            if fr is not None:
                if fr[0] == "bye":
                    b = fields(fr[1])
                    print("bye %s: %s" % (b.get(1, [b""])[0].decode(),
                                          b.get(2, [b""])[0].decode()))
                    return
                continue
            if not self.read_some(0.2):
                print("closed")
                return
        print("open")


def num(s, peer):
    return peer.epoch if s == "E" else int(s)


def main():
    p = argparse.ArgumentParser()
    for k in ("ca", "cert", "key", "expect", "name"):
        p.add_argument("--" + k, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cluster", default="lab")
    p.add_argument("--version", default="X15.3.2")
    p.add_argument("steps", nargs="+")
    a = p.parse_args()
    try:
        peer = Peer(a)
    except (OSError, ssl.SSLError) as e:
        print("connect failed: %s" % e)
        return 1
    for step in a.steps:
        op, _, arg = step.partition(":")
        args = arg.split(":") if arg else []
        sys.stdout.flush()
        try:
            if op == "hello":
                peer.send(peer.hello_bytes())
            elif op == "wait-hello":
                fr = peer.wait(["hello"])
                if fr is not None:
                    print("hello %s" % fields(fr[1])[3][0].decode())
                    peer.up = True
            elif op == "wait":
                fr = peer.wait(args[0].split(","))
                if fr is not None:
                    print(fr[0])
            elif op == "raw":
                peer.send(bytes.fromhex(arg))
            elif op == "state":
                body = (f_varint(1, num(args[0], peer)) + f_bytes(2, args[1]) +
                        f_varint(3, int(args[2])) + f_varint(4, int(args[3])))
                peer.send(envelope(4, body))
            elif op == "batch":
                e = num(args[0], peer)
                ch = (f_varint(1, int(args[1])) + f_varint(2, e) +
                      f_bytes(3, bytes.fromhex(args[2])) +
                      f_bytes(4, bytes.fromhex(args[3])))
                body = f_varint(1, e) + f_bytes(2, ch) + f_varint(3, int(args[1]))
                peer.send(envelope(5, body))
            elif op == "ack":
                body = f_varint(1, num(args[0], peer)) + f_varint(2, int(args[1]))
                peer.send(envelope(6, body))
            elif op == "flood":
                one = b"".join(envelope(2, f_varint(1, k + 1))
                               for k in range(8192))
                end = time.time() + float(args[0])
                sent = 0
                while time.time() < end:
                    peer.send(one)
                    sent += 8192
                    # Take what the node sends, so that only our side
                    # floods; stop when it has closed us.
                    while peer.s.pending() or select.select([peer.s], [], [], 0)[0]:
                        if not peer.read_some(0):
                            break
                        peer.buf = b""
                    if peer.closed:
                        break
                print("flooded %d frames, %s" %
                      (sent, "closed" if peer.closed else "still open"))
            elif op == "drip-hello":
                b = peer.hello_bytes()
                t0 = time.time()
                n = 0
                for k in range(len(b)):
                    try:
                        peer.send(b[k:k + 1])
                    except (OSError, ssl.SSLError):
                        break
                    n += 1
                    if not peer.read_some(float(args[0])):
                        break
                print("dripped %d of %d bytes in %.1f s" %
                      (n, len(b), time.time() - t0))
            elif op == "expect-close":
                peer.expect_close(float(args[0]))
            elif op == "sleep":
                end = time.time() + float(args[0])
                while time.time() < end and peer.read_some(0.2):
                    peer.buf = b""
            else:
                print("unknown step %s" % step)
                return 2
        except (OSError, ssl.SSLError) as e:
            print("%s: connection failed: %s" % (op, e))
            return 1
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

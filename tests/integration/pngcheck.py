#!/usr/bin/env python3
"""pngcheck.py: is a screenshot a real picture? (standard library only)

usage: pngcheck.py FILE.png [--margin N]
Decodes the PNG (8-bit, RGB or RGBA, not interlaced, as Chromium writes
it) and fails (exit 1, saying why) when the picture is blank (under 1% of
its pixels differ from the background, the top-left pixel's colour) or
clipped (the content reaches the last N rows or columns: the page was
larger than the window). Prints the content's bounding box.
"""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit("%s: not a PNG" % path)
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                sys.exit("%s: unsupported PNG (depth %d, colour type %d)" %
                         (path, depth, ctype))
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pr) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def main():
    path = sys.argv[1]
    margin = int(sys.argv[sys.argv.index("--margin") + 1]) if "--margin" in sys.argv else 4
    w, h, bpp, rows = decode(path)
    bg = rows[0][0:3]
    minx, miny, maxx, maxy, count = w, h, -1, -1, 0
    for y in range(0, h):
        row = rows[y]
        for x in range(0, w):
            px = row[x * bpp:x * bpp + 3]
            if max(abs(px[i] - bg[i]) for i in range(3)) > 24:
                count += 1
                minx, maxx = min(minx, x), max(maxx, x)
                miny, maxy = min(miny, y), max(maxy, y)
    if count < 0.01 * w * h:
        print("%s: blank (%d of %d pixels differ from the background)" % (path, count, w * h))
        return 1
    if maxx >= w - margin or maxy >= h - margin:
        print("%s: clipped: the content reaches (%d, %d) of %dx%d" % (path, maxx, maxy, w, h))
        return 1
    print("%s: %dx%d, content %d,%d..%d,%d, %.1f%% drawn" %
          (path, w, h, minx, miny, maxx, maxy, 100.0 * count / (w * h)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

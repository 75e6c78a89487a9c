#!/usr/bin/env python3
"""patch.py IN OUT OFFSET VALUE [SIZE]: copy IN to OUT with the SIZE-byte
(default 8) little-endian integer VALUE written at OFFSET (negative offsets
count from the end; an OFFSET of "truncate" cuts the file to VALUE bytes)."""
import sys

src, dst, where, value = sys.argv[1:5]
size = int(sys.argv[5]) if len(sys.argv) > 5 else 8
data = bytearray(open(src, "rb").read())
if where == "truncate":
    data = data[:int(value, 0)]
else:
    off = int(where, 0)
    if off < 0:
        off += len(data)
    data[off:off + size] = int(value, 0).to_bytes(size, "little")
open(dst, "wb").write(data)

#!/usr/bin/env python3
"""Splits a Cobertura report into N shards as a sharded test run would produce them.

Every shard lists the same files and lines; line L of file F keeps its hits in shard
crc32("F:L") mod N and has hits="0" in the others, so the union of the shards is exactly the
original report. Streaming, standard library only.

usage: split_cobertura.py REPORT OUT_DIR N   (writes OUT_DIR/shard-01.xml … shard-NN.xml)
"""

import re
import sys
import zlib


def main() -> None:
    base, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    shards = [open(f"{out}/shard-{i + 1:02d}.xml", "w", encoding="utf-8") for i in range(n)]
    line = re.compile(r'(<line number="(\d+)" hits=")(\d+)"')
    name = ""
    with open(base, encoding="utf-8") as f:
        for text in f:
            if "filename=" in text:
                name = text.split('filename="', 1)[1].split('"', 1)[0]
            m = line.search(text)
            if not m:
                for shard in shards:
                    shard.write(text)
                continue
            owner = zlib.crc32(f"{name}:{m.group(2)}".encode()) % n
            zeroed = line.sub(lambda g: g.group(1) + '0"', text, count=1)
            for i, shard in enumerate(shards):
                shard.write(text if i == owner else zeroed)
    for shard in shards:
        shard.close()


if __name__ == "__main__":
    main()

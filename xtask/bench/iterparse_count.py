#!/usr/bin/env python3
"""The Python peer of `cargo xtask coverage --file`: count a Cobertura report's lines.

Streams the file with `xml.etree.ElementTree.iterparse` (start and end events), counts the
`<line>` elements of each `<class>`'s `<lines>` (not the per-method copies under
`<methods>`), a line being covered when its hits > 0, and clears finished elements so memory
stays bounded: the idiomatic, fair way to do this in Python.

Prints `covered valid percent`, e.g. `7500565 10000000 75.00565`.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def count(path: str) -> tuple[int, int]:
    covered = valid = 0
    stack: list[str] = []  # tags of the open elements
    push, pop = stack.append, stack.pop
    for event, elem in ET.iterparse(path, events=("start", "end")):
        if event == "start":
            push(elem.tag)
            continue
        pop()
        tag = elem.tag
        if tag == "line":
            # stack is now [..., "class", "lines"] for a class-level line.
            if len(stack) >= 2 and stack[-1] == "lines" and stack[-2] == "class":
                valid += 1
                if int(elem.get("hits", "0")) > 0:
                    covered += 1
        elif tag == "class" or tag == "package":
            # Drops the finished lines (class) and the emptied classes (package), so at
            # most one class's elements are alive at a time.
            elem.clear()
    return covered, valid


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: iterparse_count.py REPORT.xml", file=sys.stderr)
        return 2
    covered, valid = count(argv[1])
    percent = 100.0 * covered / valid if valid else 100.0
    print("%d %d %.5f" % (covered, valid, percent))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

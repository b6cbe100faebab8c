#!/usr/bin/env python3
"""The union of Cobertura reports with ElementTree.iterparse, the peer of merge.sh.

A line is (filename, number) from each <class>'s <lines> (not <methods>), covered when any
report has hits > 0 for it. Prints "covered valid". Standard library only.

usage: iterparse_union.py 'GLOB'
"""

import glob
import sys
import xml.etree.ElementTree as ET


def main() -> None:
    lines: dict[tuple[str, int], bool] = {}
    for path in sorted(glob.glob(sys.argv[1])):
        name, in_methods = None, 0
        for event, el in ET.iterparse(path, events=("start", "end")):
            if event == "start":
                if el.tag == "class":
                    name = el.get("filename")
                elif el.tag == "methods":
                    in_methods += 1
                continue
            if el.tag == "line" and in_methods == 0 and name is not None:
                key = (name, int(el.get("number")))
                lines[key] = lines.get(key, False) or int(el.get("hits")) > 0
            elif el.tag == "methods":
                in_methods -= 1
            elif el.tag == "class":
                el.clear()
    print(sum(lines.values()), len(lines))


if __name__ == "__main__":
    main()

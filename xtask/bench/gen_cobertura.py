#!/usr/bin/env python3
"""Deterministic generator of a large, realistic Cobertura XML coverage report.

The output is shaped like coverage.py's `coverage xml` (minidom pretty-printing, tab
indentation, `<methods/>`, branch lines with `condition-coverage`/`missing-branches`), with
llvm-cov style hit counts. The same arguments always give a byte-identical file.

Exactly `--covered` of the `--lines` class-level `<line>` elements have hits > 0, so the
expected line coverage is known in advance (defaults: 7,500,565 / 10,000,000 = 75.00565 %).
Uncovered lines are spread unevenly: some files are fully covered, some are barely
tested, so a "lowest covered files" list is meaningful.

Standard library only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

MASK64 = (1 << 64) - 1
TABLE = 1 << 16  # size of the per-position pattern tables (power of two)


class SplitMix64:
    """Tiny PRNG with a fixed algorithm, so output never depends on the Python version."""

    def __init__(self, seed: int) -> None:
        self.state = seed & MASK64

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        return self.next() % n

    def unit(self) -> float:
        return (self.next() >> 11) / float(1 << 53)


def rate(num: int, den: int) -> str:
    """coverage.py's rate formatting."""
    return "%.4g" % (num / den) if den else "1"


# (share of files, relative weight of uncovered lines): some files fully covered, a few
# almost untested, most in between.
TIERS = (
    (0.20, 0.0),
    (0.03, 1.0),
    (0.12, 0.6),
    (0.30, 0.3),
    (0.35, 0.12),
)


def allocate_misses(sizes: list[int], misses: int, seed: int) -> list[int]:
    """Per-file uncovered counts: skewed by tier, summing exactly to `misses`."""
    rng = SplitMix64(seed ^ 0xA11C)
    weights = []
    for _ in sizes:
        u = rng.unit()
        acc = 0.0
        w = TIERS[-1][1]
        for share, tier_w in TIERS:
            acc += share
            if u < acc:
                w = tier_w
                break
        weights.append(w * (0.75 + 0.5 * rng.unit()))
    base = sum(w * n for w, n in zip(weights, sizes))
    if base == 0:  # degenerate tiny input: spread evenly
        weights = [1.0] * len(sizes)
        base = float(sum(sizes))
    # Scale so the expected total hits the target; repeat because of capping at n.
    scale = misses / base
    out = list(sizes)
    for _ in range(100):
        out = [min(n, int(w * n * scale)) for w, n in zip(weights, sizes)]
        total = sum(out)
        free = sum(w * n for w, n, o in zip(weights, sizes, out) if o < n)
        if total >= misses or free == 0:
            break
        scale += (misses - total) / free
    # Fix the exact total one line at a time, walking the files in a fixed order
    # (worst files first when adding, so fully covered files stay fully covered if possible).
    diff = misses - sum(out)
    order = sorted(range(len(sizes)), key=lambda i: -weights[i])
    while diff > 0:
        room = [i for i in order if out[i] < sizes[i] and weights[i] > 0] or \
               [i for i in order if out[i] < sizes[i]]
        for i in room[:diff]:
            out[i] += 1
        diff -= len(room[:diff])
    while diff < 0:
        have = [i for i in reversed(order) if out[i] > 0]
        for i in have[:-diff]:
            out[i] -= 1
        diff += len(have[:-diff])
    return out


def miss_mask(n: int, m: int, rng: SplitMix64) -> bytearray:
    """n flags, exactly m of them set, grouped in runs like real untested blocks."""
    invert = m > n // 2
    want = n - m if invert else m
    mask = bytearray(n)
    left = want
    while left > 0:
        start = rng.below(n)
        length = 1 + rng.below(min(40, left))
        for k in range(start, min(n, start + length)):
            if not mask[k]:
                mask[k] = 1
                left -= 1
                if left == 0:
                    break
    if invert:
        mask = bytearray(1 - b for b in mask)
    return mask


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=10_000_000, help="class-level <line> elements")
    ap.add_argument("--covered", type=int, default=None,
                    help="lines with hits > 0 (default: 75.00565%% of --lines, i.e. 7,500,565 for 10 M)")
    ap.add_argument("--lines-per-file", type=int, default=500)
    ap.add_argument("--files-per-package", type=int, default=50)
    ap.add_argument("--branch-every", type=int, default=8,
                    help="about one line in N is a branch line (0: none)")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--small", action="store_true", help="preset: --lines 2000")
    ap.add_argument("--out", required=True, help="output path ('-' for stdout)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    if args.small:
        args.lines = 2000
    n_lines = args.lines
    covered = args.covered
    if covered is None:
        covered = n_lines * 7_500_565 // 10_000_000
    if n_lines <= 0 or args.lines_per_file <= 0 or args.files_per_package <= 0:
        ap.error("--lines, --lines-per-file and --files-per-package must be positive")
    if not 0 <= covered <= n_lines:
        ap.error("--covered must be between 0 and --lines")

    t0 = time.monotonic()
    lpf = args.lines_per_file
    sizes = [lpf] * (n_lines // lpf)
    if n_lines % lpf:
        sizes.append(n_lines % lpf)
    misses = allocate_misses(sizes, n_lines - covered, args.seed)
    assert sum(misses) == n_lines - covered

    # Pattern tables, indexed by (per-file offset + position) so files differ cheaply.
    rng = SplitMix64(args.seed)
    gaps = []
    for _ in range(TABLE):
        r = rng.below(100)
        gaps.append(1 if r < 55 else 2 if r < 80 else 3 if r < 92 else 4 + rng.below(12))
    if args.branch_every > 0:
        is_branch = [rng.below(args.branch_every) == 0 for _ in range(TABLE)]
    else:
        is_branch = [False] * TABLE
    hits_tab = []
    for _ in range(TABLE):  # heavy-tailed execution counts, like llvm-cov / grcov
        r = rng.below(100)
        hits_tab.append(str(1 if r < 40 else 2 + rng.below(9) if r < 75
                            else 10 + rng.below(990) if r < 95 else 1000 + rng.below(250_000)))
    partial_tab = [rng.below(3) == 0 for _ in range(TABLE)]

    # Pass 1 (cheap, no text): per-file masks and branch totals, for the rates in the
    # <coverage>/<package>/<class> start tags.
    files = []  # (offset, mask, lines_covered, branches_valid, branches_covered)
    for i, (n, m) in enumerate(zip(sizes, misses)):
        frng = SplitMix64(args.seed * 1_000_003 + i)
        off = frng.below(TABLE)
        mask = miss_mask(n, m, frng)
        bv = bc = 0
        for k in range(n):
            t = (off + k) & (TABLE - 1)
            if is_branch[t]:
                bv += 2
                if not mask[k]:
                    bc += 1 if partial_tab[t] else 2
        files.append((off, mask, n - m, bv, bc))
    tot_bv = sum(f[3] for f in files)
    tot_bc = sum(f[4] for f in files)

    out = sys.stdout if args.out == "-" else None
    tmp = args.out + ".tmp"
    if out is None:
        out = open(tmp, "w", encoding="utf-8", newline="\n", buffering=16 << 20)
    w = out.write
    version = "7.6.1"
    w('<?xml version="1.0" ?>\n')
    w('<coverage line-rate="%s" branch-rate="%s" lines-covered="%d" lines-valid="%d" '
      'branches-covered="%d" branches-valid="%d" complexity="0" version="%s" '
      'timestamp="1718064000000">\n'
      % (rate(covered, n_lines), rate(tot_bc, tot_bv), covered, n_lines, tot_bc, tot_bv, version))
    w("\t<!-- Generated by coverage.py: https://coverage.readthedocs.io/en/%s -->\n" % version)
    w("\t<!-- Based on https://raw.githubusercontent.com/cobertura/web/master/htdocs/xml/"
      "coverage-04.dtd -->\n")
    w("\t<sources>\n\t\t<source>/src</source>\n\t</sources>\n\t<packages>\n")

    ind = "\t\t\t\t\t\t"
    fpp = args.files_per_package
    for p0 in range(0, len(files), fpp):
        pkg = files[p0:p0 + fpp]
        pidx = p0 // fpp
        p_valid = sum(sizes[p0:p0 + fpp])
        p_cov = sum(f[2] for f in pkg)
        p_bv = sum(f[3] for f in pkg)
        p_bc = sum(f[4] for f in pkg)
        w('\t\t<package name="pkg%d" line-rate="%s" branch-rate="%s" complexity="0">\n'
          '\t\t\t<classes>\n' % (pidx, rate(p_cov, p_valid), rate(p_bc, p_bv)))
        for j, (off, mask, f_cov, f_bv, f_bc) in enumerate(pkg):
            fidx = p0 + j
            n = sizes[fidx]
            name = "mod_%05d.rs" % fidx
            w('\t\t\t\t<class name="%s" filename="pkg%d/%s" line-rate="%s" branch-rate="%s" '
              'complexity="0">\n\t\t\t\t\t<methods/>\n\t\t\t\t\t<lines>\n'
              % (name, pidx, name, rate(f_cov, n), rate(f_bc, f_bv)))
            parts = []
            ap_ = parts.append
            num = 0
            for k in range(n):
                t = (off + k) & (TABLE - 1)
                num += gaps[t]
                if mask[k]:
                    if is_branch[t]:
                        ap_('%s<line number="%d" hits="0" branch="true" condition-coverage="0%% (0/2)"'
                            ' missing-branches="%d,%d"/>\n' % (ind, num, num + 1, num + 3))
                    else:
                        ap_('%s<line number="%d" hits="0"/>\n' % (ind, num))
                else:
                    h = hits_tab[(t * 7 + fidx) & (TABLE - 1)]
                    if is_branch[t]:
                        if partial_tab[t]:
                            ap_('%s<line number="%d" hits="%s" branch="true" condition-coverage='
                                '"50%% (1/2)" missing-branches="%d"/>\n' % (ind, num, h, num + 2))
                        else:
                            ap_('%s<line number="%d" hits="%s" branch="true" condition-coverage='
                                '"100%% (2/2)"/>\n' % (ind, num, h))
                    else:
                        ap_('%s<line number="%d" hits="%s"/>\n' % (ind, num, h))
            w("".join(parts))
            w("\t\t\t\t\t</lines>\n\t\t\t\t</class>\n")
        w("\t\t\t</classes>\n\t\t</package>\n")
    w("\t</packages>\n</coverage>\n")

    if out is not sys.stdout:
        out.close()
        os.replace(tmp, args.out)
    if not args.quiet:
        size = os.path.getsize(args.out) if args.out != "-" else 0
        print("wrote %s: %d lines, %d covered (%.5f%%), %d files, %d bytes (%.1f MB) in %.1f s"
              % (args.out, n_lines, covered, 100.0 * covered / n_lines, len(sizes), size,
                 size / 1e6, time.monotonic() - t0), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Merging many reports: `cargo xtask coverage --file 'shards/*.xml'` against the same union
# computed with Python's ElementTree.iterparse.
#
#   xtask/bench/merge.sh                          # 20 shards of a 500,000-line report
#   xtask/bench/merge.sh --reports 4 --lines 50000 --runs 1   # quick check
#
# The shards are one report of gen_cobertura.py split the way a sharded test run splits it:
# every shard lists all the files and lines, and keeps the hits of the lines that "its" tests
# cover (each line goes to shard crc32(file:line) mod N), 0 elsewhere. So the union must be
# the unsplit report's exact totals. Under target/bench/merge/; results on stdout and in
# target/bench/merge/results.md. Exit 1 when a union differs.
set -euo pipefail
cd "$(dirname "$0")/../.."

REPORTS=20
LINES=500000
RUNS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --reports) REPORTS="$2"; shift 2 ;;
    --lines) LINES="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    *) echo "usage: $0 [--reports N] [--lines N] [--runs N]" >&2; exit 2 ;;
  esac
done

OUT=target/bench/merge
mkdir -p "$OUT/shards"
echo "building the xtask (dev profile, as \`cargo xtask\` runs it)"
cargo build -q -p xtask
XTASK="$PWD/target/debug/xtask"

BASE="$OUT/base-$LINES.xml"
[ -f "$BASE" ] || python3 xtask/bench/gen_cobertura.py --lines "$LINES" --out "$BASE" --quiet
echo "splitting it into $REPORTS shards"
rm -f "$OUT"/shards/shard-*.xml
python3 xtask/bench/split_cobertura.py "$BASE" "$OUT/shards" "$REPORTS"
cat "$OUT"/shards/shard-*.xml > /dev/null # a hot page cache for both

# shellcheck source=xtask/bench/measure.sh
source xtask/bench/measure.sh

echo "measuring ($RUNS runs each)"
pattern="$OUT/shards/shard-*.xml"
five=()
for i in $(seq 1 "$(( REPORTS < 5 ? REPORTS : 5 ))"); do five+=(--file "$(printf '%s/shards/shard-%02d.xml' "$OUT" "$i")"); done
r_one=$(measure one "$XTASK" coverage --file "$BASE" --format json --fail-under 0)
cp "$OUT/last.out" "$OUT/base.json"
r_five=$(measure five "$XTASK" coverage "${five[@]}" --format json --fail-under 0)
r_all=$(measure all "$XTASK" coverage --file "$pattern" --format json --fail-under 0)
cp "$OUT/last.out" "$OUT/xtask.json"
r_py=$(measure python python3 xtask/bench/iterparse_union.py "$pattern")
read -r py_covered py_valid < "$OUT/last.out"

python3 - "$OUT/xtask.json" "$OUT/base.json" "$py_covered" "$py_valid" "$REPORTS" "$LINES" \
  "$r_one" "$r_five" "$r_all" "$r_py" <<'EOF' | tee "$OUT/results.md"
import json, sys
union = json.load(open(sys.argv[1]))["totals"]
base = json.load(open(sys.argv[2]))["totals"]
py = (int(sys.argv[3]), int(sys.argv[4]))
reports, lines = int(sys.argv[5]), int(sys.argv[6])
names = {"one": "`coverage --file` the unsplit report",
         "five": f"`coverage --file` × {min(5, reports)} shards (their union)",
         "all": f"`coverage --file 'shards/*.xml'`, {reports} shards (their union)",
         "python": f"Python iterparse, the union of the {reports} shards"}
print(f"{reports} shards of one {lines:,}-line report.\n")
print("| Run | Median wall | Peak RSS |\n| --- | ---: | ---: |")
for row in sys.argv[7:11]:
    label, wall, rss = row.split()
    print(f"| {names[label]} | {float(wall):.2f} s | {int(rss):,} MB |")
same = (union["covered"], union["valid"]) == py == (base["covered"], base["valid"])
print(f"\nUnion: xtask {union['covered']:,} / {union['valid']:,}; Python {py[0]:,} / {py[1]:,}; "
      f"the unsplit report {base['covered']:,} / {base['valid']:,}: " + ("the same." if same else "DIFFERENT."))
sys.exit(0 if same else 1)
EOF

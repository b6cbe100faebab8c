#!/usr/bin/env bash
# The workspace's coverage run, unsharded and split into shards as the CI matrix splits it:
# the wall time of each run, and the counts of their union against the unsharded run's.
#
#   xtask/bench/shards.sh          # unsharded, then 2 shards
#   xtask/bench/shards.sh 2 3      # unsharded, then 2 shards, then 3
#
# Each run is one `cargo xtask coverage` (or `--partition M/N`) with the dependencies already
# built under coverage (as CI's cache gives a runner); the runs go one after another, each with
# the whole machine, as separate runners would. The workspace's own crates are rebuilt by every
# run (`cargo llvm-cov clean --workspace`), as on a runner. Under target/bench/shards/; results
# on stdout and in target/bench/shards/results.md. Exit 1 when a union's counts differ from
# the unsharded run's (the lines that differ are listed).
set -euo pipefail
cd "$(dirname "$0")/../.."

SPLITS=("$@")
[ ${#SPLITS[@]} -gt 0 ] || SPLITS=(2)
for n in "${SPLITS[@]}"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [N…]  (shard counts, e.g. 2 3)" >&2; exit 2; }
done

OUT=target/bench/shards
mkdir -p "$OUT"
echo "building the xtask and, under coverage, the tests' dependencies"
cargo build -q -p xtask
XTASK="$PWD/target/debug/xtask"
cargo llvm-cov nextest --workspace --no-report -E "none()" --no-tests pass > "$OUT/warm.log" 2>&1 || { tail -n 5 "$OUT/warm.log" >&2; exit 1; }

# shellcheck source=xtask/bench/measure.sh
source xtask/bench/measure.sh
RUNS=1

rows=()
echo "unsharded run"
row=$(measure unsharded "$XTASK" coverage --format json --fail-under 0)
"$XTASK" coverage --file coverage.xml --output "$OUT/whole.xml" --format json --fail-under 0 > "$OUT/whole.json"
rows+=("$row $(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; print(t["covered"], t["valid"])' "$OUT/whole.json")")

status=0
for n in "${SPLITS[@]}"; do
  for m in $(seq 1 "$n"); do
    echo "shard $m/$n"
    row=$(measure "shard-$m/$n" "$XTASK" coverage --partition "$m/$n" --format json)
    rows+=("$row $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["covered"], d["valid"])' "$OUT/last.out")")
  done
  "$XTASK" coverage --file 'target/coverage/shards/*.xml' --output "$OUT/merged-$n.xml" --format json \
    --fail-under 0 > "$OUT/merged-$n.json"
  rows+=("union-of-$n - - $(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; print(t["covered"], t["valid"])' "$OUT/merged-$n.json")")
  python3 - "$OUT/whole.xml" "$OUT/merged-$n.xml" "$n" <<'PY' || status=1
import sys, xml.etree.ElementTree as ET
def lines(path):
    got = {}
    for cls in ET.parse(path).iter("class"):
        for line in cls.iter("line"):
            got[(cls.get("filename"), int(line.get("number")))] = int(line.get("hits")) > 0
    return got
whole, merged = lines(sys.argv[1]), lines(sys.argv[2])
diff = sorted(k for k in whole.keys() | merged.keys() if whole.get(k) != merged.get(k))
if diff:
    print(f"union of {sys.argv[3]} shards differs from the unsharded run on {len(diff)} lines:", file=sys.stderr)
    for f, n in diff[:40]:
        print(f"  {f}:{n}: unsharded {whole.get((f, n))}, shards {merged.get((f, n))}", file=sys.stderr)
    sys.exit(1)
PY
done

{
  echo "| run | wall (s) | peak RSS of the xtask (MB) | covered | coverable |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  for r in "${rows[@]}"; do
    read -r label wall rss covered valid <<< "$r"
    echo "| $label | $wall | $rss | $covered | $valid |"
  done
} | tee "$OUT/results.md"
exit "$status"

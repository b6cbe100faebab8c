#!/usr/bin/env bash
# The differential replay of impact-aware coverage over this repository's real history: each
# of the last N commits against its parent, the impact-aware run (`coverage --diff PARENT`,
# which runs only the tests the commit can affect and takes the rest from the map of the
# parent's full run) against the full run (`--diff PARENT --full`) on the same tree. They must
# agree exactly: the patch verdict, its counts and uncovered ranges, the totals, and every
# line of the report.
#
#   xtask/bench/replay.sh              # the 20 commits ending at HEAD
#   xtask/bench/replay.sh 20 12ccaf7   # the 20 commits ending at 12ccaf7
#
# One xtask (this checkout's, built once and copied) drives a worktree of the history under
# target/bench/replay/tree, moving it from commit to commit, so each run builds only what the
# commit changed. The full run at each commit is also the map for the next one. Needs what the
# suite needs (PostgreSQL binaries or a Docker engine; Nginx for the edge proxy's test); takes
# hours (a full run is several minutes). Results on stdout and in target/bench/replay/results.md.
# Exit 1 when any commit's two runs disagree (the differences are shown).
set -euo pipefail
cd "$(dirname "$0")/../.."

N="${1:-20}"
END="${2:-HEAD}"
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [N] [END-COMMIT]" >&2; exit 2; }
git rev-parse --verify --quiet "$END^{commit}" > /dev/null || { echo "replay: $END is not a commit" >&2; exit 2; }

OUT="$PWD/target/bench/replay"
TREE="$OUT/tree"
mkdir -p "$OUT"
echo "building the xtask that drives the replay"
cargo build -q -p xtask
XTASK="$OUT/xtask"
cp target/debug/xtask "$XTASK"

mapfile -t COMMITS < <(git rev-list --first-parent --reverse -n "$N" "$END")
FIRST_PARENT=$(git rev-parse "${COMMITS[0]}^")
if [ -d "$TREE" ]; then git worktree remove --force "$TREE" > /dev/null 2>&1 || rm -rf "$TREE"; fi
git worktree prune
git worktree add -q --detach "$TREE" "$FIRST_PARENT"

# The worktree's xtask crate names the root the xtask works on; none of an enclosing coverage
# run's variables reach it.
run() {
  (cd "$TREE" && env -u RUSTFLAGS -u CARGO_TARGET_DIR -u LLVM_PROFILE_FILE CARGO_MANIFEST_DIR="$TREE/xtask" \
    "$XTASK" coverage "$@")
}

# Timed, its exit code kept: LABEL ARGS…; leaves $OUT/LABEL.{json,err,xml,time,code}.
timed() {
  local label="$1" code=0
  shift
  local start end
  start=$(date +%s.%N)
  run "$@" > "$OUT/$label.json" 2> "$OUT/$label.err" || code=$?
  end=$(date +%s.%N)
  echo "$code" > "$OUT/$label.code"
  awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f\n", b - a}' > "$OUT/$label.time"
  cp "$TREE/coverage.xml" "$OUT/$label.xml" 2> /dev/null || rm -f "$OUT/$label.xml"
}

echo "full run at the first parent, $(git log -1 --format='%h %s' "$FIRST_PARENT" | cut -c1-70)"
timed base --format json --fail-under 0
grep -q '^map: ' "$OUT/base.err" || { echo "replay: the first full run recorded no map:" >&2; tail -n 20 "$OUT/base.err" >&2; exit 1; }

RESULTS="$OUT/results.md"
{
  echo "| # | commit | what the impact-aware run ran | impact-aware | full | same verdict and lines |"
  echo "| ---: | --- | --- | ---: | ---: | --- |"
} > "$RESULTS"
status=0
i=0
for c in "${COMMITS[@]}"; do
  i=$((i + 1))
  parent=$(git rev-parse "$c^")
  subject=$(git log -1 --format='%h %s' "$c" | cut -c1-60)
  echo "[$i/$N] $subject"
  git -C "$TREE" checkout -q --detach "$c"
  timed "selected-$i" --diff "$parent" --format json
  timed "full-$i" --diff "$parent" --full --format json
  ran=$(grep -m1 -E '^impact: ([0-9]+ tests ran|running every test)' "$OUT/selected-$i.err" | sed 's/^impact: //' || true)
  [ -n "$ran" ] || ran="(no impact line)"
  if python3 - "$OUT" "$i" <<'PY'; then same=yes; else same=NO; status=1; fi
import json, sys, xml.etree.ElementTree as ET
out, i = sys.argv[1], sys.argv[2]
def doc(kind):
    text = open(f"{out}/{kind}-{i}.json").read()
    d = json.loads(text) if text.strip() else {}
    return {k: d.get(k) for k in ("totals", "gate", "patch")}, open(f"{out}/{kind}-{i}.code").read().strip()
def lines(kind):
    got = {}
    try:
        tree = ET.parse(f"{out}/{kind}-{i}.xml")
    except FileNotFoundError:
        return got
    for cls in tree.iter("class"):
        for line in cls.iter("line"):
            got[(cls.get("filename"), int(line.get("number")))] = int(line.get("hits")) > 0
    return got
(sel, sel_code), (full, full_code) = doc("selected"), doc("full")
ok = True
if sel_code != full_code:
    print(f"  exit codes differ: impact-aware {sel_code}, full {full_code}"); ok = False
for key in ("totals", "gate", "patch"):
    if sel[key] != full[key]:
        print(f"  {key} differs:\n    impact-aware {json.dumps(sel[key])}\n    full         {json.dumps(full[key])}"); ok = False
a, b = lines("selected"), lines("full")
diff = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
if diff:
    print(f"  {len(diff)} lines differ, e.g. " + ", ".join(f"{f}:{n} ({a.get((f, n))} vs {b.get((f, n))})" for f, n in diff[:8])); ok = False
sys.exit(0 if ok else 1)
PY
  printf '| %s | %s | %s | %s s | %s s | %s |\n' "$i" "${subject//|/\\|}" "${ran//|/\\|}" \
    "$(cat "$OUT/selected-$i.time")" "$(cat "$OUT/full-$i.time")" "$same" >> "$RESULTS"
done

echo
cat "$RESULTS"
git worktree remove --force "$TREE" > /dev/null 2>&1 || true
exit "$status"

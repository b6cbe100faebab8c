#!/usr/bin/env bash
# Patch coverage on a large report: what `--diff` adds to `cargo xtask coverage --file`, and
# its answer against diff-cover's on the same report and the same diff.
#
#   xtask/bench/patch-diff.sh                      # 10 M-line report, 1,000 changed files
#   xtask/bench/patch-diff.sh --lines 200000 --files 100 --runs 1   # quick check
#
# Everything goes under target/bench/patch/: a venv with the pinned diff-cover, the report
# (gen_cobertura.py, its <source> pointed at the repository), a git repository with a `main`
# commit holding the first FILES files the report names and a `feature` commit changing every
# seventh line of each. Results: stdout and target/bench/patch/results.md. Exit 1 when the two
# tools disagree on the uncovered changed lines (see the comparison's notes).
set -euo pipefail
cd "$(dirname "$0")/../.."

LINES=10000000
FILES=1000
RUNS=3
DIFF_COVER_VERSION=11.0.1
while [ $# -gt 0 ]; do
  case "$1" in
    --lines) LINES="$2"; shift 2 ;;
    --files) FILES="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    *) echo "usage: $0 [--lines N] [--files N] [--runs N]" >&2; exit 2 ;;
  esac
done

OUT=target/bench/patch
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
REPO="$OUT/repo"

if [ ! -x "$OUT/venv/bin/diff-cover" ]; then
  echo "installing diff-cover $DIFF_COVER_VERSION into $OUT/venv"
  python3 -m venv "$OUT/venv"
  "$OUT/venv/bin/pip" install -q "diff-cover==$DIFF_COVER_VERSION"
fi

echo "building the xtask (dev profile, as \`cargo xtask\` runs it)"
cargo build -q -p xtask
XTASK="$PWD/target/debug/xtask"

GEN="$OUT/gen-$LINES.xml"
if [ ! -f "$GEN" ]; then
  echo "generating a $LINES-line report"
  python3 xtask/bench/gen_cobertura.py --lines "$LINES" --out "$GEN" --quiet
fi

echo "building the repository: $FILES files on main, every 7th line changed on feature"
rm -rf "$REPO"
mkdir -p "$REPO"
python3 - "$GEN" "$REPO" "$FILES" <<'EOF'
import re, sys, pathlib
gen, repo, files = sys.argv[1], pathlib.Path(sys.argv[2]), int(sys.argv[3])
names, top = [], {}
pattern = re.compile(r'filename="([^"]+)"|<line number="(\d+)"')
current = None
with open(gen, encoding="utf-8") as f:
    for line in f:
        m = pattern.search(line)
        if not m:
            continue
        if m.group(1):
            if len(names) == files:
                break
            current = m.group(1)
            names.append(current)
        elif current:
            top[current] = max(top.get(current, 0), int(m.group(2)))
for name in names:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"let line_{i} = {i};\n" for i in range(1, top.get(name, 1) + 20)))
(repo / "changed.txt").write_text("\n".join(names) + "\n")
EOF
git_() { git -C "$REPO" -c user.name=bench -c user.email=bench@example.com "$@"; }
git_ init -q -b main
git_ add -A
git_ commit -q -m base
git_ checkout -q -b feature
while read -r name; do
  sed -i '0~7s/$/ \/\/ changed/' "$REPO/$name"
done < "$REPO/changed.txt"
git_ commit -q -am change

# The report as coverage.py would write it for this checkout: its <source> is the repository.
REPORT="$OUT/report.xml"
sed "1,12s#<source>/src</source>#<source>$REPO</source>#" "$GEN" > "$REPORT"
cat "$REPORT" > /dev/null # a hot page cache for every tool

# shellcheck source=xtask/bench/measure.sh
source xtask/bench/measure.sh

echo "measuring ($RUNS runs each)"
total=$(measure total "$XTASK" coverage --file "$REPORT" --format json --fail-under 0)
patch=$(measure patch "$XTASK" coverage --file "$REPORT" --format json --fail-under 0 \
  --diff main --root "$REPO" --patch-fail-under 0)
cp "$OUT/last.out" "$OUT/xtask.json"
gitdiff=$(measure git-diff git -C "$REPO" diff -U0 --no-color --no-ext-diff -M main --)
dc=$(cd "$REPO" && RUNS=1 measure diff-cover "$OUT/venv/bin/diff-cover" "$REPORT" --compare-branch=main \
  --json-report "$OUT/diff-cover.json" --fail-under 0)

echo "comparing the answers"
python3 - "$OUT/xtask.json" "$OUT/diff-cover.json" "$total" "$patch" "$gitdiff" "$dc" "$LINES" "$FILES" \
  "$DIFF_COVER_VERSION" <<'EOF' | tee "$OUT/results.md"
import json, sys
xt = json.load(open(sys.argv[1]))["patch"]
dc = json.load(open(sys.argv[2]))
rows = [a.split() for a in sys.argv[3:7]]
lines, files, version = sys.argv[7], sys.argv[8], sys.argv[9]
print(f"Report: {int(lines):,} lines; diff: {int(files):,} files, every 7th line changed.\n")
print("| Run | Median wall | Peak RSS |\n| --- | ---: | ---: |")
names = {"total": "`coverage --file` (total only)", "patch": "`coverage --file --diff main` (total and patch)",
         "git-diff": "`git diff -U0 main` alone", "diff-cover": f"diff-cover {version} (one run)"}
for label, wall, rss in rows:
    print(f"| {names[label]} | {float(wall):.2f} s | {int(rss):,} MB |")
mine = {f["file"]: f for f in xt["files"]}
theirs = {s: v for s, v in dc["src_stats"].items()}
problems = []
valid = covered = 0
for path, stats in theirs.items():
    violations = set(stats["violation_lines"])
    ranges = mine.get(path, {}).get("uncovered", [])
    inside = {l for l in violations if any(a <= l <= b for a, b in ranges)}
    ends = {e for a, b in ranges for e in (a, b)}
    if inside != violations:
        problems.append(f"{path}: diff-cover's uncovered lines outside our ranges: {sorted(violations - inside)[:5]}")
    if not ends <= violations:
        problems.append(f"{path}: range ends diff-cover does not call uncovered: {sorted(ends - violations)[:5]}")
print(f"\nxtask: {xt['covered']:,} / {xt['valid']:,} changed lines covered, in {len(mine):,} files; "
      f"diff-cover: {dc['total_num_lines'] - dc['total_num_violations']:,} / {dc['total_num_lines']:,} "
      f"({dc['total_percent_covered']}%), in {len(theirs):,} files.")
if xt["valid"] != dc["total_num_lines"] or xt["valid"] - xt["covered"] != dc["total_num_violations"]:
    problems.append("the totals differ")
print("Uncovered changed lines: " + ("the same in both." if not problems else "DIFFERENT:\n- " + "\n- ".join(problems[:10])))
sys.exit(1 if problems else 0)
EOF

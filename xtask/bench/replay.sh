#!/usr/bin/env bash
# The differential replay of impact-aware coverage over this repository's real history: each
# of the last N commits against its parent, the impact-aware run (`coverage --diff PARENT`,
# which runs only the tests the commit can affect and takes the rest from the map of the
# parent's full run) against the full run (`--diff PARENT --full`) on the same tree. They must
# give the same exit code and the same patch: verdict, counts and uncovered ranges. Every line of
# the two reports is compared too: a line that differs must be one whose covering tests (in the
# full run's map) all ran in the impact-aware run as well, so that the difference is that test's
# from one run to the next (timing), not a test the selection left out.
#
#   xtask/bench/replay.sh              # the 20 commits ending at HEAD
#   xtask/bench/replay.sh 12 12ccaf7   # the 12 commits ending at 12ccaf7
#   xtask/bench/replay.sh --compare 12 12ccaf7   # compare that replay's saved runs again
#
# When the impact-aware run fell back to every test (settings or Cargo.lock changed, say), both
# runs ran the whole suite and the selection had no part in what differs: then a different exit
# code is a test that failed in one run and not the other (named in the results as flaky), and
# the patch must still be the same.
#
# One xtask (this checkout's, built once and copied) drives a worktree of the history under
# target/bench/replay/tree, moving it from commit to commit, so each run builds only what the
# commit changed. The full run at each commit is also the map for the next one. Needs what the
# suite needs (PostgreSQL binaries or a Docker engine; Nginx for the edge proxy's test); takes
# hours (a full run is several minutes). Results on stdout and in
# target/bench/replay/<END>-<N>/results.md. A commit whose own test suite cannot run under
# coverage cannot be replayed: from 4de0b18 to 133f008, this repository's shard test made a
# nested cargo-llvm-cov wrap itself without end (fixed in 0e1d449), until the machine ran out of
# memory; replay around them.
# Exit 1 when any commit's two runs disagree (the differences are shown). The worktree stays, to
# be reused; `git worktree remove --force target/bench/replay/tree` removes it.
set -euo pipefail
cd "$(dirname "$0")/../.."

COMPARE_ONLY=""
if [ "${1:-}" = --compare ]; then
  COMPARE_ONLY=1
  shift
fi
N="${1:-20}"
END="${2:-HEAD}"
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [--compare] [N] [END-COMMIT]" >&2; exit 2; }
git rev-parse --verify --quiet "$END^{commit}" > /dev/null || { echo "replay: $END is not a commit" >&2; exit 2; }

TREE="$PWD/target/bench/replay/tree"
OUT="$PWD/target/bench/replay/$(git rev-parse --short=7 "$END")-$N"
RESULTS="$OUT/results.md"
mapfile -t COMMITS < <(git rev-list --first-parent --reverse -n "$N" "$END")

# How a commit's two runs compare: prints the verdict and the report lines' verdict, two lines;
# exit 1 on a disagreement.
write_compare() {
  cat > "$OUT/compare.py" <<'PY'
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
# The impact-aware run fell back to the whole suite: then nothing differs by the selection.
everything = "impact: running every test" in open(f"{out}/selected-{i}.err").read()
ran, sel_failed = set(), []
names = {}
for row in open(f"{out}/selected-{i}.ran"):
    f = row.rstrip("\n").split("\t")
    if f[0] == "start":
        ran.add((f[2], f[3]))
        names[f[1]] = f"{f[2]} {f[3]}"
    elif f[0] == "end" and len(f) > 2 and f[2] != "passed":
        sel_failed.append(f[1])
fmap = json.load(open(f"{out}/map-{i}.json"))
full_failed = [f"{t['binary']} {t['name']}" for t in fmap.get("tests", []) if not t.get("passed", True)]
sel_failed = [names.get(k, k) for k in sel_failed]
ok, verdict = True, "yes"
# The issue's criterion: the same patch (verdict, counts, uncovered ranges) and the same exit code.
if sel["patch"] != full["patch"]:
    print(f"  patch differs:\n    impact-aware {json.dumps(sel['patch'])}\n    full         {json.dumps(full['patch'])}", file=sys.stderr)
    ok, verdict = False, "NO"
if sel_code != full_code:
    print(f"  exit codes differ: impact-aware {sel_code}, full {full_code}", file=sys.stderr)
    flaky = sorted(set(sel_failed) ^ set(full_failed))
    if everything and ok and flaky:
        verdict = f"yes; both ran every test, and the exit codes differ by a test that failed in one run only: {', '.join(flaky)}"
    else:
        ok, verdict = False, "NO"
# Stricter: every line of the report. A line that differs only by tests that ran in both runs is
# those tests' run-to-run difference (timing), not the selection's. The impact-aware report takes
# a line from the tests it ran and from the previous map's tests it did not: so a line is the
# selection's doing only when a test that covers it, in the full run's map or in the previous
# map, did not run. When both ran every test, none is.
a, b = lines("selected"), lines("full")
diff = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
try:
    pmap = json.load(open(f"{out}/map-{int(i) - 1}.json"))
except (FileNotFoundError, ValueError):
    pmap = None
def covering(m, path, line):
    names = [(t["binary"], t["name"]) for t in m.get("tests", [])]
    got = []
    for t, ranges in m.get("files", {}).get(path, {}).items():
        for part in ranges.split(","):
            lo, _, hi = part.partition("-")
            if int(lo) <= line <= int(hi or lo):
                got.append(names[int(t)])
    return got
rerun, missed = [], []
for f, n in diff:
    cov = covering(fmap, f, n) + (covering(pmap, f, n) if pmap is not None else [])
    known = bool(cov) or (pmap is not None and a.get((f, n)) and not b.get((f, n)))
    (rerun if everything or (known and all(t in ran for t in cov)) else missed).append(f"{f}:{n}")
if missed:
    print(f"  {len(missed)} lines differ and a test covering them did not run: " + ", ".join(missed[:8]), file=sys.stderr)
    ok, verdict = False, "NO"
print(verdict)
if diff:
    print(f"{len(diff)} lines differ ({len(rerun)} covered by re-run tests: " + ", ".join(rerun[:4]) + ")")
else:
    print("every line the same")
sys.exit(0 if ok else 1)
PY
}

start_results() {
  {
    echo "| # | commit | what the impact-aware run ran | impact-aware | full | same exit code and patch | report lines |"
    echo "| ---: | --- | --- | ---: | ---: | --- | --- |"
  } > "$RESULTS"
}

# The results row of commit I (its runs saved in $OUT); exit 1 when its runs disagree.
row() {
  local i="$1" c="$2" subject ran verdict code=0
  subject=$(git log -1 --format='%h %s' "$c" | cut -c1-60)
  ran=$(grep -m1 -E '^impact: ([0-9]+ tests ran|running every test)' "$OUT/selected-$i.err" | sed 's/^impact: //' || true)
  [ -n "$ran" ] || ran="(no impact line)"
  verdict=$(python3 "$OUT/compare.py" "$OUT" "$i") || code=1
  printf '| %s | %s | %s | %s s | %s s | %s | %s |\n' "$i" "${subject//|/\\|}" "${ran//|/\\|}" \
    "$(cat "$OUT/selected-$i.time")" "$(cat "$OUT/full-$i.time")" "$(sed -n 1p <<< "$verdict")" \
    "$(sed -n 2p <<< "$verdict")" >> "$RESULTS"
  return "$code"
}

if [ -n "$COMPARE_ONLY" ]; then
  [ -d "$OUT" ] || { echo "replay: no saved runs in $OUT" >&2; exit 2; }
  write_compare
  start_results
  status=0
  for i in $(seq "${#COMMITS[@]}"); do
    [ -e "$OUT/full-$i.code" ] || break
    row "$i" "${COMMITS[$((i - 1))]}" || status=1
  done
  cat "$RESULTS"
  exit "$status"
fi

mkdir -p "$OUT"
echo "building the xtask that drives the replay"
cargo build -q -p xtask
XTASK="$OUT/xtask"
cp target/debug/xtask "$XTASK"

FIRST_PARENT=$(git rev-parse "${COMMITS[0]}^")
# A worktree left by an earlier replay is reused (its target folder saves the first build).
if git -C "$TREE" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  git -C "$TREE" checkout -q --force --detach "$FIRST_PARENT"
  git -C "$TREE" clean -q -fdx -e target
else
  rm -rf "$TREE"
  git worktree prune
  git worktree add -q --detach "$TREE" "$FIRST_PARENT"
fi

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
grep -qE '^map: [0-9]+ tests,' "$OUT/base.err" || { echo "replay: the first full run recorded no map:" >&2; tail -n 20 "$OUT/base.err" >&2; exit 1; }
cp "$TREE/target/coverage/test-map.json" "$OUT/map-0.json"

write_compare
start_results
status=0
i=0
for c in "${COMMITS[@]}"; do
  i=$((i + 1))
  echo "[$i/$N] $(git log -1 --format='%h %s' "$c" | cut -c1-60)"
  git -C "$TREE" checkout -q --detach "$c"
  timed "selected-$i" --diff "$(git rev-parse "$c^")" --format json
  cp "$TREE/target/coverage/.test-map-index.tsv" "$OUT/selected-$i.ran" 2> /dev/null || : > "$OUT/selected-$i.ran"
  timed "full-$i" --diff "$(git rev-parse "$c^")" --full --format json
  cp "$TREE/target/coverage/test-map.json" "$OUT/map-$i.json" 2> /dev/null || echo '{}' > "$OUT/map-$i.json"
  row "$i" "$c" || status=1
done

echo
cat "$RESULTS"
exit "$status"

#!/usr/bin/env bash
# The developer's loop, side by side with the plain peer commands, in one run:
#
#   1. the coverage run that records the per-test map (`cargo xtask coverage`) against the plain
#      coverage run (`cargo llvm-cov nextest --workspace`), each from the same state (the
#      workspace's crates rebuilt under coverage, as both clean them);
#   2. `cargo xtask ci` again with nothing changed (the verdict cache) against re-running the
#      tests (`cargo nextest run --workspace`);
#   3. the pre-push hook after a one-line change to a function body in app/src/cashback.rs:
#      `cargo xtask coverage --diff` (impact-aware) against the same with `--full`, which must
#      give the same verdict, uncovered ranges and report lines;
#   4. the pre-push hook after a change to the Dockerfile: which tests it runs.
#
#   xtask/bench/devloop.sh       # every step
#   xtask/bench/devloop.sh 3     # some steps (3 and 4 use the map of the warm-up run when 1 is not among them)
#
# Needs a clean checkout (it edits app/src/cashback.rs and the Dockerfile for steps 3 and 4 and
# puts them back, also on Ctrl-C), what the suite needs (PostgreSQL binaries or Docker, Nginx)
# and the advisory database `cargo xtask ci` reads (XTASK_ADVISORY_DB, as in .ci/run). Run it
# with nothing else on the machine. Results on stdout and in target/bench/devloop/results.md.
# Exit 1 when a run fails or step 3's two runs disagree.
set -euo pipefail
cd "$(dirname "$0")/../.."

STEPS="${*:-1 2 3 4}"
for step in $STEPS; do
  [[ $step =~ ^[1-4]$ ]] || { echo "usage: $0 [STEP…] (steps 1 to 4)" >&2; exit 2; }
done
want() { [[ " $STEPS " == *" $1 "* ]]; }

if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "devloop: the checkout has uncommitted changes; run it on a clean one (it edits tracked files)" >&2
  exit 2
fi
OUT=target/bench/devloop
mkdir -p "$OUT"
# shellcheck source=xtask/bench/measure.sh
source xtask/bench/measure.sh
RUNS=1

DB=""
restore() {
  git checkout -q -- app/src/cashback.rs Dockerfile
  if [ -n "$DB" ]; then docker rm -f "$DB" > /dev/null 2>&1 || true; fi
}
trap restore EXIT

echo "building the xtask, the tools and the dependencies under coverage"
cargo build -q -p xtask
XTASK="$PWD/target/debug/xtask"
# Also the map's recording run for steps 3 and 4 when step 1 does not record one.
"$XTASK" coverage --no-cache --fail-under 0 > "$OUT/warm.log" 2>&1 || true

# The peer commands get what the gates give the suite: a PostgreSQL (a container here, which the
# gates use too, as they use any DATABASE_URL that answers) and the tools the tests run
# (installed by the warm-up run above).
DB=$(docker run -d --rm -p 127.0.0.1::5432 -e POSTGRES_USER=bench -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16)
port=$(docker port "$DB" 5432/tcp | head -n 1 | sed 's/.*://')
export DATABASE_URL="postgres://bench@127.0.0.1:$port/postgres"
export SCHEMATHESIS="$PWD/target/xtask-tools/schemathesis-venv/bin/schemathesis"
for _ in $(seq 60); do pg_isready -q -d "$DATABASE_URL" && break; sleep 1; done

rows=()
map_line="map: (not recorded by this run)"
if want 1; then
  echo "1. the plain coverage run, then the recording run"
  cargo llvm-cov clean --workspace > /dev/null 2>&1
  rows+=("$(measure 'cargo llvm-cov nextest --workspace' cargo llvm-cov nextest --workspace --no-fail-fast)")
  rows+=("$(measure 'cargo xtask coverage (records the map)' "$XTASK" coverage --no-cache --fail-under 0)")
  grep -E '^map: ' "$OUT/last.err" | sed 's/^/   /'
  map_line=$(grep -m1 -E '^map: [0-9]+ tests' "$OUT/last.err" || echo "map: (none)")
elif want 3 || want 4; then
  map_line=$(grep -m1 -E '^map: [0-9]+ tests' "$OUT/warm.log" || true)
  [ -n "$map_line" ] || { echo "devloop: the warm-up run recorded no map:" >&2; tail -n 20 "$OUT/warm.log" >&2; exit 1; }
fi

if want 2; then
  echo "2. nothing changed: ci again, against the tests again"
  "$XTASK" ci > "$OUT/ci-first.log" 2>&1 || { tail -n 20 "$OUT/ci-first.log" >&2; exit 1; }
  rows+=("$(measure 'cargo xtask ci, nothing changed' "$XTASK" ci)")
  rows+=("$(measure 'cargo nextest run --workspace' cargo nextest run --workspace --no-fail-fast)")
fi

same=skipped
if want 3; then
  echo "3. a one-line change to a function body in app/src/cashback.rs"
  sed -i 's/    if percentage > 10_000 {/    if percentage >= 10_001 {/' app/src/cashback.rs
  git diff --quiet -- app/src/cashback.rs && { echo "devloop: the edit to app/src/cashback.rs did not apply" >&2; exit 1; }
  rows+=("$(measure 'pre-push: coverage --diff (impact-aware)' "$XTASK" coverage --no-cache --diff HEAD --format json)")
  cp "$OUT/last.out" "$OUT/selected.json"
  cp coverage.xml "$OUT/selected.xml"
  ran=$(grep -m1 -E '^impact: [0-9]+ tests ran' "$OUT/last.err" | sed 's/^impact: //')
  rows+=("$(measure 'pre-push: coverage --diff --full' "$XTASK" coverage --no-cache --diff HEAD --full --format json)")
  cp "$OUT/last.out" "$OUT/full.json"
  cp coverage.xml "$OUT/full.xml"
  same=yes
  python3 - "$OUT" <<'PY' || same=NO
import json, sys, xml.etree.ElementTree as ET
out = sys.argv[1]
def pick(name):
    d = json.load(open(f"{out}/{name}.json"))
    return {k: d.get(k) for k in ("totals", "gate", "patch")}
def lines(name):
    return {(c.get("filename"), int(l.get("number"))): int(l.get("hits")) > 0
            for c in ET.parse(f"{out}/{name}.xml").iter("class") for l in c.iter("line")}
a, b = pick("selected"), pick("full")
la, lb = lines("selected"), lines("full")
diff = sorted(k for k in la.keys() | lb.keys() if la.get(k) != lb.get(k))
if a != b or diff:
    print("  the runs disagree:", json.dumps(a), json.dumps(b), diff[:10])
    sys.exit(1)
PY
  git checkout -q -- app/src/cashback.rs
fi

if want 4; then
  echo "4. a change to the Dockerfile"
  printf '\n# a comment\n' >> Dockerfile
  rows+=("$(measure 'pre-push after a Dockerfile change' "$XTASK" coverage --no-cache --diff HEAD --format json)")
  docker_ran=$(grep -m1 -E '^impact: [0-9]+ tests ran' "$OUT/last.err" | sed 's/^impact: //')
  grep -E '^  Dockerfile' "$OUT/last.err" | sed 's/^/   /' || true
  git checkout -q -- Dockerfile
fi

{
  echo "| step | median wall (s) | peak RSS (MB) |"
  echo "| --- | ---: | ---: |"
  for row in "${rows[@]}"; do
    label="${row% * *}"
    rest="${row#"$label" }"
    printf '| %s | %s | %s |\n' "$label" "${rest% *}" "${rest#* }"
  done
  echo
  echo "- ${map_line}"
  echo "- cashback.rs: ${ran:-?}; same verdict, ranges and lines as the full run: ${same}"
  echo "- Dockerfile: ${docker_ran:-?}"
} | tee "$OUT/results.md"
[ "$same" != NO ]

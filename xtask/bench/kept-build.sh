#!/usr/bin/env bash
# The instrumented build after a one-line edit: kept (what `cargo xtask coverage` does now)
# against cleaned first (cargo-llvm-cov's default, and the gate's before), in one run.
#
#   xtask/bench/kept-build.sh            # 2 rounds
#   xtask/bench/kept-build.sh 3          # 3 rounds
#
# In a worktree of HEAD with a target folder of its own (target/bench/kept-build/), after one
# warm-up build under coverage, each round appends a comment line to app/src/routes/health.rs
# and builds every test program under coverage, running none:
#   cleaned  `cargo llvm-cov clean --workspace`, then the build (the dependencies stay built)
#   kept     the build alone, on the last one
# Each build is `cargo llvm-cov nextest --workspace --no-report --no-tests=pass -E 'none()'`,
# the build of the gate's run without the tests. Needs cargo-llvm-cov and cargo-nextest
# (`cargo xtask coverage` installs them). Run it with nothing else on the machine: about
# 5 minutes. Results on stdout and in target/bench/kept-build/results.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS="${1:-2}"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [ROUNDS]" >&2; exit 2; }
for tool in cargo-llvm-cov cargo-nextest; do
  command -v "$tool" > /dev/null || { echo "kept-build: $tool is missing: run \`cargo xtask coverage\` once" >&2; exit 2; }
done
OUT="$PWD/target/bench/kept-build"
TREE="$OUT/tree"
mkdir -p "$OUT"
rm -rf "$TREE"
git worktree prune
git worktree add -q --detach "$TREE" HEAD
trap 'git worktree remove --force "$TREE" 2> /dev/null || true' EXIT
export CARGO_TARGET_DIR="$OUT/target"
FILE=app/src/routes/health.rs

# Builds every test program under coverage: LABEL; prints the wall time in seconds.
build() {
  if ! (cd "$TREE" && /usr/bin/time -f '%e' -o "$OUT/$1.time" \
    cargo llvm-cov nextest --workspace --no-report --no-tests=pass -E 'none()' > "$OUT/$1.log" 2>&1); then
    echo "kept-build: the $1 build failed:" >&2
    tail -n 20 "$OUT/$1.log" >&2
    exit 1
  fi
  cat "$OUT/$1.time"
}

echo "warm-up: the dependencies and the workspace under coverage"
build warm-up > /dev/null
{
  echo "| Round | After a one-line edit to \`$FILE\` | Build wall time |"
  echo "| ---: | --- | ---: |"
} > "$OUT/results.md"
for round in $(seq "$ROUNDS"); do
  echo "// cleaned, round $round" >> "$TREE/$FILE"
  (cd "$TREE" && cargo llvm-cov clean --workspace > /dev/null 2>&1)
  echo "round $round: cleaned first"
  echo "| $round | cleaned first (\`cargo llvm-cov clean --workspace\`) | $(build "cleaned-$round") s |" >> "$OUT/results.md"
  echo "// kept, round $round" >> "$TREE/$FILE"
  echo "round $round: kept"
  echo "| $round | kept | $(build "kept-$round") s |" >> "$OUT/results.md"
done
cat "$OUT/results.md"

#!/usr/bin/env bash
# The warm start of `cargo xtask coverage --file small.xml` (as a user types it: cargo's
# up-to-date check, then the binary) and of the binary alone, this checkout side by side with
# the xtask of another commit, alternating the four commands in each round so that a change in
# the machine's load hits them all:
#
#   xtask/bench/warm-start.sh 80976fd          # 20 rounds after 3 warm-up rounds
#   xtask/bench/warm-start.sh 80976fd 50       # 50 rounds
#
# The commit's tree is a worktree under target/bench/warm-start/ (made once, then reused),
# built into a target folder of its own. small.xml is coverage-parse.sh's 2,000-line report
# (generated when missing). Each run is timed with `date +%s%N`, so the figures are a few ms
# above hyperfine's. Run it with nothing else on the machine (docs/benchmarks.md, "Warm start").
set -euo pipefail
cd "$(dirname "$0")/../.."

COMMIT=${1:?usage: xtask/bench/warm-start.sh COMMIT [ROUNDS]}
ROUNDS=${2:-20}
OUT=$PWD/target/bench/warm-start
SMALL=$PWD/target/bench/small.xml
mkdir -p "$OUT"

sha=$(git rev-parse --verify "$COMMIT^{commit}")
tree=$OUT/tree-${sha:0:7}
if ! git -C "$tree" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  rm -rf "$tree"
  git worktree prune
  git worktree add -q --detach "$tree" "$sha"
fi
old_target=$OUT/target-${sha:0:7}
[ -f "$SMALL" ] || python3 xtask/bench/gen_cobertura.py --small --out "$SMALL"
echo "building the xtask of this checkout and of ${sha:0:7}"
cargo build -q -p xtask
(cd "$tree" && CARGO_TARGET_DIR=$old_target cargo build -q -p xtask)

# Microseconds one command takes, its output discarded (the gate's exit code is not the point).
us() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" > /dev/null 2>&1 || true
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000))
}
old_cargo=() new_cargo=() old_bin=() new_bin=()
for round in $(seq $((ROUNDS + 3))); do
  a=$(cd "$tree" && CARGO_TARGET_DIR=$old_target us cargo xtask coverage --file "$SMALL")
  b=$(us cargo xtask coverage --file "$SMALL")
  c=$(us "$old_target/debug/xtask" coverage --file "$SMALL")
  d=$(us target/debug/xtask coverage --file "$SMALL")
  if [ "$round" -gt 3 ]; then
    old_cargo+=("$a") new_cargo+=("$b") old_bin+=("$c") new_bin+=("$d")
  fi
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {printf "%.1f", (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2000}'; }
echo "| Command | ${sha:0:7} | this checkout |"
echo "| --- | ---: | ---: |"
echo "| \`cargo xtask coverage --file small.xml\` | $(median "${old_cargo[@]}") ms | $(median "${new_cargo[@]}") ms |"
echo "| \`target/debug/xtask coverage --file small.xml\` | $(median "${old_bin[@]}") ms | $(median "${new_bin[@]}") ms |"
echo "(median of $ROUNDS rounds after 3 warm-up rounds)"

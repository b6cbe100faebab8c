#!/usr/bin/env bash
# The xtask's cold build against a reference crate with the design card's dependencies
# (xtask/bench/reference/: xshell, clap, quick-xml, regex, serde, walkdir, colored, anyhow,
# which, cargo_metadata, at their default features), in one run, alternating the two:
#
#   xtask/bench/cold-build.sh               # 2 rounds
#   xtask/bench/cold-build.sh 3             # 3 rounds
#   xtask/bench/cold-build.sh 2 dd84499     # also the xtask of that commit, in each round
#
# Each build starts from an empty target folder with the crates already downloaded, as on a
# fresh clone whose registry cache is warm: `cargo build -p xtask` (the dev profile, what
# `cargo xtask` builds first) and `cargo build` of the reference. The ratio of the two wall
# times is the figure the project keeps at 1.2 or below (docs/benchmarks.md, "Cold build of the
# xtask"). The last xtask build's `--timings` gives the largest units. Run it with nothing else
# on the machine. Results on stdout and in target/bench/cold-build/results.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS="${1:-2}"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [ROUNDS] [COMMIT…]" >&2; exit 2; }
shift || true
OUT="$PWD/target/bench/cold-build"
mkdir -p "$OUT"
REF="$PWD/xtask/bench/reference"

# Other commits' xtask, each in a worktree of its own (made once, then reused).
others=()
for rev in "$@"; do
  sha=$(git rev-parse --verify --quiet "$rev^{commit}") || { echo "cold-build: $rev is not a commit" >&2; exit 2; }
  tree="$OUT/tree-${sha:0:7}"
  if ! git -C "$tree" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    rm -rf "$tree"
    git worktree prune
    git worktree add -q --detach "$tree" "$sha"
  fi
  others+=("${sha:0:7}")
done

echo "downloading the builds' crates"
cargo fetch --locked -q
cargo fetch --locked -q --manifest-path "$REF/Cargo.toml"
for o in "${others[@]}"; do (cd "$OUT/tree-$o" && cargo fetch --locked -q); done

# Builds from an empty target folder: LABEL DIR ARGS…; prints "wall user" in seconds.
cold() {
  local label="$1" dir="$2"
  shift 2
  rm -rf "$OUT/$label-target"
  if ! (cd "$dir" && CARGO_TARGET_DIR="$OUT/$label-target" /usr/bin/time -f '%e %U' -o "$OUT/$label.time" \
    cargo build --locked -q "$@" > "$OUT/$label.log" 2>&1); then
    echo "cold-build: the $label build failed:" >&2
    tail -n 20 "$OUT/$label.log" >&2
    exit 1
  fi
  cat "$OUT/$label.time"
}

{
  echo "| Round | Build | Wall | User CPU | Ratio to the reference (wall) |"
  echo "| ---: | --- | ---: | ---: | ---: |"
} > "$OUT/results.md"
ratios=()
for round in $(seq "$ROUNDS"); do
  echo "round $round: the reference crate"
  read -r ref_wall ref_user < <(cold reference "$REF")
  echo "| $round | the reference crate | ${ref_wall} s | ${ref_user} s | 1.00× |" >> "$OUT/results.md"
  for o in "${others[@]}"; do
    echo "round $round: the xtask at $o"
    read -r o_wall o_user < <(cold "xtask-$o" "$OUT/tree-$o" -p xtask)
    o_ratio=$(awk -v a="$o_wall" -v b="$ref_wall" 'BEGIN {printf "%.2f", a / b}')
    echo "| $round | \`cargo build -p xtask\` at $o | ${o_wall} s | ${o_user} s | ${o_ratio}× |" >> "$OUT/results.md"
  done
  echo "round $round: the xtask"
  timings=()
  [ "$round" = "$ROUNDS" ] && timings=(--timings)
  read -r x_wall x_user < <(cold xtask "$PWD" -p xtask "${timings[@]}")
  ratio=$(awk -v a="$x_wall" -v b="$ref_wall" 'BEGIN {printf "%.2f", a / b}')
  ratios+=("$ratio")
  echo "| $round | \`cargo build -p xtask\` (this checkout) | ${x_wall} s | ${x_user} s | **${ratio}×** |" >> "$OUT/results.md"
done

# The largest units of the last xtask build, from cargo's timings page (its UNIT_DATA).
page=$(find "$OUT/xtask-target/cargo-timings" -name "cargo-timing-*.html" | sort | tail -n 1)
python3 - "$page" >> "$OUT/results.md" <<'PY'
import json, re, sys
html = open(sys.argv[1], encoding="utf-8").read()
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S).group(1))
total = sum(u["duration"] for u in units)
print(f"\nThe last xtask build's units (`--timings`): {len(units)}, {total:.1f} s in all. The largest:\n")
print("| Unit | s |")
print("| --- | ---: |")
for u in sorted(units, key=lambda u: -u["duration"])[:12]:
    target = u["target"].strip()
    name = u["name"] + (f" ({target.strip()})" if target and target != "" else "")
    print(f"| {name} | {u['duration']:.1f} |")
PY
rm -rf "$OUT/reference-target" "$OUT"/xtask-target/debug "$OUT"/xtask-*-target
cat "$OUT/results.md"
echo
echo "ratio (the xtask's wall time / the reference's): ${ratios[*]}"

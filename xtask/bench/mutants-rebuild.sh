#!/usr/bin/env bash
# What one mutant's build costs in the mutants gate's copy: the workspace's own profile (no
# incremental compilation for the xtask's crates, which keeps their cold build short) against
# incremental compilation, which the gate turns on there (CARGO_INCREMENTAL=1).
#
# A sample of cargo-mutants' own mutants, every k-th of each package named, is applied in turn
# to a worktree of REV. Each is built by both, side by side (two target folders, both warmed
# first), as the gate builds a mutant whose tests are in its own package and in the xtask
# crate (where most of the per-test map's tests are): the test targets of those packages.
#
# Usage: xtask/bench/mutants-rebuild.sh [PER_PACKAGE] [REV] [PACKAGE...]
#        (defaults: 4, HEAD, xtask-core xtask-coverage xtask)
# Prints a Markdown table and the medians.
set -euo pipefail

per=${1:-4}
rev=${2:-HEAD}
shift $(($# < 2 ? $# : 2))
packages=("$@")
if [[ ${#packages[@]} -eq 0 ]]; then packages=(xtask-core xtask-coverage xtask); fi
root=$(git rev-parse --show-toplevel)
work=$(mktemp -d "${TMPDIR:-/tmp}/xtask-mutants-rebuild.XXXXXX")
tree=$work/tree

cleanup() {
    git -C "$root" worktree remove --force "$tree" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=xtask/bench/measure.sh
source "$root/xtask/bench/measure.sh"
git -C "$root" worktree add -q --detach "$tree" "$rev"
cd "$tree"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# build MODE PACKAGE...: the test targets, in MODE's own target folder; prints the seconds, and
# " (unviable)" when the build fails (a mutant that does not compile: the gate builds it too).
build() {
    local mode=$1 start status=""
    shift
    local args=()
    for p in "$@"; do args+=(-p "$p"); done
    start=$(now)
    CARGO_INCREMENTAL=$mode CARGO_TARGET_DIR=$work/target-$mode \
        cargo test -q --no-run "${args[@]}" >"$work/build.log" 2>&1 || status=" (unviable)"
    echo "$(secs "$start" "$(now)")$status"
}

echo "Warming both target folders (the first build in each is not timed)..." >&2
for mode in 0 1; do
    case $(build "$mode" "${packages[@]}") in
    *unviable*)
        echo "REV does not build its tests:" >&2
        tail -20 "$work/build.log" >&2
        exit 2
        ;;
    esac
done

echo "| mutant | package | built, profile's setting (s) | built, incremental (s) |"
echo "|---|---|---:|---:|"
: >"$work/times"
for package in "${packages[@]}"; do
    cargo mutants --list --json --diff -p "$package" >"$work/list.json" 2>/dev/null
    # Every k-th mutant, k = count / PER: spread over the package's files.
    python3 - "$work/list.json" "$per" "$work" <<'EOF'
import json, sys
mutants = json.load(open(sys.argv[1]))
per, work = int(sys.argv[2]), sys.argv[3]
step = max(1, len(mutants) // per)
picked = mutants[step // 2 :: step][:per]
with open(f"{work}/picked.tsv", "w") as out:
    for i, m in enumerate(picked):
        with open(f"{work}/m{i}.diff", "w") as d:
            d.write(m["diff"])
        out.write(f'{i}\t{m["file"]}\t{m["name"]}\n')
EOF
    while IFS=$'\t' read -r i file title; do
        patch -s "$file" -i "$work/m$i.diff"
        deps=("$package")
        if [[ $package != xtask ]]; then deps+=(xtask); fi
        off=$(build 0 "${deps[@]}")
        on=$(build 1 "${deps[@]}")
        patch -s -R "$file" -i "$work/m$i.diff"
        echo "| \`$title\` | $package | $off | $on |"
        echo "${off%% *} ${on%% *}" >>"$work/times"
    done <"$work/picked.tsv"
done

echo
echo "median, profile's setting: $(cut -d' ' -f1 "$work/times" | median) s"
echo "median, incremental: $(cut -d' ' -f2 "$work/times" | median) s"
awk '{ off += $1; on += $2 } END { printf "total: %.1f s against %.1f s (%.2fx)\n", off, on, off / on }' "$work/times"

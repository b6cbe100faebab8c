#!/usr/bin/env bash
# One shard of the whole workspace's mutants, run by this checkout's mutants gate and by the
# gate as it was at OLD, side by side on the same checkout, the same per-test map and the same
# copy: what a change to how the gate runs each mutant (such as running the quick tests first)
# saves. Both run with --no-cache (every mutant runs; no verdict is remembered); the verdicts
# must agree but for timeouts.
#
# Needs a per-test map of this checkout (`cargo xtask coverage` with nothing edited since) and
# what the tests need (the gate starts the services). OLD's xtask is built in a worktree of its
# own; both gates are run as `cargo xtask` runs them here (CARGO_MANIFEST_DIR).
#
# Usage: xtask/bench/mutants-stages.sh [SHARD] [OLD]    (defaults: 2/96, HEAD~1)
# Prints a Markdown table; the reports and logs stay in the work folder it names.
set -euo pipefail

shard=${1:-2/96}
old=${2:-HEAD~1}
root=$(git rev-parse --show-toplevel)
work=$(mktemp -d "${TMPDIR:-/tmp}/xtask-mutants-stages.XXXXXX")
tree=$work/old

cleanup() { git -C "$root" worktree remove --force "$tree" 2>/dev/null || true; }
trap cleanup EXIT

if [[ ! -f $root/target/coverage/test-map.json ]]; then
    echo "no per-test map: run \`cargo xtask coverage\` first" >&2
    exit 2
fi
git -C "$root" worktree add -q --detach "$tree" "$old"
echo "Building the xtask at $old and here..." >&2
cargo build -q -p xtask --manifest-path "$tree/Cargo.toml" --target-dir "$work/old-target"
cargo build -q -p xtask --manifest-path "$root/Cargo.toml"
now() { date +%s.%N; }

# run NAME BINARY: the gate on this checkout; its wall time, report and log kept as NAME.*.
run() {
    local name=$1 bin=$2 start code=0
    echo "Running $name ($shard)..." >&2
    start=$(now)
    CARGO_MANIFEST_DIR=$root/xtask "$bin" --no-cache mutants --shard "$shard" >"$work/$name.out" 2>"$work/$name.err" ||
        code=$?
    awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }' >"$work/$name.wall"
    if [[ $code -ge 2 ]]; then
        echo "$name: the gate could not run (exit $code):" >&2
        tail -20 "$work/$name.err" >&2
        exit 2
    fi
    cp "$root/target/xtask-mutants/report.json" "$work/$name.json"
}

run old "$work/old-target/debug/xtask"
run new "$root/target/debug/xtask"

python3 - "$work" "$old" "$(git -C "$root" rev-parse --short HEAD)" <<'EOF'
import json, statistics, sys
work, old, new = sys.argv[1:]
reports = {n: json.load(open(f"{work}/{n}.json")) for n in ("old", "new")}
walls = {n: int(open(f"{work}/{n}.wall").read()) for n in ("old", "new")}
verdicts = {n: {m["name"]: m["verdict"] for m in r["mutants"]} for n, r in reports.items()}
differ = [k for k in verdicts["old"] if verdicts["old"][k] != verdicts["new"].get(k)]
print(f"| gate | mutants | caught / missed / timeouts / unviable | mutants' seconds (sum) | median | mean | wall (s) |")
print("|---|---:|---|---:|---:|---:|---:|")
for name, rev in (("old", old), ("new", new)):
    r = reports[name]
    c = r["counts"]
    secs = [m["seconds"] for m in r["mutants"]]
    print(f"| {rev} | {len(secs)} | {c['caught']} / {c['missed']} / {c['timeouts']} / {c['unviable']} "
          f"| {sum(secs):.0f} | {statistics.median(secs):.1f} | {statistics.mean(secs):.1f} | {walls[name]} |")
for k in differ:
    print(f"\nverdicts differ: {k}: {verdicts['old'][k]} → {verdicts['new'].get(k)}")
print(f"\n(reports and logs: {work})")
EOF

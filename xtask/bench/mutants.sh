#!/usr/bin/env bash
# The mutants gate against plain cargo-mutants on the same change, for each of the last N
# commits that changed Rust code: `cargo xtask mutants --diff C^` and `cargo mutants --in-diff`
# with git's diff of C^..C (the same mutants: the gate gives cargo-mutants that diff too).
#
# The commits go oldest first through one detached worktree, so both tools' builds stay warm
# from one commit to the next. The xtask is this checkout's, built once and run on each commit
# (an older commit's own xtask has no mutants gate): its coverage run and its gate run the
# commit's code and tests. For each commit with mutants:
#   1. `cargo xtask coverage` records the per-test map at C (timed apart: CI's mutants job runs
#      it too, and a developer has one from the last push);
#   2. the gate: its counts (target/xtask-mutants/report.json) and wall time;
#   3. plain cargo-mutants, with its defaults (a fresh copy of the tree, the mutated package's
#      tests, `cargo test`), but for `--workspace`, a .git in its copy (`--copy-vcs true`, which
#      this repository's tests need, as the gate's worktree gives them) and the environment the
#      tests need (the database, schemathesis); stopped after CAP seconds, with the mutants it
#      had finished by then.
# Both use one PostgreSQL: $DATABASE_URL, else a postgres:16 container on the Docker engine.
#
# Usage: xtask/bench/mutants.sh [N] [REV] [CAP]    (defaults: 10, HEAD, 1800)
# Prints a Markdown table; the logs stay in the work folder it names (removed: the worktree).
set -euo pipefail

n=${1:-10}
rev=${2:-HEAD}
cap=${3:-1800}
root=$(git rev-parse --show-toplevel)
work=$(mktemp -d "${TMPDIR:-/tmp}/xtask-mutants-bench.XXXXXX")
tree=$work/tree
pg=""

cleanup() {
    # The gate's copy is a worktree of the same repository, inside this one.
    git -C "$root" worktree remove --force "$tree/target/xtask-mutants/tree" 2>/dev/null || true
    git -C "$root" worktree remove --force "$tree" 2>/dev/null || true
    if [[ -n $pg ]]; then docker rm -f "$pg" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

if [[ -z ${DATABASE_URL:-} ]]; then
    pg=xtask-bench-pg-$$
    docker run -d --rm --name "$pg" -e POSTGRES_HOST_AUTH_METHOD=trust -p 127.0.0.1::5432 postgres:16 >/dev/null
    port=$(docker port "$pg" 5432/tcp | head -1 | sed 's/.*://')
    for _ in $(seq 60); do
        pg_isready -q -h 127.0.0.1 -p "$port" -U postgres && break
        sleep 1
    done
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
fi

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", b - a }'; }
lines() { if [[ -f $1 ]]; then grep -c . "$1" || true; else echo 0; fi; }

cargo build -q -p xtask --manifest-path "$root/Cargo.toml" --target-dir "$work/xtask-target"
xtask=$work/xtask-target/debug/xtask
# The xtask on the worktree, as `cargo xtask` there would run it (its root: CARGO_MANIFEST_DIR).
gate() { CARGO_MANIFEST_DIR=$tree/xtask "$xtask" "$@"; }

mapfile -t commits < <(git -C "$root" log --no-merges -n "$n" --format=%H "$rev" -- '*.rs' | tac)
git -C "$root" worktree add --detach -q "$tree" "${commits[0]}"
cd "$tree"

echo "Work folder: $work (the logs); $n commits up to $(git rev-parse --short "$rev"), plain cargo-mutants capped at ${cap}s"
echo
echo "| Commit | Mutants | Gate: caught / missed / timeout / unviable / not run (uncovered) | Gate | Map (coverage run) | Plain cargo-mutants: caught / missed / timeout / unviable | Plain |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for c in "${commits[@]}"; do
    short=$(git rev-parse --short=7 "$c")
    git checkout -q --detach "$c"
    git diff "$c^" "$c" > "$work/$short.diff"
    listed=$(cargo mutants --list --workspace --in-diff "$work/$short.diff" 2>/dev/null | grep -c . || true)
    if [[ $listed -eq 0 ]]; then
        echo "| $short | 0 | – | – | – | – | – |"
        continue
    fi

    t0=$(now)
    gate coverage --no-cache > "$work/$short-coverage.log" 2>&1 || true
    t1=$(now)
    rm -f target/xtask-mutants/report.json
    exit_code=0
    gate mutants --diff "$c^" > "$work/$short-gate.log" 2>&1 || exit_code=$?
    t2=$(now)
    gate=$(python3 -c "
import json, sys
c = json.load(open(sys.argv[1]))['counts']
print(' / '.join(str(c[k]) for k in ('caught', 'missed', 'timeouts', 'unviable', 'uncovered')))
" target/xtask-mutants/report.json 2>/dev/null || echo "error (see $short-gate.log)")

    schemathesis=$tree/target/xtask-tools/schemathesis-venv/bin/schemathesis
    t3=$(now)
    status=0
    SCHEMATHESIS=$schemathesis timeout --signal=INT --kill-after=60 "$cap" \
        cargo mutants --workspace --in-diff "$work/$short.diff" --copy-vcs true --no-shuffle \
        -o "$work/plain-$short" > "$work/$short-plain.log" 2>&1 || status=$?
    t4=$(now)
    out=$work/plain-$short/mutants.out
    plain="$(lines "$out/caught.txt") / $(lines "$out/missed.txt") / $(lines "$out/timeout.txt") / $(lines "$out/unviable.txt")"
    plain_time="$(secs "$t3" "$t4") s"
    case $status in
        124) plain_time="over $cap s (stopped)" ;;
        4) plain="its baseline failed (see $short-plain.log)" ;;
    esac
    echo "| $short | $listed | $gate (exit $exit_code) | $(secs "$t1" "$t2") s | $(secs "$t0" "$t1") s | $plain | $plain_time |"
done

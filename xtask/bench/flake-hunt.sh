#!/usr/bin/env bash
# Looking for flaky tests on this machine as it is (issue 23): the whole suite N times, or the
# app's contract test (schemathesis against the live app on a real database) N times with a
# different seed each (`CONTRACT_SEED`). Run it with the Docker engine up; each run goes
# through `cargo xtask test` with the verdict cache off, as a developer's run does:
#
#   xtask/bench/flake-hunt.sh suite 10
#   xtask/bench/flake-hunt.sh contract 20
#   xtask/bench/flake-hunt.sh coverage 3 --load
#   xtask/bench/flake-hunt.sh suite 10 --load=4 -- -p app edge_proxy health::
#
# `coverage` runs the whole suite as `cargo xtask coverage` runs it (instrumented, as CI's test
# run is). `--load[=N]` keeps the machine busy for the whole hunt, as a CI runner that builds and
# tests beside it is: N busy loops and N writers a core (1 when N is not given), each writer
# writing and fsyncing a 600 MB file over and over (under target/bench/flake-hunt/), all stopped
# when the hunt ends. Arguments after `--` go to the test runner in place of the defaults (a
# filter, to hunt in a few tests). `--load=4` on the edge proxy and probe tests is how the
# readiness probe's 500 ms in the tests' settings was caught (docs/benchmarks.md).
#
# With `CI=true` each run is judged as CI judges it: a test that fails is retried (the `retries`
# setting), a retry that passes makes it FLAKY and fails the run unless tests-quarantine.toml
# names it, every flake is kept in target/xtask-tests/history.jsonl (`cargo xtask flaky`), and a
# test that lacks what it needs fails instead of skipping.
#
# Each run's log is kept under target/bench/flake-hunt/<mode>-<time>/; summary.md there has one
# row a run (its seed, verdict, wall time and the tests that failed in it) and the counts.
set -euo pipefail
cd "$(dirname "$0")/../.."

usage="usage: $0 suite|contract|coverage [RUNS] [--load[=N]] [-- TEST_ARGS...]"
mode=${1:-}
runs=${2:-10}
shift $(($# < 2 ? $# : 2))
load=""
filter=()
while [ $# -gt 0 ]; do
  case "$1" in
    --load) load=1 ;;
    --load=*) load=${1#--load=} ;;
    --)
      shift
      filter=("$@")
      break
      ;;
    *)
      echo "error: unknown argument '$1'; $usage" >&2
      exit 2
      ;;
  esac
  shift
done
case "$mode" in
  suite | contract | coverage) ;;
  *)
    echo "$usage" >&2
    exit 2
    ;;
esac
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
  echo "error: RUNS must be a positive number, not '$runs'" >&2
  exit 2
fi
if [ -n "$load" ] && { ! [[ "$load" =~ ^[1-9][0-9]*$ ]] || [ "$load" -gt 16 ]; }; then
  echo "error: --load=N takes a number of loops and writers a core from 1 to 16, not '$load'" >&2
  exit 2
fi

out="target/bench/flake-hunt/$mode-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
export XTASK_NO_CACHE=1
if [ -n "$load" ]; then
  n=$((load * $(nproc)))
  loaders=()
  for _ in $(seq 1 "$n"); do
    sh -c 'while :; do :; done' &
    loaders+=($!)
  done
  for c in $(seq 1 "$n"); do
    sh -c 'while :; do dd if=/dev/zero of="$1" bs=1M count=600 conv=fsync status=none; done' sh "$out/load-$c" &
    loaders+=($!)
  done
  trap 'kill "${loaders[@]}" 2>/dev/null; wait "${loaders[@]}" 2>/dev/null; rm -f "$out"/load-*' EXIT
  echo "load: $n busy loops and $n fsync writers until the hunt ends" | tee "$out/load.txt"
fi
printf '| Run | Seed | Verdict | Wall | Tests that failed |\n| ---: | ---: | --- | ---: | --- |\n' >"$out/summary.md"
failed=0
for i in $(seq 1 "$runs"); do
  log="$out/run-$i.log"
  seed="-"
  vars=()
  args=(test --)
  [ "$mode" = coverage ] && args=(coverage --)
  if [ ${#filter[@]} -gt 0 ]; then args+=("${filter[@]}"); else args+=(--no-fail-fast); fi
  if [ "$mode" = contract ]; then
    seed=$((RANDOM * 32768 + RANDOM))
    vars=("CONTRACT_SEED=$seed")
    args+=(schemathesis)
  fi
  start=$(date +%s)
  if env "${vars[@]}" cargo xtask "${args[@]}" >"$log" 2>&1; then
    verdict=passed
  else
    verdict=FAILED
    failed=$((failed + 1))
  fi
  secs=$(($(date +%s) - start))
  # nextest's line for a test's last attempt when it did not pass: `FAIL [ 1.2s] (3/9) crate::binary
  # test`; with retries (CI) `TRY 3 FAIL [ … ] (3/9) …`, or `FLAKY 2/3 [ … ] (3/9) …` when a retry
  # passed. An earlier attempt's line has no counter (`(───────)`) and is left out.
  tests=$(grep -E '^ *(TRY [0-9]+ )?(FAIL|FLAKY( [0-9]+/[0-9]+)?|TIMEOUT|SIG[A-Z]+) \[[^]]*\] +\( *[0-9]' "$log" |
    sed -E 's/^ *(TRY [0-9]+ )?(FLAKY [0-9]+\/[0-9]+|[A-Z]+) .*\] +\([^)]*\) +(.*)$/\2 \3/' | sort -u | paste -sd ',' - || true)
  printf '| %d | %s | %s | %d s | %s |\n' "$i" "$seed" "$verdict" "$secs" "${tests:-}" | tee -a "$out/summary.md"
done
printf '\n%s: %d runs, %d failed. Logs: %s/\n' "$mode" "$runs" "$failed" "$out" | tee -a "$out/summary.md"

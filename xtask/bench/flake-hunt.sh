#!/usr/bin/env bash
# Looking for flaky tests on this machine as it is (issue 23): the whole suite N times, or the
# app's contract test (schemathesis against the live app on a real database) N times with a
# different seed each (`CONTRACT_SEED`). Run it with the Docker engine up; each run goes
# through `cargo xtask test` with the verdict cache off, as a developer's run does:
#
#   xtask/bench/flake-hunt.sh suite 10
#   xtask/bench/flake-hunt.sh contract 20
#
# Each run's log is kept under target/bench/flake-hunt/<mode>-<time>/; summary.md there has one
# row a run (its seed, verdict, wall time and the tests that failed in it) and the counts.
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=${1:-}
runs=${2:-10}
case "$mode" in
  suite | contract) ;;
  *)
    echo "usage: $0 suite|contract [RUNS]" >&2
    exit 2
    ;;
esac
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
  echo "error: RUNS must be a positive number, not '$runs'" >&2
  exit 2
fi

out="target/bench/flake-hunt/$mode-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
export XTASK_NO_CACHE=1
printf '| Run | Seed | Verdict | Wall | Tests that failed |\n| ---: | ---: | --- | ---: | --- |\n' >"$out/summary.md"
failed=0
for i in $(seq 1 "$runs"); do
  log="$out/run-$i.log"
  seed="-"
  vars=()
  args=(test -- --no-fail-fast)
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
  # nextest's lines for a test that did not pass: `FAIL [ 1.2s] (3/9) crate::binary test`.
  tests=$(grep -E '^ *(FAIL|FLAKY|TIMEOUT|SIG[A-Z]+) \[' "$log" | sed -E 's/^[^]]*\] +(\([^)]*\) +)?//' | sort -u |
    paste -sd ',' - || true)
  printf '| %d | %s | %s | %d s | %s |\n' "$i" "$seed" "$verdict" "$secs" "${tests:-}" | tee -a "$out/summary.md"
done
printf '\n%s: %d runs, %d failed. Logs: %s/\n' "$mode" "$runs" "$failed" "$out" | tee -a "$out/summary.md"

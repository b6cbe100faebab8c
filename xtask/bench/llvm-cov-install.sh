#!/usr/bin/env bash
# cargo-llvm-cov's first install: built with its crate's own release profile (fat LTO, one
# codegen unit: what `cargo install` does) against the quick build `cargo xtask coverage` uses
# (no LTO, unoptimised but for its report converters: `Build::Quick` in xtask/core/src/tools.rs),
# in one run; then what each binary takes to write this checkout's Cobertura and LCOV reports.
#
#   xtask/bench/llvm-cov-install.sh          # 1 round
#   xtask/bench/llvm-cov-install.sh 3        # 3 rounds
#
# Each build has a target folder and an install root of their own under
# target/bench/llvm-cov-install/ (the crates come from cargo's registry cache, downloaded once).
# The reports read the last coverage run's profiles: run `cargo xtask coverage` first. Run it
# with nothing else on the machine: about 1.5 minutes a round. Results on stdout and in
# target/bench/llvm-cov-install/results.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS="${1:-1}"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [ROUNDS]" >&2; exit 2; }
ls target/llvm-cov-target/*.profdata > /dev/null 2>&1 \
  || { echo "llvm-cov-install: no coverage profiles: run \`cargo xtask coverage\` once" >&2; exit 2; }
VERSION=$(sed -n 's/^pub const CARGO_LLVM_COV_VERSION: &str = "\(.*\)";/\1/p' xtask/core/src/tools.rs)
[[ -n $VERSION ]] || { echo "llvm-cov-install: no CARGO_LLVM_COV_VERSION in xtask/core/src/tools.rs" >&2; exit 2; }
OUT="$PWD/target/bench/llvm-cov-install"
mkdir -p "$OUT"

# The quick build's settings, as the xtask passes them.
QUICK=(--config profile.release.lto=false --config profile.release.codegen-units=16
  --config profile.release.opt-level=0)
for hot in lcov2cobertura quick-xml rustc-demangle; do
  QUICK+=(--config "profile.release.package.$hot.opt-level=3")
done

# Builds cargo-llvm-cov as LABEL with the extra cargo ARGS; prints the wall time in seconds.
install() {
  local label=$1
  shift
  rm -rf "${OUT:?}/${label:?}"
  if ! CARGO_TARGET_DIR="$OUT/$label/target" /usr/bin/time -f '%e' -o "$OUT/$label.time" \
    cargo "$@" install --locked cargo-llvm-cov --version "$VERSION" --root "$OUT/$label" > "$OUT/$label.log" 2>&1; then
    echo "llvm-cov-install: the $label build failed:" >&2
    tail -n 20 "$OUT/$label.log" >&2
    exit 2
  fi
  cat "$OUT/$label.time"
}

# Writes FORMAT's report with LABEL's binary, three times; prints the fastest wall time.
report() {
  local best=""
  for _ in 1 2 3; do
    /usr/bin/time -f '%e' -o "$OUT/report.time" \
      "$OUT/$1/bin/cargo-llvm-cov" llvm-cov report "--$2" --output-path "$OUT/report.$2" > /dev/null 2>&1
    local took
    took=$(cat "$OUT/report.time")
    if [[ -z $best ]] || awk -v a="$took" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$took; fi
  done
  echo "$best"
}

{
  echo "cargo-llvm-cov $VERSION, $(date -u +%F), $(git rev-parse --short HEAD), $(nproc) cores"
  echo
  echo "| Round | Build | Install (s) | Binary (MB) | --cobertura (s) | --lcov (s) |"
  echo "| ---: | --- | ---: | ---: | ---: | ---: |"
} | tee "$OUT/results.md"
for round in $(seq "$ROUNDS"); do
  for label in release quick; do
    if [[ $label == quick ]]; then took=$(install quick "${QUICK[@]}"); else took=$(install release); fi
    size=$(awk -v b="$(stat -c %s "$OUT/$label/bin/cargo-llvm-cov")" 'BEGIN { printf "%.1f", b / 1e6 }')
    echo "| $round | $label | $took | $size | $(report "$label" cobertura) | $(report "$label" lcov) |" \
      | tee -a "$OUT/results.md"
  done
done

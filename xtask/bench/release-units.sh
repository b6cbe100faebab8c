#!/usr/bin/env bash
# The app's release build (what the image's builder stage runs) with its dependencies in one
# codegen unit, as the root Cargo.toml's `[profile.release.package."*"]` sets, against cargo's
# default of 16 for every crate, in one run; then the rebuild after a source edit of each.
#
#   xtask/bench/release-units.sh          # 1 round
#   xtask/bench/release-units.sh 2        # 2 rounds
#
# Each build starts from an empty target folder of its own under target/bench/release-units/
# (the crates come from cargo's registry cache), with the Dockerfile's CARGO_PROFILE_RELEASE_STRIP.
# Run it with nothing else on the machine: about 5 minutes a round. Results on stdout and in
# target/bench/release-units/results.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS="${1:-1}"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [ROUNDS]" >&2; exit 2; }
OUT="$PWD/target/bench/release-units"
mkdir -p "$OUT"
export CARGO_PROFILE_RELEASE_STRIP=symbols

# Builds the app in release as LABEL, with cargo ARGS; prints wall and user+system seconds.
build() {
  local label=$1
  shift
  if ! CARGO_TARGET_DIR="$OUT/$label" /usr/bin/time -f '%e %U %S' -o "$OUT/$label.time" \
    cargo "$@" build --release --locked -p app > "$OUT/$label.log" 2>&1; then
    echo "release-units: the $label build failed:" >&2
    tail -n 20 "$OUT/$label.log" >&2
    exit 2
  fi
  awk '{ printf "%.1f | %.1f", $1, $2 + $3 }' "$OUT/$label.time"
}

{
  echo "app release build, $(date -u +%F), $(git rev-parse --short HEAD), $(nproc) cores"
  echo
  echo "| Round | Dependencies | Cold: wall (s) | Cold: CPU (s) | Binary (MB) | Edit: wall (s) | Edit: CPU (s) |"
  echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"
} | tee "$OUT/results.md"
for round in $(seq "$ROUNDS"); do
  for label in one-unit sixteen-units; do
    rm -rf "${OUT:?}/${label:?}"
    if [[ $label == one-unit ]]; then args=(); else args=(--config 'profile.release.package."*".codegen-units=16'); fi
    cold=$(build "$label" "${args[@]}")
    size=$(awk -v b="$(stat -c %s "$OUT/$label/release/app")" 'BEGIN { printf "%.1f", b / 1e6 }')
    touch app/src/lib.rs app/src/main.rs
    edit=$(build "$label" "${args[@]}")
    echo "| $round | $label | $cold | $size | $edit |" | tee -a "$OUT/results.md"
  done
done

#!/usr/bin/env bash
# A newcomer's first run, timed: a fresh clone of this checkout's HEAD in a private folder,
# with a CARGO_HOME of its own (so cargo-llvm-cov and cargo-nextest are not installed yet; the
# crates.io registry cache is copied in, so that the network's speed is not measured) and no
# tools folder. Then, as the README says:
#
#   1. `cargo xtask coverage` (installs the tools, builds everything, runs the tests);
#   2. `cargo xtask ci` right after it;
#   3. `cargo xtask ci` again, nothing changed.
#
#   xtask/bench/first-run.sh
#
# Needs what the suite needs (a Docker engine for the smoke gate and the container tests) and
# the advisory database the security gate reads (XTASK_ADVISORY_DB, as in .ci/run). Run it with
# nothing else on the machine: about half an hour. The steps' logs, and the install and build
# lines picked from them, are in target/bench/first-run/; results on stdout and in
# target/bench/first-run/results.md. Exit 1 when a step fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT="$PWD/target/bench/first-run"
rm -rf "$OUT"
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
git clone -q "$PWD" "$WORK/clone"
export CARGO_HOME="$WORK/cargo-home"
mkdir -p "$CARGO_HOME"
if [ -d "$HOME/.cargo/registry" ]; then cp -r "$HOME/.cargo/registry" "$CARGO_HOME/"; fi
# rustup's proxies (cargo, rustc, …) are reached through a folder of their own, without the
# cargo subcommands installed beside them (cargo-llvm-cov, cargo-nextest); what cargo installs
# goes to $CARGO_HOME/bin.
mkdir -p "$WORK/rustup-bin"
for proxy in "$HOME"/.cargo/bin/*; do
  if cmp -s "$proxy" "$HOME/.cargo/bin/rustup"; then ln -s "$proxy" "$WORK/rustup-bin/"; fi
done
PATH=$(tr ':' '\n' <<< "$PATH" | grep -vx "$HOME/.cargo/bin" | paste -sd:)
export PATH="$CARGO_HOME/bin:$WORK/rustup-bin:$PATH"
# A cargo subcommand the machine itself provides (outside ~/.cargo/bin) counts as the machine's.
for tool in cargo-llvm-cov cargo-nextest; do
  if command -v "$tool" > /dev/null; then echo "note: $tool is provided by the machine: $(command -v "$tool")"; fi
done
unset CARGO_TARGET_DIR XTASK_TOOLS_DIR

step() {
  local label="$1" code=0 start end
  shift
  echo "$label"
  start=$(date +%s.%N)
  (cd "$WORK/clone" && "$@") > "$OUT/$label.log" 2>&1 || code=$?
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" -v l="$label" -v c="$code" 'BEGIN {printf "| %s | %.1f s | %s |\n", l, b - a, c}' \
    >> "$OUT/results.md"
  if [ "$code" != 0 ]; then
    echo "first-run: \`$*\` exited $code:" >&2
    tail -n 30 "$OUT/$label.log" >&2
    cat "$OUT/results.md"
    exit 1
  fi
}

{
  echo "| Step | Wall time | Exit |"
  echo "| --- | ---: | ---: |"
} > "$OUT/results.md"
step "1-coverage" cargo xtask coverage
step "2-ci" cargo xtask ci
step "3-ci-again" cargo xtask ci

{
  echo
  echo "What the first coverage run said about installs and its phases:"
  echo
  grep -hE 'installing|installed in|still installing|Finished|^map: [0-9]+ tests|Summary \[' "$OUT/1-coverage.log" \
    | sed 's/^/    /'
  echo
  echo "The gates of the first ci run:"
  echo
  sed -n '/^CI summary/,/total/p' "$OUT/2-ci.log" | sed 's/^/    /'
} >> "$OUT/results.md"
cat "$OUT/results.md"

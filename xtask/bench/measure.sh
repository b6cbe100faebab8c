# shellcheck shell=bash
# Sourced by the benchmarks. `measure LABEL COMMAND…` runs COMMAND $RUNS times under GNU time
# and prints "LABEL median-wall-seconds peak-rss-MB"; the last run's stdout is left in
# $OUT/last.out. A run that fails stops the benchmark (exit 1), showing its last words.

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

measure() {
  local label="$1" wall kb rss=0 walls=()
  shift
  for _ in $(seq "$RUNS"); do
    if ! /usr/bin/time -f '%e %M' -o "$OUT/time" "$@" > "$OUT/last.out" 2> "$OUT/last.err"; then
      echo "benchmark: \`$*\` failed:" >&2
      tail -n 5 "$OUT/last.err" >&2
      exit 1
    fi
    read -r wall kb < "$OUT/time"
    walls+=("$wall")
    if [ "$kb" -gt "$rss" ]; then rss="$kb"; fi
  done
  printf '%s %s %s\n' "$label" "$(printf '%s\n' "${walls[@]}" | median)" "$((rss / 1024))"
}

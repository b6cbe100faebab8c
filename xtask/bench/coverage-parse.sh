#!/usr/bin/env bash
# Benchmark: `cargo xtask coverage --file` against Python on a large generated Cobertura report.
#
# Usage: xtask/bench/coverage-parse.sh [--lines N] [--runs N] [--small-runs N]
#                                      [--pycobertura-timeout S] [--skip-pycobertura] [--no-check]
#
# Measures (wall seconds and peak RSS through /usr/bin/time, median of --runs runs):
#   xtask      target/debug/xtask coverage --file big.xml --format json (totals checked)
#   iterparse  python3 xtask/bench/iterparse_count.py big.xml           (totals checked)
#   pycobertura pycobertura show, once on big.xml (with a timeout) and once on a file 10x smaller
# and the warm median of `cargo xtask coverage --file small.xml` (as typed, and the binary alone).
# Writes the report to stdout and to target/bench/results.md.
#
# Env: XTASK_BIN=PATH measures that binary instead of building target/debug/xtask.
#
# Exit status: 0 all measured and (at the default 10 M lines) the targets met; 1 a setup error,
# wrong totals, or xtask unavailable; 2 a target missed (>= 8x faster than iterparse, < 64 MB).
set -euo pipefail

PYCOBERTURA_VERSION=4.1.0
ORIG_ARGS=("$@")
DEFAULT_LINES=10000000
LINES=$DEFAULT_LINES
RUNS=3
SMALL_RUNS=20
PYCO_TIMEOUT=600
SKIP_PYCO=0
CHECK=1

usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while (($#)); do
  case "$1" in
    --lines) LINES=${2:?--lines needs a value}; shift 2 ;;
    --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
    --small-runs) SMALL_RUNS=${2:?--small-runs needs a value}; shift 2 ;;
    --pycobertura-timeout) PYCO_TIMEOUT=${2:?--pycobertura-timeout needs a value}; shift 2 ;;
    --skip-pycobertura) SKIP_PYCO=1; shift ;;
    --no-check) CHECK=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 1 ;;
  esac
done
for v in "$LINES" "$RUNS" "$SMALL_RUNS" "$PYCO_TIMEOUT"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "not a positive integer: $v" >&2; exit 1; }
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
BENCH=xtask/bench
OUT=target/bench
VENV=$OUT/venv
XTASK=${XTASK_BIN:-target/debug/xtask}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
TIME=/usr/bin/time

die() { echo "coverage-parse: error: $*" >&2; exit 1; }
note() { echo "==> $*" >&2; }

[[ -x $TIME ]] || die "$TIME (GNU time) is required: apt-get install -y time"
command -v "$PY" >/dev/null || die "python3 is required"
command -v timeout >/dev/null || die "timeout (coreutils) is required"

# --- 1. Python side: a venv with the pinned pycobertura ---------------------------------------
if [[ $SKIP_PYCO == 0 ]]; then
  if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; \
sys.exit(m.version('pycobertura') != '$PYCOBERTURA_VERSION')" 2>/dev/null; then
    note "creating $VENV with pycobertura==$PYCOBERTURA_VERSION"
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "pycobertura==$PYCOBERTURA_VERSION"
  fi
fi

# --- 2. Our side: build the xtask once, with the dev profile `cargo xtask` uses -----------------
XTASK_OK=1
XTASK_WHY=
if [[ -n ${XTASK_BIN:-} ]]; then
  note "using XTASK_BIN=$XTASK_BIN (no build)"
else
  note "cargo build -p xtask"
  if ! cargo build -p xtask --quiet 2>"$OUT/build.log"; then
    XTASK_OK=0
    XTASK_WHY="cargo build -p xtask failed (see $OUT/build.log)"
    tail -n 30 "$OUT/build.log" >&2
  fi
fi

# --- 3. Input files (deterministic; regenerated only when the parameters or generator change) ----
EXPECT_COVERED=$((LINES * 7500565 / 10000000))
MID_LINES=$((LINES / 10))
((MID_LINES >= 1000)) || MID_LINES=1000
SMALL_LINES=2000
SMALL_COVERED=$((SMALL_LINES * 7500565 / 10000000))
GEN_SUM=$(sha256sum "$BENCH/gen_cobertura.py" | cut -d' ' -f1)

gen() { # gen FILE LINES: (re)generate FILE unless its stamp matches
  local file=$1 lines=$2 want
  want="lines=$lines generator=$GEN_SUM"
  if [[ -f $file && -f $file.stamp && $(<"$file.stamp") == "$want" ]]; then
    note "$file is up to date ($lines lines)"
    return
  fi
  note "generating $file ($lines lines)"
  rm -f "$file.stamp"
  "$PY" "$BENCH/gen_cobertura.py" --lines "$lines" --out "$file"
  echo "$want" >"$file.stamp"
}
BIG=$OUT/big.xml
MID=$OUT/mid.xml
SMALL=$OUT/small.xml
gen "$BIG" "$LINES"
gen "$MID" "$MID_LINES"
gen "$SMALL" "$SMALL_LINES"
BIG_MB=$(($(stat -c %s "$BIG") / 1000000))

# --- helpers ------------------------------------------------------------------------------------
median() { # median of the numbers given as arguments
  printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {
    if (NR == 0) { print "nan"; exit }
    if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
max() { printf '%s\n' "$@" | sort -g | tail -n1; }

LAST_S='' LAST_KIB='' LAST_RC=''
timed() { # timed STDOUT_FILE CMD...: sets LAST_S, LAST_KIB, LAST_RC; never fails
  local outfile=$1 tf
  shift
  tf=$(mktemp)
  LAST_RC=0
  "$TIME" -f '%e %M' -o "$tf" "$@" >"$outfile" 2>"$outfile.err" || LAST_RC=$?
  read -r LAST_S LAST_KIB < <(tail -n1 "$tf")
  rm -f "$tf"
}

totals_json() { # totals_json FILE: prints "covered valid" from our JSON report
  "$PY" -c 'import json, sys
t = json.load(open(sys.argv[1]))["totals"]
c, v = t["covered"], t["valid"]
assert isinstance(c, int) and isinstance(v, int), (c, v)
print(c, v)' "$1"
}

ROWS=()
declare -A MEDIAN_S
add_row() { # add_row TOOL FILE LINES MEDIAN_S PEAK_KIB EXITS NOTE
  local mb speedup base=${MEDIAN_S[iterparse:$2]:-}
  if [[ $5 == - ]]; then mb=-; else mb=$(awk -v k="$5" 'BEGIN {printf "%.1f", k * 1024 / 1e6}'); fi
  if [[ -n $base && $4 =~ ^[0-9.]+$ ]]; then
    speedup=$(awk -v b="$base" -v t="$4" 'BEGIN {if (t > 0) printf "%.1fx", b / t; else print "inf"}')
  else
    speedup=-
  fi
  ROWS+=("| $1 | $2 | $3 | $4 | $mb | $speedup | $5 | $6 | $7 |")
}

declare -A SECS KIBS RCS MAX_KIB
run_once() { # run_once KEY TOOL LINES CHECK I CMD...: one timed run (CHECK: xtask or iterparse)
  local key=$1 tool=$2 lines=$3 check=$4 i=$5 out
  shift 5
  out=$OUT/out-${key//[:\/]/_}.txt
  timed "$out" "$@"
  note "$tool ${key#*:} run $i/$RUNS: ${LAST_S}s ${LAST_KIB}KiB exit $LAST_RC"
  SECS[$key]+=" $LAST_S" KIBS[$key]+=" $LAST_KIB" RCS[$key]+="${RCS[$key]:+,}$LAST_RC"
  if [[ $i == 1 ]]; then # the totals are checked on the first run
    case $check in
      xtask) check_xtask "$out" "$lines" "$LAST_RC" ;;
      iterparse) check_iterparse "$out" "$lines" "$LAST_RC" ;;
      *) die "unknown check $check" ;;
    esac
  fi
}
finish() { # finish KEY TOOL LINES: median wall time, max RSS and all exit codes as a table row
  local key=$1 secs kibs
  read -ra secs <<<"${SECS[$key]}"
  read -ra kibs <<<"${KIBS[$key]}"
  MEDIAN_S[$key]=$(median "${secs[@]}")
  MAX_KIB[$key]=$(max "${kibs[@]}")
  add_row "$2" "${key#*:}" "$3" "${MEDIAN_S[$key]}" "${MAX_KIB[$key]}" "${RCS[$key]}" ""
}

expect_for() { echo $(($1 * 7500565 / 10000000)); }

check_xtask() { # check_xtask OUT LINES RC
  local got want
  want="$(expect_for "$2") $2"
  (($3 <= 1)) || die "xtask exited $3 (expected 0 pass or 1 gate failure); stderr: $(tail -n5 "$1.err")"
  got=$(totals_json "$1") || die "xtask output is not JSON with integer totals.covered/valid: $(head -c 400 "$1")"
  [[ $got == "$want" ]] || die "xtask totals '$got' != expected '$want' (covered valid)"
}
check_iterparse() {
  local got want
  want="$(expect_for "$2") $2"
  (($3 == 0)) || die "iterparse_count.py exited $3: $(tail -n5 "$1.err")"
  got=$(cut -d' ' -f1,2 "$1")
  [[ $got == "$want" ]] || die "iterparse totals '$got' != expected '$want' (covered valid)"
}

# Probe the lead's command on the small file before spending minutes on the big one.
if ((XTASK_OK)); then
  probe=$OUT/probe.json
  rc=0
  "$XTASK" coverage --file "$SMALL" --format json >"$probe" 2>"$probe.err" || rc=$?
  if ((rc > 1)); then
    XTASK_OK=0
    XTASK_WHY="'$XTASK coverage --file $SMALL --format json' exited $rc: $(tail -n3 "$probe.err" | tr '\n' ' ')"
  elif ! got=$(totals_json "$probe" 2>/dev/null); then
    XTASK_OK=0
    XTASK_WHY="'$XTASK coverage --file ... --format json' printed no JSON with totals.covered/valid"
  elif [[ $got != "$SMALL_COVERED $SMALL_LINES" ]]; then
    die "xtask totals on $SMALL: '$got' != expected '$SMALL_COVERED $SMALL_LINES'"
  fi
fi
((XTASK_OK)) || echo "coverage-parse: WARNING: xtask not measured: $XTASK_WHY" >&2

LOAD_START=$(cut -d" " -f1-3 /proc/loadavg)
# Same hot page cache for every tool.
cat "$BIG" "$MID" "$SMALL" >/dev/null

# --- 4. Measurements ----------------------------------------------------------------------------
# The two tools alternate, so a change in the machine's load hits both alike.
XT="xtask coverage --file --format json"
for file in "$BIG" "$MID"; do
  if [[ $file == "$BIG" ]]; then lines=$LINES; else lines=$MID_LINES; fi
  name=$(basename "$file")
  for ((i = 1; i <= RUNS; i++)); do
    run_once "iterparse:$name" "python iterparse" "$lines" iterparse "$i" \
      "$PY" "$BENCH/iterparse_count.py" "$file"
    if ((XTASK_OK)); then
      run_once "xtask:$name" "$XT" "$lines" xtask "$i" "$XTASK" coverage --file "$file" --format json
    fi
  done
  finish "iterparse:$name" "python iterparse" "$lines"
  if ((XTASK_OK)); then
    finish "xtask:$name" "$XT" "$lines"
  else
    add_row "$XT" "$name" "$lines" "n/a" - - "not measured: $XTASK_WHY"
  fi
done

if [[ $SKIP_PYCO == 0 ]]; then
  for file in "$MID" "$BIG"; do
    if [[ $file == "$BIG" ]]; then lines=$LINES; else lines=$MID_LINES; fi
    name=$(basename "$file")
    note "pycobertura show $name (timeout ${PYCO_TIMEOUT}s)"
    timed "$OUT/out-pycobertura-$name.txt" timeout "$PYCO_TIMEOUT" "$VENV/bin/pycobertura" show "$file"
    note "pycobertura $name: ${LAST_S}s ${LAST_KIB}KiB exit $LAST_RC"
    if ((LAST_RC == 124)); then
      add_row "pycobertura show" "$name" "$lines" ">$PYCO_TIMEOUT" "$LAST_KIB" 124 "timed out (killed)"
    else
      total=$(grep -E '^TOTAL' "$OUT/out-pycobertura-$name.txt" | tr -s ' ' || true)
      MEDIAN_S[pycobertura:$name]=$LAST_S
      add_row "pycobertura show" "$name" "$lines" "$LAST_S" "$LAST_KIB" "$LAST_RC" \
        "1 run; its ${total:-no TOTAL line} (partial branch lines count as missed)"
    fi
  done
fi

# --- 5. Warm small-file latency -----------------------------------------------------------------
declare -A SMALL_MED SMALL_RCS
small_bench() { # small_bench KEY CMD...: warm median of SMALL_RUNS runs in ms
  local key=$1
  shift
  if command -v hyperfine >/dev/null; then
    local js=$OUT/hyperfine-$key.json
    hyperfine --warmup 3 --runs "$SMALL_RUNS" --ignore-failure -N --style none \
      --export-json "$js" "$*" >/dev/null
    local med codes
    read -r med codes < <("$PY" -c 'import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
codes = sorted(set(r.get("exit_codes") or [0]))
print("%.1f" % (r["median"] * 1000), ",".join(map(str, codes)))' "$js")
    SMALL_MED[$key]=$med
    SMALL_RCS[$key]=$codes
  else
    local i t0 t1 rc ms=() codes=()
    for ((i = 0; i < 3; i++)); do "$@" >/dev/null 2>&1 || true; done
    for ((i = 0; i < SMALL_RUNS; i++)); do
      rc=0
      t0=$(date +%s%N)
      "$@" >/dev/null 2>&1 || rc=$?
      t1=$(date +%s%N)
      ms+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) / 1e6}')")
      codes+=("$rc")
    done
    SMALL_MED[$key]=$(median "${ms[@]}")
    SMALL_RCS[$key]=$(printf '%s\n' "${codes[@]}" | sort -u | paste -sd,)
  fi
}
if ((XTASK_OK)); then
  note "warm small-file latency ($SMALL_RUNS runs each)"
  small_bench cargo cargo xtask coverage --file "$SMALL"
  small_bench binary "$XTASK" coverage --file "$SMALL"
fi

# --- 6. Report ----------------------------------------------------------------------------------
VERDICTS=()
FAILED=0
if ((XTASK_OK)); then
  speed=$(awk -v b="${MEDIAN_S[iterparse:big.xml]}" -v t="${MEDIAN_S[xtask:big.xml]}" \
    'BEGIN {printf "%.1f", (t > 0 ? b / t : 1e9)}')
  mb=$(awk -v k="${MAX_KIB[xtask:big.xml]}" 'BEGIN {printf "%.1f", k * 1024 / 1e6}')
  if awk -v s="$speed" 'BEGIN {exit !(s >= 8)}'; then r=PASS; else r=FAIL; FAILED=1; fi
  VERDICTS+=("- $r: xtask speed-up over Python iterparse on big.xml: ${speed}x (target >= 8x)")
  if awk -v m="$mb" 'BEGIN {exit !(m < 64)}'; then r=PASS; else r=FAIL; FAILED=1; fi
  VERDICTS+=("- $r: xtask peak RSS ${mb} MB on big.xml (target < 64 MB)")
  VERDICTS+=("- PASS: xtask and iterparse both count $EXPECT_COVERED / $LINES covered lines")
else
  VERDICTS+=("- NOT MEASURED: xtask ($XTASK_WHY)")
fi

LOAD_END=$(cut -d" " -f1-3 /proc/loadavg)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || echo unknown)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "no commit")
dirty=$(git status --porcelain 2>/dev/null | grep -qv '^??' && echo " (+ uncommitted changes)" || true)
pct=$(awk -v c="$EXPECT_COVERED" -v v="$LINES" 'BEGIN {printf "%.5f", 100 * c / v}')

{
  echo "# Coverage report parsing benchmark"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $commit$dirty"
  echo "- Machine: $(nproc) cores, $cpu, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(uname -sr)"
  echo "- Load average (1/5/15 min): $LOAD_START before the measurements, $LOAD_END after"
  echo "- Python: $("$PY" --version 2>&1 | cut -d' ' -f2); pycobertura $PYCOBERTURA_VERSION; $(rustc --version)"
  echo "- big.xml: $LINES lines ($EXPECT_COVERED covered = $pct %), $BIG_MB MB;" \
    "mid.xml: $MID_LINES lines; small.xml: $SMALL_LINES lines"
  echo "- Wall time: median of $RUNS runs (pycobertura: 1 run); peak RSS: max over the runs" \
    "(GNU time %M, 1 MB = 10^6 bytes); hot page cache"
  echo
  echo "| tool | file | lines | median wall s | peak RSS MB | speed-up vs iterparse | peak RSS KiB | exit codes | notes |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"
  printf '%s\n' "${ROWS[@]}"
  if ((XTASK_OK)); then
    echo
    echo "Warm median of $SMALL_RUNS runs on small.xml ($SMALL_LINES lines, after 3 warm-up runs):"
    echo
    echo "| command | median ms | exit codes |"
    echo "| --- | ---: | --- |"
    echo "| \`cargo xtask coverage --file $SMALL\` | ${SMALL_MED[cargo]} | ${SMALL_RCS[cargo]} |"
    echo "| \`$XTASK coverage --file $SMALL\` | ${SMALL_MED[binary]} | ${SMALL_RCS[binary]} |"
  fi
  echo
  echo "Targets (issue):"
  echo
  printf '%s\n' "${VERDICTS[@]}"
  echo
  echo "Reproduce: \`${XTASK_BIN:+XTASK_BIN=$XTASK_BIN }xtask/bench/coverage-parse.sh${ORIG_ARGS[*]:+ ${ORIG_ARGS[*]}}\`"
} | tee "$OUT/results.md"

((XTASK_OK)) || exit 1
if ((FAILED && CHECK)) && [[ $LINES == "$DEFAULT_LINES" ]]; then exit 2; fi
exit 0

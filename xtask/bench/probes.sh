#!/usr/bin/env bash
# The service under wrk: the probes (/health/live: no I/O; /health/ready: the migration check
# on the pool) and one API route that passes the rate limiter without being limited
# (GET /api/v1/openapi.json), served once with the limits on and once with them off
# (RATE_LIMIT_ENABLED=false), to show what the limiter costs.
#
#   xtask/bench/probes.sh            # 3 rounds of 10 s per target
#   ROUNDS=1 SECONDS_PER_RUN=5 xtask/bench/probes.sh
#
# Needs wrk (`sudo apt-get install wrk`) and PostgreSQL: $DATABASE_URL (a database the
# migrations may be applied to), else the compose file's `db` service in a throwaway project
# (Docker). A release build of the app; RUST_LOG=warn, so the figures are the service's, not
# the terminal's. Each round runs every target in turn (the two limiter servers alternate).
# Results on stdout and in target/bench/probes/results.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
command -v wrk > /dev/null || { echo "wrk is needed: sudo apt-get install wrk" >&2; exit 2; }
OUT=target/bench/probes
mkdir -p "$OUT"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

pids=()
project=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  wait 2> /dev/null || true
  if [ -n "$project" ]; then
    docker compose -p "$project" --env-file /dev/null down -v > /dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

echo "building the app (release)"
cargo build -q --release -p app
APP=target/release/app

# The app's settings (compose reads them too, to interpolate the whole file).
export APP_ENV=production RUST_LOG=warn JWT_SECRET=bench-secret-bench-secret-bench-secret-01
export CORS_ORIGINS=https://bench.example METRICS_ADDR=127.0.0.1:0
if [ -z "${DATABASE_URL:-}" ]; then
  project="bench-probes-$$"
  POSTGRES_USER=bench POSTGRES_DB=bench POSTGRES_PASSWORD="bench-$RANDOM$RANDOM" DB_PORT=$(free_port)
  export POSTGRES_USER POSTGRES_DB POSTGRES_PASSWORD DB_PORT
  echo "starting PostgreSQL (compose service db, project $project)"
  docker compose -p "$project" --env-file /dev/null up -d --wait db > "$OUT/compose.log" 2>&1 \
    || { tail -n 5 "$OUT/compose.log" >&2; exit 2; }
  DATABASE_URL="postgres://$POSTGRES_USER:$POSTGRES_PASSWORD@127.0.0.1:$DB_PORT/$POSTGRES_DB"
fi
export DATABASE_URL
"$APP" migrate > "$OUT/migrate.log" 2>&1 || { tail -n 5 "$OUT/migrate.log" >&2; exit 2; }

# serve NAME KEY=VALUE…: starts the app on a free port with high limits (never reached), sets $port.
serve() {
  local name="$1"
  shift
  port=$(free_port)
  env PORT="$port" RATE_LIMIT_API_PER_MINUTE=1000000 RATE_LIMIT_AUTH_PER_MINUTE=1000000 "$@" \
    "$APP" serve > "$OUT/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/health/ready" > /dev/null && return 0
    sleep 0.1
  done
  echo "the app ($name) did not become ready:" >&2
  tail -n 5 "$OUT/$name.log" >&2
  exit 2
}
serve limits-on
on=$port
serve limits-off RATE_LIMIT_ENABLED=false
off=$port

# run LABEL URL: one wrk run, as "LABEL requests/s p99 non-2xx errors".
run() {
  local out
  out=$(wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" --latency "$2")
  awk -v label="$1" '
    /Requests\/sec:/ { rps = $2 }
    $1 == "99%" { p99 = $2 }
    /Non-2xx or 3xx responses:/ { non2xx = $5 }
    /Socket errors:/ { errors = $4 + $6 + $8 + $10 }
    END { printf "%s %s %s %d %d\n", label, rps, p99, non2xx, errors }' <<< "$out"
}

targets=(
  "live http://127.0.0.1:$on/health/live"
  "ready http://127.0.0.1:$on/health/ready"
  "openapi-limits-on http://127.0.0.1:$on/api/v1/openapi.json"
  "openapi-limits-off http://127.0.0.1:$off/api/v1/openapi.json"
)
: > "$OUT/runs.txt"
for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS"
  for target in "${targets[@]}"; do
    # shellcheck disable=SC2086 # "label url"
    run $target | tee -a "$OUT/runs.txt"
  done
done

{
  echo "| Target | Requests/s (median of $ROUNDS) | p99 (median) | Non-2xx / socket errors |"
  echo "| --- | ---: | ---: | ---: |"
  for label in live ready openapi-limits-on openapi-limits-off; do
    # shellcheck disable=SC2016 # Python, not shell
    awk -v l="$label" '$1 == l' "$OUT/runs.txt" | python3 -c '
import statistics, sys
rows = [line.split() for line in sys.stdin]
ms = lambda v: float(v[:-2]) if v.endswith("ms") else float(v[:-2]) / 1000 if v.endswith("us") else float(v[:-1]) * 1000
rps = statistics.median(float(r[1]) for r in rows)
p99 = statistics.median(ms(r[2]) for r in rows)
bad = sum(int(r[3]) + int(r[4]) for r in rows)
print(f"| `{rows[0][0]}` | {rps:,.0f} | {p99:.2f} ms | {bad} |")'
  done
} | tee "$OUT/results.md"

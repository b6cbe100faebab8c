#!/usr/bin/env bash
# Prove that a backup restores, and time it: the newest clicknback-*.sql.gz (or the file named,
# or with --offsite the newest off-site copy) is loaded into a throwaway PostgreSQL container,
# which has no network and is removed afterwards, and the app's tables are counted. Runs on the
# server: nightly after the backup, monthly on the off-site copy (deploy/crontab).
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: restore-check.sh [--help] [--offsite | FILE]

Restores FILE, or else the newest clicknback-YYYYmmdd-HHMMSS.sql.gz in $BACKUP_DIR, into a
throwaway PostgreSQL container (no network; removed afterwards, whatever happens) and checks
it: the file is a whole gzip holding a whole pg_dump, psql loads it without an error, and
the tables of $CHECK_TABLES exist. Prints each table's row count, how long the restore took
(psql loading the dump, timed; the throwaway server's start-up is not counted), the size of
the restored database and of the backup. The live database is never touched.

--offsite: the newest backup on the off-site host instead (offsite-copy.sh's copies), fetched
and verified by offsite-fetch.sh into a temporary folder, removed afterwards.

Exit status: 0 the backup restores; 1 it is empty, truncated or incomplete, does not
restore, or lacks a table (or there is no backup, or the off-site fetch failed); 2 a usage
error, a wrong setting or no Docker.

Environment (defaults in brackets):
  DEPLOY_DIR      the deploy folder                      [/opt/clicknback]
  BACKUP_DIR      where the backups are                  [$DEPLOY_DIR/backups]
  RESTORE_IMAGE   the PostgreSQL image to restore into   [postgres:16, the stack's db image]
  CHECK_TABLES    tables that must exist after the restore
                  [_sqlx_migrations users merchants]
  DB_USER         database user  [$POSTGRES_USER, else clicknback]
  DB_NAME         database name  [$POSTGRES_DB, else clicknback]
  OFFSITE_*       with --offsite: see offsite-copy.sh --help
EOF
}

file=""
offsite=""
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  --offsite) offsite=1 ;;
  -*) echo "restore-check.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  "") ;;
  *) file="$1" ;;
esac
if [[ $# -gt 1 ]]; then
  echo "restore-check.sh: one backup at a time (see --help)" >&2
  exit 2
fi

DEPLOY_DIR="${DEPLOY_DIR:-/opt/clicknback}"
BACKUP_DIR="${BACKUP_DIR:-$DEPLOY_DIR/backups}"
RESTORE_IMAGE="${RESTORE_IMAGE:-postgres:16}"
CHECK_TABLES="${CHECK_TABLES:-_sqlx_migrations users merchants}"
DB_USER="${DB_USER:-${POSTGRES_USER:-clicknback}}"
DB_NAME="${DB_NAME:-${POSTGRES_DB:-clicknback}}"

fail() {
  echo "restore check failed: $*" >&2
  exit 1
}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cleanup_fetched() { :; }

if [[ -n "$offsite" ]]; then
  # A folder of its own (mode 700: the dump holds password hashes), removed on the way out.
  fetched="$(mktemp -d "${TMPDIR:-/tmp}/clicknback-offsite-restore.XXXXXX")" || fail "cannot create a temporary folder"
  cleanup_fetched() { rm -rf -- "$fetched"; }
  trap cleanup_fetched EXIT
  status=0
  bash "$here/offsite-fetch.sh" "$fetched" || status=$?
  # A wrong setting stays a usage error (2); anything else failed the check.
  ((status != 2)) || exit 2
  ((status == 0)) || fail "the newest off-site backup could not be fetched (see above)"
  BACKUP_DIR="$fetched"
fi

if [[ -z "$file" ]]; then
  pattern='clicknback-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]-[0-9][0-9][0-9][0-9][0-9][0-9].sql.gz'
  # The names carry the time (UTC), so the newest sorts last.
  file="$(find "$BACKUP_DIR" -maxdepth 1 -type f -name "$pattern" 2>/dev/null | sort | tail -n 1)"
  [[ -n "$file" ]] || fail "no backup (clicknback-*.sql.gz) in $BACKUP_DIR"
fi
[[ -f "$file" ]] || fail "$file does not exist"
[[ -s "$file" ]] || fail "$file is empty"
gzip -t "$file" 2>/dev/null || fail "$file is not a whole gzip file (truncated or damaged)"
# pg_dump ends every dump with this line: without it the dump stopped part-way.
gunzip -c "$file" | tail -n 5 | grep -q '^-- PostgreSQL database dump complete' \
  || fail "$file does not end like a whole pg_dump (the dump stopped part-way)"

command -v docker >/dev/null || { echo "restore-check.sh: docker is not installed" >&2; exit 2; }
docker info >/dev/null 2>&1 || { echo "restore-check.sh: no Docker engine answers (docker info failed)" >&2; exit 2; }

container="clicknback-restore-check-$$"
password="restore-check-$RANDOM$RANDOM$RANDOM"
cleanup() {
  docker rm -f "$container" >/dev/null 2>&1 || true
  cleanup_fetched
}
trap cleanup EXIT
docker run -d --rm --name "$container" --network none \
  -e POSTGRES_USER="$DB_USER" -e POSTGRES_DB="$DB_NAME" \
  -e POSTGRES_PASSWORD="$password" \
  "$RESTORE_IMAGE" >/dev/null || fail "cannot start a $RESTORE_IMAGE container"

# Ready on TCP (the image's first-start initialisation listens on its socket only).
psql_check() {
  docker exec -i -e PGPASSWORD="$password" "$container" \
    psql -h 127.0.0.1 -U "$DB_USER" -d "$DB_NAME" -v ON_ERROR_STOP=1 "$@"
}
for _ in $(seq 120); do
  if docker exec "$container" pg_isready -h 127.0.0.1 -U "$DB_USER" -d "$DB_NAME" >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.5
done
[[ -n "${ready:-}" ]] || fail "the throwaway $RESTORE_IMAGE container did not become ready"

# The restore time: psql loading the whole dump (EPOCHREALTIME in microseconds; its decimal
# point follows the locale).
started="${EPOCHREALTIME/[.,]/}"
gunzip -c "$file" | psql_check -q >/dev/null || fail "$file does not restore (psql stopped at the error above)"
finished="${EPOCHREALTIME/[.,]/}"
elapsed_ms=$(((finished - started) / 1000))

counts=()
for table in $CHECK_TABLES; do
  [[ "$table" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || fail "CHECK_TABLES: '$table' is not a table name"
  exists="$(psql_check -tAc "SELECT to_regclass('public.$table') IS NOT NULL")"
  [[ "$exists" == "t" ]] || fail "$file restores, but has no table $table"
  counts+=("$table $(psql_check -tAc "SELECT count(*) FROM public.\"$table\"")")
done
database_size="$(psql_check -tAc "SELECT pg_size_pretty(pg_database_size(current_database()))")"
echo "restore check passed: $file"
for line in "${counts[@]}"; do
  echo "  ${line% *}: ${line##* } rows"
done
printf '  restore time: %d.%03d s (psql loading the dump into an empty database)\n' \
  $((elapsed_ms / 1000)) $((elapsed_ms % 1000))
echo "  database size: $database_size (restored); backup size: $(wc -c <"$file") bytes (gzip)"

#!/usr/bin/env bash
# Nightly demo reset: back up the database, then wipe it (drop and recreate the public
# schema), apply the migrations with the compose `migrate` service, and load the demo seeds.
# Nothing is dropped unless the backup succeeded. Runs on the server, from cron.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: demo-reset.sh [--help]

1. backup.sh (next to this script); the reset stops here if it fails
2. DROP SCHEMA public CASCADE; CREATE SCHEMA public;   (psql in the db container)
3. docker compose run --rm migrate                      (the deployed image's migrations)
4. the demo seeds, /app/seeds/all.sql from the deployed image, loaded with psql

Environment (defaults in brackets), shared with backup.sh:
  DEPLOY_DIR      the deploy folder                  [/opt/clicknback]
  COMPOSE_FILE    the stack's compose file           [$DEPLOY_DIR/docker-compose.yml]
  DB_USER         database user  [$POSTGRES_USER, else clicknback]
  DB_NAME         database name  [$POSTGRES_DB, else clicknback]
  SEED_FILE       load this file instead of the image's seeds   [unset]
  BACKUP_DIR, KEEP_DAILY, KEEP_WEEKLY, KEEP_MONTHLY, OFFSITE_*: see backup.sh --help
EOF
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) echo "demo-reset.sh: unexpected argument '$1' (see --help)" >&2; exit 2 ;;
esac

# Resolved once and exported, so backup.sh dumps the same database this script resets.
export DEPLOY_DIR="${DEPLOY_DIR:-/opt/clicknback}"
export COMPOSE_FILE="${COMPOSE_FILE:-$DEPLOY_DIR/docker-compose.yml}"
export DB_USER="${DB_USER:-${POSTGRES_USER:-clicknback}}"
export DB_NAME="${DB_NAME:-${POSTGRES_DB:-clicknback}}"
SEED_FILE="${SEED_FILE:-}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

fail() {
  echo "demo reset failed: $*" >&2
  exit 1
}

compose() { docker compose -f "$COMPOSE_FILE" "$@"; }
psql_db() { compose exec -T db psql -U "$DB_USER" -d "$DB_NAME" -v ON_ERROR_STOP=1 "$@"; }

if [[ -n "$SEED_FILE" && ! -r "$SEED_FILE" ]]; then
  fail "SEED_FILE=$SEED_FILE cannot be read; nothing was changed"
fi

echo "1/4 backup"
bash "$here/backup.sh" || fail "the backup did not succeed; the database was NOT reset"

echo "2/4 drop and recreate the public schema"
psql_db -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;' \
  || fail "dropping the schema failed; restore the backup above if the database is damaged"

echo "3/4 migrations"
compose run --rm migrate || fail "the migrate service failed; the database is empty (restore the backup above)"

echo "4/4 seeds"
if [[ -n "$SEED_FILE" ]]; then
  psql_db <"$SEED_FILE" || fail "loading $SEED_FILE failed"
else
  # The seeds ship in the image (/app/seeds), so they always match the migrated schema.
  compose run --rm --no-deps -T --entrypoint cat migrate /app/seeds/all.sql | psql_db \
    || fail "loading the image's /app/seeds/all.sql failed"
fi

echo "demo reset done: migrated and seeded $DB_NAME"

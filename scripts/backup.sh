#!/usr/bin/env bash
# Back up the ClickNBack database: pg_dump in the compose `db` container, gzipped, into
# $BACKUP_DIR/clicknback-YYYYmmdd-HHMMSS.sql.gz (UTC), then delete this script's own backups
# older than $RETENTION_DAYS days. Runs on the server (nightly cron, before each deploy).
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: backup.sh [--help]

Dumps the compose database to $BACKUP_DIR/clicknback-YYYYmmdd-HHMMSS.sql.gz (UTC time),
then deletes clicknback-*.sql.gz backups older than $RETENTION_DAYS days.
Exits non-zero, keeping no partial file, when anything fails.

Environment (defaults in brackets):
  DEPLOY_DIR      the deploy folder                  [/opt/clicknback]
  COMPOSE_FILE    the stack's compose file           [$DEPLOY_DIR/docker-compose.yml]
  BACKUP_DIR      where the backups go               [$DEPLOY_DIR/backups]
  RETENTION_DAYS  keep backups this many days        [7]
  DB_USER         database user  [$POSTGRES_USER, else clicknback]
  DB_NAME         database name  [$POSTGRES_DB, else clicknback]

Restore (into an emptied schema, see docs/deployment-plan.md):
  gunzip -c FILE | docker compose -f "$COMPOSE_FILE" exec -T db psql -U "$DB_USER" -d "$DB_NAME" -v ON_ERROR_STOP=1
EOF
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) echo "backup.sh: unexpected argument '$1' (see --help)" >&2; exit 2 ;;
esac

DEPLOY_DIR="${DEPLOY_DIR:-/opt/clicknback}"
COMPOSE_FILE="${COMPOSE_FILE:-$DEPLOY_DIR/docker-compose.yml}"
BACKUP_DIR="${BACKUP_DIR:-$DEPLOY_DIR/backups}"
RETENTION_DAYS="${RETENTION_DAYS:-7}"
DB_USER="${DB_USER:-${POSTGRES_USER:-clicknback}}"
DB_NAME="${DB_NAME:-${POSTGRES_DB:-clicknback}}"

fail() {
  echo "backup failed: $*" >&2
  exit 1
}

[[ "$RETENTION_DAYS" =~ ^[1-9][0-9]*$ ]] || fail "RETENTION_DAYS must be a whole number of days, 1 or more, not '$RETENTION_DAYS'"
mkdir -p "$BACKUP_DIR" || fail "cannot create $BACKUP_DIR"

target="$BACKUP_DIR/clicknback-$(date -u +%Y%m%d-%H%M%S).sql.gz"
[[ ! -e "$target" ]] || fail "$target already exists; not overwriting it"

# Dump into a hidden temporary file, so a failed dump never looks like a backup. mktemp
# creates it with mode 600: the dump holds password hashes.
tmp="$(mktemp "$BACKUP_DIR/.clicknback-backup.XXXXXX")" || fail "cannot write to $BACKUP_DIR"
trap 'rm -f "$tmp"' EXIT

# pipefail: a pg_dump failure fails the pipeline even though gzip succeeds.
if ! docker compose -f "$COMPOSE_FILE" exec -T db pg_dump -U "$DB_USER" -d "$DB_NAME" | gzip >"$tmp"; then
  fail "pg_dump of database '$DB_NAME' (user '$DB_USER', $COMPOSE_FILE) did not succeed; no backup written"
fi

# A hard link cannot replace an existing file: the rename refuses to overwrite, atomically.
# (The EXIT trap then removes the temporary name.)
ln "$tmp" "$target" || fail "$target appeared during the dump; not overwriting it"
echo "backup written: $target ($(wc -c <"$target") bytes)"

# Retention: only this script's own file names, never anything else in the folder.
pattern='clicknback-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]-[0-9][0-9][0-9][0-9][0-9][0-9].sql.gz'
expired="$(find "$BACKUP_DIR" -maxdepth 1 -type f -name "$pattern" -mmin "+$((RETENTION_DAYS * 24 * 60))")" \
  || fail "backup written, but listing the old backups in $BACKUP_DIR failed"
while IFS= read -r old; do
  [[ -n "$old" ]] || continue
  rm -f -- "$old" || fail "cannot remove $old"
  echo "removed backup older than $RETENTION_DAYS days: $old"
done <<<"$expired"

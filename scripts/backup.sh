#!/usr/bin/env bash
# Back up the ClickNBack database: pg_dump in the compose `db` container, gzipped, into
# $BACKUP_DIR/clicknback-YYYYmmdd-HHMMSS.sql.gz (UTC), copy it off-site over SSH when
# OFFSITE_HOST is set (offsite-copy.sh), then apply the retention policy (prune-backups.sh:
# 7 daily, 4 weekly, 12 monthly). Runs on the server (nightly cron, before each deploy).
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: backup.sh [--help]

1. Dumps the compose database to $BACKUP_DIR/clicknback-YYYYmmdd-HHMMSS.sql.gz (UTC time),
   through a temporary file: a failed dump leaves no file, and no backup is ever overwritten.
2. When OFFSITE_HOST is set, copies it to that host over SSH (offsite-copy.sh: rsync into a
   temporary name, its SHA-256 there checked against this one, then renamed into place, and
   the same retention applied there). When it is not set, says so.
3. Applies the retention policy here (prune-backups.sh): the newest backup of each of the
   last KEEP_DAILY days, KEEP_WEEKLY weeks and KEEP_MONTHLY months is kept, by the UTC time in
   the name; its other clicknback-*.sql.gz backups are removed, each named. Nothing is removed
   here when the off-site copy failed.

Exit status: 0 backed up (and copied off-site when configured); 1 the dump failed (no file
kept), or the off-site copy or the retention failed (the new backup is kept here); 2 a usage
error or a wrong setting (nothing done).

Environment (defaults in brackets):
  DEPLOY_DIR      the deploy folder                  [/opt/clicknback]
  COMPOSE_FILE    the stack's compose file           [$DEPLOY_DIR/docker-compose.yml]
  BACKUP_DIR      where the backups go               [$DEPLOY_DIR/backups]
  DB_USER         database user  [$POSTGRES_USER, else clicknback]
  DB_NAME         database name  [$POSTGRES_DB, else clicknback]
  KEEP_DAILY, KEEP_WEEKLY, KEEP_MONTHLY   the retention [7, 4, 12]: see prune-backups.sh --help
  RETENTION_DAYS  no longer read: refused when set (exit 2); use KEEP_DAILY
  OFFSITE_HOST    the off-site host (unset: no off-site copy)  [unset]
  OFFSITE_USER, OFFSITE_PORT, OFFSITE_DIR, OFFSITE_IDENTITY, OFFSITE_KNOWN_HOSTS,
  OFFSITE_TIMEOUT: see offsite-copy.sh --help

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
DB_USER="${DB_USER:-${POSTGRES_USER:-clicknback}}"
DB_NAME="${DB_NAME:-${POSTGRES_DB:-clicknback}}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"
# Every setting checked before anything is written (exit 2).
retention_settings backup.sh
offsite_settings backup.sh
export DEPLOY_DIR KEEP_DAILY KEEP_WEEKLY KEEP_MONTHLY

fail() {
  echo "backup failed: $*" >&2
  exit 1
}

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

if [[ -z "$OFFSITE_HOST" ]]; then
  echo "off-site copy: not configured (OFFSITE_HOST is not set); this backup is on this server only"
elif ! bash "$here/offsite-copy.sh" "$target"; then
  fail "the off-site copy to $offsite_where did not succeed (see above); the backup $target is kept here, and no" \
    "old backup was removed"
fi

# Retention: only this script's own file names, never anything else in the folder.
bash "$here/prune-backups.sh" "$BACKUP_DIR" || fail "backup written ($target), but the retention in $BACKUP_DIR failed"

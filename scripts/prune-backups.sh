#!/usr/bin/env bash
# Apply the backups' retention policy (7 daily, 4 weekly, 12 monthly by default, the way
# restic's `forget --keep-*` decides) to a folder of backup.sh's backups: keeps the newest
# backup of each of the last KEEP_DAILY days, KEEP_WEEKLY ISO weeks and KEEP_MONTHLY months
# that have one, by the UTC time in the file name, and removes the other backups, naming each.
# backup.sh runs it after every backup; offsite-copy.sh applies the same policy off-site.
set -euo pipefail

usage() {
  cat <<'EOF_USAGE'
Usage: prune-backups.sh [--help] [--dry-run] [DIR]

Applies the retention policy to the backups in DIR (else $BACKUP_DIR): only files named
clicknback-YYYYmmdd-HHMMSS.sql.gz, by the UTC time in the name (never the file's mtime); every
other file in DIR is left alone. Each removal is printed. --dry-run prints what would be kept
(and why) and what would be removed, and removes nothing.

The policy is restic's `forget --keep-daily N --keep-weekly N --keep-monthly N` (0.17 and
later): newest first, each rule keeps the newest backup of each of its last N periods that
have a backup (a day; an ISO week, Monday to Sunday; a calendar month, all in UTC); a backup
any rule keeps is kept (one can be daily, weekly and monthly at once); a rule that still has
count left at the oldest backup keeps the oldest too. The newest backup is always kept.

Exit status: 0 done; 1 a backup could not be removed, or DIR cannot be read; 2 a usage error
or a wrong setting.

Environment (defaults in brackets):
  KEEP_DAILY      daily backups kept (0: no daily rule)      [7]
  KEEP_WEEKLY     weekly backups kept (0: no weekly rule)    [4]
  KEEP_MONTHLY    monthly backups kept (0: no monthly rule)  [12]
  DEPLOY_DIR      the deploy folder                          [/opt/clicknback]
  BACKUP_DIR      the folder, when DIR is not given          [$DEPLOY_DIR/backups]
  RETENTION_DAYS  no longer read: refused when set (use KEEP_DAILY)
EOF_USAGE
}

dry_run=""
dir=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --dry-run) dry_run=1 ;;
    -*) echo "prune-backups.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *)
      [[ -z "$dir" ]] || { echo "prune-backups.sh: one folder at a time (see --help)" >&2; exit 2; }
      dir="$1"
      ;;
  esac
  shift
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"
DEPLOY_DIR="${DEPLOY_DIR:-/opt/clicknback}"
BACKUP_DIR="${BACKUP_DIR:-$DEPLOY_DIR/backups}"
dir="${dir:-$BACKUP_DIR}"
retention_settings prune-backups.sh

fail() {
  echo "prune failed: $*" >&2
  exit 1
}

[[ -d "$dir" ]] || fail "$dir is not a folder"
# Regular files only (a folder or a link with a backup's name is not one of ours).
listing="$(find "$dir" -mindepth 1 -maxdepth 1 -type f -name "$BACKUP_NAME_GLOB" -printf '%f\n')" \
  || fail "cannot list $dir"
plan="$(retention_plan <<<"$listing")"

kept=0
removed=0
while read -r action name reasons; do
  [[ -n "${action:-}" ]] || continue
  if [[ "$action" == keep ]]; then
    kept=$((kept + 1))
    [[ -z "$dry_run" ]] || echo "keep         $dir/$name ($reasons)"
  elif [[ -n "$dry_run" ]]; then
    removed=$((removed + 1))
    echo "would remove $dir/$name"
  else
    rm -f -- "$dir/$name" || fail "cannot remove $dir/$name"
    removed=$((removed + 1))
    echo "removed backup $dir/$name (retention: $KEEP_DAILY daily, $KEEP_WEEKLY weekly, $KEEP_MONTHLY monthly)"
  fi
done <<<"$plan"
if [[ -n "$dry_run" ]]; then
  echo "dry run: $kept backups would be kept and $removed removed in $dir; nothing was removed"
else
  echo "retention: $kept backups kept, $removed removed in $dir"
fi

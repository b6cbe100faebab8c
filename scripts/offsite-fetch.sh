#!/usr/bin/env bash
# Fetch the newest backup from the off-site host (the copies offsite-copy.sh made) into a
# folder here, verified: rsync into a temporary name, its SHA-256 compared with the one
# computed there, then renamed. The first step of a restore after losing the server, and of
# the monthly restore test (restore-check.sh --offsite).
set -euo pipefail

usage() {
  cat <<'EOF_USAGE'
Usage: offsite-fetch.sh [--help] [DIR]

Fetches the newest clicknback-YYYYmmdd-HHMMSS.sql.gz in $OFFSITE_DIR on $OFFSITE_HOST (by the
UTC time in its name) into DIR (else $BACKUP_DIR; created when missing): rsync over SSH into
DIR/.incoming-<name>, its SHA-256 compared with the one sha256sum computes on the host, then
renamed to DIR/<name>. A file of that name already in DIR is never overwritten: with the same
checksum it is the backup already; otherwise the fetch fails. The last line of the output is
the fetched file's path. Nothing on the host is changed.

Exit status: 0 fetched and verified; 1 the host cannot be reached or refuses the login or the
host key, it holds no backup, or the copy or its checksum failed; 2 a usage error or a wrong
setting.

Environment (defaults in brackets):
  DEPLOY_DIR    the deploy folder                [/opt/clicknback]
  BACKUP_DIR    the folder, when DIR is not given  [$DEPLOY_DIR/backups]
  OFFSITE_HOST (required), OFFSITE_USER, OFFSITE_PORT, OFFSITE_DIR, OFFSITE_IDENTITY,
  OFFSITE_KNOWN_HOSTS, OFFSITE_TIMEOUT: see offsite-copy.sh --help
EOF_USAGE
}

dest=""
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  -*) echo "offsite-fetch.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  "") ;;
  *) dest="$1" ;;
esac
[[ $# -le 1 ]] || { echo "offsite-fetch.sh: one folder at most (see --help)" >&2; exit 2; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"
DEPLOY_DIR="${DEPLOY_DIR:-/opt/clicknback}"
BACKUP_DIR="${BACKUP_DIR:-$DEPLOY_DIR/backups}"
dest="${dest:-$BACKUP_DIR}"
offsite_settings offsite-fetch.sh
[[ -n "$OFFSITE_HOST" ]] || { echo "offsite-fetch.sh: OFFSITE_HOST is not set: no host to fetch from (see --help)" >&2; exit 2; }

fail() {
  echo "off-site fetch failed: $*" >&2
  exit 1
}
unreachable() {
  fail "$1 ($offsite_where, ssh said above). Check that $OFFSITE_HOST is up and its sshd listens on port" \
    "$OFFSITE_PORT, that the public key of $OFFSITE_IDENTITY is in ~$OFFSITE_USER/.ssh/authorized_keys there," \
    "and that $OFFSITE_KNOWN_HOSTS holds its host key (docs/deployment-plan.md, \"Off-site copies\")."
}

dir="$OFFSITE_DIR"
listing="$(offsite_ssh "cd $dir && for f in clicknback-*.sql.gz; do if [ -f \"\$f\" ]; then printf '%s\\n' \"\$f\"; fi; done")" \
  || unreachable "cannot list $dir on $offsite"
newest="$(grep -E "$BACKUP_NAME_RE" <<<"$listing" | LC_ALL=C sort | tail -n 1)" || true
[[ -n "$newest" ]] || fail "no backup (clicknback-YYYYmmdd-HHMMSS.sql.gz) in $dir on $offsite"
remote_sum="$(offsite_ssh "sha256sum -- $dir/$newest")" || unreachable "cannot checksum $dir/$newest on $offsite"
remote_sum="${remote_sum%% *}"
echo "off-site fetch: $newest from $offsite_where (sha256 $remote_sum there)"

mkdir -p -- "$dest" || fail "cannot create $dest"
target="$dest/$newest"
if [[ -e "$target" ]]; then
  [[ "$(sha256sum -- "$target" | cut -d ' ' -f 1)" == "$remote_sum" ]] \
    || fail "$target is another file than $newest on $offsite; not overwriting it"
  echo "off-site fetch: $target was here already, with the same checksum"
  echo "$target"
  exit 0
fi

incoming="$dest/.incoming-$newest"
trap 'rm -f -- "$incoming"' EXIT
# --chmod: the dump holds password hashes.
rsync --times --chmod=F600 --timeout="$OFFSITE_TIMEOUT" -e "$(offsite_rsh)" -- "$offsite:$dir/$newest" "$incoming" \
  || unreachable "rsync of $dir/$newest from $offsite did not succeed"
sum="$(sha256sum -- "$incoming" | cut -d ' ' -f 1)" || fail "cannot read $incoming"
[[ "$sum" == "$remote_sum" ]] \
  || fail "the copy of $newest fetched here has sha256 $sum, not $remote_sum as on $offsite; removed here. Fetch it again."
ln -- "$incoming" "$target" || fail "$target appeared during the fetch; not overwriting it"
echo "off-site fetch: $newest verified here (sha256 $sum)"
echo "$target"

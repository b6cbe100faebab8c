#!/usr/bin/env bash
# Copy one backup off this server, to a second host over SSH: rsync into a temporary name
# there, its SHA-256 computed there and compared with this one, then renamed into place; then
# the retention policy applied to the backups there. backup.sh runs it after each backup when
# OFFSITE_HOST is set; run it by hand to copy a backup again after the host was down.
set -euo pipefail

usage() {
  cat <<'EOF_USAGE'
Usage: offsite-copy.sh [--help] FILE

Copies FILE (a clicknback-YYYYmmdd-HHMMSS.sql.gz backup) to $OFFSITE_DIR on $OFFSITE_HOST:
1. rsync over SSH into $OFFSITE_DIR/.incoming-<name> there (a name no restore picks up)
2. sha256sum of that file there, compared with FILE's here: a difference removes it there
   and fails
3. renamed to <name> there (never over an existing file: one with the same checksum means the
   backup is there already)
4. the retention policy applied there, as prune-backups.sh does here: only names of backups,
   each removal printed
The host key must be in $OFFSITE_KNOWN_HOSTS (it is always checked; an unknown or changed key
is refused), and the login is by the key $OFFSITE_IDENTITY only. FILE itself is never touched.
The host needs sshd, rsync, sha256sum and a POSIX shell.

Exit status: 0 copied and verified; 1 the host cannot be reached or refuses the login or the
host key, the copy or its checksum failed, or the retention there failed (FILE is kept); 2 a
usage error or a wrong setting.

Environment (defaults in brackets):
  OFFSITE_HOST         the off-site host (required)                    [unset]
  OFFSITE_USER         the user there                                  [clicknback]
  OFFSITE_PORT         its SSH port                                    [22]
  OFFSITE_DIR          the folder there (relative: to the user's home) [backups/clicknback]
  OFFSITE_IDENTITY     the private key that logs in                    [$HOME/.ssh/clicknback_offsite]
  OFFSITE_KNOWN_HOSTS  the host's pinned key, a known_hosts file       [$DEPLOY_DIR/offsite_known_hosts]
  OFFSITE_TIMEOUT      seconds to connect, and of silence in a copy    [15]
  DEPLOY_DIR           the deploy folder                               [/opt/clicknback]
  KEEP_DAILY, KEEP_WEEKLY, KEEP_MONTHLY: the retention there, as here [7, 4, 12]
EOF_USAGE
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  -*) echo "offsite-copy.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  "") usage >&2; exit 2 ;;
esac
[[ $# -eq 1 ]] || { echo "offsite-copy.sh: one backup at a time (see --help)" >&2; exit 2; }
file="$1"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"
name="$(basename -- "$file")"
[[ "$name" =~ $BACKUP_NAME_RE ]] || { echo "offsite-copy.sh: $file is not named like a backup (clicknback-YYYYmmdd-HHMMSS.sql.gz)" >&2; exit 2; }
[[ -f "$file" && -r "$file" ]] || { echo "offsite-copy.sh: $file is not a readable file" >&2; exit 2; }
retention_settings offsite-copy.sh
offsite_settings offsite-copy.sh
[[ -n "$OFFSITE_HOST" ]] || { echo "offsite-copy.sh: OFFSITE_HOST is not set: no host to copy to (see --help)" >&2; exit 2; }

fail() {
  echo "off-site copy failed: $*" >&2
  exit 1
}
unreachable() {
  fail "$1 ($offsite_where, ssh said above). Check that $OFFSITE_HOST is up and its sshd listens on port" \
    "$OFFSITE_PORT, that the public key of $OFFSITE_IDENTITY is in ~$OFFSITE_USER/.ssh/authorized_keys there," \
    "and that $OFFSITE_KNOWN_HOSTS holds its host key (docs/deployment-plan.md, \"Off-site copies\"). $file is kept here."
}

dir="$OFFSITE_DIR"
incoming="$dir/.incoming-$name"
sum="$(sha256sum -- "$file" | cut -d ' ' -f 1)" || fail "cannot read $file"
echo "off-site copy: $name to $offsite_where (sha256 $sum)"

# 1. The folder, and whether this backup is there already.
existing="$(offsite_ssh "mkdir -p -- $dir && if [ -e $dir/$name ]; then sha256sum -- $dir/$name; fi")" \
  || unreachable "cannot log in to $offsite or create $dir there"
if [[ -n "$existing" ]]; then
  [[ "${existing%% *}" == "$sum" ]] \
    || fail "$dir/$name on $offsite is another file (sha256 ${existing%% *}); not overwriting it. $file is kept here."
  echo "off-site copy: $name was there already, with the same checksum"
else
  # 2. rsync into the temporary name.
  rsync --times --chmod=F600 --timeout="$OFFSITE_TIMEOUT" -e "$(offsite_rsh)" -- "$file" "$offsite:$incoming" \
    || unreachable "rsync of $name to $offsite did not succeed"
  # 3. Its checksum there, computed there.
  remote_sum="$(offsite_ssh "sha256sum -- $incoming")" || unreachable "cannot checksum $incoming on $offsite"
  remote_sum="${remote_sum%% *}"
  if [[ "$remote_sum" != "$sum" ]]; then
    offsite_ssh "rm -f -- $incoming" || true
    fail "the copy on $offsite has sha256 $remote_sum, not $sum: removed there. Check the disk and the network of" \
      "$OFFSITE_HOST, and copy it again: scripts/offsite-copy.sh $file. $file is kept here."
  fi
  # 4. Into place: a hard link never replaces a file (a backup that appeared meanwhile stays).
  offsite_ssh "ln -- $incoming $dir/$name && rm -f -- $incoming" \
    || unreachable "the copy on $offsite is verified, but cannot be renamed to $dir/$name there"
  echo "off-site copy: $name verified on $offsite (sha256 $sum)"
fi

# 5. The retention policy there, on the names of backups only.
listing="$(offsite_ssh "cd $dir && for f in clicknback-*.sql.gz; do if [ -f \"\$f\" ]; then printf '%s\\n' \"\$f\"; fi; done")" \
  || unreachable "the copy is in place, but cannot list $dir on $offsite for the retention"
plan="$(retention_plan <<<"$listing")"
expired=()
while read -r action old _; do
  [[ "${action:-}" == remove ]] || continue
  # The names match BACKUP_NAME_RE: no character the remote shell would read.
  expired+=("$old")
done <<<"$plan"
if ((${#expired[@]})); then
  offsite_ssh "cd $dir && rm -f -- ${expired[*]}" \
    || unreachable "the copy is in place, but the old backups in $dir on $offsite cannot be removed"
  for old in "${expired[@]}"; do
    echo "removed off-site backup $offsite:$dir/$old (retention: $KEEP_DAILY daily, $KEEP_WEEKLY weekly, $KEEP_MONTHLY monthly)"
  done
fi
echo "off-site retention: $(grep -c '^keep ' <<<"$plan") backups kept, ${#expired[@]} removed on $offsite:$dir"

# shellcheck shell=bash
# What deploy.sh and rollback.sh share, sourced by them from their own folder (not run on its
# own): the one sha-<commit> argument, the image of that commit on this server, and the
# blue/green switch of Nginx from the app that serves to a new one. They define `usage` and
# `fail` (the message and exit 1) before they call these.

# The script's one argument, `sha-<commit>` or the bare commit (the full 40-character lower-case
# SHA), as the `sha-<commit>` tag in `tag`. `--help` prints the usage and exits 0; anything
# else exits 2, saying why (`script` names the script in the message).
# Usage: commit_tag <script> "$@"
commit_tag() {
  local script="$1"
  shift
  case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") usage >&2; exit 2 ;;
  esac
  [[ $# -eq 1 ]] || { echo "$script: one argument, the sha-<commit> tag (see --help)" >&2; exit 2; }
  tag="$1"
  [[ "$tag" =~ ^[0-9a-f]{40}$ ]] && tag="sha-$tag"
  if [[ ! "$tag" =~ ^sha-[0-9a-f]{40}$ ]]; then
    echo "$script: '$1' is not sha-<commit> with a full 40-character lower-case commit SHA" >&2
    exit 2
  fi
}

# The image on this server: the local copy when there is one (a sha- tag never changes, so it
# is the very image CD pushed; this works while the registry is down), else `docker pull`.
# Only "no such image" means pull: any other error (no engine answering, say) is reported as it
# is, not hidden behind a pull that fails for the same reason. `step` starts the progress line.
# Usage: fetch_image <step> <image>
fetch_image() {
  local step="$1" image="$2" inspect_error
  if inspect_error="$(docker image inspect "$image" 2>&1 >/dev/null)"; then
    echo "$step $image is on this server: using the local copy (not pulling)"
  elif [[ "${inspect_error,,}" == *"no such image"* ]]; then
    echo "$step $image is not on this server: pulling it"
    docker pull "$image" || fail "cannot pull $image (did CD build this commit? logged in to the registry?)"
  else
    fail "cannot look for $image on this server: $inspect_error"
  fi
}

# ------------------------------------------------------------------------------------------
# Backups: their names, the retention policy and the off-site settings, shared by backup.sh,
# prune-backups.sh, offsite-copy.sh, offsite-fetch.sh and restore-check.sh.

# The only file names the backup scripts write, select and ever remove:
# clicknback-YYYYmmdd-HHMMSS.sql.gz, the time in UTC (a regular expression, and a glob).
# shellcheck disable=SC2034 # used by the scripts that source this file
BACKUP_NAME_RE='^clicknback-([0-9]{4})([0-9]{2})([0-9]{2})-([0-9]{2})([0-9]{2})([0-9]{2})\.sql\.gz$'
# shellcheck disable=SC2034 # used by the scripts that source this file
BACKUP_NAME_GLOB='clicknback-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]-[0-9][0-9][0-9][0-9][0-9][0-9].sql.gz'

# The retention settings, checked: KEEP_DAILY, KEEP_WEEKLY, KEEP_MONTHLY (whole numbers, 7, 4
# and 12 by default, not all 0). RETENTION_DAYS (the age limit these replaced) is refused
# rather than ignored, so a server that set it is told instead of keeping backups otherwise.
# Exits 2, naming the fix, when a setting is wrong.
# Usage: retention_settings <script>
retention_settings() {
  local script="$1" var
  KEEP_DAILY="${KEEP_DAILY:-7}"
  KEEP_WEEKLY="${KEEP_WEEKLY:-4}"
  KEEP_MONTHLY="${KEEP_MONTHLY:-12}"
  if [[ -n "${RETENTION_DAYS:-}" ]]; then
    echo "$script: RETENTION_DAYS=$RETENTION_DAYS is no longer read: backups are kept by KEEP_DAILY, KEEP_WEEKLY and" \
      "KEEP_MONTHLY (7, 4 and 12 by default; see --help). Remove RETENTION_DAYS from the crontab or the" \
      "environment (KEEP_DAILY=$RETENTION_DAYS keeps the newest backup of each of the last $RETENTION_DAYS days" \
      "that have one). Nothing was done." >&2
    exit 2
  fi
  for var in KEEP_DAILY KEEP_WEEKLY KEEP_MONTHLY; do
    if [[ ! "${!var}" =~ ^(0|[1-9][0-9]{0,5})$ ]]; then
      echo "$script: $var must be a whole number (0 turns that rule off), not '${!var}'" >&2
      exit 2
    fi
  done
  if ((KEEP_DAILY + KEEP_WEEKLY + KEEP_MONTHLY == 0)); then
    echo "$script: KEEP_DAILY, KEEP_WEEKLY and KEEP_MONTHLY are all 0, which would keep no backup at all;" \
      "set at least one of them" >&2
    exit 2
  fi
}

# Days since 1970-01-01 of a date of the proleptic Gregorian calendar (y m d, no leading zeros
# needed; bash arithmetic only, no `date` per file). Sets `days`.
_days_from_civil() {
  local y=$1 m=$2 d=$3 era yoe doy doe
  ((y -= m <= 2 ? 1 : 0))
  ((era = y / 400, yoe = y - era * 400))
  ((doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1))
  ((doe = yoe * 365 + yoe / 4 - yoe / 100 + doy))
  ((days = era * 146097 + doe - 719468))
}

# The ISO 8601 week (Monday to Sunday) of a date, as YYYYWW with the ISO week-numbering year
# (what `date +%G%V` prints). Sets `isoweek`.
_iso_week() {
  local y=$1 m=$2 d=$3 date_days thursday year jan1 next_jan1 days
  _days_from_civil "$y" "$m" "$d"
  date_days=$days
  # Monday is 0: 1970-01-01 was a Thursday (3).
  ((thursday = date_days - (date_days + 3) % 7 + 3))
  year=$y
  _days_from_civil "$year" 1 1
  jan1=$days
  _days_from_civil $((year + 1)) 1 1
  next_jan1=$days
  if ((thursday < jan1)); then
    ((year -= 1))
    _days_from_civil "$year" 1 1
    jan1=$days
  elif ((thursday >= next_jan1)); then
    ((year += 1))
    jan1=$next_jan1
  fi
  printf -v isoweek '%04d%02d' "$year" $(((thursday - jan1) / 7 + 1))
}

# Whether y m d H M S (decimal, no leading zeros) is a real UTC time.
_valid_time() {
  local y=$1 m=$2 d=$3 h=$4 mi=$5 s=$6 dim
  ((m >= 1 && m <= 12 && d >= 1 && h <= 23 && mi <= 59 && s <= 59)) || return 1
  case $m in
    2) dim=$((y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) ? 29 : 28)) ;;
    4 | 6 | 9 | 11) dim=30 ;;
    *) dim=31 ;;
  esac
  ((d <= dim))
}

# The retention policy over backup names, the way restic's `forget --keep-daily N
# --keep-weekly N --keep-monthly N` decides (restic 0.17 and later, `ApplyPolicy`): the names
# are taken newest first, by the UTC time in the name; each rule with count left keeps a
# backup whose day (weekly: ISO week, Monday to Sunday; monthly: calendar month) differs from
# the one it kept last, so it keeps the newest backup of each of its last N periods that have a
# backup, and counts one down. A backup is kept when any rule keeps it (the rules are ORed: one
# backup can be a daily, a weekly and a monthly one at once). When a rule still has count left
# at the oldest backup, the oldest is kept too. Reads names on stdin (other lines are left out,
# and a name whose time is not a real one is reported on stderr and never selected); prints
# `keep <name> <reasons>` or `remove <name>` for each backup, newest first. Uses KEEP_DAILY,
# KEEP_WEEKLY and KEEP_MONTHLY (see retention_settings).
# Usage: retention_plan <names
retention_plan() {
  local line y m d h mi s i n reasons isoweek
  local -a names=() keys_day=() keys_week=() keys_month=()
  local -a count=("$KEEP_DAILY" "$KEEP_WEEKLY" "$KEEP_MONTHLY") last=("" "" "") label=(daily weekly monthly)
  while IFS= read -r line; do
    [[ "$line" =~ $BACKUP_NAME_RE ]] || continue
    y=$((10#${BASH_REMATCH[1]})) m=$((10#${BASH_REMATCH[2]})) d=$((10#${BASH_REMATCH[3]}))
    h=$((10#${BASH_REMATCH[4]})) mi=$((10#${BASH_REMATCH[5]})) s=$((10#${BASH_REMATCH[6]}))
    if ! _valid_time "$y" "$m" "$d" "$h" "$mi" "$s"; then
      echo "warning: $line does not name a real UTC time; left alone" >&2
      continue
    fi
    names+=("$line")
  done
  # Newest first: the names carry the time, so they sort by it.
  mapfile -t names < <(((${#names[@]})) && printf '%s\n' "${names[@]}" | LC_ALL=C sort -r -u)
  n=${#names[@]}
  for ((i = 0; i < n; i++)); do
    [[ "${names[i]}" =~ $BACKUP_NAME_RE ]]
    _iso_week "$((10#${BASH_REMATCH[1]}))" "$((10#${BASH_REMATCH[2]}))" "$((10#${BASH_REMATCH[3]}))"
    keys_day[i]="${BASH_REMATCH[1]}${BASH_REMATCH[2]}${BASH_REMATCH[3]}"
    keys_week[i]="$isoweek"
    keys_month[i]="${BASH_REMATCH[1]}${BASH_REMATCH[2]}"
  done
  for ((i = 0; i < n; i++)); do
    reasons=""
    local -a key=("${keys_day[i]}" "${keys_week[i]}" "${keys_month[i]}")
    local r
    for r in 0 1 2; do
      ((count[r] > 0)) || continue
      if [[ "${key[r]}" != "${last[r]}" ]] || ((i == n - 1)); then
        last[r]="${key[r]}"
        ((count[r] -= 1))
        reasons+="${reasons:+,}${label[r]}"
      fi
    done
    if [[ -n "$reasons" ]]; then
      echo "keep ${names[i]} $reasons"
    else
      echo "remove ${names[i]}"
    fi
  done
}

# The off-site settings (see backup.sh --help), checked when OFFSITE_HOST is set. Sets
# `offsite` to user@host, `offsite_where` to user@host:port:dir (for messages) and the array
# `ssh_opts` (host keys always checked against OFFSITE_KNOWN_HOSTS alone, key login only, no
# prompt). Exits 2, naming the fix, when a setting is wrong.
# Usage: offsite_settings <script>
offsite_settings() {
  local script="$1"
  OFFSITE_HOST="${OFFSITE_HOST:-}"
  OFFSITE_USER="${OFFSITE_USER:-clicknback}"
  OFFSITE_PORT="${OFFSITE_PORT:-22}"
  OFFSITE_DIR="${OFFSITE_DIR:-backups/clicknback}"
  OFFSITE_IDENTITY="${OFFSITE_IDENTITY:-$HOME/.ssh/clicknback_offsite}"
  OFFSITE_KNOWN_HOSTS="${OFFSITE_KNOWN_HOSTS:-${DEPLOY_DIR:-/opt/clicknback}/offsite_known_hosts}"
  OFFSITE_TIMEOUT="${OFFSITE_TIMEOUT:-15}"
  [[ -n "$OFFSITE_HOST" ]] || return 0
  # The first wrong setting, named (exit 2).
  bad() {
    echo "$script: $*" >&2
    exit 2
  }
  [[ "$OFFSITE_HOST" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] \
    || bad "OFFSITE_HOST must be a host name or address, not '$OFFSITE_HOST'"
  [[ "$OFFSITE_USER" =~ ^[a-z_][a-z0-9_-]*$ ]] || bad "OFFSITE_USER must be a user name, not '$OFFSITE_USER'"
  if [[ ! "$OFFSITE_PORT" =~ ^[1-9][0-9]{0,4}$ ]] || ((OFFSITE_PORT > 65535)); then
    bad "OFFSITE_PORT must be a port number, not '$OFFSITE_PORT'"
  fi
  [[ "$OFFSITE_TIMEOUT" =~ ^[1-9][0-9]{0,3}$ ]] || bad "OFFSITE_TIMEOUT must be whole seconds, not '$OFFSITE_TIMEOUT'"
  # Sent to the remote shell inside commands: letters, digits and . _ - / only, so it needs no
  # quoting there. Relative to the remote user's home unless it starts with /.
  [[ "$OFFSITE_DIR" =~ ^[A-Za-z0-9._/-]+$ && "$OFFSITE_DIR" != -* ]] \
    || bad "OFFSITE_DIR must be a path of letters, digits and . _ - / only, not '$OFFSITE_DIR'"
  # rsync -e takes the ssh command as one string, each option single-quoted in it.
  [[ "$OFFSITE_IDENTITY$OFFSITE_KNOWN_HOSTS" != *"'"* ]] \
    || bad "OFFSITE_IDENTITY and OFFSITE_KNOWN_HOSTS cannot hold a quote (')"
  [[ -f "$OFFSITE_IDENTITY" && -r "$OFFSITE_IDENTITY" ]] \
    || bad "OFFSITE_IDENTITY=$OFFSITE_IDENTITY is not a readable private key (ssh-keygen -t ed25519 -f $OFFSITE_IDENTITY)"
  [[ -f "$OFFSITE_KNOWN_HOSTS" && -r "$OFFSITE_KNOWN_HOSTS" ]] \
    || bad "OFFSITE_KNOWN_HOSTS=$OFFSITE_KNOWN_HOSTS is not a readable known_hosts file holding the host's key" \
      "(docs/deployment-plan.md, \"Off-site copies\")"
  offsite="$OFFSITE_USER@$OFFSITE_HOST"
  # shellcheck disable=SC2034 # used by the scripts that source this file
  offsite_where="$offsite:$OFFSITE_PORT:$OFFSITE_DIR"
  # Never StrictHostKeyChecking=no: an unknown or changed host key is refused. -F /dev/null:
  # no ssh_config of the user's or the system's changes these.
  ssh_opts=(-F /dev/null -p "$OFFSITE_PORT" -i "$OFFSITE_IDENTITY" -o IdentitiesOnly=yes -o BatchMode=yes
    -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$OFFSITE_KNOWN_HOSTS" -o GlobalKnownHostsFile=/dev/null
    -o "ConnectTimeout=$OFFSITE_TIMEOUT" -o ServerAliveInterval=15 -o ServerAliveCountMax=4 -o LogLevel=ERROR)
}

# A command on the off-site host (offsite_settings first), run by its shell: what the callers
# put in it is checked to need no quoting there. Usage: offsite_ssh <command>
offsite_ssh() {
  # shellcheck disable=SC2029 # expanded here on purpose
  ssh "${ssh_opts[@]}" "$offsite" "$1"
}

# The ssh command for rsync's -e, which takes one string: each of `ssh_opts` single-quoted
# (offsite_settings refuses paths with a quote). Usage: rsync -e "$(offsite_rsh)" …
offsite_rsh() {
  local opt rsh="ssh"
  for opt in "${ssh_opts[@]}"; do
    rsh+=" '$opt'"
  done
  printf '%s' "$rsh"
}

# ---------------------------------------------------------------------------------------------
# Blue/green: the compose services `app` and `app-green` are two copies of the app, each on a
# loopback port of its own. Nginx proxies to the one that the upstream file names; a deploy or
# a rollback starts the new image in the other, switches Nginx to it once it is ready, then
# stops the old copy, so no request meets a stopped app. They define `compose` (with the green
# profile) before they call these.

# The settings, checked (exit 2, naming the fix), and the copy that serves now (`live`) and the
# other (`idle`), as the upstream file names them.
# Usage: blue_green_settings <script>
blue_green_settings() {
  local script="$1"
  NGINX_UPSTREAM="${NGINX_UPSTREAM:-$DEPLOY_DIR/nginx/clicknback-upstream.conf}"
  NGINX_TEST="${NGINX_TEST:-sudo -n /usr/sbin/nginx -t}"
  NGINX_RELOAD="${NGINX_RELOAD:-sudo -n /usr/bin/systemctl reload nginx}"
  DRAIN_SECONDS="${DRAIN_SECONDS:-10}"
  [[ "$DRAIN_SECONDS" =~ ^[0-9]+$ ]] || { echo "$script: DRAIN_SECONDS must be whole seconds, not '$DRAIN_SECONDS'" >&2; exit 2; }
  read -r -a nginx_test <<<"$NGINX_TEST"
  read -r -a nginx_reload <<<"$NGINX_RELOAD"
  [[ ${#nginx_test[@]} -gt 0 && ${#nginx_reload[@]} -gt 0 ]] \
    || { echo "$script: NGINX_TEST and NGINX_RELOAD must be commands (see --help)" >&2; exit 2; }
  if [[ ! -r "$NGINX_UPSTREAM" ]]; then
    echo "$script: the Nginx upstream file $NGINX_UPSTREAM cannot be read: install" \
      "deploy/nginx/clicknback-upstream.conf there (docs/deployment-plan.md, \"Nginx and TLS\")" >&2
    exit 2
  fi
  live="$(sed -n 's/^# service: *\([a-z-]*\) *$/\1/p' "$NGINX_UPSTREAM" | head -n 1)"
  case "$live" in
    app) idle=app-green ;;
    app-green) idle=app ;;
    *)
      echo "$script: $NGINX_UPSTREAM does not say which app serves (a line '# service: app' or" \
        "'# service: app-green'): install deploy/nginx/clicknback-upstream.conf there" >&2
      exit 2
      ;;
  esac
}

# Starts `image` as the idle copy, beside the live one, and waits until it is healthy and its
# readiness probe passes (at most `timeout` seconds). A copy left over in the idle service (one
# that Nginx does not send requests to) is replaced. Status 1 when it is not ready.
# Usage: start_idle <image> <timeout>
start_idle() {
  local image="$1" timeout="$2"
  compose rm --stop --force "$idle" >/dev/null 2>&1 || true
  APP_IMAGE="$image" compose up -d --no-deps --no-build --wait --wait-timeout "$timeout" "$idle" \
    && compose exec -T "$idle" app healthcheck
}

# The idle copy that did not become ready: its last log lines, then it is removed. Nginx never
# sent it a request.
remove_idle() {
  echo "the new app ($idle) is not healthy; its last log lines:" >&2
  compose logs --tail 20 "$idle" >&2 || true
  compose rm --stop --force "$idle" >/dev/null || echo "warning: could not remove the $idle container" >&2
}

# Writes `text` to the upstream file atomically (a temporary file beside it, renamed over it).
write_upstream() {
  local text="$1" tmp
  tmp="$(mktemp "$NGINX_UPSTREAM.XXXXXX")" || return 1
  if printf '%s\n' "$text" >"$tmp" && chmod 644 "$tmp" && mv -f "$tmp" "$NGINX_UPSTREAM"; then
    return 0
  fi
  rm -f "$tmp"
  return 1
}

# Points Nginx at the idle copy: the upstream file rewritten, `nginx -t`, then the reload (never
# a restart: Nginx finishes the requests it holds). When the test or the reload fails, the
# file is put back as it was and the status is 1: Nginx goes on sending requests to the live copy.
# Usage: switch_nginx <script>
switch_nginx() {
  local script="$1" addr old
  addr="$(compose port "$idle" 8000)" || return 1
  if [[ ! "$addr" =~ ^127\.0\.0\.1:[0-9]+$ ]]; then
    echo "the $idle container is published on '$addr', not on the loopback" >&2
    return 1
  fi
  old="$(cat "$NGINX_UPSTREAM")" || return 1
  write_upstream "# Written by scripts/$script: the copy of the app that Nginx sends ClickNBack's requests to
# (deploy/nginx/clicknback-upstream.conf, the file as first installed, says more).
# service: $idle
upstream clicknback_app {
    server $addr;
}" || { echo "cannot write $NGINX_UPSTREAM" >&2; return 1; }
  if ! "${nginx_test[@]}"; then
    echo "$NGINX_TEST failed with $idle's upstream: the upstream file is put back" >&2
    write_upstream "$old" || echo "warning: could not put back $NGINX_UPSTREAM: see it before Nginx's next reload" >&2
    return 1
  fi
  if ! "${nginx_reload[@]}"; then
    echo "$NGINX_RELOAD failed: the upstream file is put back" >&2
    write_upstream "$old" || echo "warning: could not put back $NGINX_UPSTREAM: see it before Nginx's next reload" >&2
    return 1
  fi
  echo "Nginx sends requests to $idle ($addr)"
}

# The copy that served until the switch: DRAIN_SECONDS for the requests Nginx's old workers
# still hold, then stopped (SIGTERM: the app finishes its requests in flight, within its
# stop_grace_period) and removed. Nothing to do when it was not running.
drain_live() {
  [[ -n "$(compose ps -q "$live" 2>/dev/null || true)" ]] || return 0
  echo "draining $live for ${DRAIN_SECONDS} s, then stopping it"
  sleep "$DRAIN_SECONDS"
  if compose stop "$live" && compose rm --force "$live" >/dev/null; then
    return 0
  fi
  echo "warning: could not stop and remove the $live container; Nginx no longer sends it requests" >&2
}

# Nginx switched to the idle copy (switch_nginx), then the live one drained (drain_live). When
# the switch fails, the idle copy is removed and the script fails (its `fail`): Nginx still
# sends every request to the live copy. Uses `image`, `idle` and `live`.
# Usage: switch_then_drain <script>
switch_then_drain() {
  if ! switch_nginx "$1"; then
    compose rm --stop --force "$idle" >/dev/null || echo "warning: could not remove the $idle container" >&2
    fail "Nginx could not be switched to $image; the new app was removed, and Nginx still sends every request to $live"
  fi
  drain_live
}

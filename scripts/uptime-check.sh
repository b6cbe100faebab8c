#!/usr/bin/env bash
# Uptime check for ClickNBack without a SaaS: probes the public readiness URL, with a timeout
# and a retry, and posts to a webhook once when the app goes down and once when it is back.
# Runs from cron on a second host (deploy/uptime.crontab) or from a scheduled workflow
# (.github/workflows/uptime.yml); needs bash and curl only. Self-contained: copy it alone.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: uptime-check.sh [--help]

Probes $UPTIME_URL (GET, redirects followed) and expects 200. A probe that fails (another
status, a timeout, no connection) is tried again after $UPTIME_RETRY_DELAY seconds, up to
$UPTIME_ATTEMPTS probes in all; then the app is down. The state file remembers what the
last run saw, so the webhook gets one message when the app goes down and one when it is
back, not one a run.

Exit status: 0 up; 1 down (the alert was sent now or by an earlier run); 2 a usage, tool or
webhook error (an alert or recovery that could not be sent is tried again by the next run).

Environment (defaults in brackets):
  UPTIME_URL          what to probe, through the public address
                      [https://clicknback.com/health/ready]
  UPTIME_WEBHOOK_URL  where to post the alerts (required; a secret: never printed, and passed
                      to curl on its standard input, not its command line). The body is JSON:
                      {"text": …, "status": "down" | "up", "url": …}; "text" is what Slack's,
                      Mattermost's and Rocket.Chat's incoming webhooks show.
  UPTIME_STATE_FILE   the last run's verdict  [${XDG_STATE_HOME:-$HOME/.local/state}/clicknback-uptime.state]
  UPTIME_TIMEOUT      seconds for one probe, and for the webhook  [10]
  UPTIME_ATTEMPTS     probes before the app is down  [2]
  UPTIME_RETRY_DELAY  seconds between two probes  [5]
EOF
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) echo "uptime-check.sh: unexpected argument '$1' (see --help)" >&2; exit 2 ;;
esac

URL="${UPTIME_URL:-https://clicknback.com/health/ready}"
STATE_FILE="${UPTIME_STATE_FILE:-${XDG_STATE_HOME:-${HOME:-/nonexistent}/.local/state}/clicknback-uptime.state}"
TIMEOUT="${UPTIME_TIMEOUT:-10}"
ATTEMPTS="${UPTIME_ATTEMPTS:-2}"
RETRY_DELAY="${UPTIME_RETRY_DELAY:-5}"

usage_error() {
  echo "uptime-check.sh: $*" >&2
  exit 2
}

command -v curl >/dev/null 2>&1 || usage_error "curl is needed (apt-get install curl)"
[[ -n "${UPTIME_WEBHOOK_URL:-}" ]] || usage_error "UPTIME_WEBHOOK_URL is not set: the webhook the alerts go to (see --help)"
# curl reads the webhook from a config line on stdin (`url = "…"`), where quotes and
# backslashes would change its meaning; a URL needs neither.
[[ "$UPTIME_WEBHOOK_URL" =~ ^https?://[^[:space:][:cntrl:]\"\\]+$ ]] \
  || usage_error "UPTIME_WEBHOOK_URL is not an http(s) URL without spaces, quotes or backslashes (its value is not shown)"
[[ "$URL" =~ ^https?://[^[:space:][:cntrl:]]+$ ]] || usage_error "UPTIME_URL is not an http(s) URL: '$URL'"
[[ "$TIMEOUT" =~ ^[1-9][0-9]*$ ]] || usage_error "UPTIME_TIMEOUT must be a whole number of seconds, 1 or more, not '$TIMEOUT'"
[[ "$ATTEMPTS" =~ ^[1-9][0-9]*$ ]] || usage_error "UPTIME_ATTEMPTS must be a whole number, 1 or more, not '$ATTEMPTS'"
[[ "$RETRY_DELAY" =~ ^[0-9]+$ ]] || usage_error "UPTIME_RETRY_DELAY must be a whole number of seconds, not '$RETRY_DELAY'"

# The last run's verdict: `up`, or `down <epoch seconds> <UTC time>` (since when). No file: up.
previous="up"
since_epoch=""
since=""
if [[ -e "$STATE_FILE" ]]; then
  line="$(head -n 1 -- "$STATE_FILE" 2>/dev/null)" || usage_error "cannot read the state file $STATE_FILE"
  if [[ "$line" == "up" ]]; then
    previous="up"
  elif [[ "$line" =~ ^down\ ([0-9]+)\ ([0-9TZ:-]+)$ ]]; then
    previous="down"
    since_epoch="${BASH_REMATCH[1]}"
    since="${BASH_REMATCH[2]}"
  else
    usage_error "the state file $STATE_FILE does not hold this script's state ('up' or 'down <epoch> <time>'); remove it to start afresh"
  fi
fi

# Writes the state file atomically (a temporary file in its folder, renamed over it).
save_state() {
  local dir tmp
  dir="$(dirname -- "$STATE_FILE")"
  mkdir -p -- "$dir" || usage_error "cannot create $dir for the state file"
  tmp="$(mktemp "$dir/.clicknback-uptime.XXXXXX")" || usage_error "cannot write to $dir"
  if ! printf '%s\n' "$1" >"$tmp" || ! mv -f -- "$tmp" "$STATE_FILE"; then
    rm -f -- "$tmp"
    usage_error "cannot write the state file $STATE_FILE"
  fi
}

json_string() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  s="${s//$'\n'/\\n}"
  s="${s//$'\t'/\\t}"
  s="$(printf '%s' "$s" | tr -d '\000-\037')"
  printf '"%s"' "$s"
}

# Posts {"text", "status", "url"} to the webhook; the URL goes to curl as a config line on its
# standard input. On failure: the reason on stderr, the webhook's URL never in it, exit 2.
notify() {
  local status="$1" text="$2" body err
  body="{\"text\":$(json_string "$text"),\"status\":$(json_string "$status"),\"url\":$(json_string "$URL")}"
  if ! err="$(printf 'url = "%s"\n' "$UPTIME_WEBHOOK_URL" \
    | curl -sS --fail --max-time "$TIMEOUT" --config - -o /dev/null \
      -H 'Content-Type: application/json' --data-binary "$body" 2>&1)"; then
    err="${err//"$UPTIME_WEBHOOK_URL"/<UPTIME_WEBHOOK_URL>}"
    echo "uptime-check.sh: the $status message was not sent: the webhook (UPTIME_WEBHOOK_URL) failed: ${err:-no reason given}" >&2
    echo "uptime-check.sh: the state is unchanged, so the next run tries again" >&2
    exit 2
  fi
}

# One probe: sets `outcome` to `HTTP <code>` or curl's error; true when it answered 200.
probe() {
  local code err_file
  err_file="$(mktemp)" || usage_error "cannot create a temporary file"
  code="$(curl -sS -L --max-redirs 3 -o /dev/null -w '%{http_code}' --max-time "$TIMEOUT" -- "$URL" 2>"$err_file")" || true
  if [[ "$code" =~ ^[1-9][0-9][0-9]$ ]]; then
    outcome="HTTP $code"
  else
    outcome="$(head -n 1 -- "$err_file")"
    outcome="${outcome:-no answer}"
  fi
  rm -f -- "$err_file"
  [[ "$code" == "200" ]]
}

host="${HOSTNAME:-$(uname -n)}"
up=""
outcome=""
for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
  if probe; then
    up=1
    break
  fi
  echo "$(date -u +%FT%TZ) probe $attempt of $ATTEMPTS: $URL: $outcome"
  if ((attempt < ATTEMPTS)); then
    sleep "$RETRY_DELAY"
  fi
done
now_epoch="$(date -u +%s)"
now="$(date -u -d "@$now_epoch" +%FT%TZ)"

if [[ -n "$up" ]]; then
  if [[ "$previous" == "down" ]]; then
    seconds=$((now_epoch - since_epoch))
    if ((seconds < 120)); then down_for="$seconds s"; else down_for="$((seconds / 60)) min"; fi
    notify up "ClickNBack is UP again: $URL answered 200 at $now, after $down_for down (since $since). Checked from $host."
    save_state "up"
    echo "$now up: $URL answered 200; back after $down_for down (recovery message sent)"
  else
    [[ -e "$STATE_FILE" ]] || save_state "up"
    echo "$now up: $URL answered 200"
  fi
  exit 0
fi

if [[ "$previous" == "up" ]]; then
  apart=""
  ((ATTEMPTS > 1)) && apart=", $RETRY_DELAY s apart"
  notify down "ClickNBack is DOWN: $URL failed $ATTEMPTS probe(s)$apart, each within $TIMEOUT s; the last: $outcome. At $now, checked from $host."
  save_state "down $now_epoch $now"
  echo "$now down: $URL: $outcome (alert sent)"
else
  echo "$now down: $URL: $outcome (still down since $since; alerted then)"
fi
exit 1

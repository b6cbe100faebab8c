#!/usr/bin/env bash
# Deploy the image of one commit without dropping a request: the new app starts beside the
# running one, Nginx is switched to it once it is ready, and the old one is drained and stopped.
# A new app that does not become ready is removed, and Nginx never leaves the old one. Runs on
# the server: CD calls it over SSH after pushing the image, and a person can run it by hand (or
# through the CD workflow's "Run workflow" button) for any commit CD built.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: deploy.sh sha-<commit>     (the full 40-character commit SHA; `sha-` may be left out)

1. backup.sh: the database as it is, before the new migrations
2. $IMAGE:sha-<commit>: the copy on this server if there is one, else docker pull
3. docker compose run --rm migrate with it: a failing migration stops here, the running
   app untouched
4. the new app started beside the running one, in whichever of the compose services app and
   app-green does not serve (the upstream file, $NGINX_UPSTREAM, names the one that does),
   and its readiness probe, at most $DEPLOY_TIMEOUT seconds. When it does not become ready
   it is removed and the deploy fails: Nginx never sent it a request
5. Nginx switched to it: the upstream file rewritten atomically, $NGINX_TEST, then
   $NGINX_RELOAD (a failed test or reload puts the file back, removes the new app and fails
   the deploy); then the old app gets $DRAIN_SECONDS seconds for the requests Nginx sent it,
   is stopped (SIGTERM: it finishes the requests in flight) and removed
6. $IMAGE:latest names the new image (the server's .env runs latest), and the sha- images
   beyond the newest $KEEP_IMAGES are removed (never the running one)

Exit status: 0 deployed; 1 not deployed (Nginx left on the app that ran before; the output
says why); 2 a usage or settings error.

Environment (defaults in brackets):
  IMAGE           the image repository                 [ghcr.io/jerosanchez/clicknback]
  DEPLOY_DIR      the deploy folder                    [/opt/clicknback]
  COMPOSE_FILE    the stack's compose file             [$DEPLOY_DIR/docker-compose.yml]
  DEPLOY_TIMEOUT  seconds the new app gets to be ready [120]
  KEEP_IMAGES     sha- images kept after a deploy      [5]
  NGINX_UPSTREAM  the upstream file Nginx includes     [$DEPLOY_DIR/nginx/clicknback-upstream.conf]
  NGINX_TEST      tests Nginx's configuration          [sudo -n /usr/sbin/nginx -t]
  NGINX_RELOAD    reloads Nginx (never a restart)      [sudo -n /usr/bin/systemctl reload nginx]
  DRAIN_SECONDS   the old app's time for the requests Nginx sent it [10]
  BACKUP_DIR, DB_USER, DB_NAME, KEEP_DAILY, KEEP_WEEKLY, KEEP_MONTHLY, OFFSITE_*: as for
  backup.sh
NGINX_TEST and NGINX_RELOAD are split at spaces into a command and its arguments.
EOF
}

IMAGE="${IMAGE:-ghcr.io/jerosanchez/clicknback}"
DEPLOY_DIR="${DEPLOY_DIR:-/opt/clicknback}"
COMPOSE_FILE="${COMPOSE_FILE:-$DEPLOY_DIR/docker-compose.yml}"
DEPLOY_TIMEOUT="${DEPLOY_TIMEOUT:-120}"
KEEP_IMAGES="${KEEP_IMAGES:-5}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

fail() {
  echo "deploy failed: $*" >&2
  exit 1
}

commit_tag deploy.sh "$@"
[[ "$DEPLOY_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || { echo "deploy.sh: DEPLOY_TIMEOUT must be whole seconds, not '$DEPLOY_TIMEOUT'" >&2; exit 2; }
[[ "$KEEP_IMAGES" =~ ^[1-9][0-9]*$ ]] || { echo "deploy.sh: KEEP_IMAGES must be 1 or more, not '$KEEP_IMAGES'" >&2; exit 2; }
blue_green_settings deploy.sh
image="$IMAGE:$tag"
# The green profile: the scripts name app-green, which `docker compose up` alone never starts.
compose() { docker compose -f "$COMPOSE_FILE" --profile green "$@"; }
started="$(date +%s)"

echo "1/6 backup"
bash "$here/backup.sh" || fail "the backup did not succeed; nothing was changed"

fetch_image 2/6 "$image"

echo "3/6 migrations of $image"
APP_IMAGE="$image" compose run --rm migrate || fail "the migrations of $image did not succeed; the running app was not touched"

# What runs now, kept under a tag of its own: `latest` moves on a healthy deploy.
running="$(compose ps -q "$live" 2>/dev/null || true)"
previous=""
if [[ -n "$running" ]]; then
  previous_id="$(docker inspect --format '{{.Image}}' "$running")" || fail "cannot read the running app's image"
  previous="$IMAGE:previous"
  docker tag "$previous_id" "$previous" || fail "cannot tag the running image as $previous"
fi

echo "4/6 starting $image as $idle, beside $live (ready within ${DEPLOY_TIMEOUT} s)"
if ! start_idle "$image" "$DEPLOY_TIMEOUT"; then
  remove_idle
  [[ -n "$previous" ]] || fail "$image did not become ready within ${DEPLOY_TIMEOUT} s, and no app ran before it"
  fail "$image did not become ready within ${DEPLOY_TIMEOUT} s; rolled back: it was removed, and Nginx still" \
    "sends every request to $live, which runs the image that ran before ($previous)"
fi

echo "5/6 switching Nginx from $live to $idle"
switch_then_drain deploy.sh

echo "6/6 $image is $IMAGE:latest; keeping the newest $KEEP_IMAGES sha- images"
docker tag "$image" "$IMAGE:latest" || fail "deployed, but cannot tag $image as $IMAGE:latest"
in_use="$(docker inspect --format '{{.Image}}' "$(compose ps -q "$idle")")"
# Newest first; `|| true`: no sha- image beyond the newest is not an error.
old_images="$(docker image ls "$IMAGE" --format '{{.CreatedAt}}|{{.Tag}}|{{.ID}}' | { grep '|sha-' || true; } \
  | sort -r | tail -n "+$((KEEP_IMAGES + 1))")"
while IFS='|' read -r _ old_tag old_id; do
  [[ -n "$old_tag" && "$in_use" != *"$old_id"* ]] || continue
  if docker image rm "$IMAGE:$old_tag" >/dev/null; then
    echo "removed $IMAGE:$old_tag"
  else
    echo "warning: could not remove $IMAGE:$old_tag" >&2
  fi
done <<<"$old_images"
echo "deployed $image as $idle in $(($(date +%s) - started)) s"

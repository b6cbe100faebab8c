#!/usr/bin/env bash
# Deploy the image of one commit, and roll back by itself when the new app does not become
# healthy. Runs on the server: CD calls it over SSH after pushing the image, and a person can
# run it by hand (or through the CD workflow's "Run workflow" button) for any commit CD built.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: deploy.sh sha-<commit>     (the full 40-character commit SHA; `sha-` may be left out)

1. backup.sh: the database as it is, before the new migrations
2. $IMAGE:sha-<commit>: the copy on this server if there is one, else docker pull
3. docker compose run --rm migrate with it: a failing migration stops here, the running
   app untouched
4. the app switched to it (docker compose up --wait, at most $DEPLOY_TIMEOUT seconds), then
   its readiness probe. When it does not become healthy in time, the app is switched back
   to the image that was running before (kept as $IMAGE:previous), and the deploy fails
5. $IMAGE:latest names the new image (the server's .env runs latest), and the sha- images
   beyond the newest $KEEP_IMAGES are removed (never the running one)

Exit status: 0 deployed; 1 not deployed (the app left on, or put back on, its previous
image; the output says which); 2 a usage error.

Environment (defaults in brackets):
  IMAGE           the image repository                 [ghcr.io/jerosanchez/clicknback]
  DEPLOY_DIR      the deploy folder                    [/opt/clicknback]
  COMPOSE_FILE    the stack's compose file             [$DEPLOY_DIR/docker-compose.yml]
  DEPLOY_TIMEOUT  seconds the new app gets to be healthy [120]
  KEEP_IMAGES     sha- images kept after a deploy      [5]
  BACKUP_DIR, DB_USER, DB_NAME, KEEP_DAILY, KEEP_WEEKLY, KEEP_MONTHLY, OFFSITE_*: as for
  backup.sh
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
image="$IMAGE:$tag"
compose() { docker compose -f "$COMPOSE_FILE" "$@"; }

echo "1/5 backup"
bash "$here/backup.sh" || fail "the backup did not succeed; nothing was changed"

fetch_image 2/5 "$image"

echo "3/5 migrations of $image"
APP_IMAGE="$image" compose run --rm migrate || fail "the migrations of $image did not succeed; the running app was not touched"

# What runs now, kept under a tag of its own: `latest` moves on a healthy deploy.
running="$(compose ps -q app 2>/dev/null || true)"
previous=""
if [[ -n "$running" ]]; then
  previous_id="$(docker inspect --format '{{.Image}}' "$running")" || fail "cannot read the running app's image"
  previous="$IMAGE:previous"
  docker tag "$previous_id" "$previous" || fail "cannot tag the running image as $previous"
fi

echo "4/5 switching the app to $image (healthy within ${DEPLOY_TIMEOUT} s)"
if APP_IMAGE="$image" compose up -d --no-build --remove-orphans --wait --wait-timeout "$DEPLOY_TIMEOUT" \
  && compose exec -T app app healthcheck; then
  healthy=1
fi
if [[ -z "${healthy:-}" ]]; then
  echo "the new app is not healthy; its last log lines:" >&2
  compose logs --tail 20 app >&2 || true
  [[ -n "$previous" ]] || fail "$image did not become healthy, and no app ran before it to go back to"
  echo "rolling back to the image that ran before ($previous)" >&2
  docker tag "$previous" "$IMAGE:latest" || true
  if APP_IMAGE="$previous" compose up -d --no-build --remove-orphans --wait --wait-timeout "$DEPLOY_TIMEOUT"; then
    fail "$image did not become healthy within ${DEPLOY_TIMEOUT} s; rolled back: the app runs the image that ran before"
  fi
  fail "$image did not become healthy, and the rollback to $previous did not become healthy either: see docker compose -f $COMPOSE_FILE ps"
fi

echo "5/5 $image is $IMAGE:latest; keeping the newest $KEEP_IMAGES sha- images"
docker tag "$image" "$IMAGE:latest" || fail "deployed, but cannot tag $image as $IMAGE:latest"
in_use="$(docker inspect --format '{{.Image}}' "$(compose ps -q app)")"
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
echo "deployed $image"

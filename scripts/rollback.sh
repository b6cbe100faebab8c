#!/usr/bin/env bash
# Roll the server back to the image of an earlier commit (every deploy pushes sha-<commit>),
# the way deploy.sh deploys: the old image starts beside the running app, and Nginx is switched
# to it once it is ready, so no request is dropped. Checks first that the image's migrations
# accept the current schema, so a rollback that needs the old schema stops before the running
# app is touched. Runs on the server.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: rollback.sh sha-<commit>     (the full 40-character commit SHA; `sha-` may be left out)

1. $IMAGE:sha-<commit>: the copy on this server if there is one (a sha- tag never changes),
   else docker pull
2. docker compose run --rm migrate with that image: its migrations must accept the schema
3. that image started beside the running app, as deploy.sh does: in whichever of the compose
   services app and app-green does not serve ($NGINX_UPSTREAM names the one that does), and
   its readiness probe, at most $DEPLOY_TIMEOUT seconds; when it does not become ready it is
   removed, and Nginx never leaves the running app
4. Nginx switched to it (the upstream file rewritten atomically, $NGINX_TEST, $NGINX_RELOAD),
   then the app it replaces drained for $DRAIN_SECONDS seconds, stopped and removed
5. docker tag it as $IMAGE:latest, so restarts and the nightly reset keep using it

The commits deployed are in the CD workflow's run history on GitHub, and on the server in
`docker images $IMAGE`. The next deploy replaces the rolled-back image.

Exit status: 0 rolled back; 1 not rolled back (Nginx left on the running app; the output says
why); 2 a usage or settings error.

Environment (defaults in brackets):
  IMAGE         the image repository               [ghcr.io/jerosanchez/clicknback]
  DEPLOY_DIR    the deploy folder                  [/opt/clicknback]
  COMPOSE_FILE  the stack's compose file           [$DEPLOY_DIR/docker-compose.yml]
  BACKUP_DIR    where backup.sh writes             [$DEPLOY_DIR/backups]
  DEPLOY_TIMEOUT, NGINX_UPSTREAM, NGINX_TEST, NGINX_RELOAD, DRAIN_SECONDS: as for deploy.sh
  DB_USER, DB_NAME: as for backup.sh
EOF
}

IMAGE="${IMAGE:-ghcr.io/jerosanchez/clicknback}"
DEPLOY_DIR="${DEPLOY_DIR:-/opt/clicknback}"
COMPOSE_FILE="${COMPOSE_FILE:-$DEPLOY_DIR/docker-compose.yml}"
BACKUP_DIR="${BACKUP_DIR:-$DEPLOY_DIR/backups}"
DEPLOY_TIMEOUT="${DEPLOY_TIMEOUT:-120}"
DB_USER="${DB_USER:-${POSTGRES_USER:-clicknback}}"
DB_NAME="${DB_NAME:-${POSTGRES_DB:-clicknback}}"

fail() {
  echo "rollback failed: $*" >&2
  exit 1
}

# The green profile: the scripts name app-green, which `docker compose up` alone never starts.
compose() { docker compose -f "$COMPOSE_FILE" --profile green "$@"; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

# The migrations are forward-only: the way back to an older schema is the backup taken
# before the deploy that changed it (backup.sh runs before every deploy and nightly).
# The migrate service fails for other reasons too (no `docker compose`, the database down), and
# the way back below loses data: it is offered only for the error that calls for it.
restore_help() {
  cat >&2 <<EOF

The running app was left as it was.
If the output above says a migration "was previously applied but is missing", the database
has migrations that $1 does not know, so its \`app migrate\` refuses to run and the app
would not start.
The migrations are forward-only (app/migrations has no down migrations; \`app migrate\` only
applies them), so the older schema comes back from the backup taken before the deploy that
added them. Data written since that backup is lost.

  bash $DEPLOY_DIR/scripts/backup.sh                 # keep the current data too
  ls -lt $BACKUP_DIR                                 # pick the backup from before that deploy
  docker compose -f $COMPOSE_FILE --profile green stop app app-green
  docker compose -f $COMPOSE_FILE exec -T db psql -U $DB_USER -d $DB_NAME -v ON_ERROR_STOP=1 \\
    -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;'
  gunzip -c $BACKUP_DIR/clicknback-<date>.sql.gz \\
    | docker compose -f $COMPOSE_FILE exec -T db psql -U $DB_USER -d $DB_NAME -v ON_ERROR_STOP=1
  bash $DEPLOY_DIR/scripts/rollback.sh $2
EOF
}

commit_tag rollback.sh "$@"
[[ "$DEPLOY_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || { echo "rollback.sh: DEPLOY_TIMEOUT must be whole seconds, not '$DEPLOY_TIMEOUT'" >&2; exit 2; }
blue_green_settings rollback.sh
image="$IMAGE:$tag"

# A sha-<commit> tag is immutable (CD builds and pushes each commit once): a copy already on
# this server is the very image that was deployed, and a rollback works while the registry is
# down or unreachable.
fetch_image 1/5 "$image"

echo "2/5 migrations of $image against the current schema"
if ! APP_IMAGE="$image" compose run --rm migrate; then
  restore_help "$image" "$tag"
  fail "the migrate service of $image failed"
fi

echo "3/5 starting $image as $idle, beside $live (ready within ${DEPLOY_TIMEOUT} s)"
if ! start_idle "$image" "$DEPLOY_TIMEOUT"; then
  remove_idle
  fail "$image did not become ready within ${DEPLOY_TIMEOUT} s; it was removed, and Nginx still sends every request to $live"
fi

echo "4/5 switching Nginx from $live to $idle"
switch_then_drain rollback.sh

echo "5/5 tag $image as $IMAGE:latest"
docker tag "$image" "$IMAGE:latest" || fail "rolled back, but cannot tag $image as $IMAGE:latest: do it by hand"

echo "rolled back to $image as $idle"

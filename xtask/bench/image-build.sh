#!/usr/bin/env bash
# The image build and the smoke gate, measured (docs/benchmarks.md). Needs a Docker engine with
# Compose v2 and the base images (../shared/containers/ on a machine with no registry).
#
#   xtask/bench/image-build.sh [RUNS]     # RUNS: warm smoke runs to time (default 3)
#
# 1. the image, cold: no build cache at all (`docker builder prune --all`)
# 2. the image after a source edit: the dependency layer is cached, only the app compiles
# 3. the image with nothing changed: every layer cached
# 4. the peer: the same service in one stage, `COPY . .` then `cargo build` (no dependency
#    layer, no runtime stage), built cold and after the same source edit
# 5. `cargo xtask smoke --no-cache` (else the verdict cache answers) on a warm cache, RUNS
#    times, against the bare `up --wait` + `down`
# It removes the BuildKit cache first: the next build of any image on this engine is cold.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-3}"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [RUNS]" >&2; exit 2; }
docker info >/dev/null 2>&1 || { echo "no Docker engine answers (see ../shared/containers/engine.sh)" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"; docker rmi -f clicknback:bench clicknback:bench-naive >/dev/null 2>&1 || true' EXIT
# A copy of the working tree (the files git lists), so the source edit never touches yours.
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [[ -f "$f" ]] && mkdir -p "$work/tree/$(dirname "$f")" && cp "$f" "$work/tree/$f"
done

seconds() { # COMMAND…: run it quietly, print its wall time in seconds
  local start end
  start=$(date +%s.%N)
  "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log" >&2; echo "failed: $*" >&2; exit 1; }
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f\n", e - s }'
}
# Builds with BuildKit through compose, as `cargo xtask smoke` and `cargo xtask up --build` do
# (the docker CLI needs the buildx plugin for BuildKit; compose brings its own client).
build() { # IMAGE DOCKERFILE
  printf 'services:\n  image:\n    image: %s\n    build:\n      context: %s\n      dockerfile: %s\n' \
    "$1" "$work/tree" "$2" >"$work/build.yml"
  docker compose -f "$work/build.yml" -p xtask-bench-build build
}
size_mb() { docker image inspect --format '{{.Size}}' "$1" | awk '{ printf "%.1f", $1 / 1000000 }'; }
edit_source() { echo "// bench edit $(date +%s%N)" >>"$work/tree/app/src/lib.rs"; }

echo "machine: $(nproc) cores, $(docker version --format '{{.Server.Version}}') engine, $(docker compose version --short) compose"

docker builder prune --all --force >/dev/null 2>&1
cold=$(seconds build clicknback:bench Dockerfile)
edit_source
edited=$(seconds build clicknback:bench Dockerfile)
cached=$(seconds build clicknback:bench Dockerfile)
size=$(size_mb clicknback:bench)

cat >"$work/tree/Dockerfile.naive" <<'EOF'
FROM rust:1.95-slim-trixie
WORKDIR /build
COPY . .
RUN cargo build --release --locked --package app && cp target/release/app /usr/local/bin/app
USER 10001:10001
ENTRYPOINT ["app"]
CMD ["serve"]
EOF
# Its own ignore file (BuildKit reads <Dockerfile>.dockerignore first): the whole tree but
# the build outputs, as a one-stage build needs every crate's sources.
printf 'target/\n.git/\n' >"$work/tree/Dockerfile.naive.dockerignore"
docker builder prune --all --force >/dev/null 2>&1
naive_cold=$(seconds build clicknback:bench-naive Dockerfile.naive)
edit_source
naive_edited=$(seconds build clicknback:bench-naive Dockerfile.naive)
naive_size=$(size_mb clicknback:bench-naive)

printf '\n%-44s %10s %10s\n' "image build" "wall (s)" "size (MB)"
printf '%-44s %10.1f %10s\n' "two stages, cold (no cache)" "$cold" "$size"
printf '%-44s %10.1f\n' "two stages, after a source edit" "$edited"
printf '%-44s %10.1f\n' "two stages, nothing changed" "$cached"
printf '%-44s %10.1f %10s\n' "peer: one stage, cold" "$naive_cold" "$naive_size"
printf '%-44s %10.1f\n' "peer: one stage, after a source edit" "$naive_edited"

# The smoke gate, warm: its own build is cached now (the same layers as clicknback:bench).
cargo build -q -p xtask
cargo xtask smoke --no-cache >/dev/null 2>&1 || true
env_file="$work/bare.env"
hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
# The smoke gate's stack: its env (Cargo.toml's [workspace.metadata.xtask.compose]) checks
# health every second.
printf 'POSTGRES_USER=bench\nPOSTGRES_PASSWORD=%s\nPOSTGRES_DB=bench\nJWT_SECRET=%s\nAPP_IMAGE=clicknback:smoke\nAPP_PORT=%s\nDB_PORT=%s\nDB_HEALTH_INTERVAL=1s\nAPP_HEALTH_INTERVAL=1s\n' \
  "$(hex 16)" "$(hex 32)" 18931 18932 >"$env_file"
bare() {
  docker compose -p xtask-bench-bare --env-file "$env_file" up -d --wait \
    && docker compose -p xtask-bench-bare --env-file "$env_file" down --volumes --timeout 10
}
printf '\n%-44s %s\n' "stack" "wall (s), each run"
smoke_times=() bare_times=()
for _ in $(seq "$runs"); do
  smoke_times+=("$(seconds cargo xtask smoke --no-cache)")
  bare_times+=("$(seconds bare)")
done
printf '%-44s %s\n' "cargo xtask smoke (11 checks, teardown)" "${smoke_times[*]}"
printf '%-44s %s\n' "peer: bare up --wait + down --volumes" "${bare_times[*]}"

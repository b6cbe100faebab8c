# The ClickNBack service image: `docker build -t clicknback:local .`
# Stage 1 compiles the release binary; stage 2 is a slim Debian with only that binary, the
# migrations and the seeds, running as a fixed non-root uid. Both stages are Debian trixie,
# so the binary finds the glibc it was linked against.

FROM rust:1.95-slim-trixie AS builder
WORKDIR /build
# No debug symbols in the shipped binary (the workspace's release profile is left alone).
ENV CARGO_PROFILE_RELEASE_STRIP=symbols
# cargo-auditable embeds the binary's dependency list (crates and versions, compressed, in a
# section of its own: a few kB), so the binary inside the image can be audited against RustSec
# without its Cargo.lock: `cargo xtask security` does (its `image` check), as `cargo audit bin`
# and Trivy can. A layer of its own, pinned: rebuilt only when the pin moves.
RUN cargo install cargo-auditable --locked --version 0.7.7 \
    && rm -rf "$CARGO_HOME/registry"

# Dependencies first, in a layer of their own: rebuilt when a manifest or the lock file
# changes, not on every source edit. Cargo loads the whole workspace, so every member's
# manifest must be here (the lint policy `dockerfile-workspace-members` checks it); the
# members' sources are empty stubs, and only the app is built. `xtask` holds nothing but the
# xtask crates' manifests: .dockerignore keeps the rest of it out of the build context.
COPY Cargo.toml Cargo.lock ./
COPY app/Cargo.toml app/build.rs app/
COPY xtask xtask
RUN for manifest in app/Cargo.toml xtask/Cargo.toml xtask/*/Cargo.toml; do \
        mkdir -p "$(dirname "$manifest")/src" && touch "$(dirname "$manifest")/src/lib.rs"; \
    done \
    && echo 'fn main() {}' > app/src/main.rs \
    && cargo auditable build --release --locked --package app \
    && rm -rf app/src

# The service. COPY keeps the files' own modification times, which may be older than the
# stubs' build: touching them makes cargo rebuild the crate (and only the crate).
COPY app/src app/src
COPY app/migrations app/migrations
RUN touch app/src/main.rs app/src/lib.rs \
    && cargo auditable build --release --locked --package app \
    && cp target/release/app /usr/local/bin/app

FROM debian:trixie-slim AS runtime
# A fixed uid/gid, so volume permissions and the host's view of the process are predictable.
RUN groupadd --system --gid 10001 clicknback \
    && useradd --system --uid 10001 --gid clicknback --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin clicknback
WORKDIR /app
COPY --from=builder /usr/local/bin/app /usr/local/bin/app
# The migrations are compiled into the binary (`app migrate`); they are shipped too, to be
# read, and the seeds for the ops scripts (applied by hand, never on deploy).
COPY app/migrations ./migrations
COPY app/seeds ./seeds
ENV APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000
USER 10001:10001
EXPOSE 8000
# `app healthcheck` asks /health/ready on 127.0.0.1:$PORT: no curl in the image.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["app", "healthcheck"]
ENTRYPOINT ["app"]
CMD ["serve"]

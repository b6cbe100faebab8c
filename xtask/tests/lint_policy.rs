//! The project policies through the real CLI, on throwaway git checkouts: for each, a failing
//! fixture (exit 1, the rule, file and line), a passing one, and "not applicable" when its files
//! do not exist yet.

mod lint_support;
mod support;

use lint_support::{Repo, line, workspace, write_exe};

const SHA: &str = "08c6903cd8c0fde910a37f88322edcfb5dd907a8";

/// `lint` on the checkout. With a root Cargo.toml, rustfmt and clippy apply: a stand-in cargo
/// passes them (the fixtures' crates have no sources) and runs the real one for the rest.
fn lint(repo: &Repo) -> support::Run {
    let mut c = repo.command(&[]);
    if repo.root.join("Cargo.toml").exists() {
        let cargo = repo.scratch.path("bin/cargo");
        write_exe(&cargo, "#!/bin/sh\ncase \"$1\" in fmt|clippy) exit 0 ;; esac\nexec \"$REAL_CARGO\" \"$@\"\n");
        c.env("CARGO", &cargo).env("REAL_CARGO", std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    }
    support::run(c)
}

fn assert_fails(repo: &Repo, policy: &str, finding: &str) {
    assert_findings(repo, policy, &[finding]);
}

/// Fails with exactly these findings.
fn assert_findings(repo: &Repo, policy: &str, findings: &[&str]) {
    let run = lint(repo);
    assert_eq!(run.code, 1, "{run:?}");
    let header = line(&run, &format!("policy {policy}"));
    assert!(header.starts_with(&format!("✗ policy {policy}: ")), "{run:?}");
    let count = if findings.len() == 1 { "1 finding".to_owned() } else { format!("{} findings", findings.len()) };
    assert!(run.stdout.contains(&format!("✗ policy {policy}: {count}\n  rule: ")), "{run:?}");
    for finding in findings {
        assert!(run.stdout.lines().any(|l| l == format!("  {finding}")), "expected `{finding}`:\n{run:?}");
    }
}

fn assert_passes(repo: &Repo, policy: &str) {
    let run = lint(repo);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(line(&run, &format!("policy {policy}")), format!("✓ policy {policy}"), "{run:?}");
}

fn assert_not_applicable(repo: &Repo, policy: &str, why: &str) {
    let run = lint(repo);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        line(&run, &format!("policy {policy}")),
        format!("– policy {policy}: not applicable ({why})"),
        "{run:?}"
    );
}

#[test]
fn dockerfile_non_root() {
    let repo = Repo::new("pol-docker");
    assert_not_applicable(&repo, "dockerfile-non-root", "no Dockerfile yet");

    repo.write(
        "Dockerfile",
        "FROM python:3.13-slim AS builder\nRUN pip install .\nFROM python:3.13-slim\nCMD [\"app\"]\n",
    );
    assert_fails(
        &repo,
        "dockerfile-non-root",
        "Dockerfile:3: the final stage has no USER instruction, so the container runs as the base image's user \
         (root for most images): add `USER <non-root user>`",
    );

    repo.write("Dockerfile", "FROM python:3.13-slim\nRUN useradd appuser\nUSER appuser\nUSER root\nCMD [\"app\"]\n");
    assert_fails(
        &repo,
        "dockerfile-non-root",
        "Dockerfile:4: the last USER is `root`: the container must run as a non-root user",
    );

    repo.write("Dockerfile", "FROM python:3.13-slim\nUSER root\nRUN useradd appuser\nUSER appuser\nCMD [\"app\"]\n");
    assert_passes(&repo, "dockerfile-non-root");
}

#[test]
fn compose_migrate_no_restart() {
    let repo = Repo::new("pol-compose");
    assert_not_applicable(&repo, "compose-migrate-no-restart", "no compose.yaml or docker-compose.yml yet");

    repo.write("docker-compose.yml", "services:\n  db:\n    image: postgres:16\n");
    assert_not_applicable(&repo, "compose-migrate-no-restart", "no `migrate` service in docker-compose.yml");

    let compose = |restart: &str| {
        format!("services:\n  db:\n    image: postgres:16\n  migrate:\n    image: app\n    command: migrate\n{restart}")
    };
    repo.write("docker-compose.yml", compose("    restart: on-failure\n"));
    assert_fails(
        &repo,
        "compose-migrate-no-restart",
        "docker-compose.yml:7: the migrate service has `restart: on-failure`: a failed migration is not a transient \
         error and must not be retried; use `restart: \"no\"`",
    );

    repo.write("docker-compose.yml", compose(""));
    assert_fails(
        &repo,
        "compose-migrate-no-restart",
        "docker-compose.yml:5: the migrate service has no `restart:`; write `restart: \"no\"` so a failed migration \
         is never retried",
    );

    repo.write("docker-compose.yml", compose("    restart: no\n"));
    assert_fails(
        &repo,
        "compose-migrate-no-restart",
        "docker-compose.yml:7: write `restart: \"no\"` with quotes: unquoted, YAML 1.1 tools read `no` as the boolean false",
    );

    repo.write("docker-compose.yml", compose("    restart: \"no\"\n"));
    assert_passes(&repo, "compose-migrate-no-restart");
}

#[test]
fn env_not_committed() {
    let repo = Repo::new("pol-env");
    assert_passes(&repo, "env-not-committed");

    repo.write(".env.example", "DATABASE_URL=postgres://localhost/app\n");
    repo.write("app/.env.production", "SECRET=1\n");
    assert_fails(
        &repo,
        "env-not-committed",
        "app/.env.production: is tracked by git, and .env files hold secrets: `git rm --cached app/.env.production` \
         (and rotate what it held)",
    );
    repo.git(&["rm", "-q", "--cached", "app/.env.production"]);
    std::fs::remove_file(repo.root.join("app/.env.production")).unwrap();

    repo.write(".gitignore", "target/\n");
    assert_fails(&repo, "env-not-committed", ".gitignore: `.env` is not git-ignored: add the line `.env`");

    repo.write(".gitignore", "*.env*\n!.env\n");
    assert_fails(&repo, "env-not-committed", ".gitignore:2: this line un-ignores `.env`: remove it");

    repo.write(".gitignore", "/target/\n.env\n");
    repo.write_untracked(".env", "SECRET=1\n");
    assert_passes(&repo, "env-not-committed");
}

#[test]
fn cors_no_wildcard() {
    let repo = Repo::new("pol-cors");
    assert_not_applicable(&repo, "cors-no-wildcard", "no file matches `cors-paths` yet");

    repo.write(".env.example", "# CORS_ORIGINS=* would allow every site\nCORS_ORIGINS=https://a.com,*\n");
    assert_fails(
        &repo,
        "cors-no-wildcard",
        ".env.example:2: wildcard CORS origin `*`: list the allowed origins explicitly (e.g. https://clicknback.com)",
    );

    repo.write(".env.example", "CORS_ORIGINS=https://clicknback.com\n");
    repo.write("app/src/http.rs", "let cors = CorsLayer::permissive();\n");
    assert_fails(
        &repo,
        "cors-no-wildcard",
        "app/src/http.rs:1: `CorsLayer::permissive` allows every origin: list the allowed origins",
    );

    repo.write("app/src/http.rs", "let cors = CorsLayer::new().allow_origin(origins);\n");
    repo.write("app/tests/cors.rs", "assert!(rejects(\"CORS_ORIGINS=*\"));\n");
    assert_passes(&repo, "cors-no-wildcard");
}

#[test]
fn precommit_pinned() {
    let repo = Repo::new("pol-precommit");
    assert_not_applicable(&repo, "precommit-pinned", "no .pre-commit-config.yaml yet");

    let config = "repos:\n  - repo: local\n    hooks:\n      - id: lint\n        name: lint\n        entry: cargo xtask lint\n        \
                  language: system\n        pass_filenames: false\n  - repo: https://github.com/pre-commit/pre-commit-hooks\n    rev: ";
    repo.write(".pre-commit-config.yaml", format!("{config}main\n    hooks:\n      - id: check-yaml\n"));
    assert_fails(
        &repo,
        "precommit-pinned",
        ".pre-commit-config.yaml:10: `rev: main` (https://github.com/pre-commit/pre-commit-hooks) is a branch that \
         moves: pin a release tag or a commit SHA",
    );

    repo.write(".pre-commit-config.yaml", format!("{config}v5.0.0\n    hooks:\n      - id: check-yaml\n"));
    assert_passes(&repo, "precommit-pinned");
}

#[test]
fn actions_pinned() {
    let repo = Repo::new("pol-actions");
    assert_not_applicable(&repo, "actions-pinned", "no workflow in .github/workflows yet");

    let workflow = |uses: &str| {
        format!(
            "name: CI\non: push\npermissions: {{}}\njobs:\n  lint:\n    runs-on: ubuntu-latest\n    steps:\n      \
             - uses: ./.github/actions/setup\n      - uses: {uses}\n      - run: cargo xtask lint\n"
        )
    };
    repo.write(".github/workflows/ci.yml", workflow("actions/checkout@v4"));
    assert_fails(
        &repo,
        "actions-pinned",
        ".github/workflows/ci.yml:9: `actions/checkout@v4` is pinned to `v4`, which can move: pin the full commit SHA \
         (`actions/checkout@<40-hex sha> # v4`)",
    );

    repo.write(".github/workflows/ci.yml", workflow("docker://alpine:3.20"));
    assert_fails(
        &repo,
        "actions-pinned",
        ".github/workflows/ci.yml:9: `docker://alpine:3.20` is not pinned by digest: use `docker://<image>@sha256:<digest>`",
    );

    repo.write(".github/workflows/ci.yml", workflow(&format!("actions/checkout@{SHA} # v4.2.2")));
    assert_passes(&repo, "actions-pinned");
}

const MEMBERS_POLICY: &str = "dockerfile-workspace-members";

/// A checkout with this repository's workspace: the root manifest and its five members'.
fn workspace_repo(name: &str) -> Repo {
    let repo = Repo::new(name);
    repo.write(
        "Cargo.toml",
        "[workspace]\nresolver = \"3\"\n\
         members = [\"xtask\", \"xtask/coverage\", \"xtask/lint\", \"xtask/security\", \"app\"]\n",
    );
    for member in ["xtask", "xtask/coverage", "xtask/lint", "xtask/security", "app"] {
        let name = member.replace('/', "-");
        repo.write(&format!("{member}/Cargo.toml"), format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n"));
    }
    repo
}

/// The Dockerfile and .dockerignore whose image build broke when the workspace gained
/// xtask/coverage, xtask/lint and xtask/security (`git show 03c51b5~1:Dockerfile`).
const BROKEN_DOCKERFILE: &str = r##"# syntax=docker/dockerfile:1
# The ClickNBack service image: `docker build -t clicknback:local .`
# Stage 1 compiles the release binary; stage 2 is a slim Debian with only that binary, the
# migrations and the seeds, running as a fixed non-root uid. Both stages are Debian trixie,
# so the binary finds the glibc it was linked against.

FROM rust:1.95-slim-trixie AS builder
WORKDIR /build
# No debug symbols in the shipped binary (the workspace's release profile is left alone).
ENV CARGO_PROFILE_RELEASE_STRIP=symbols

# Dependencies first, in a layer of their own: rebuilt when a manifest or the lock file
# changes, not on every source edit. The crate's sources are stubs here. The workspace's
# other member, xtask, is only a stub: the image never builds it, but cargo needs every
# member of the workspace to load it.
COPY Cargo.toml Cargo.lock ./
COPY app/Cargo.toml app/build.rs app/
COPY xtask/Cargo.toml xtask/
RUN mkdir -p app/src xtask/src \
    && echo 'fn main() {}' > app/src/main.rs \
    && touch app/src/lib.rs \
    && echo 'fn main() {}' > xtask/src/main.rs \
    && cargo build --release --locked --package app \
    && rm -rf app/src

# The service. COPY keeps the files' own modification times, which may be older than the
# stubs' build: touching them makes cargo rebuild the crate (and only the crate).
COPY app/src app/src
COPY app/migrations app/migrations
RUN touch app/src/main.rs app/src/lib.rs \
    && cargo build --release --locked --package app \
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
"##;
const BROKEN_DOCKERIGNORE: &str = r##"# The build context: only what the Dockerfile copies is needed (Cargo.toml, Cargo.lock,
# app/Cargo.toml, app/build.rs, app/src, app/migrations, app/seeds, xtask/Cargo.toml).
# Everything else stays out, so it cannot bust the layer cache or leak into an image.

# Build outputs and reports
target/
coverage.xml
lcov.info
*.profraw
*.profdata

# Secrets: never in a build context
.env
.env.*

# Version control, CI, documentation
.git/
.github/
.ci/
docs/
CONTRIBUTING.md
.pre-commit-config.yaml

# Not built into the image: the tests, and xtask beyond the manifest the workspace needs
app/tests/
xtask/*
!xtask/Cargo.toml

# Editors and OS files
.idea/
.vscode/
*.swp
*.swo
*~
.DS_Store
"##;

#[test]
fn dockerfile_workspace_members_applies_to_a_workspace_built_by_a_dockerfile() {
    let repo = Repo::new("pol-members-na");
    assert_not_applicable(&repo, MEMBERS_POLICY, "no Dockerfile yet");

    repo.write("Dockerfile", "FROM rust:1.95-slim\nWORKDIR /src\nCOPY . .\nRUN cargo build --release\nUSER 10001\n");
    assert_not_applicable(&repo, MEMBERS_POLICY, "no Cargo.toml with a `[workspace]` at the root");

    repo.write("Cargo.toml", "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\n");
    assert_not_applicable(&repo, MEMBERS_POLICY, "the root Cargo.toml has no `[workspace]`");

    repo.write("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n");
    repo.write("Dockerfile", "FROM rust:1.95-slim\nRUN cargo install cargo-chef --locked\nUSER 10001\n");
    assert_not_applicable(&repo, MEMBERS_POLICY, "no stage of Dockerfile runs a cargo build");
}

#[test]
fn dockerfile_workspace_members_fails_on_the_build_that_broke_and_passes_on_its_fix() {
    let repo = workspace_repo("pol-members-broken");
    repo.write("Dockerfile", BROKEN_DOCKERFILE);
    repo.write(".dockerignore", BROKEN_DOCKERIGNORE);
    let finding = |member: &str| {
        format!(
            "Dockerfile:19: `{member}/Cargo.toml` (the manifest of workspace member `{member}`) is not copied before \
             this RUN, the stage's first cargo build, so cargo cannot load the workspace: add \
             `COPY {member}/Cargo.toml {member}/` before it, with a stub `{member}/src/lib.rs`; and `xtask/*` (line 26 \
             of .dockerignore) keeps it out of the build context: re-include it with a line `!{member}/Cargo.toml` \
             after that one"
        )
    };
    let findings = ["xtask/coverage", "xtask/lint", "xtask/security"].map(finding);
    assert_findings(&repo, MEMBERS_POLICY, &findings.each_ref().map(String::as_str));

    // A first fix: `COPY xtask xtask`, and a wildcard exception for the manifests. BuildKit
    // sends them, the classic builder (`docker build` without buildx) does not: still failing.
    repo.write("Dockerfile", std::fs::read(workspace().join("Dockerfile")).unwrap());
    repo.write(".dockerignore", "target/\nxtask/**\n!xtask/Cargo.toml\n!xtask/*/Cargo.toml\n");
    let classic = |member: &str| {
        format!(
            ".dockerignore:2: `xtask/**` excludes the folder `{member}`, and the classic builder (`docker build` \
             without BuildKit, as on an engine without buildx) skips an excluded folder unless a `!` line starts \
             with `{member}/`, so `{member}/Cargo.toml` (the manifest of workspace member `{member}`) does not reach \
             the builder there: re-include it by name, `!{member}/Cargo.toml`, with no wildcard in its folders"
        )
    };
    let findings = ["xtask/coverage", "xtask/lint", "xtask/security"].map(classic);
    assert_findings(&repo, MEMBERS_POLICY, &findings.each_ref().map(String::as_str));

    // The fix, as this repository has it: each manifest named in .dockerignore.
    repo.write(".dockerignore", std::fs::read(workspace().join(".dockerignore")).unwrap());
    assert_passes(&repo, MEMBERS_POLICY);
}

#[test]
fn dockerfile_workspace_members_fails_on_a_manifest_copied_to_the_wrong_place() {
    let repo = workspace_repo("pol-members-dest");
    let dockerfile = |lint_dest: &str| {
        format!(
            "FROM rust:1.95-slim AS builder\nWORKDIR /build\nCOPY Cargo.toml ./\nCOPY app/Cargo.toml app/\n\
             COPY [\"xtask/Cargo.toml\", \"xtask/\"]\nCOPY --chown=10001 xtask/coverage/Cargo.toml xtask/coverage/\n\
             COPY xtask/security/Cargo.toml ./xtask/security/\nCOPY xtask/lint/Cargo.toml {lint_dest}\n\
             RUN mkdir -p app/src && touch app/src/lib.rs && cargo build --release --package app\nUSER 10001\n"
        )
    };
    repo.write("Dockerfile", dockerfile("xtask/"));
    assert_fails(
        &repo,
        MEMBERS_POLICY,
        "Dockerfile:8: this COPY puts `xtask/lint/Cargo.toml` (the manifest of workspace member `xtask/lint`) at \
         /build/xtask/Cargo.toml, but the first cargo build (line 9) needs it at /build/xtask/lint/Cargo.toml, or \
         cargo cannot load the workspace: copy it with `COPY xtask/lint/Cargo.toml xtask/lint/`",
    );

    repo.write("Dockerfile", dockerfile("/build/xtask/lint/"));
    assert_passes(&repo, MEMBERS_POLICY);
}

#[test]
fn dockerfile_workspace_members_fails_when_dockerignore_leaves_a_copied_manifest_out() {
    let repo = workspace_repo("pol-members-ignore");
    repo.write(
        "Dockerfile",
        "FROM rust:1.95-slim AS builder\nWORKDIR /build\nCOPY . .\nRUN cargo build --release\nUSER 10001\n",
    );
    repo.write(".dockerignore", "# build outputs\ntarget/\n\nxtask/**/src\n/xtask/lint/\n");
    assert_fails(
        &repo,
        MEMBERS_POLICY,
        ".dockerignore:5: `/xtask/lint/` keeps `xtask/lint/Cargo.toml` (the manifest of workspace member `xtask/lint`) \
         out of the build context, so the COPY on Dockerfile line 3 does not bring it into the builder stage and cargo \
         cannot load the workspace: re-include it with a line `!xtask/lint/Cargo.toml` after this one",
    );

    repo.write(".dockerignore", "target/\nxtask/**/src\n/xtask/lint/\n!xtask/lint/Cargo.toml\n");
    assert_passes(&repo, MEMBERS_POLICY);

    // BuildKit reads `<Dockerfile>.dockerignore` instead of .dockerignore when there is one.
    repo.write("Dockerfile.dockerignore", "xtask/*\n!xtask/Cargo.toml\n");
    let run = lint(&repo);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("✗ policy dockerfile-workspace-members: 3 findings"), "{run:?}");
    assert!(
        run.stdout.contains("\n  Dockerfile.dockerignore:1: `xtask/*` keeps `xtask/coverage/Cargo.toml` "),
        "{run:?}"
    );
    assert_eq!(line(&run, "policy dockerfile-non-root"), "✓ policy dockerfile-non-root", "not a Dockerfile");
}

#[test]
fn dockerfile_workspace_members_passes_with_the_whole_context_copied() {
    let repo = Repo::new("pol-members-all");
    repo.write("Cargo.toml", "[workspace]\nmembers = [\"app\", \"crates/*\"]\nexclude = [\"crates/old\"]\n");
    for member in ["app", "crates/a", "crates/b", "crates/old"] {
        repo.write(&format!("{member}/Cargo.toml"), format!("[package]\nname = \"{}\"\n", member.replace('/', "-")));
    }
    repo.write(
        "Dockerfile",
        "FROM rust:1.95-slim AS chef\nRUN cargo install cargo-chef --locked\nWORKDIR /src\n\
         FROM chef AS builder\nCOPY . .\nRUN cargo +1.95 build --release --locked\nUSER 10001\n",
    );
    repo.write(".dockerignore", "target/\ncrates/old/\n");
    assert_passes(&repo, MEMBERS_POLICY);

    repo.write(".dockerignore", "target/\ncrates/*/\n!crates/a/\n");
    assert_fails(
        &repo,
        MEMBERS_POLICY,
        ".dockerignore:2: `crates/*/` keeps `crates/b/Cargo.toml` (the manifest of workspace member `crates/b`) out of \
         the build context, so the COPY on Dockerfile line 5 does not bring it into the builder stage and cargo cannot \
         load the workspace: re-include it with a line `!crates/b/Cargo.toml` after this one",
    );
}

#[test]
fn a_policy_file_that_is_not_valid_yaml_fails_the_policy_too() {
    let repo = Repo::new("pol-badyaml");
    repo.write(".pre-commit-config.yaml", "repos:\n  - repo: x\n    rev: [v1\n");
    let run = repo.lint(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("✗ policy precommit-pinned: 1 finding"), "{run:?}");
    assert!(run.stdout.contains("  .pre-commit-config.yaml:4: cannot check: not valid YAML: "), "{run:?}");
    assert!(line(&run, "hygiene").starts_with("✗ hygiene"), "{run:?}");
}

#[test]
fn policy_findings_are_annotated_with_their_rule() {
    let repo = Repo::new("pol-gha");
    repo.write("Dockerfile", "FROM alpine\nUSER 0\n");
    let mut c = repo.command(&[]);
    c.env("GITHUB_ACTIONS", "true");
    let run = support::run(c);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains(
            "::error file=Dockerfile,line=2,title=lint%3A policy dockerfile-non-root::the last USER is `0`: the container \
             must run as a non-root user (rule: the container runs as a non-root user: the Dockerfile's final stage ends \
             with a non-root USER)\n"
        ),
        "{run:?}"
    );
}

const DEPS_POLICY: &str = "xtask-dependencies-explained";

#[test]
fn xtask_dependencies_explained_fails_on_a_dependency_that_says_nothing_and_passes_when_it_does() {
    let repo = Repo::new("pol-deps");
    assert_not_applicable(&repo, DEPS_POLICY, "no Cargo.toml with a `[workspace]` at the root");
    repo.write("Cargo.toml", "[workspace]\nmembers = [\"app\"]\n");
    repo.write("app/Cargo.toml", "[package]\nname = \"app\"\nversion = \"0.1.0\"\n[dependencies]\nserde = \"1\"\n");
    assert_not_applicable(&repo, DEPS_POLICY, "no workspace member under xtask/");

    repo.write("Cargo.toml", "[workspace]\nmembers = [\"app\", \"xtask\", \"xtask/*\"]\n");
    let xtask = "[package]\nname = \"xtask\"\nversion = \"0.1.0\"\n\n[dependencies]\n\
                 # Errors with context.\nanyhow = \"1\"\nxtask-lint = { path = \"lint\" }\n\
                 colored = \"3\"\n\n[dev-dependencies]\ntempfile = \"3\"\n";
    repo.write("xtask/Cargo.toml", xtask);
    let lint = "[package]\nname = \"xtask-lint\"\nversion = \"0.1.0\"\n[dependencies]\n\
                toml = { version = \"1\", default-features = false } # TOML validity\nregex = \"1\"\n";
    repo.write("xtask/lint/Cargo.toml", lint);
    let finding = |at: &str, dep: &str, package: &str| {
        format!(
            "{at}: dependency `{dep}` of {package} does not say why it is here: add a comment on the line above (what \
             it does for the xtask that std or a crate already in the build does not; the cold build is a measured \
             figure, docs/benchmarks.md)"
        )
    };
    let findings =
        [finding("xtask/Cargo.toml:9", "colored", "xtask"), finding("xtask/lint/Cargo.toml:6", "regex", "xtask-lint")];
    assert_findings(&repo, DEPS_POLICY, &findings.each_ref().map(String::as_str));

    repo.write("xtask/Cargo.toml", xtask.replace("colored = ", "# Colour that honours NO_COLOR.\ncolored = "));
    repo.write("xtask/lint/Cargo.toml", lint.replace("regex = \"1\"", "regex = \"1\" # the source rules"));
    assert_passes(&repo, DEPS_POLICY);
}

#[test]
fn xtask_dependencies_explained_holds_for_this_repository() {
    let repo = Repo::new("pol-deps-here");
    let root = workspace();
    let manifests = std::process::Command::new("git")
        .args(["ls-files", "Cargo.toml", "*/Cargo.toml"])
        .current_dir(&root)
        .output()
        .unwrap();
    let manifests = String::from_utf8(manifests.stdout).unwrap();
    let mut xtask = 0;
    for path in manifests.lines().filter(|p| !p.contains("/tests/")) {
        repo.write(path, std::fs::read(root.join(path)).unwrap());
        xtask += usize::from(path.starts_with("xtask"));
    }
    assert!(xtask >= 7, "the xtask crates' manifests: {manifests}");
    assert_passes(&repo, DEPS_POLICY);
}

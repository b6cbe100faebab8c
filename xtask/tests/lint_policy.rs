//! The project policies through the real CLI, on throwaway git checkouts: for each, a failing
//! fixture (exit 1, the rule, file and line), a passing one, and "not applicable" when its files
//! do not exist yet.

mod lint_support;
mod support;

use lint_support::{Repo, line};

const SHA: &str = "08c6903cd8c0fde910a37f88322edcfb5dd907a8";

fn assert_fails(repo: &Repo, policy: &str, finding: &str) {
    let run = repo.lint(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    let header = line(&run, &format!("policy {policy}"));
    assert!(header.starts_with(&format!("✗ policy {policy}: ")), "{run:?}");
    assert!(run.stdout.contains(&format!("✗ policy {policy}: 1 finding\n  rule: ")), "{run:?}");
    assert!(run.stdout.lines().any(|l| l == format!("  {finding}")), "expected `{finding}`:\n{run:?}");
}

fn assert_passes(repo: &Repo, policy: &str) {
    let run = repo.lint(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(line(&run, &format!("policy {policy}")), format!("✓ policy {policy}"), "{run:?}");
}

fn assert_not_applicable(repo: &Repo, policy: &str, why: &str) {
    let run = repo.lint(&[]);
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

//! A service no one here wrote adopts the gates by copying `xtask/` (docs/adopting.md): the
//! fixture `tests/fixtures/adopter/` is shaped like the public service issue 22 tried them on:
//! sqlx's compile-time checked `query!` with a committed `.sqlx/`, settings read by the
//! `config` crate from `APP_DATABASE__*` / `APP_REDIS_URI`, and tests that need PostgreSQL and
//! Redis. A scratch copy of it gets the real `xtask/` and runs `cargo xtask init`, then the
//! lint, test and coverage gates, all green; a query that drifts from `.sqlx/` then fails lint.
//!
//! It builds the copied xtask once (`cargo xtask init` through the alias, as a team would) and
//! runs the other gates with this build's binary on the copy, in a target folder kept between
//! runs. It needs the Docker engine (the tests' Redis) and the linters `cargo xtask lint`
//! installs; without them it says so and returns, except in CI, where it fails.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

const TEST: &str = "adoption";

/// The copy of the fixture, with the real `xtask/`, committed (the gates read what git lists).
fn host(root: &Path) -> PathBuf {
    let host = root.join("host");
    let _ = std::fs::remove_dir_all(&host);
    std::fs::create_dir_all(&host).unwrap();
    let fixture = support::workspace_root().join("xtask/tests/fixtures/adopter");
    support::copy_dir(&fixture, &host);
    support::copy_files(&host, &["xtask"]);
    git(&host, &["init", "--quiet", "--initial-branch=main"]);
    git(&host, &["add", "--all"]);
    git(&host, &["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "copy xtask/"]);
    host
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The linters `cargo xtask lint` installed in this checkout's tools folder, if it did.
fn installed_tools() -> Option<PathBuf> {
    let dir = std::env::var_os("XTASK_TOOLS_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| support::workspace_root().join("target/xtask-tools"));
    let ws = support::workspace_root();
    let same = |installed: &str, source: &str| {
        std::fs::read(dir.join(installed)).ok().is_some_and(|a| std::fs::read(ws.join(source)).is_ok_and(|b| a == b))
    };
    if same("venv/xtask-requirements.txt", "xtask/tools/python/requirements.txt")
        && same("node/xtask-package-lock.json", "xtask/tools/markdownlint/package-lock.json")
    {
        return Some(dir);
    }
    assert!(!support::in_ci(), "{TEST}: CI is set, and the linters are not installed in {}", dir.display());
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "skipped {TEST}: the linters are not installed (run `cargo xtask lint` once)");
    None
}

/// A gate of this build's xtask on the copy, with the copy's own target folder.
fn gate(host: &Path, target: &Path, tools: &Path, args: &[&str]) -> support::Run {
    let mut c = support::xtask_on(host);
    c.args(args).env("CARGO_TARGET_DIR", target).env("XTASK_TOOLS_DIR", tools);
    support::run(c)
}

#[test]
fn a_service_that_copies_the_xtask_passes_its_gates_and_lint_catches_a_drifted_query() {
    if !support::docker_engine(TEST) {
        return;
    }
    let Some(tools) = installed_tools() else { return };
    let _engine = support::docker_lock();
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("adoption");
    let target = root.join("target");
    let host = host(&root);

    // `cargo xtask init`, through the alias: the copied folder builds in the host's workspace.
    let mut init = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    init.args(["xtask", "init"]).current_dir(&host).env("CARGO_TARGET_DIR", &target).env("NO_COLOR", "1");
    for (var, _) in std::env::vars_os() {
        let name = var.to_string_lossy();
        if support::leaks_from_an_enclosing_run(&name) || name == "LLVM_PROFILE_FILE" || name == "CI" {
            init.env_remove(&var);
        }
    }
    let run = support::run(init);
    assert_eq!(run.code, 0, "{run:?}");
    let manifest = std::fs::read_to_string(host.join("Cargo.toml")).unwrap();
    for expected in [
        "[workspace.metadata.xtask.test]",
        "services = [\"db\", \"redis\"]",
        "APP_DATABASE__PORT = \"{db.port}\"",
        "APP_REDIS_URI = \"redis://{redis.host}:{redis.port}\"",
    ] {
        assert!(manifest.contains(expected), "init did not write {expected:?}:\n{manifest}\n{run:?}");
    }
    for written in [".pre-commit-config.yaml", ".github/workflows/ci.yml"] {
        assert!(host.join(written).is_file(), "init did not write {written}: {run:?}");
    }
    git(&host, &["add", "--all"]);
    git(&host, &["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "cargo xtask init"]);

    let lint = gate(&host, &target, &tools, &["lint", "--no-install"]);
    assert_eq!(lint.code, 0, "{lint:?}");
    assert!(lint.stderr.contains("SQLX_OFFLINE=true") || lint.stdout.contains("SQLX_OFFLINE=true"), "{lint:?}");

    let test = gate(&host, &target, &tools, &["test"]);
    assert_eq!(test.code, 0, "{test:?}");
    assert!(test.stdout.contains("3 passed") || test.stderr.contains("3 passed"), "the fixture's tests ran: {test:?}");

    let coverage = gate(&host, &target, &tools, &["coverage"]);
    assert_eq!(coverage.code, 0, "{coverage:?}");
    assert!(host.join("coverage.xml").is_file(), "{coverage:?}");

    // A query that no longer matches `.sqlx/`: the lint gate fails and names it.
    support::edit(&host.join("src/lib.rs"), "RETURNING id\"", "RETURNING id, cents\"");
    let drift = gate(&host, &target, &tools, &["lint", "--no-install"]);
    assert_eq!(drift.code, 1, "{drift:?}");
    assert!(
        drift.stdout.contains("INSERT INTO clicks (merchant, cents) VALUES ($1, $2) RETURNING id, cents"),
        "{drift:?}"
    );
}

//! `cargo xtask init` on scratch workspaces shaped like issue 22's service: a compose file with
//! PostgreSQL and Redis, an `app` crate on sqlx (postgres) with migrations and a committed
//! `.sqlx/`, the `config` crate reading `APP_DATABASE__*`. Nothing is built: the xtask runs
//! `cargo metadata --no-deps` there, which needs valid manifests only.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use support::{Run, Scratch};
use xtask::security::date::Date;
use xtask::security::suppress::Suppressions;

const COMPOSE: &str = "\
services:
  db:
    image: postgres:16
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}
      POSTGRES_DB: newsletter
    ports:
      - \"127.0.0.1::5432\"
  redis:
    image: redis:7
  app:
    build: .
    depends_on: [db, redis]
";

const CONFIGURATION: &str = "\
use config::{Config, Environment, File};

pub fn get() -> Result<Settings, config::ConfigError> {
    Config::builder()
        .add_source(File::with_name(\"configuration/base\"))
        .add_source(
            Environment::with_prefix(\"APP\")
                .prefix_separator(\"_\")
                .separator(\"__\"),
        )
        .build()?
        .try_deserialize()
}
";

const BASE_YAML: &str = "\
application:
  port: 8000
database:
  host: \"127.0.0.1\"
  port: 5432
  username: \"app\"
  password: \"password\"
  database_name: \"newsletter\"
  require_ssl: false
redis_uri: \"redis://127.0.0.1:6379\"
";

const ROOT_MANIFEST: &str = "[workspace]\nresolver = \"3\"\nmembers = [\"app\", \"xtask\"]\n";

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The workspace, with `xtask/` reduced to a manifest (the binary under test stands in
/// for it), as a git checkout whose files are added.
fn workspace(name: &str) -> Scratch {
    let dir = Scratch::new(name);
    dir.write("Cargo.toml", ROOT_MANIFEST);
    dir.write(".cargo/config.toml", "[alias]\nxtask = \"run --package xtask --\"\n");
    dir.write("xtask/Cargo.toml", "[package]\nname = \"xtask\"\nversion = \"0.1.0\"\nedition = \"2024\"\n");
    dir.write("xtask/src/main.rs", "fn main() {}\n");
    dir.write(
        "app/Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\nactix-web = \"4\"\n\
         config = { version = \"0.14\", default-features = false, features = [\"yaml\"] }\n\
         redis = { version = \"0.27\", features = [\"tokio-comp\"] }\n\
         sqlx = { version = \"0.8\", default-features = false, features = [\"runtime-tokio\", \"macros\", \"postgres\", \"migrate\"] }\n",
    );
    dir.write("app/src/main.rs", "mod configuration;\nfn main() {}\n");
    dir.write("app/src/configuration.rs", CONFIGURATION);
    dir.write("app/migrations/20240101000000_create_subscriptions.sql", "CREATE TABLE subscriptions (id uuid);\n");
    dir.write(".sqlx/query-0123.json", "{}\n");
    dir.write("configuration/base.yaml", BASE_YAML);
    dir.write("compose.yaml", COMPOSE);
    dir.write(".gitignore", "/target\n.env\n");
    git(&dir.0, &["init", "-q", "-b", "main"]);
    git(&dir.0, &["add", "-A"]);
    dir
}

/// `cargo xtask init ARGS` as cargo runs it in `root`.
fn init(root: &Path, args: &[&str]) -> Run {
    let mut c = support::xtask();
    c.env("CARGO_MANIFEST_DIR", root.join("xtask")).current_dir(root).arg("init").args(args);
    support::run(c)
}

/// Every file under `root` but git's, with its bytes.
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The settings as written: headers and `key = value` lines, comments left out.
fn settings_lines(appended: &str) -> Vec<&str> {
    let settings = appended.split("\n# The xtask's build profile").next().unwrap();
    settings.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

/// The table init writes for the workspace.
const EXPECTED: [&str; 22] = [
    "[workspace.metadata.xtask.test]",
    "database = true",
    "services = [\"db\", \"redis\"]",
    "migrations = \"app/migrations\"",
    "[workspace.metadata.xtask.test.env]",
    "APP_DATABASE__HOST = \"{db.host}\"",
    "APP_DATABASE__PORT = \"{db.port}\"",
    "APP_DATABASE__USERNAME = \"{db.user}\"",
    "APP_DATABASE__PASSWORD = \"{db.password}\"",
    "APP_DATABASE__DATABASE_NAME = \"{db.name}\"",
    "APP_REDIS_URI = \"redis://{redis.host}:{redis.port}\"",
    "[workspace.metadata.xtask.compose.env]",
    "POSTGRES_PASSWORD = \"{secret}\"",
    "[workspace.metadata.xtask.coverage]",
    "base = \"origin/main\"",
    "base-report = \"target/coverage/base/coverage.xml\"",
    "[workspace.metadata.xtask.security]",
    "source-paths = [\"app/src/**\"]",
    "linked-by = [\"app\"]",
    "[profile.dev.package.xtask-reader]",
    "opt-level = 3",
    "debug = false",
];

#[test]
fn init_writes_the_settings_the_hooks_and_the_workflow_then_nothing() {
    let ws = workspace("init-issue");
    let root = &ws.0;
    let before = Date::today();
    let run = init(root, &[]);
    assert_eq!(run.code, 0, "{run:?}");

    // Every file, listed.
    assert!(run.stdout.contains("appended to Cargo.toml: the settings ([workspace.metadata.xtask] test, test.env, compose.env, coverage, security) and 12 [profile.dev.package.*] sections of the xtask"), "{run:?}");
    assert!(run.stdout.contains("\n  wrote .pre-commit-config.yaml\n"), "{run:?}");
    assert!(run.stdout.contains("\n  wrote .github/workflows/ci.yml\n"), "{run:?}");
    assert!(
        run.stdout.contains("\n  wrote .github/workflows/coverage-comment.yml\n  wrote security.toml\n"),
        "{run:?}"
    );
    // What it found, with the evidence.
    for found in [
        "compose.yaml:2: `db` runs PostgreSQL (postgres:16), port 5432, published on 127.0.0.1, a free host port",
        "compose.yaml:10: `redis` runs Redis (redis:7), port 6379, not published",
        "app/Cargo.toml:10: `app` depends on sqlx (runtime-tokio, macros, postgres, migrate)",
        "app/Cargo.toml:9: `app` uses redis (Redis)",
        "app/migrations/: 1 migration file(s)",
        ".sqlx/: sqlx's offline query data, committed",
        "app/src/configuration.rs:7: the config crate reads the environment: prefix `APP`, then `_`, nested keys joined by `__`",
        "configuration/base.yaml:4: database.host → APP_DATABASE__HOST",
        "configuration/base.yaml:10: redis_uri → APP_REDIS_URI",
    ] {
        assert!(run.stdout.contains(found), "{found}\n{run:?}");
    }
    // The test run needs Redis's port published: the note says what to add.
    assert!(
        run.stdout.contains("compose.yaml:10: `redis` does not publish port 6379, and a test run connects to it there: add `ports: [\"127.0.0.1::6379\"]`"),
        "{run:?}"
    );

    // Cargo.toml: its bytes, then the table (each key under its reason), then the profiles.
    let manifest = read(root, "Cargo.toml");
    let appended = manifest.strip_prefix(ROOT_MANIFEST).expect("the manifest's bytes are kept");
    assert!(appended.starts_with("\n# The quality gates' settings"), "{appended}");
    assert!(manifest.ends_with("codegen-units = 1\n"), "{manifest}");
    assert_eq!(settings_lines(appended)[..19], EXPECTED[..19], "{appended}");
    assert!(appended.contains("\n[profile.dev.package.xtask-reader]\nopt-level = 3\ndebug = false\n"), "{appended}");
    let lines: Vec<&str> = appended.lines().collect();
    for (setting, why) in [
        (
            "database = true",
            "# compose.yaml:2 runs PostgreSQL (`db`); app/Cargo.toml:10: `app` uses sqlx with postgres",
        ),
        (
            "APP_DATABASE__PORT",
            "# configuration/base.yaml:5: database.port, set from the environment as APP_DATABASE__PORT (app/src/configuration.rs:7)",
        ),
        ("POSTGRES_PASSWORD", "# compose.yaml:6: a secret"),
        ("base = ", "# git: the branch checked out (no origin yet)"),
        ("base-report = ", "# .github/workflows/ci.yml restores there, on a pull request, the report its run on main"),
    ] {
        let at = lines.iter().position(|l| l.starts_with(setting)).unwrap_or_else(|| panic!("{setting}"));
        assert!(lines[at - 1].starts_with(why), "{setting}: {}", lines[at - 1]);
    }

    // Cargo reads it, with the settings where the gates look for them.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--no-deps", "--offline", "--format-version", "1"])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let xtask = &metadata["metadata"]["xtask"];
    assert_eq!(xtask["test"]["database"], true);
    assert_eq!(xtask["test"]["env"]["APP_DATABASE__HOST"], "{db.host}");
    assert_eq!(xtask["security"]["source-paths"][0], "app/src/**");
    assert_eq!(xtask["coverage"]["base-report"], "target/coverage/base/coverage.xml");

    // The hooks and the workflows are the templates', and pass the lint's checks.
    assert_eq!(read(root, ".pre-commit-config.yaml"), include_str!("../templates/pre-commit-config.yaml"));
    assert_eq!(read(root, ".github/workflows/ci.yml"), include_str!("../templates/ci.yml"));
    let comment = ".github/workflows/coverage-comment.yml";
    assert_eq!(read(root, comment), include_str!("../templates/coverage-comment.yml"));
    // The security gate reads the entry that accepts the comment workflow's trigger, due for
    // review in a year.
    let suppressions = Suppressions::parse(&read(root, "security.toml"), "security.toml").unwrap();
    assert_eq!(suppressions.entries.len(), 1);
    let entry = &suppressions.entries[0];
    assert_eq!((entry.id.as_str(), entry.path.as_deref()), ("zizmor/dangerous-triggers", Some(comment)));
    let in_a_year = |d: Date| Date::from_days_since_epoch(d.days_since_epoch() + 365);
    assert!((in_a_year(before)..=in_a_year(Date::today())).contains(&entry.expires), "{:?}", entry.expires);
    let tree = xtask::repo::files::Tree::list(root, &[]).unwrap();
    for path in ["Cargo.toml", ".pre-commit-config.yaml", ".github/workflows/ci.yml", comment, "security.toml"] {
        let findings = xtask::lint::hygiene::check(path, &std::fs::read(root.join(path)).unwrap(), 500 * 1024);
        assert!(findings.is_empty(), "{path}: {:?}", findings.iter().map(ToString::to_string).collect::<Vec<_>>());
    }
    let verdicts = xtask::lint::policy::check_all(&tree, &[]);
    for id in ["actions-pinned", "precommit-pinned"] {
        let (_, verdict) = verdicts.iter().find(|(p, _)| p.id == id).unwrap();
        assert!(matches!(verdict, xtask::lint::policy::Verdict::Passed(_)), "{id}: {verdict:?}");
    }

    // Run again: nothing changes, and it says so.
    let before = snapshot(root);
    let again = init(root, &[]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(snapshot(root), before, "a second run changes nothing");
    for kept in [
        "left alone Cargo.toml (it has a [workspace.metadata.xtask] table already)",
        "left alone .pre-commit-config.yaml (exists)",
        "left alone .github/workflows/ci.yml (exists)",
        "left alone .github/workflows/coverage-comment.yml (exists)",
        "Nothing to write: every file is there already",
    ] {
        assert!(again.stdout.contains(kept), "{kept}\n{again:?}");
    }
    assert!(!again.stdout.contains("security.toml"), "the workflow is there: its entry is not init's to check");
    assert!(!again.stdout.contains("other workflows"), "the comment's workflow is init's: {again:?}");
    assert!(!again.stdout.contains("lacks"), "the profiles came with the settings: {again:?}");
}

#[test]
fn a_dry_run_prints_everything_and_writes_nothing() {
    let ws = workspace("init-dry");
    let root = &ws.0;
    let before = snapshot(root);
    let run = init(root, &["--dry-run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(snapshot(root), before, "a dry run writes nothing");
    for line in [
        "would append to Cargo.toml: the settings",
        "would write .pre-commit-config.yaml",
        "would write .github/workflows/ci.yml",
        "would write .github/workflows/coverage-comment.yml",
        "would write security.toml",
        "--- .github/workflows/coverage-comment.yml (would write):\n# The pull request's coverage comment",
        "--- security.toml (would write):\n# Suppressions of `cargo xtask security` findings",
        "--- Cargo.toml (would append):\n\n# The quality gates' settings",
        "--- .pre-commit-config.yaml (would write):\n# Local quality gates",
        "--- .github/workflows/ci.yml (would write):\n# The CI gates",
        "Dry run: nothing was written.",
    ] {
        assert!(run.stdout.contains(line), "{line}\n{run:?}");
    }
    for line in EXPECTED {
        assert!(run.stdout.contains(&format!("\n{line}\n")), "{line}\n{run:?}");
    }
    assert!(run.stdout.contains("cancel-in-progress: true"), "the whole workflow: {run:?}");
}

#[test]
fn existing_hooks_and_workflow_are_left_alone_byte_for_byte() {
    let ws = workspace("init-existing");
    let root = &ws.0;
    let hooks = "repos: []  # ours\n";
    let workflow = "name: ours\r\non: push\r\n";
    let comment = "name: our comment\non: workflow_run\n";
    ws.write(".pre-commit-config.yaml", hooks);
    ws.write(".github/workflows/ci.yml", workflow);
    ws.write(".github/workflows/coverage-comment.yml", comment);
    ws.write(".github/workflows/release.yml", "name: release\non: push\n");
    git(root, &["add", "-A"]);
    let run = init(root, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(read(root, ".pre-commit-config.yaml"), hooks);
    assert_eq!(read(root, ".github/workflows/ci.yml"), workflow);
    assert_eq!(read(root, ".github/workflows/coverage-comment.yml"), comment);
    assert!(run.stdout.contains("left alone .pre-commit-config.yaml (exists)"), "{run:?}");
    assert!(run.stdout.contains("left alone .github/workflows/ci.yml (exists)"), "{run:?}");
    assert!(run.stdout.contains("left alone .github/workflows/coverage-comment.yml (exists)"), "{run:?}");
    assert!(run.stdout.contains(".github/workflows has other workflows (.github/workflows/release.yml)"), "{run:?}");
    assert!(run.stdout.contains("appended to Cargo.toml"), "the settings still come: {run:?}");
    assert!(!root.join("security.toml").exists(), "their comment workflow: its suppression is theirs");
    assert!(!read(root, "Cargo.toml").contains("base-report"), "their workflow restores no report: {run:?}");

    // The comment's workflow is written beside theirs; their suppressions file is left alone,
    // and a note says which entry it lacks.
    let ws = workspace("init-suppressions");
    let theirs = "[[suppress]]\nid = \"RUSTSEC-2023-0071\"\nreason = \"not reachable\"\nexpires = 2030-01-01\n";
    ws.write("security.toml", theirs);
    let run = init(&ws.0, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(read(&ws.0, "security.toml"), theirs);
    assert!(
        run.stdout.contains("wrote .github/workflows/coverage-comment.yml\n  left alone security.toml (exists)"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains(
            "security.toml has no entry for .github/workflows/coverage-comment.yml: the security gate fails on \
             zizmor's dangerous-triggers finding there"
        ),
        "{run:?}"
    );

    // A workflow named ci.yaml is the same workflow.
    let ws = workspace("init-ci-yaml");
    ws.write(".github/workflows/ci.yaml", "name: ours\n");
    let run = init(&ws.0, &[]);
    assert!(run.stdout.contains("left alone .github/workflows/ci.yaml (exists)"), "{run:?}");
    assert!(!ws.0.join(".github/workflows/ci.yml").exists());
}

#[test]
fn an_existing_settings_table_leaves_cargo_toml_untouched() {
    let ws = workspace("init-table");
    let root = &ws.0;
    // A key the gates of this version may not know yet: init does not validate the settings.
    let manifest = format!("{ROOT_MANIFEST}\n[workspace.metadata.xtask.test]\ndatabase = true\nnot-a-key = 1\n");
    ws.write("Cargo.toml", &manifest);
    let run = init(root, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(read(root, "Cargo.toml"), manifest, "Cargo.toml untouched");
    assert!(
        run.stdout.contains("left alone Cargo.toml (it has a [workspace.metadata.xtask] table already)"),
        "{run:?}"
    );
    assert!(run.stdout.contains("Cargo.toml lacks 12 of the xtask's [profile.dev.package.*] sections"), "{run:?}");
    assert!(run.stdout.contains("wrote .pre-commit-config.yaml"), "{run:?}");
    // The workflow it writes restores the merge base's report for a setting it cannot add.
    assert!(
        run.stdout.contains(
            "add `base-report = \"target/coverage/base/coverage.xml\"` to [workspace.metadata.xtask.coverage] so that \
             `--diff` compares with it"
        ),
        "{run:?}"
    );
}

#[test]
fn the_settings_dev_file_is_read_over_the_compose_file() {
    let ws = workspace("init-dev-file");
    let root = &ws.0;
    ws.write("deploy/dev.yaml", "services:\n  redis:\n    ports: [\"127.0.0.1::6379\"]\n");
    let manifest = format!("{ROOT_MANIFEST}\n[workspace.metadata.xtask.compose]\ndev-file = \"deploy/dev.yaml\"\n");
    ws.write("Cargo.toml", &manifest);
    git(root, &["add", "-A"]);
    let run = init(root, &["--dry-run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("compose.yaml: compose file (with deploy/dev.yaml over it)"), "{run:?}");
    assert!(run.stdout.contains("`redis` runs Redis (redis:7), port 6379, published on 127.0.0.1"), "{run:?}");
    assert!(!run.stdout.contains("does not publish"), "the overlay publishes it: {run:?}");
}

#[test]
fn input_errors_exit_2_naming_the_file() {
    let ws = workspace("init-bad-compose");
    ws.write("compose.yaml", "services:\n  db: [\n");
    let before = snapshot(&ws.0);
    let run = init(&ws.0, &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("compose.yaml:"), "{run:?}");
    assert!(run.stderr.contains("invalid YAML"), "{run:?}");
    assert_eq!(snapshot(&ws.0), before, "nothing is written");

    // A manifest inside another workspace is not a workspace root.
    let ws = workspace("init-nested");
    let inner = ws.0.join("app");
    std::fs::create_dir_all(inner.join("xtask/src")).unwrap();
    std::fs::write(inner.join("xtask/Cargo.toml"), "[package]\nname = \"xtask\"\nversion = \"0.1.0\"\n").unwrap();
    std::fs::write(inner.join("xtask/src/main.rs"), "fn main() {}\n").unwrap();
    let run = init(&inner, &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("is not a workspace root"), "{run:?}");
}

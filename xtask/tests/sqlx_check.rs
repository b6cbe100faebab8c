//! A real workspace using sqlx's compile-time checked queries (`query_scalar!`), with the app's
//! migrations (`app/migrations/`), built for real: sqlx 0.9 with the root `Cargo.lock`'s
//! versions (already downloaded), in one target folder shared by every run of this test
//! (`CARGO_TARGET_TMPDIR/sqlx-check-target`), so only the first run builds the dependencies.
//!
//! - `cargo xtask test` applies the migrations before the build (the query macro compiles
//!   against them), and sqlx's own migrator, in the workspace's test, then finds them applied:
//!   the same versions, descriptions and checksums, and it runs none of them again.
//! - `cargo xtask lint`'s sqlx check fails on a `.sqlx/` that is missing a query, out of date
//!   or holds one the code no longer runs, passes on a current one, and `--fix` writes it;
//!   without a database it is an error naming the three ways to provide one.
//!
//! rustfmt and clippy are stand-ins here (`cargo fmt`/`cargo clippy` pass), so that clippy
//! does not build sqlx a third time: `lint_real_tools.rs` runs the real ones.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::Run;
use support::standin::StandIn;

/// `fmt` and `clippy` pass; everything else is the real cargo (`$REAL_CARGO`).
const CARGO: &str = r#"#!/bin/sh
case "$1" in
  fmt|clippy) [ "$2" = --version ] && echo "$1 1.0.0"; exit 0 ;;
esac
exec "$REAL_CARGO" "$@"
"#;

const LIB_RS: &str = r#"//! A service's data access, checked against the schema at compile time.

pub async fn merchant_names(conn: &mut sqlx::PgConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT name FROM merchants ORDER BY name").fetch_all(conn).await
}
"#;

/// The proof that the xtask's bookkeeping is sqlx's: its migrator, with the migrations compiled
/// in as an app embeds them, on the database `cargo xtask test` migrated.
const MIGRATOR_RS: &str = r#"use sqlx::{Connection, PgConnection};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

type Row = (i64, String, bool, Vec<u8>, i64, String);

async fn rows(conn: &mut PgConnection) -> Vec<Row> {
    let sql = "SELECT version, description, success, checksum, execution_time, installed_on::text \
               FROM _sqlx_migrations ORDER BY version";
    sqlx::query_as(sql).fetch_all(conn).await.unwrap()
}

#[tokio::test]
async fn sqlx_s_migrator_finds_every_migration_applied() {
    let url = std::env::var("DATABASE_URL").expect("run by `cargo xtask test`");
    let mut conn = PgConnection::connect(&url).await.unwrap();
    let before = rows(&mut conn).await;
    let expected: Vec<(i64, String, bool, Vec<u8>)> =
        MIGRATOR.iter().map(|m| (m.version, m.description.to_string(), true, m.checksum.to_vec())).collect();
    let recorded: Vec<(i64, String, bool, Vec<u8>)> =
        before.iter().map(|r| (r.0, r.1.clone(), r.2, r.3.clone())).collect();
    assert_eq!(recorded, expected, "recorded as sqlx records them");
    assert!(before.iter().all(|r| r.4 > 0), "execution times: {before:?}");
    MIGRATOR.run(&mut conn).await.expect("sqlx's migrator accepts the database");
    assert_eq!(rows(&mut conn).await, before, "and applies nothing again");
    assert!(shop::merchant_names(&mut conn).await.unwrap().is_empty());
}
"#;

/// The workspace: `shop` (sqlx, tokio) and a stand-in `xtask` package; the app's migrations in
/// `migrations/` (the default folder); the root `Cargo.lock`, trimmed to it by cargo offline;
/// a git checkout (the lint lists its files with git).
struct Ws {
    dir: StandIn,
    root: PathBuf,
}

impl Ws {
    fn new() -> Ws {
        let dir = StandIn::new("sqlx-check").cargo(CARGO);
        let root = dir.path("ws");
        let ws = Ws { dir, root };
        ws.write(".gitignore", ".env\ntarget/\n");
        ws.manifest("");
        ws.write("xtask/Cargo.toml", "[package]\nname = \"xtask\"\nversion = \"0.0.0\"\nedition = \"2021\"\n");
        ws.write("xtask/src/lib.rs", "");
        ws.write(
            "shop/Cargo.toml",
            "[package]\nname = \"shop\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n\
             sqlx = { version = \"=0.9.0\", default-features = false, features = [\"postgres\", \"runtime-tokio\", \
             \"macros\", \"migrate\"] }\n\n[dev-dependencies]\ntokio = { version = \"1\", features = [\"rt\", \"macros\"] }\n",
        );
        ws.write("shop/src/lib.rs", LIB_RS);
        ws.write("shop/tests/migrator.rs", MIGRATOR_RS);
        for entry in std::fs::read_dir(support::workspace_root().join("app/migrations")).unwrap() {
            let path = entry.unwrap().path();
            ws.write(
                &format!("migrations/{}", path.file_name().unwrap().to_string_lossy()),
                std::fs::read(&path).unwrap(),
            );
        }
        ws.write("Cargo.lock", std::fs::read(support::workspace_root().join("Cargo.lock")).unwrap());
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out =
            Command::new(cargo).args(["update", "--workspace", "--offline"]).current_dir(&ws.root).output().unwrap();
        assert!(out.status.success(), "cargo update --workspace --offline: {}", String::from_utf8_lossy(&out.stderr));
        let out = Command::new("git").args(["init", "-q", "-b", "main"]).current_dir(&ws.root).output().unwrap();
        assert!(out.status.success());
        ws
    }

    /// The root manifest, `lint` in its lint table.
    fn manifest(&self, lint: &str) {
        self.write(
            "Cargo.toml",
            format!(
                "[workspace]\nmembers = [\"xtask\", \"shop\"]\nresolver = \"2\"\n\n\
                 [workspace.metadata.xtask.test]\ndatabase = true\n\n[workspace.metadata.xtask.lint]\n{lint}"
            ),
        );
    }

    fn write(&self, path: &str, content: impl AsRef<[u8]>) {
        let full = self.root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.root.join(path)).unwrap()
    }

    /// The xtask on the workspace, the builds in the shared target folder, offline.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = support::xtask();
        for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET_DIR", "GIT_DIR", "GIT_WORK_TREE"] {
            c.env_remove(var);
        }
        self.dir.on(&mut c);
        c.current_dir(&self.root)
            .env("CARGO_MANIFEST_DIR", self.root.join("xtask"))
            .env("CARGO_TARGET_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("sqlx-check-target"))
            .env("CARGO_NET_OFFLINE", "true")
            .env("XTASK_TOOLS_DIR", self.dir.path("tools"))
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        support::run(self.command(args))
    }

    /// The one query data file `.sqlx/` holds.
    fn query_file(&self) -> String {
        let files: Vec<String> = std::fs::read_dir(self.root.join(".sqlx"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        format!(".sqlx/{}", files[0])
    }
}

/// The report line of the sqlx check.
fn line(run: &Run) -> &str {
    run.stdout.lines().find(|l| l.contains("sqlx prepare --check")).unwrap_or_else(|| panic!("{run:?}"))
}

#[test]
fn the_migrations_are_applied_before_the_build_and_sqlx_finds_them_applied_then_the_lint_holds_sqlx_to_the_code() {
    let ws = Ws::new();

    // The test gate: the query compiles against the migrated database, and sqlx's migrator
    // (the workspace's test) agrees with what was recorded.
    let run = ws.run(&["test"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("database: applied 2 migrations from migrations/ (sqlx)\n"), "{run:?}");
    assert!(run.stderr.contains("sqlx_s_migrator_finds_every_migration_applied"), "{run:?}");

    // Without `.sqlx/` the check does not apply.
    let run = ws.run(&["lint"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(line(&run), "– sqlx prepare --check: not applicable (no .sqlx/ folder)");

    // An empty `.sqlx/`: the code's query has no data.
    std::fs::create_dir_all(ws.root.join(".sqlx")).unwrap();
    let run = ws.run(&["lint"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(line(&run), "✗ sqlx prepare --check (1 query): 1 finding", "{run:?}");
    assert!(run.stdout.contains("  rule: `.sqlx/` holds exactly what sqlx's macros get"), "{run:?}");
    let missing = run.stdout.lines().find(|l| l.contains(" is missing: ")).unwrap_or_else(|| panic!("{run:?}"));
    assert!(
        missing.starts_with("  .sqlx/query-")
            && missing.ends_with(": no query data for `SELECT name FROM merchants ORDER BY name`"),
        "{missing}"
    );
    assert!(run.stderr.contains("database: applied 2 migrations from migrations/ (sqlx)\n"), "{run:?}");

    // `--fix` writes it; then the check passes.
    let run = ws.run(&["lint", "--fix"]);
    assert_eq!(run.code, 0, "{run:?}");
    let file = ws.query_file();
    assert!(run.stdout.contains(&format!("fixed {file} (sqlx: written)\n")), "{run:?}");
    assert_eq!(line(&run), "✓ sqlx prepare --check (1 query)", "{run:?}");
    let data = ws.read(&file);
    assert!(data.contains("\"query\": \"SELECT name FROM merchants ORDER BY name\""), "{data}");
    let run = ws.run(&["lint"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(line(&run), "✓ sqlx prepare --check (1 query)", "{run:?}");

    // The same data formatted otherwise is the same data.
    let compact = serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&data).unwrap()).unwrap();
    ws.write(&file, compact + "\n");
    let run = ws.run(&["lint"]);
    assert_eq!(run.code, 0, "{run:?}");

    // Data that no longer matches the schema's answer.
    ws.write(&file, data.replacen("false", "true", 1));
    let run = ws.run(&["lint"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains(&format!(
            "  {file}: out of date: the migrated schema describes `SELECT name FROM merchants ORDER BY name` differently\n"
        )),
        "{run:?}"
    );
    ws.write(&file, &data);

    // A query of the code changes: its data is missing, the old data unused.
    ws.write("shop/src/lib.rs", LIB_RS.replace("ORDER BY name", "ORDER BY created_at"));
    let run = ws.run(&["lint"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(line(&run), "✗ sqlx prepare --check (1 query): 2 findings", "{run:?}");
    assert!(
        run.stdout.contains("is missing: no query data for `SELECT name FROM merchants ORDER BY created_at`"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains(&format!(
            "  {file}: no longer used: no query of the code is `SELECT name FROM merchants ORDER BY name`\n"
        )),
        "{run:?}"
    );

    // A query the schema cannot answer fails the build: the compiler's error, at the query.
    ws.write("shop/src/lib.rs", LIB_RS.replace("SELECT name", "SELECT nam"));
    let run = ws.run(&["lint"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(line(&run), "✗ sqlx prepare --check (the build failed): 1 finding", "{run:?}");
    assert!(
        run.stdout.contains("  shop/src/lib.rs:4: error: error returned from database: column \"nam\" does not exist"),
        "{run:?}"
    );
    ws.write("shop/src/lib.rs", LIB_RS);

    // No way to provide a database: exit 2, naming the three ways.
    let bin = ws.dir.path("bin");
    std::os::unix::fs::symlink(xtask::process::which("git").unwrap(), bin.join("git")).unwrap();
    let mut c = ws.command(&["lint"]);
    c.env("PATH", &bin).env("XTASK_PG_BIN", ws.dir.path("no-postgres"));
    let run = support::run(c);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(line(&run), "✗ sqlx prepare --check: could not run", "{run:?}");
    assert!(run.stdout.contains("the sqlx check describes the queries to a PostgreSQL server:"), "{run:?}");
    assert!(run.stdout.contains("1. set DATABASE_URL="), "{run:?}");

    // Turned off.
    ws.manifest("sqlx-check = false\n");
    let run = ws.run(&["lint"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(line(&run), "– sqlx prepare --check: not applicable (`sqlx-check = false`)");
}

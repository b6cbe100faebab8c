//! `cargo xtask test` applies the workspace's migrations to the test database before the tests
//! build: sqlx migrations with `psql`, recorded in `_sqlx_migrations` as sqlx records them, or
//! the workspace's own `migrate-command`. The databases are real (a throwaway cluster, the
//! compose `db` service on the real Docker engine); a stand-in `cargo` stands for the test run
//! and looks at the database while it "runs". That sqlx's own migrator agrees with the
//! bookkeeping is shown in `sqlx_check.rs`, which builds a crate that uses it.

mod support;

use std::process::Command;

use support::standin::StandIn;

/// Stand-in cargo: the real `metadata`; the test commands record DATABASE_URL and source
/// `$STANDIN/during.sh`.
const CARGO: &str = r#"#!/bin/bash
printf 'cargo %s\n' "$*" >> "$STANDIN/log"
case "$1" in
  metadata) exec "$REAL_CARGO" "$@" ;;
  nextest) [ "$2" = --version ] && { echo "cargo-nextest 0.9.143"; exit 0; } ;;
esac
printf '%s\n' "${DATABASE_URL-<unset>}" >> "$STANDIN/urls"
[ -e "$STANDIN/during.sh" ] && source "$STANDIN/during.sh"
exit 0
"#;

/// While the tests run: what `_sqlx_migrations` and the schema say (unless in a nested run).
const RECORD: &str = r#"[ -n "$XTASK_INNER" ] && return 0
psql -XAt -F ' ' "$DATABASE_URL" -c "select version, description, success, encode(checksum, 'hex'), \
  execution_time > 0, installed_on from _sqlx_migrations order by version" > "$STANDIN/rows" 2>&1
psql -XAt "$DATABASE_URL" -c "select name from shops" -c "select count(*) from orders" \
  -c "select indexname from pg_indexes where indexname = 'shops_name'" > "$STANDIN/schema" 2>&1
"#;

/// A workspace (`ws/`, the xtask pointed at it) with `database = true` and `table` in its
/// test settings; `migrations/` holds `files`.
fn workspace(table: &str, files: &[(&str, &str)]) -> StandIn {
    let s = StandIn::new("migrate-run").cargo(CARGO).gate("test").env_path("CARGO_MANIFEST_DIR", "ws/xtask");
    s.write(
        "ws/Cargo.toml",
        format!(
            "[workspace]\nmembers = [\"xtask\"]\nresolver = \"2\"\n\n\
             [workspace.metadata.xtask.test]\ndatabase = true\n{table}\n"
        ),
    );
    s.write("ws/xtask/Cargo.toml", "[package]\nname = \"xtask\"\nversion = \"0.0.0\"\nedition = \"2021\"\n");
    s.write("ws/xtask/src/lib.rs", "");
    for (name, sql) in files {
        s.write(&format!("ws/migrations/{name}"), sql);
    }
    s.write("during.sh", RECORD);
    s
}

const SHOPS: &str =
    "CREATE TABLE shops (id int PRIMARY KEY, name text NOT NULL);\nINSERT INTO shops VALUES (1, 'a;b');\n";
const ORDERS: &str = "CREATE TABLE orders (id int);\n";
/// Fails inside a transaction: it applies only outside one.
const INDEX: &str = "-- no-transaction\nCREATE INDEX CONCURRENTLY shops_name ON shops (name);\n";

fn files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("1_create_shops.sql", SHOPS),
        ("2_add_orders.up.sql", ORDERS),
        // Never applied: it would drop the shops.
        ("2_add_orders.down.sql", "DROP TABLE shops;\n"),
        ("3_index_concurrently.sql", INDEX),
        ("README.md", "how to write a migration\n"),
    ]
}

/// SHA-384 of `text` in hex, by coreutils (the checksum sqlx records).
fn sha384(text: &str) -> String {
    let dir = support::Scratch::new("sha384");
    let file = dir.write("f", text);
    let out = Command::new("sha384sum").arg(&file).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_owned()
}

/// The rows `RECORD` saw, without `installed_on`.
fn rows(s: &StandIn) -> Vec<String> {
    s.lines("rows").iter().map(|r| r.rsplitn(3, ' ').nth(2).unwrap_or(r).to_owned()).collect()
}

#[test]
fn migrations_are_applied_before_the_tests_and_recorded_as_sqlx_records_them() {
    let s = workspace("database-name = \"shop_test\"", &files());
    let run = s.run(&["--", "one-run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("database: applied 3 migrations from migrations/ (sqlx)\n"), "{run:?}");
    let line = |text: &str| run.stderr.find(text).unwrap_or_else(|| panic!("{text}: {run:?}"));
    assert!(
        line("database: throwaway PostgreSQL") < line("database: applied")
            && line("database: applied") < line("$ cargo nextest run")
    );
    assert_eq!(
        rows(&s),
        [
            format!("1 create shops t {} t", sha384(SHOPS)),
            format!("2 add orders t {} t", sha384(ORDERS)),
            format!("3 index concurrently t {} t", sha384(INDEX)),
        ],
        "{:?}",
        s.lines("rows")
    );
    // The SQL ran whole (a `;` inside a string too), the down migration did not run, and the
    // index was built outside a transaction.
    assert_eq!(s.lines("schema"), ["a;b", "0", "shops_name"]);

    // No database for the run: nothing is applied.
    let run = s.run(&["--no-database", "--", "one-run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stderr.contains("database:"), "{run:?}");
}

/// A second run on the same database (`DATABASE_URL`, given by the outer run to a nested one,
/// as a developer's server would be) skips what is applied, refuses a migration that changed
/// since, and names a migration that fails with PostgreSQL's error.
#[test]
fn applied_migrations_are_skipped_a_changed_one_is_refused_and_a_failing_one_named() {
    let s = workspace("", &files());
    let migrations = s.path("ws/migrations");
    let inner = |n: u32| {
        format!(
            "XTASK_INNER=1 '{xtask}' test -- inner > \"$STANDIN/inner-{n}.out\" 2>&1\n\
             echo $? > \"$STANDIN/inner-{n}.code\"\n\
             psql -XAt -F ' ' \"$DATABASE_URL\" -c \"select version, description, success, encode(checksum, 'hex'), \
             execution_time > 0, installed_on from _sqlx_migrations order by version\" > \"$STANDIN/rows-{n}\"\n",
            xtask = env!("CARGO_BIN_EXE_xtask"),
        )
    };
    s.write("edited.sql", format!("{SHOPS}-- edited\n"));
    s.write("original.sql", SHOPS);
    s.write("broken.sql", "CREATE TABLE t4 (x int);\nSELECT 1/0;\n");
    let m = migrations.display();
    s.write(
        "during.sh",
        format!(
            "{RECORD}{}cp \"$STANDIN/edited.sql\" '{m}/1_create_shops.sql'\n{}\
             cp \"$STANDIN/original.sql\" '{m}/1_create_shops.sql'\ncp \"$STANDIN/broken.sql\" '{m}/4_broken.sql'\n{}\
             psql -XAt \"$DATABASE_URL\" -c \"select to_regclass('t4') is null\" > \"$STANDIN/t4\"\n",
            inner(1),
            inner(2),
            inner(3)
        ),
    );
    let run = s.run(&["--", "one-run"]);
    assert_eq!(run.code, 0, "{run:?}");
    let inner = |n: u32| {
        let out = std::fs::read_to_string(s.path(&format!("inner-{n}.out"))).unwrap();
        (std::fs::read_to_string(s.path(&format!("inner-{n}.code"))).unwrap().trim().to_owned(), out)
    };

    let (code, out) = inner(1);
    assert_eq!(code, "0", "{out}");
    assert!(out.contains("database: DATABASE_URL answers"), "{out}");
    assert!(out.contains("database: 3 migrations from migrations/ already applied (sqlx)\n"), "{out}");
    assert_eq!(s.lines("rows-1"), s.lines("rows"), "nothing ran again: the same rows, the same times");

    let (code, out) = inner(2);
    assert_eq!(code, "2", "{out}");
    assert!(
        out.contains(
            "migrations/1_create_shops.sql was changed after it was applied to the test database (its SHA-384 \
             checksum differs from the one in _sqlx_migrations)"
        ),
        "{out}"
    );
    assert!(!out.contains("$ cargo nextest run"), "no test runs: {out}");

    let (code, out) = inner(3);
    assert_eq!(code, "2", "{out}");
    assert!(
        out.contains("the migration migrations/4_broken.sql failed (rolled back):\nERROR:  division by zero"),
        "{out}"
    );
    assert_eq!(s.lines("rows-3"), s.lines("rows"), "no row for the failed one");
    assert_eq!(s.lines("t4"), ["t"], "its table was rolled back with it");
}

#[test]
fn a_migrate_command_runs_at_the_root_with_the_database_url() {
    let command = concat!(
        r#"migrate-command = ["sh", "-c", "psql -X -q -v ON_ERROR_STOP=1 -d \"$DATABASE_URL\" "#,
        r#"-c 'CREATE TABLE shops (name text)' -c \"INSERT INTO shops VALUES ('$(pwd)')\""]"#
    );
    // The default folder is not used: the command is the way.
    let s = workspace(command, &files());
    let run = s.run(&["--", "one-run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("database: applying the migrations: $ sh -c psql -X"), "{run:?}");
    assert_eq!(s.lines("schema")[0], std::fs::canonicalize(s.path("ws")).unwrap().display().to_string());
    assert!(s.lines("rows")[0].contains("does not exist"), "no sqlx bookkeeping: {:?}", s.lines("rows"));

    let s = workspace(r#"migrate-command = ["sh", "-c", "echo cannot migrate >&2; exit 3"]"#, &[]);
    let run = s.run(&["--", "one-run"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(
            "the migrate command `sh -c echo cannot migrate >&2; exit 3` (`migrate-command` in \
             [workspace.metadata.xtask.test]) failed (exit status: 3):\ncannot migrate"
        ),
        "{run:?}"
    );
    assert!(s.lines("urls").is_empty(), "no test runs");
    assert!(run.stderr.contains("database: stopped the throwaway cluster"), "{run:?}");
}

/// Without `psql` on the host, the compose `db` service's own applies them.
#[test]
fn the_compose_database_is_migrated_by_its_own_psql_when_the_host_has_none() {
    if !support::docker_engine("the_compose_database_is_migrated…") {
        return;
    }
    let _engine = support::docker_lock();
    let s = workspace(
        "[workspace.metadata.xtask.compose]\nenv = { DB_PASSWORD = \"{secret}\" }",
        &[("1_create_shops.sql", SHOPS), ("2_add_orders.up.sql", ORDERS)],
    );
    s.write(
        "ws/compose.yaml",
        "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_USER: shop\n      \
         POSTGRES_PASSWORD: ${DB_PASSWORD}\n      POSTGRES_DB: shop_db\n    ports: [\"127.0.0.1::5432\"]\n    \
         volumes: [\"./initdb:/docker-entrypoint-initdb.d:ro\"]\n    \
         healthcheck:\n      test: [\"CMD\", \"pg_isready\", \"-U\", \"shop\", \"-d\", \"shop_db\"]\n      \
         interval: 1s\n      retries: 60\n",
    );
    // The image's entrypoint runs its init scripts against a first server that listens on its
    // socket only, then restarts it; the healthcheck (on the socket) passes against that first
    // one, so `up --wait` returns before the real server listens. A slow init script, as a
    // seed-data load is, holds that window open for every run: the gate must wait it out
    // (the published port accepts connections all along, through Docker's proxy).
    s.write("ws/initdb/slow.sh", "sleep 4\n");
    // The host's psql is out of reach: PATH has the stand-ins and docker only; the tests'
    // stand-in reads the database with the host's psql by its full path.
    let docker = xtask::process::which("docker").unwrap();
    std::os::unix::fs::symlink(&docker, s.path("bin/docker")).unwrap();
    let psql = xtask::process::which("psql").unwrap();
    s.write("during.sh", RECORD.replace("psql ", &format!("{} ", psql.display())));
    let run = support::run(s.command_with_path(&["--", "one-run"], s.path("bin")));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("database: compose `db` service"), "{run:?}");
    assert!(run.stderr.contains("database: applied 2 migrations from migrations/ (sqlx)\n"), "{run:?}");
    assert_eq!(
        rows(&s),
        [format!("1 create shops t {} t", sha384(SHOPS)), format!("2 add orders t {} t", sha384(ORDERS))],
        "{:?}",
        s.lines("rows")
    );
    let url = s.lines("urls")[0].clone();
    let secret = url.split(':').nth(2).unwrap().split('@').next().unwrap().to_owned();
    assert!(!run.stderr.contains(&secret) && !run.stdout.contains(&secret), "the password is not shown: {run:?}");
}

//! The test database's schema, applied once it is provided and before anything builds: sqlx's
//! query macros (`query!`) check their queries against it while compiling.
//!
//! Either the workspace's own command (`migrate-command`, run at the root with `DATABASE_URL`),
//! or a folder of sqlx migrations (`migrations`, by default `migrations/` when it holds any),
//! applied without sqlx-cli and exactly as sqlx 0.9's migrator does, so that the app's own
//! migrator later finds them applied:
//!
//! - The folder is read as `sqlx-core`'s `migrate/source.rs` reads it: each file named
//!   `<VERSION>_<DESCRIPTION>.sql` (VERSION an `i64`; a name with a `_` and a `.sql` end whose
//!   version is not a number is an error, as there), `.up.sql` and `.down.sql` for reversible
//!   ones, other files ignored; the description with its `_` as spaces; `-- no-transaction` as
//!   the first line runs it outside a transaction; sorted by version. Down migrations are not
//!   applied.
//! - The bookkeeping is `sqlx-postgres`'s `migrate.rs`: `_sqlx_migrations` created with its
//!   DDL when missing; a row that failed half-way (`success = false`), or an applied version
//!   the folder no longer has, is an error, as for sqlx's migrator; an applied version whose
//!   checksum (SHA-384 of the file's SQL) differs is an error naming the file; each pending
//!   migration runs, in one transaction with its row (`success = true`, the checksum, then
//!   `execution_time` in nanoseconds once it committed).
//!
//! `psql` runs it: the checksums are computed by PostgreSQL (`sha384`) from the file's bytes,
//! sent hex-encoded, so no SQL text is ever quoted by us; and each migration's SQL is sent
//! whole, as one query (`\gexec` of the decoded text), as sqlx sends it, never split by psql.
//! Its program: beside the throwaway cluster's server binaries, else on PATH; for the compose
//! database without a `psql` on the host, the service's own (`docker compose exec`).

use std::path::{Path, PathBuf};
use std::process::Output;

use anyhow::{Context as _, Result, anyhow, bail};

use super::{Database, Source};
use crate::process::{Cmd, is_executable, which};
use crate::settings::Migrations;
use crate::{Context, interrupt};

/// The table sqlx's migrator keeps (`Migrator::table_name`'s default).
const TABLE: &str = "_sqlx_migrations";

/// Where the schema comes from, for one root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// A folder of sqlx migrations (absolute), and how messages name it (`migrations/`).
    Folder { dir: PathBuf, shown: String },
    /// The workspace's own command: a program and its arguments.
    Command(Vec<String>),
}

/// What `settings` asks for at `root`: `None` when nothing is to be applied (`migrations =
/// false`, or by default when `root/migrations/` holds no sqlx migration).
pub fn plan(settings: &Migrations, root: &Path) -> Option<Plan> {
    let folder = |rel: &Path| {
        let shown = format!("{}/", rel.display().to_string().trim_end_matches('/'));
        Plan::Folder { dir: root.join(rel), shown }
    };
    match settings {
        Migrations::Off => None,
        Migrations::Command(command) => Some(Plan::Command(command.clone())),
        Migrations::Folder(rel) => Some(folder(rel)),
        Migrations::Default => holds_migrations(&root.join("migrations")).then(|| folder(Path::new("migrations"))),
    }
}

/// Whether `dir` holds a file named as a sqlx migration: `<digits>_<description>.sql` (also
/// `.up.sql`, `.down.sql`).
pub fn holds_migrations(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.filter_map(|e| e.ok()).filter(|e| e.path().is_file()).any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        name.split_once('_').is_some_and(|(version, rest)| {
            !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()) && rest.ends_with(".sql")
        })
    })
}

/// sqlx's `MigrationType`, down migrations left out (they are never applied).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `<VERSION>_<DESCRIPTION>.sql`.
    Simple,
    /// `<VERSION>_<DESCRIPTION>.up.sql`.
    Up,
}

/// One migration to apply, as sqlx resolves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    /// The file name's description, its `_` as spaces (what `_sqlx_migrations` records).
    pub description: String,
    pub kind: Kind,
    /// The file, as messages name it (`migrations/1_users.sql`).
    pub file: String,
    /// The file's text, the SQL sent and the checksum's input.
    pub sql: String,
    /// The first line is `-- no-transaction`.
    pub no_transaction: bool,
}

/// The up migrations of `dir`, sorted by version (then simple before up, as sqlx sorts).
/// `shown` is how messages name the folder (`migrations/`).
pub fn read(dir: &Path, shown: &str) -> Result<Vec<Migration>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("cannot read the migrations folder {shown}"))?;
    let mut migrations = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read the migrations folder {shown}"))?;
        let path = entry.path();
        if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let file = format!("{shown}{name}");
        let Some((version, rest)) = name.split_once('_').filter(|(_, rest)| rest.ends_with(".sql")) else {
            continue;
        };
        let version: i64 = version.parse().map_err(|_| {
            anyhow!(
                "{file}: not a sqlx migration name: the part before the first `_` must be its version, an integer \
                 (e.g. `20240101000000_create_users.sql`); sqlx refuses this folder too"
            )
        })?;
        let (kind, suffix) = if rest.ends_with(".down.sql") {
            continue;
        } else if rest.ends_with(".up.sql") {
            (Kind::Up, ".up.sql")
        } else {
            (Kind::Simple, ".sql")
        };
        let sql = std::fs::read_to_string(&path).with_context(|| format!("cannot read {file} as UTF-8 text"))?;
        migrations.push(Migration {
            version,
            description: rest.trim_end_matches(suffix).replace('_', " "),
            kind,
            file,
            no_transaction: sql.starts_with("-- no-transaction"),
            sql,
        });
    }
    migrations.sort_by_key(|m| (m.version, m.kind));
    if let Some(pair) = migrations.windows(2).find(|w| w[0].version == w[1].version) {
        bail!(
            "{} and {} have the same version, {}: give each migration its own",
            pair[0].file,
            pair[1].file,
            pair[0].version
        );
    }
    Ok(migrations)
}

/// Applies the migrations the test settings name for `root` (the workspace's, or the checkout
/// the lint checks) to `db` (see the module documentation), saying what it did on one line;
/// nothing when there are none. `env`: the variables the tests get besides `DATABASE_URL`,
/// which a migrate command gets too.
pub fn apply(cx: &Context, root: &Path, db: &Database, env: &[(String, String)]) -> Result<()> {
    let Some(plan) = plan(&cx.settings.test.migrations, root) else { return Ok(()) };
    match &plan {
        Plan::Command(command) => run_command(root, db, command, env),
        Plan::Folder { dir, shown } => {
            let migrations = read(dir, shown)?;
            let applied = apply_folder(&|| db.psql(cx), &migrations, shown)?;
            let already = migrations.len() - applied;
            eprintln!("database: {}", said(applied, already, shown));
            Ok(())
        }
    }
}

/// The progress line: how many were applied, and how many were there already.
fn said(applied: usize, already: usize, shown: &str) -> String {
    let n = |count: usize| if count == 1 { "1 migration".to_owned() } else { format!("{count} migrations") };
    match (applied, already) {
        (0, 0) => format!("no migrations in {shown} (sqlx)"),
        (0, _) => format!("{} from {shown} already applied (sqlx)", n(already)),
        (_, 0) => format!("applied {} from {shown} (sqlx)", n(applied)),
        _ => format!("applied {} from {shown} (sqlx; {already} already applied)", n(applied)),
    }
}

/// `migrate-command`, at `root`, with `DATABASE_URL` and `env`.
fn run_command(root: &Path, db: &Database, command: &[String], env: &[(String, String)]) -> Result<()> {
    let shown = command.join(" ");
    eprintln!("database: applying the migrations: $ {shown}");
    let c = Cmd::new(&command[0])
        .args(&command[1..])
        .current_dir(root)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("DATABASE_URL", db.url())
        .shown(shown.clone());
    let out = interrupt::output(c)?;
    interrupt::check()?;
    if !out.status.success() {
        bail!(
            "the migrate command `{shown}` (`migrate-command` in [workspace.metadata.xtask.test]) failed ({}):\n{}",
            out.status,
            crate::process::last_lines(&crate::process::text(&out), crate::process::SHOWN_LINES)
        );
    }
    Ok(())
}

/// One row of the state query: a migration applied to the database, or a file's checksum.
#[derive(Debug)]
struct Row {
    version: i64,
    checksum: String,
    success: bool,
}

/// Applies the pending ones of `migrations` with the `psql` that `psql` gives (connected, ready
/// for arguments); how many it applied.
fn apply_folder(psql: &dyn Fn() -> Result<Cmd>, migrations: &[Migration], shown: &str) -> Result<usize> {
    let (applied, checksums) = state(psql, migrations)?;
    if let Some(dirty) = applied.iter().find(|r| !r.success) {
        bail!(
            "migration {} is partially applied to the test database ({TABLE} says success = false): \
             sqlx refuses to migrate it too; fix the database, or start from a fresh one",
            dirty.version
        );
    }
    if let Some(gone) = applied.iter().find(|r| !migrations.iter().any(|m| m.version == r.version)) {
        bail!(
            "migration {} is applied to the test database but is not in {shown}: sqlx's migrator refuses such a \
             database (put the file back, or use a fresh database)",
            gone.version
        );
    }
    let mut pending = Vec::new();
    for (m, checksum) in migrations.iter().zip(&checksums) {
        match applied.iter().find(|r| r.version == m.version) {
            Some(r) if r.checksum != *checksum => bail!(
                "{} was changed after it was applied to the test database (its SHA-384 checksum differs from \
                 the one in {TABLE}): sqlx's migrator refuses it too. Restore the file and add a new migration \
                 for the change, or start from a fresh database",
                m.file
            ),
            Some(_) => {}
            None => pending.push(m),
        }
    }
    for m in &pending {
        interrupt::check()?;
        let out = psql()?.output_with_stdin(apply_script(m).into_bytes())?;
        if !out.status.success() {
            let undone = if m.no_transaction {
                "it ran outside a transaction (`-- no-transaction`): what ran before the error stays"
            } else {
                "rolled back"
            };
            bail!("the migration {} failed ({undone}):\n{}", m.file, psql_error(&out));
        }
    }
    Ok(pending.len())
}

/// psql's error lines, without the `psql:<stdin>:N:` prefix (a line of our script, not of the
/// migration).
fn psql_error(out: &Output) -> String {
    let text = crate::process::text(out);
    let lines: Vec<String> = text
        .lines()
        .map(|l| match l.strip_prefix("psql:<stdin>:").and_then(|rest| rest.split_once(": ")) {
            Some((line, message)) if line.bytes().all(|b| b.is_ascii_digit()) => message.to_owned(),
            _ => l.to_owned(),
        })
        .collect();
    crate::process::last_lines(&lines.join("\n"), crate::process::SHOWN_LINES)
}

/// `_sqlx_migrations` (created when missing, with sqlx's DDL) and each migration's checksum
/// (hex, in `migrations`' order), in one psql run.
fn state(psql: &dyn Fn() -> Result<Cmd>, migrations: &[Migration]) -> Result<(Vec<Row>, Vec<String>)> {
    let mut script = format!(
        "\\encoding UTF8\nSET client_min_messages = warning;\n\
         CREATE TABLE IF NOT EXISTS {TABLE} (\n    version BIGINT PRIMARY KEY,\n    description TEXT NOT NULL,\n    \
         installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),\n    success BOOLEAN NOT NULL,\n    \
         checksum BYTEA NOT NULL,\n    execution_time BIGINT NOT NULL\n);\n\
         SELECT 'applied', version, encode(checksum, 'hex'), success FROM {TABLE}"
    );
    if !migrations.is_empty() {
        let files: Vec<String> =
            migrations.iter().enumerate().map(|(i, m)| format!("({i}::bigint, '{}')", hex(m.sql.as_bytes()))).collect();
        script.push_str(&format!(
            "\nUNION ALL SELECT 'file', i, encode(sha384(decode(h, 'hex')), 'hex'), true FROM (VALUES {}) AS f(i, h)",
            files.join(", ")
        ));
    }
    script.push_str(";\n");
    let out = psql()?.args(["-A", "-t", "-F", "|"]).output_with_stdin(script.into_bytes())?;
    if !out.status.success() {
        bail!("reading {TABLE} of the test database failed:\n{}", psql_error(&out));
    }
    let (mut applied, mut checksums) = (Vec::new(), vec![String::new(); migrations.len()]);
    for line in String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split('|').collect();
        let [kind, number, checksum, success] = fields[..] else {
            bail!("unexpected psql output while reading {TABLE}: {line:?}");
        };
        let number: i64 = number.parse().with_context(|| format!("unexpected psql output: {line:?}"))?;
        match kind {
            "applied" => applied.push(Row { version: number, checksum: checksum.to_owned(), success: success == "t" }),
            "file" => {
                let slot = usize::try_from(number).ok().and_then(|i| checksums.get_mut(i));
                *slot.ok_or_else(|| anyhow!("unexpected psql output: {line:?}"))? = checksum.to_owned();
            }
            _ => bail!("unexpected psql output while reading {TABLE}: {line:?}"),
        }
    }
    Ok((applied, checksums))
}

/// The psql script that applies one migration: its SQL sent whole (decoded from hex by the
/// server, then `\gexec`), in a transaction with its row unless `-- no-transaction`; then its
/// execution time, as sqlx records it after the commit.
fn apply_script(m: &Migration) -> String {
    let sql = hex(m.sql.as_bytes());
    let (begin, commit) = if m.no_transaction { ("", "") } else { ("BEGIN;\n", "COMMIT;\n") };
    format!(
        "\\encoding UTF8\n\
         SELECT clock_timestamp() AS xtask_started \\gset\n\
         {begin}\
         SELECT convert_from(decode('{sql}', 'hex'), 'UTF8') \\gexec\n\
         INSERT INTO {TABLE} ( version, description, success, checksum, execution_time )\n\
         VALUES ( {version}, convert_from(decode('{description}', 'hex'), 'UTF8'), TRUE, \
         sha384(decode('{sql}', 'hex')), -1 );\n\
         {commit}\
         UPDATE {TABLE} SET execution_time = \
         (extract(epoch FROM clock_timestamp() - :'xtask_started'::timestamptz) * 1000000000)::bigint \
         WHERE version = {version};\n",
        version = m.version,
        description = hex(m.description.as_bytes()),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Database {
    /// `psql` connected to this database (no `.psqlrc`, quiet, stopping at the first error),
    /// ready for more arguments; the script goes on its stdin. Shown as `psql`: its arguments
    /// hold the password.
    pub fn psql(&self, cx: &Context) -> Result<Cmd> {
        let host_psql = || which("psql");
        let (program, url) = match &self.source {
            Source::Cluster(cluster) => {
                let beside = cluster.bin.join("psql");
                let psql = if is_executable(&beside) { Some(beside) } else { host_psql() };
                (psql.map(Cmd::new), self.url.clone())
            }
            Source::External => (host_psql().map(Cmd::new), self.url.clone()),
            Source::Compose(project) => match host_psql() {
                Some(psql) => (Some(Cmd::new(psql)), self.url.clone()),
                // The service's own psql, reaching the server where it listens in its container.
                None => {
                    let service = &cx.settings.compose.db_service;
                    let exec = project.compose.command().args(["exec", "-T", service, "psql"]);
                    (Some(exec), in_container(&self.url))
                }
            },
        };
        let program = program.ok_or_else(|| {
            anyhow!(
                "applying the migrations needs `psql`, the PostgreSQL client, which is not installed: `sudo apt-get \
                 install postgresql-client` on Debian/Ubuntu, `brew install libpq` on macOS (or set \
                 `migrations = false` in [workspace.metadata.xtask.test])"
            )
        })?;
        Ok(program
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(url)
            .env("PGCONNECT_TIMEOUT", "10")
            .shown("psql"))
    }
}

/// The compose database's URL as seen inside its container: the server on 127.0.0.1:5432.
fn in_container(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_owned() };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let host_start = rest[..authority_end].rfind('@').map_or(0, |at| at + 1);
    format!("{}{}127.0.0.1:5432{}", &url[..scheme_end], &rest[..host_start], &rest[authority_end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "xtask-migrations-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub_dir.sql")).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn a_folder_is_read_as_sqlx_reads_it() {
        let dir = folder(&[
            ("20240102000000_add_orders.up.sql", "CREATE TABLE orders ();\n"),
            ("20240102000000_add_orders.down.sql", "DROP TABLE orders;\n"),
            ("3_index_concurrently.sql", "-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);\n"),
            ("1_create_users_table.sql", "CREATE TABLE users ();\n"),
            ("README.md", "notes"),
            ("notes.sql", "no underscore: ignored"),
            ("4_seed.sql.bak", "not .sql: ignored"),
        ]);
        let m = read(&dir, "db/").unwrap();
        let summary: Vec<(i64, &str, Kind, &str, bool)> =
            m.iter().map(|m| (m.version, m.description.as_str(), m.kind, m.file.as_str(), m.no_transaction)).collect();
        assert_eq!(
            summary,
            [
                (1, "create users table", Kind::Simple, "db/1_create_users_table.sql", false),
                (3, "index concurrently", Kind::Simple, "db/3_index_concurrently.sql", true),
                (20240102000000, "add orders", Kind::Up, "db/20240102000000_add_orders.up.sql", false),
            ]
        );
        assert_eq!(m[0].sql, "CREATE TABLE users ();\n");
        assert!(holds_migrations(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_name_sqlx_refuses_and_a_version_given_twice_are_errors() {
        let dir = folder(&[("1_a.sql", ""), ("v2_b.sql", "")]);
        let err = format!("{:#}", read(&dir, "migrations/").unwrap_err());
        assert!(err.starts_with("migrations/v2_b.sql: not a sqlx migration name"), "{err}");
        assert!(!holds_migrations(&folder(&[("v2_b.sql", ""), ("x.sql", "")])));
        let dir = folder(&[("1_a.sql", ""), ("1_b.up.sql", "")]);
        let err = format!("{:#}", read(&dir, "migrations/").unwrap_err());
        assert_eq!(
            err,
            "migrations/1_a.sql and migrations/1_b.up.sql have the same version, 1: give each migration its own"
        );
    }

    #[test]
    fn the_default_is_migrations_at_the_root_when_it_holds_any() {
        let root = folder(&[]);
        assert_eq!(plan(&Migrations::Default, &root), None, "no migrations/ folder");
        std::fs::create_dir_all(root.join("migrations")).unwrap();
        std::fs::write(root.join("migrations/README.md"), "").unwrap();
        assert_eq!(plan(&Migrations::Default, &root), None, "no migration in it");
        std::fs::write(root.join("migrations/0001_init.sql"), "").unwrap();
        let at_root = Plan::Folder { dir: root.join("migrations"), shown: "migrations/".into() };
        assert_eq!(plan(&Migrations::Default, &root), Some(at_root));
        assert_eq!(plan(&Migrations::Off, &root), None);
        let db = Plan::Folder { dir: root.join("db/migrations"), shown: "db/migrations/".into() };
        assert_eq!(plan(&Migrations::Folder("db/migrations/".into()), &root), Some(db));
        let command = vec!["cargo".to_owned(), "run".to_owned()];
        assert_eq!(plan(&Migrations::Command(command.clone()), &root), Some(Plan::Command(command)));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_progress_line() {
        assert_eq!(said(0, 0, "m/"), "no migrations in m/ (sqlx)");
        assert_eq!(said(0, 2, "m/"), "2 migrations from m/ already applied (sqlx)");
        assert_eq!(said(1, 0, "m/"), "applied 1 migration from m/ (sqlx)");
        assert_eq!(said(3, 2, "m/"), "applied 3 migrations from m/ (sqlx; 2 already applied)");
    }

    #[test]
    fn the_compose_url_inside_its_container() {
        assert_eq!(
            in_container("postgres://app:PASSWORD@127.0.0.1:49153/shop"),
            "postgres://app:PASSWORD@127.0.0.1:5432/shop"
        );
        assert_eq!(
            in_container("postgres://app@[::1]:5/shop?sslmode=disable"),
            "postgres://app@127.0.0.1:5432/shop?sslmode=disable"
        );
    }

    #[test]
    fn psql_errors_lose_the_script_line() {
        use std::os::unix::process::ExitStatusExt as _;
        let out = Output {
            status: std::process::ExitStatus::from_raw(3 << 8),
            stdout: Vec::new(),
            stderr: b"psql:<stdin>:4: ERROR:  division by zero\nCONTEXT:  x\n".to_vec(),
        };
        assert_eq!(psql_error(&out), "ERROR:  division by zero\nCONTEXT:  x");
    }
}

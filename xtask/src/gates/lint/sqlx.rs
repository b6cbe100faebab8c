//! The lint's sqlx check: is `.sqlx/`, sqlx's offline query data, what the code's queries give
//! against the migrated schema? What `cargo sqlx prepare --check` does, without sqlx-cli:
//!
//! 1. a throwaway PostgreSQL, found or started as for the tests (`db::provision`), with the
//!    workspace's migrations applied (`db::migrate`);
//! 2. `cargo check --workspace --all-targets` (the xtask's packages left out) in a target folder
//!    of its own, `target/xtask-sqlx`, with `SQLX_OFFLINE=false`, `DATABASE_URL` and
//!    `SQLX_OFFLINE_DIR` naming an empty folder: sqlx's macros describe each query to the
//!    database and write its `query-<hash>.json` there. Cargo does not track those variables,
//!    so the packages that use sqlx are cleaned from that folder first (`cargo clean -p`),
//!    and their macros run again;
//! 3. those files against every `.sqlx/` of the workspace (`xtask_lint::sqlx`): a query with
//!    no data, data that changed, data no query uses. `--fix` rewrites the root's `.sqlx/`.
//!
//! A query the migrated schema cannot describe (a column that is gone) is a compile error of
//! the build: its findings are the compiler's, at the query.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::lint::Finding;
use crate::lint::checks::{Report, Status};
use crate::lint::sqlx::{self as data, QueryFile};
use crate::process::Cmd;
use crate::repo::files::Tree;
use crate::{Context, db, interrupt};

/// The check's name in the lint's report.
pub const NAME: &str = "sqlx prepare --check";

/// Whether the check runs in this workspace (for the verdict cache: then it depends on where
/// the database comes from).
pub fn applies(cx: &Context) -> bool {
    cx.settings.lint.sqlx_check && !cx.settings.sqlx_folders.is_empty()
}

/// The check on the workspace at `root`, whose files are `tree` (`--fix`: `.sqlx/` rewritten
/// to what the build gives).
pub fn check(cx: &Context, root: &Path, tree: &Tree, fix: bool) -> Report {
    if !cx.settings.lint.sqlx_check {
        return Report::new(NAME, "", Status::NotApplicable("`sqlx-check = false`".into()));
    }
    // Known without asking cargo: the workspace's from the settings, another checkout's
    // (`--root`) from its files (an empty `.sqlx/` at a member's is not seen there).
    let maybe = match root == cx.root {
        true => !cx.settings.sqlx_folders.is_empty(),
        false => {
            root.join(".sqlx").is_dir() || tree.files.iter().any(|p| p.starts_with(".sqlx/") || p.contains("/.sqlx/"))
        }
    };
    if !maybe {
        return no_folder();
    }
    run(cx, root, fix).unwrap_or_else(|e| Report::new(NAME, "", Status::Error(format!("{e:#}"))))
}

fn no_folder() -> Report {
    Report::new(NAME, "", Status::NotApplicable("no .sqlx/ folder".into()))
}

fn run(cx: &Context, root: &Path, fix: bool) -> Result<Report> {
    let metadata = crate::settings::workspace_metadata(&cx.cargo, root)?;
    let folders = crate::settings::sqlx_folders(&metadata);
    if folders.is_empty() {
        return Ok(no_folder());
    }
    let xtask_dir = metadata.workspace_root.join("xtask");
    let members = metadata.workspace_packages();
    let users: Vec<String> = (members.iter())
        .filter(|p| p.dependencies.iter().any(|d| d.name == "sqlx" || d.name == "sqlx-macros"))
        .map(|p| p.name.to_string())
        .collect();
    let xtask: Vec<String> =
        members.iter().filter(|p| p.manifest_path.starts_with(&xtask_dir)).map(|p| p.name.to_string()).collect();
    if users.is_empty() {
        return Ok(Report::new(NAME, "", Status::NotApplicable("no package depends on sqlx".into())));
    }

    let target = crate::target_dir(root).join("xtask-sqlx");
    let built_dir = target.join("queries");
    let _ = std::fs::remove_dir_all(&built_dir);
    std::fs::create_dir_all(&built_dir).with_context(|| format!("cannot create {}", built_dir.display()))?;
    if let Err(BuildErrors(findings, notes)) = build(cx, root, &target, &built_dir, &users, &xtask)? {
        return Ok(Report { notes, ..Report::from_findings(NAME, "the build failed".into(), findings) });
    }

    let shown = |dir: &Path| format!("{}/", crate::repo::relative(&dir.to_string_lossy(), root));
    let built = data::read_folder(&built_dir, "")?;
    let committed = || -> Result<Vec<BTreeMap<String, QueryFile>>> {
        folders.iter().map(|dir| data::read_folder(dir, &shown(dir))).collect()
    };
    let mut drift = data::compare(&built, &committed()?);
    let root_folder = root.join(".sqlx");
    if fix && !drift.is_empty() {
        if root_folder.is_dir() {
            for (file, done) in data::rewrite(&root_folder, ".sqlx/", &drift)? {
                println!("fixed {file} (sqlx: {done})");
            }
            drift = data::compare(&built, &committed()?);
        } else {
            println!("--fix: sqlx's query data is in members' .sqlx/ folders only: run `cargo sqlx prepare` in them");
        }
    }
    let missing_in = if root_folder.is_dir() { ".sqlx/".to_owned() } else { shown(&folders[0]) };
    let detail = if built.len() == 1 { "1 query".to_owned() } else { format!("{} queries", built.len()) };
    let mut report = Report::from_findings(NAME, detail, drift.findings(&missing_in));
    if matches!(report.status, Status::Failed) {
        report.rule = Some(data::RULE);
    }
    Ok(report)
}

/// The compiler's errors and its rendering of them.
struct BuildErrors(Vec<Finding>, Vec<String>);

/// Steps 1 and 2 of the module documentation: `built_dir` gets a file a query, or the build's
/// errors. A database that cannot be provided, or a migration that fails, is an error.
fn build(
    cx: &Context,
    root: &Path,
    target: &Path,
    built_dir: &Path,
    users: &[String],
    xtask: &[String],
) -> Result<Result<(), BuildErrors>> {
    interrupt::install()?;
    let db = db::provision(cx).context("the sqlx check describes the queries to a PostgreSQL server")?;
    db::migrate::apply(cx, root, &db, &[])?;
    let cargo = || Cmd::new(&cx.cargo).current_dir(root).env("CARGO_TERM_COLOR", "never");
    let packages = users.iter().flat_map(|p| ["-p", p.as_str()]);
    cargo().args(["clean", "--quiet", "--target-dir"]).arg(target).args(packages).run()?;
    let mut check = cargo()
        .args(["check", "--workspace", "--all-targets", "--locked", "--message-format=json", "--target-dir"])
        .arg(target);
    for p in xtask {
        check = check.args(["--exclude", p]);
    }
    let check = check
        .env("SQLX_OFFLINE", "false")
        .env("DATABASE_URL", db.url())
        .env("SQLX_OFFLINE_DIR", built_dir)
        .shown("cargo check (SQLX_OFFLINE_DIR, online)");
    let out = interrupt::output(check);
    db.stop()?;
    interrupt::check()?;
    let out = out?;
    if out.status.success() {
        return Ok(Ok(()));
    }
    let (findings, mut notes) = crate::lint::external::clippy(&String::from_utf8_lossy(&out.stdout), root);
    // Once each: a library is checked twice with `--all-targets` (as itself, and its tests).
    let mut errors: Vec<Finding> = Vec::new();
    for f in findings.into_iter().filter(|f| f.message.starts_with("error")) {
        if !errors.contains(&f) {
            errors.push(f);
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    notes.retain(|n| seen.insert(n.clone()));
    if errors.is_empty() {
        anyhow::bail!("{}", crate::process::failure("cargo check", &out));
    }
    Ok(Err(BuildErrors(errors, notes)))
}

//! `cargo xtask security`: the Rust successor of `bandit -r app/ -ll`. Five checks, one
//! verdict: dependency advisories (RustSec, offline), the production source rules (built-in
//! rules and a curated clippy set), secrets in the checkout's files, the workflows and
//! Dockerfiles (zizmor, hadolint), and the binary inside the image the smoke gate built (its
//! embedded dependency list, against the same database). Then the suppression file, then one
//! report.
//!
//! Fails closed: a missing or empty advisory database, a missing tool or an unreadable input
//! is an error (exit 2), never a pass. Findings at medium or above fail the gate (exit 1).
//! The engine (rules, parsers, the report's data) is the `xtask-security` crate; this module
//! runs tools, and renders the report: text, JSON and Markdown (`render.rs`), SARIF (`sarif.rs`).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::cache::{self, Answer, Inputs, Ran};
use crate::kept_image::{KeptImage, RECORD};
use crate::output::{At, Level};
use crate::process::Cmd;
use crate::repo::files::Tree;
use crate::security::audit::{Audited, Request, Response};
use crate::security::date::Date;
use crate::security::report::{CheckRun, Report};
use crate::security::suppress::Suppressions;
use crate::security::{Check, Finding, external, secrets, source};
use crate::tools::{self, Tool, WhenMissing};
use crate::{Context, Outcome};

mod render;
mod sarif;

/// The upstream database `--fetch` clones, unless `XTASK_ADVISORY_DB_URL` names a mirror.
pub const ADVISORY_DB_URL: &str = "https://github.com/rustsec/advisory-db.git";

fn advisory_db_url() -> String {
    std::env::var("XTASK_ADVISORY_DB_URL").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| ADVISORY_DB_URL.to_owned())
}

/// Files larger than this are not scanned for secrets (generated data, not configuration).
const MAX_SECRET_SCAN_BYTES: usize = 2 * 1024 * 1024;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckArg {
    Advisories,
    Source,
    Secrets,
    Infra,
    Image,
}

impl From<CheckArg> for Check {
    fn from(c: CheckArg) -> Check {
        match c {
            CheckArg::Advisories => Check::Advisories,
            CheckArg::Source => Check::Source,
            CheckArg::Secrets => Check::Secrets,
            CheckArg::Infra => Check::Infra,
            CheckArg::Image => Check::Image,
        }
    }
}

/// Flags of `cargo xtask security` (its help text is on the subcommand in main.rs).
#[derive(Debug, Default, clap::Args)]
pub struct SecurityArgs {
    /// The RustSec advisory database, a local folder [env: XTASK_ADVISORY_DB]
    /// [default: the `advisory-db` setting, else ~/.cargo/advisory-db]
    #[arg(long, value_name = "PATH")]
    pub advisory_db: Option<PathBuf>,
    /// Clone the database there, or update it (a git checkout, reset to upstream), first
    /// [env: XTASK_ADVISORY_DB_URL, a mirror; default: github.com/rustsec/advisory-db]
    #[arg(long)]
    pub fetch: bool,
    /// Pass with a database older than `max-db-age-days` (said on every run) [env: XTASK_ACCEPT_STALE_DB=1]
    #[arg(long)]
    pub accept_stale_db: bool,
    /// Run only this check (repeat for more) [default: all]
    #[arg(long = "check", value_enum, value_name = "CHECK")]
    pub checks: Vec<CheckArg>,
    /// Audit this Cargo.lock instead of the checkout's
    #[arg(long, value_name = "PATH")]
    pub lockfile: Option<PathBuf>,
    /// Check another checkout (a git work tree) with this workspace's settings and tools
    #[arg(long, value_name = "PATH")]
    pub root: Option<PathBuf>,
    /// Output format on stdout
    #[arg(long, value_enum, default_value_t = Format::Text, value_name = "FORMAT")]
    pub format: Format,
    /// Also write the findings as SARIF 2.1.0 (for GitHub code scanning) to this file
    #[arg(long, value_name = "PATH")]
    pub sarif: Option<PathBuf>,
    /// Do not install missing tools; fail (exit 2) with the commands that install them
    #[arg(long)]
    pub no_install: bool,
    /// List the built-in rules (id, severity, rationale) and exit
    #[arg(long)]
    pub list_rules: bool,
}

/// The tools the selected checks need, for a checkout with these files.
fn tools_for(checks: &[Check], tree: &Tree, has_manifest: bool) -> Vec<Tool> {
    let mut t = Vec::new();
    if checks.contains(&Check::Source) && has_manifest {
        t.push(Tool::Clippy);
    }
    if checks.contains(&Check::Infra) {
        if tree.files.iter().any(|f| crate::repo::files::is_workflow(f)) {
            t.push(Tool::Zizmor);
        }
        if tree.files.iter().any(|f| crate::repo::files::is_dockerfile(f)) {
            t.push(Tool::Hadolint);
        }
    }
    t
}

impl SecurityArgs {
    /// The gate, answered from the verdict cache when it can be (cache.rs).
    pub fn run(self, cx: &Context) -> Result<Outcome> {
        Ok(self.answer(cx)?.outcome)
    }

    /// [`SecurityArgs::run`], saying whether the cache answered.
    pub fn answer(self, cx: &Context) -> Result<Answer> {
        let inputs = self.cache_inputs(cx);
        cache::through(cx, inputs, || Ok(Ran::from(self.run_uncached(cx)?)))
    }

    /// What the verdict depends on besides what every gate reads: the advisory database, today's
    /// date (suppressions expire, the database ages), the variables the gate reads, a lockfile
    /// named outside the checkout and the SARIF report it writes. `None`: never cached (`--fetch`
    /// updates the database, `--root` checks another checkout, `--list-rules` runs nothing).
    pub fn cache_inputs(&self, cx: &Context) -> Option<Inputs> {
        if self.fetch || self.root.is_some() || self.list_rules {
            return None;
        }
        let mut inputs = Inputs::new("security", self)
            .env("XTASK_ADVISORY_DB")
            .env("XTASK_ACCEPT_STALE_DB")
            .env("XTASK_AUDIT_BIN")
            .env("XTASK_TOOLS_DIR")
            .env("SQLX_OFFLINE")
            .extra("date", crate::security::today().to_string());
        if let Some(sarif) = &self.sarif {
            inputs = inputs.output(sarif);
        }
        if let Some(lockfile) = &self.lockfile {
            let lockfile = std::path::absolute(lockfile).unwrap_or_else(|_| lockfile.clone());
            let id = crate::snapshot::file_ids(&cx.root, &[lockfile]).ok().and_then(|ids| ids.into_iter().next());
            inputs = inputs.extra("lockfile", id.flatten().unwrap_or_else(|| "missing".into()));
        }
        if self.checks.is_empty() || self.checks.contains(&CheckArg::Image) {
            // The smoke gate's copy of the image's binary, and its record (`kept_image`).
            let dir = crate::kept_image::dir(&cx.root);
            let record = KeptImage::load(&dir).ok().flatten();
            let mut files = vec![dir.join(RECORD)];
            files.extend(record.map(|r| r.binary_path(&dir)));
            let ids = crate::snapshot::file_ids(&cx.root, &files).unwrap_or_default();
            let ids: Vec<String> = ids.into_iter().map(|id| id.unwrap_or_else(|| "missing".into())).collect();
            inputs = inputs.extra("kept image", ids.join(" "));
        }
        if self.checks.is_empty()
            || self.checks.contains(&CheckArg::Advisories)
            || self.checks.contains(&CheckArg::Image)
        {
            match self.db_path(cx) {
                Ok((db, named)) => {
                    inputs = inputs.extra("advisory database", db_identity(&cx.root, &db));
                    if !named && !db.exists() {
                        // The run clones it: what it reads is not known before.
                        inputs = inputs.unusable("the advisory database is not there yet");
                    }
                }
                Err(e) => inputs = inputs.unusable(format!("{e:#}")),
            }
        }
        Some(inputs)
    }

    fn run_uncached(&self, cx: &Context) -> Result<Outcome> {
        if self.list_rules {
            print!("{}", render::rules());
            return Ok(Outcome::Passed);
        }
        if self.format == Format::Json {
            cx.out.keep_stdout_for_the_report();
        }
        let root = match &self.root {
            Some(r) => r.canonicalize().with_context(|| format!("--root {}: no such folder", r.display()))?,
            None => cx.root.clone(),
        };
        let checks: Vec<Check> = if self.checks.is_empty() {
            Check::ALL.to_vec()
        } else {
            Check::ALL.into_iter().filter(|c| self.checks.iter().any(|a| Check::from(*a) == *c)).collect()
        };
        let settings = &cx.settings.security;
        // The suppression file, relative to the checked root.
        let suppressions_rel = settings.suppressions.strip_prefix(&cx.root).unwrap_or(&settings.suppressions);
        // The configured file, and the xtask's own (what its tests hold on purpose, wherever
        // `xtask/` is copied); a missing file is an empty list.
        let mut suppressions = vec![Suppressions::load(&root.join(suppressions_rel), &slash(suppressions_rel))?];
        if slash(suppressions_rel) != XTASK_SUPPRESSIONS {
            suppressions.push(Suppressions::load(&root.join(XTASK_SUPPRESSIONS), XTASK_SUPPRESSIONS)?);
        }
        let tree = Tree::list(&root, &[])?;
        let has_manifest = root.join("Cargo.toml").is_file();
        tools::provide(cx, &tools_for(&checks, &tree, has_manifest), !self.no_install, WhenMissing::Fail)?;

        let today = crate::security::today();
        let mut runs = Vec::new();
        let mut findings = Vec::new();
        let mut db = None;
        for &check in &checks {
            let mut notes = Vec::new();
            let found = match check {
                Check::Advisories => self.advisories(cx, &root, today, &mut db, &mut notes)?,
                Check::Image => self.image(cx, &root, today, &mut db, &mut notes)?,
                Check::Source => source_check(cx, &root, &tree, has_manifest, &mut notes)?,
                Check::Secrets => secrets_check(&tree, &mut notes),
                Check::Infra => infra_check(cx, &root, &tree, &mut notes)?,
            };
            findings.extend(found);
            runs.push(CheckRun { check, notes });
        }
        for file in &suppressions {
            file.apply(&mut findings, &checks, today);
        }
        let report = Report::new(runs, findings);

        if let Some(path) = &self.sarif {
            let sarif = sarif::render(&report, env!("CARGO_PKG_VERSION"));
            crate::output::write_atomically(path, |tmp| {
                std::fs::write(tmp, &sarif).with_context(|| format!("cannot write {}", tmp.display()))
            })?;
        }
        match self.format {
            Format::Json => print!("{}", render::json(&report)),
            Format::Text => print!("{}", render::text(&report, &suppressions)),
        }
        annotate(cx, &report);
        cx.out.step_summary(&render::markdown(&report))?;
        if let Some(path) = &self.sarif {
            eprintln!("SARIF report written to {}", path.display());
        }
        Ok(if report.failed() { Outcome::Failed } else { Outcome::Passed })
    }

    /// The database folder, and whether the user named it (a flag, the environment, a
    /// setting) rather than it being the default, `~/.cargo/advisory-db`.
    fn db_path(&self, cx: &Context) -> Result<(PathBuf, bool)> {
        if let Some(p) = &self.advisory_db {
            return Ok((p.clone(), true));
        }
        if let Some(p) = std::env::var_os("XTASK_ADVISORY_DB").filter(|v| !v.is_empty()) {
            return Ok((PathBuf::from(p), true));
        }
        if let Some(p) = &cx.settings.security.advisory_db {
            return Ok((p.clone(), true));
        }
        Ok((cargo_home()?.join("advisory-db"), false))
    }

    fn accept_stale(&self, cx: &Context) -> Option<&'static str> {
        if self.accept_stale_db {
            Some("--accept-stale-db")
        } else if std::env::var("XTASK_ACCEPT_STALE_DB").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true")) {
            Some("XTASK_ACCEPT_STALE_DB")
        } else if cx.settings.security.accept_stale_db {
            Some("accept-stale-db = true in [workspace.metadata.xtask.security]")
        } else {
            None
        }
    }

    /// The database folder, fetched first when it is to be: once a run, however many checks
    /// read it (`ready`).
    fn database(&self, cx: &Context, ready: &mut Option<PathBuf>) -> Result<PathBuf> {
        if let Some(db) = ready {
            return Ok(db.clone());
        }
        let (db_path, named) = self.db_path(cx)?;
        if self.fetch {
            fetch_db(&db_path, "")?;
        } else if !named && !db_path.exists() {
            // The default database, missing: fetched on first use, as the gates install their
            // tools. A folder the user named is never created behind their back.
            if self.no_install {
                bail!(
                    "the RustSec advisory database is not in {} yet, and --no-install fetches nothing: get it with \
                     `cargo xtask security --fetch` (a git clone of {}), or point --advisory-db (or \
                     XTASK_ADVISORY_DB) at a copy",
                    db_path.display(),
                    advisory_db_url()
                );
            }
            fetch_db(&db_path, " (one-time: it is not there yet; `cargo xtask security --fetch` updates it)")?;
        }
        *ready = Some(db_path.clone());
        Ok(db_path)
    }

    /// The audit's request for `audited`, shown as `shown`.
    fn request(&self, cx: &Context, db: PathBuf, today: Date, audited: Audited, shown: String) -> Request {
        Request {
            db,
            upstream: advisory_db_url(),
            audited,
            shown,
            today: today.to_string(),
            max_db_age_days: cx.settings.security.max_db_age_days,
            stale_accepted_by: self.accept_stale(cx).map(str::to_owned),
            linked_by: cx.settings.security.linked_by.clone(),
            cargo_home: cargo_home().ok(),
        }
    }

    fn advisories(
        &self,
        cx: &Context,
        root: &Path,
        today: Date,
        db: &mut Option<PathBuf>,
        notes: &mut Vec<String>,
    ) -> Result<Vec<Finding>> {
        let db = self.database(cx, db)?;
        let lockfile = match &self.lockfile {
            Some(p) => p.clone(),
            None => root.join("Cargo.lock"),
        };
        let shown = lockfile.strip_prefix(root).map(slash).unwrap_or_else(|_| lockfile.display().to_string());
        let response = run_audit(cx, &self.request(cx, db, today, Audited::Lockfile(lockfile), shown))?;
        notes.extend(response.notes);
        Ok(response.findings)
    }

    /// The binary the smoke gate copied out of the image it built (`kept_image`), audited
    /// against the same database with the same severities. Findings are shown at the root's
    /// Dockerfile, which builds the image, and name the image and the binary. No image kept
    /// yet: a note, or an error when this check was asked for by name.
    fn image(
        &self,
        cx: &Context,
        root: &Path,
        today: Date,
        db: &mut Option<PathBuf>,
        notes: &mut Vec<String>,
    ) -> Result<Vec<Finding>> {
        let dir = crate::kept_image::dir(root);
        let Some(kept) = KeptImage::load(&dir)? else {
            let shown = dir.strip_prefix(root).map(slash).unwrap_or_else(|_| dir.display().to_string());
            if self.checks.contains(&CheckArg::Image) {
                bail!(
                    "no image to audit: `cargo xtask smoke` builds the image and keeps its binary in {shown}/ (in CI, \
                     the smoke job's `image` artifact)"
                );
            }
            notes.push(format!(
                "not checked: no image built yet (`cargo xtask smoke` builds it and keeps its binary in {shown}/)"
            ));
            return Ok(Vec::new());
        };
        let db = self.database(cx, db)?;
        let binary = kept.binary_path(&dir);
        if !binary.is_file() {
            bail!(
                "{} lists {}, which is missing: run `cargo xtask smoke` again",
                dir.join(RECORD).display(),
                binary.display()
            );
        }
        notes.push(format!("{}, image {}", kept.shown(), short_id(&kept.id)));
        let response = run_audit(cx, &self.request(cx, db, today, Audited::Binary(binary), kept.shown()))?;
        // What is said of the database (its age, who accepted it) is the advisories check's
        // too: said once when both run.
        let both = self.checks.is_empty() || self.checks.contains(&CheckArg::Advisories);
        let said = |n: &String| both && (n.starts_with("database ") || n.starts_with("accepted: "));
        notes.extend(response.notes.into_iter().filter(|n| !said(n)));
        let at = root.join("Dockerfile").is_file().then(|| "Dockerfile".to_owned());
        Ok(response
            .findings
            .into_iter()
            .filter(|f| !(both && f.rule == STALE_DB))
            .map(|mut f| {
                if f.rule == STALE_DB {
                    // The database's age, not the image's: no place in the image.
                    f.check = Check::Image;
                    return f;
                }
                f.check = Check::Image;
                f.path.clone_from(&at);
                f.line = None;
                if !f.title.contains(&kept.shown()) {
                    f.title = format!("{}: {}", kept.shown(), f.title);
                }
                f
            })
            .collect())
    }
}

/// The audit's finding for an old database (xtask-audit).
const STALE_DB: &str = "advisories/stale-db";

/// `sha256:0123456789ab…` → `0123456789ab`.
fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// Which advisory database `db` is: a clone's commit; else a digest of its STAMP file (a
/// snapshot's) and of the listing of its files with their sizes; `missing` when it is not there.
fn db_identity(root: &Path, db: &Path) -> String {
    if db.join(".git").exists()
        && let Ok(out) = crate::repo::git(db).args(["rev-parse", "HEAD"]).run()
    {
        return format!("commit {}", String::from_utf8_lossy(&out.stdout).trim());
    }
    if !db.is_dir() {
        return "missing".to_owned();
    }
    let mut listing = String::new();
    list_sizes(db, Path::new(""), &mut listing);
    let stamp = std::fs::read(db.join("STAMP")).ok().map(|s| crate::snapshot::digest(root, &s));
    let files = crate::snapshot::digest(root, listing.as_bytes());
    match (stamp, files) {
        (Some(Ok(stamp)), Ok(files)) => format!("STAMP {stamp}, files {files}"),
        (None, Ok(files)) => format!("files {files}"),
        _ => "unreadable".to_owned(),
    }
}

/// `path size` lines for every file under `dir` (relative, sorted), `.git` left out.
fn list_sizes(dir: &Path, prefix: &Path, out: &mut String) {
    let Ok(listing) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<std::fs::DirEntry> = listing.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries.into_iter().filter(|e| e.file_name() != ".git") {
        let path = prefix.join(e.file_name());
        match e.file_type() {
            Ok(t) if t.is_dir() => list_sizes(&e.path(), &path, out),
            Ok(_) => {
                let size = e.metadata().map_or(0, |m| m.len());
                out.push_str(&format!("{} {size}\n", path.display()));
            }
            Err(_) => {}
        }
    }
}

/// Runs the advisories check, `xtask-audit`: a program of its own so that rustsec is built
/// only when this check runs (`cargo run -p xtask-audit`, the first time saying so), or the
/// prebuilt one `XTASK_AUDIT_BIN` names.
/// How to run the xtask-audit program: `XTASK_AUDIT_BIN`, else built and run by cargo (the
/// first time, it says so); and how messages show it. The smoke gate runs it too (its SBOM).
pub(crate) fn audit_program(cx: &Context) -> (Cmd, String) {
    match std::env::var_os("XTASK_AUDIT_BIN") {
        Some(bin) => {
            let shown = format!("XTASK_AUDIT_BIN={}", Path::new(&bin).display());
            (cx.cmd(bin), shown)
        }
        None => {
            let target = crate::target_dir(&cx.root);
            if !target.join("debug/xtask-audit").is_file() {
                eprintln!("building the advisory audit, xtask-audit (one-time: it links the rustsec library)…");
            }
            (
                cx.cargo().args(["run", "--quiet", "--package", "xtask-audit", "--"]),
                "`cargo run --package xtask-audit`".to_owned(),
            )
        }
    }
}

fn run_audit(cx: &Context, request: &Request) -> Result<Response> {
    let (mut run, shown) = audit_program(cx);
    let input = serde_json::to_vec(request)?;
    let out = run.output_with_stdin(input).with_context(|| format!("cannot run the advisory audit, {shown}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Exit 2: the audit's own error (a database that cannot be read, say); else cargo's.
        if out.status.code() == Some(2) {
            bail!("{}", stderr.trim_end());
        }
        bail!(
            "the advisory audit ({shown}) could not be built or run ({}):\n{}",
            out.status,
            crate::process::last_lines(&stderr, crate::process::SHOWN_LINES)
        );
    }
    serde_json::from_slice(&out.stdout).context("xtask-audit did not answer with its JSON report")
}

/// Clone the database (saying so in one line, with `why`), or bring an existing clone to
/// upstream's head.
fn fetch_db(path: &Path, why: &str) -> Result<()> {
    if crate::process::which("git").is_none() {
        bail!("fetching the advisory database needs git, which is not on PATH: {}", tools::GIT.install);
    }
    let run = |c: Cmd, shown: &str| -> Result<()> {
        c.shown(shown).run().map(drop).context("the advisory database was not updated")
    };
    if path.join(".git").exists() {
        eprintln!("updating the advisory database in {}", path.display());
        let git = crate::repo::git;
        run(git(path).args(["fetch", "--quiet", "--depth", "1", "origin", "HEAD"]), "git fetch --depth 1 origin HEAD")?;
        run(git(path).args(["reset", "--quiet", "--hard", "FETCH_HEAD"]), "git reset --hard FETCH_HEAD")
    } else if path.exists() && std::fs::read_dir(path).map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!(
            "--fetch: {} exists and is not a git clone; not touching it (remove it or pick another --advisory-db)",
            path.display()
        )
    } else {
        let url = advisory_db_url();
        eprintln!("advisory database: cloning {url} into {}{why}", path.display());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let clone = Cmd::new("git").args(["clone", "--quiet", "--depth", "1", &url]).arg(path);
        run(clone, &format!("git clone --depth 1 {url} {}", path.display()))
    }
}

fn cargo_home() -> Result<PathBuf> {
    if let Some(h) = std::env::var_os("CARGO_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".cargo")),
        None => bail!("neither CARGO_HOME nor HOME is set: pass --advisory-db"),
    }
}

fn source_check(
    cx: &Context,
    root: &Path,
    tree: &Tree,
    has_manifest: bool,
    notes: &mut Vec<String>,
) -> Result<Vec<Finding>> {
    let patterns = &cx.settings.security.source_paths;
    let files = tree.select(|p| p.ends_with(".rs") && crate::repo::glob::selected(patterns, p));
    let mut findings = Vec::new();
    for path in &files {
        let bytes = tree.read(path).with_context(|| format!("cannot read {path}"))?;
        findings.extend(source::scan_rust(path, &String::from_utf8_lossy(&bytes)));
    }
    notes.push(format!("{} production Rust files ({})", files.len(), patterns.join(", ")));
    if !has_manifest {
        notes.push("clippy: not applicable (no Cargo.toml)".to_owned());
        return Ok(findings);
    }
    let clippy = cx
        .cargo()
        .current_dir(root)
        .args(["clippy", "--workspace", "--lib", "--bins", "--message-format=json", "--quiet", "--"])
        .args(external::clippy_args())
        .env("CARGO_TERM_COLOR", "never");
    let (mut clippy, offline) = crate::repo::sqlx_offline(clippy, root);
    if offline {
        notes.push(format!("clippy: {}", crate::repo::SQLX_OFFLINE_NOTE));
    }
    let out = clippy.output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let shown = if offline { "SQLX_OFFLINE=true cargo clippy" } else { "cargo clippy" };
        bail!(
            "`{shown}` failed ({}): the code does not build?\n{}",
            out.status,
            crate::process::last_lines(&stderr, 15)
        );
    }
    let keep = |p: &str| crate::repo::glob::selected(patterns, &crate::repo::relative(p, root));
    let lints = external::clippy(&stdout, root, keep);
    notes.push(format!("clippy: {} lints over the workspace's libraries and binaries", external::CLIPPY_LINTS.len()));
    findings.extend(lints);
    Ok(findings)
}

fn secrets_check(tree: &Tree, notes: &mut Vec<String>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let (mut scanned, mut skipped) = (0, 0);
    for path in &tree.files {
        if let Some(f) = secrets::tracked_env_file(path) {
            findings.push(f);
        }
        let Ok(bytes) = tree.read(path) else { continue };
        if bytes.len() > MAX_SECRET_SCAN_BYTES || bytes.contains(&0) {
            skipped += 1;
            continue;
        }
        scanned += 1;
        findings.extend(secrets::scan_text(path, &String::from_utf8_lossy(&bytes)));
    }
    notes.push(format!("{scanned} files scanned ({skipped} binary or over 2 MiB skipped)"));
    findings
}

fn infra_check(cx: &Context, root: &Path, tree: &Tree, notes: &mut Vec<String>) -> Result<Vec<Finding>> {
    let mut findings = Vec::new();
    // The workflows, and Dependabot's configuration (zizmor audits its update cooldowns).
    let workflows = tree.select(|f| crate::repo::files::is_workflow(f) || f == ".github/dependabot.yml");
    if workflows.is_empty() {
        notes.push("zizmor: not applicable (no workflows)".to_owned());
    } else {
        // --no-ignores: suppressions live in security.toml, with a reason and an expiry.
        let args = ["--offline", "--no-ignores", "--no-progress", "--no-exit-codes", "--format", "json"];
        let stdout = run_local(cx, Tool::Zizmor, root, &args, &workflows)?;
        findings.extend(external::zizmor(&stdout)?);
        notes.push(format!("zizmor --offline: {}", workflows.join(", ")));
    }
    let dockerfiles = tree.select(crate::repo::files::is_dockerfile);
    if dockerfiles.is_empty() {
        notes.push("hadolint: not applicable (no Dockerfile)".to_owned());
    } else {
        let stdout =
            run_local(cx, Tool::Hadolint, root, &["--format", "json", "--no-fail", "--no-color"], &dockerfiles)?;
        findings.extend(external::hadolint(&stdout, |p| crate::repo::relative(p, root))?);
        let rules: Vec<&str> = external::HADOLINT_RULES.iter().map(|(c, _, _)| *c).collect();
        notes.push(format!("hadolint: {} ({})", dockerfiles.join(", "), rules.join(", ")));
    }
    Ok(findings)
}

/// Runs a project-local tool in `root` over `files`; its stdout, or an error when it fails.
fn run_local(cx: &Context, tool: Tool, root: &Path, args: &[&str], files: &[&str]) -> Result<String> {
    let program = tool.local_program(&tools::tools_dir(&cx.root)).expect("a project-local tool");
    let out = Cmd::new(&program).current_dir(root).args(args).args(files).shown(tool.name()).run()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// GitHub annotations for findings with a file: errors for failing ones, warnings for the rest
/// (suppressed findings are not annotated).
fn annotate(cx: &Context, report: &Report) {
    for f in report.findings.iter().filter(|f| f.suppressed.is_none()) {
        let Some(path) = &f.path else { continue };
        let level = if f.fails() { Level::Error } else { Level::Warning };
        let at = At { file: path, line: f.line, end_line: None, col: f.column };
        cx.out.annotate(level, Some(at), &format!("{} ({})", f.rule, f.severity), &f.title);
    }
    if report.failed() {
        let message = format!("security gate failed: {}", render::verdict_line(report));
        cx.out.annotate(Level::Error, None, "cargo xtask security", &message);
    }
}

/// The xtask's own suppressions, read beside the configured file: the made-up credentials of
/// its tests, which travel with `xtask/` into any workspace.
const XTASK_SUPPRESSIONS: &str = "xtask/security.toml";

fn slash(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

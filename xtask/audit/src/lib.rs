//! The advisories check of `cargo xtask security`, as a program of its own (`xtask-audit`):
//! the gate sends a [`Request`] as JSON on stdin, and gets a [`Response`] as JSON on stdout, or
//! an error on stderr (exit 2); both types live in xtask-security, which the gate links. It reads
//! the database and `Cargo.lock`, or the dependency list `cargo auditable` embedded in a binary,
//! with the rustsec and auditable-info libraries, which only this program links: the other gates'
//! cold build does not pay for them. `xtask-audit packages BINARY` lists a binary's packages
//! ([`Packages`], for the smoke gate's SBOM).

pub mod advisories;
pub mod binary;

use anyhow::{Context as _, Result, bail};
pub use xtask_security::audit::{Audited, Packages, Request, Response};
use xtask_security::{Check, Finding, Severity};

use advisories::{AdvisoryDb, Freshness};

/// The whole check.
pub fn run(req: &Request) -> Result<Response> {
    let today =
        advisories::parse_date_prefix(&req.today).with_context(|| format!("`today` is not a date: {}", req.today))?;
    let db = advisories::open(&req.db).map_err(|e| {
        anyhow::anyhow!(
            "{e:#}\n  get the database with `cargo xtask security --fetch` (clones {} into {}), or point \
             --advisory-db (or XTASK_ADVISORY_DB) at a copy",
            req.upstream,
            req.db.display()
        )
    })?;
    let mut out = Response::default();
    let fresh = freshness(&db)?;
    let age = advisories::age_days(fresh.date, today);
    let max = req.max_db_age_days;
    out.notes.push(format!(
        "database {}: {} advisories, updated {} ({} day{} ago, from {})",
        db.path.display(),
        db.count,
        fresh.date,
        age,
        if age == 1 { "" } else { "s" },
        fresh.source
    ));
    if age > i64::from(max) {
        let title = format!("the advisory database is {age} days old (the limit is {max})");
        let help = "update it: `cargo xtask security --fetch`; advisories published since are not checked";
        match &req.stale_accepted_by {
            Some(by) => {
                out.notes.push(format!("accepted: a database older than {max} days, by {by}"));
                out.findings.push(
                    Finding::new(
                        Check::Advisories,
                        "advisories/stale-db",
                        Severity::Warning,
                        format!("{title}; accepted by {by}"),
                    )
                    .help(help),
                );
            }
            None => out.findings.push(
                Finding::new(Check::Advisories, "advisories/stale-db", Severity::High, title)
                    .help(format!("{help}; or accept its age for this run with --accept-stale-db")),
            ),
        }
    }

    let shown = &req.shown;
    let (lockfile, lock_text) = match &req.audited {
        Audited::Lockfile(path) => {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("cannot read {} (run `cargo generate-lockfile` to create it)", path.display())
            })?;
            let lockfile: rustsec::Lockfile =
                text.parse().with_context(|| format!("{}: not a valid Cargo.lock", path.display()))?;
            (lockfile, text)
        }
        Audited::Binary(path) => match binary::read(path)? {
            Some(info) => (binary::lockfile(&info)?, String::new()),
            None => {
                out.findings.push(
                    Finding::new(
                        Check::Advisories,
                        "advisories/no-dependency-list",
                        Severity::High,
                        format!("{shown} carries no dependency list: its crates cannot be audited"),
                    )
                    .help(
                        "build it with `cargo auditable build` (cargo-auditable), which embeds the list, instead of \
                         `cargo build`",
                    )
                    .at(shown, None, None),
                );
                return Ok(out);
            }
        },
    };
    let mut roots = req.linked_by.clone();
    if roots.is_empty() {
        roots = lockfile.packages.iter().filter(|p| p.source.is_none()).map(|p| p.name.as_str().to_owned()).collect();
    }
    let index = req.cargo_home.as_deref().and_then(advisories::IndexCache::open);
    let audit = advisories::audit(
        &db,
        &lockfile,
        &lock_text,
        shown,
        &roots,
        index.as_ref().map(|i| i as &dyn advisories::YankedLookup),
    );
    out.notes.push(format!("{shown}: {} crates.io packages", audit.packages));
    out.notes.push(match audit.yanked_checked {
        Some(n) => format!("yanked: {n} of {} looked up in cargo's local crates.io index cache", audit.packages),
        None => "yanked: not checked (no local crates.io index cache; `cargo fetch` creates it)".to_owned(),
    });
    out.findings.extend(audit.findings);
    Ok(out)
}

/// How fresh the database is: its git commit, else the snapshot's STAMP, else its newest advisory.
fn freshness(db: &AdvisoryDb) -> Result<Freshness> {
    if db.path.join(".git").exists() {
        let out = xtask_repo::git(&db.path).args(["log", "-1", "--format=%cI"]).output();
        if let Some(date) = out
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| advisories::parse_date_prefix(String::from_utf8_lossy(&o.stdout).trim()))
        {
            return Ok(Freshness { date, source: "its last git commit" });
        }
    }
    if let Some(date) = advisories::stamp_date(&db.path) {
        return Ok(Freshness { date, source: "its STAMP file" });
    }
    match advisories::newest_advisory(db) {
        Some(date) => Ok(Freshness { date, source: "its newest advisory: no git history or STAMP" }),
        None => bail!("advisory database {}: cannot tell how old it is", db.path.display()),
    }
}

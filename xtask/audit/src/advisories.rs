//! Dependency advisories: every crates.io package in `Cargo.lock` against a local copy of the
//! RustSec advisory database, through the `rustsec` library.
//!
//! Policy (bandit's `-ll`, stricter where cargo-audit is lax):
//! - a vulnerability fails at CVSS ≥ 4.0, and **without a CVSS score** (counted as high: about
//!   half of RustSec's advisories have none); below 4.0 it is reported as low;
//! - an `unsound` advisory fails when the crate is linked into one of the configured roots (the
//!   app), and is a warning otherwise;
//! - `unmaintained`, other informational advisories and yanked versions are warnings.
//!
//! Opening the database fails closed: a missing folder, an unreadable advisory or a database
//! with no advisories is an error, never a pass.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use jiff::civil::Date;
use rustsec::Collection;
use rustsec::advisory::Informational;
use rustsec::database::Query;
use rustsec::{Database, Lockfile};

use xtask_security::{Check, Finding, Severity};

/// An opened, non-empty advisory database.
pub struct AdvisoryDb {
    pub db: Database,
    pub path: PathBuf,
    /// Advisories about crates.
    pub count: usize,
}

/// Open the database at `path` (a checkout of github.com/rustsec/advisory-db, or a copy of
/// its `crates/` folder).
pub fn open(path: &Path) -> Result<AdvisoryDb> {
    if !path.is_dir() {
        bail!("advisory database {}: no such folder", path.display());
    }
    if !path.join("crates").is_dir() {
        bail!(
            "advisory database {}: no `crates/` folder: is this a copy of github.com/rustsec/advisory-db?",
            path.display()
        );
    }
    let db = Database::open(path).with_context(|| format!("advisory database {}: cannot be read", path.display()))?;
    let count = db.iter().filter(|a| a.metadata.collection == Some(Collection::Crates)).count();
    if count == 0 {
        bail!("advisory database {}: no advisories in it (an empty database cannot pass the gate)", path.display());
    }
    Ok(AdvisoryDb { db, path: path.to_owned(), count })
}

/// When the database was last updated, and how that is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Freshness {
    pub date: Date,
    pub source: &'static str,
}

/// The `date=` line of a snapshot's `STAMP` file (`date=2026-08-21T08:28:40+02:00`).
pub fn stamp_date(path: &Path) -> Option<Date> {
    let text = fs::read_to_string(path.join("STAMP")).ok()?;
    let value = text.lines().find_map(|l| l.trim().strip_prefix("date="))?;
    parse_date_prefix(value)
}

/// The date of the newest advisory: a lower bound when nothing better is known.
pub fn newest_advisory(db: &AdvisoryDb) -> Option<Date> {
    db.db.iter().filter_map(|a| parse_date_prefix(a.metadata.date.as_str())).max()
}

/// `YYYY-MM-DD` at the start of a date or timestamp.
pub fn parse_date_prefix(value: &str) -> Option<Date> {
    value.get(..10)?.parse().ok()
}

/// Days from `then` to `today` (negative when `then` is in the future).
pub fn age_days(then: Date, today: Date) -> i64 {
    i64::from((today - then).get_days())
}

/// The packages linked into any of `roots` (workspace packages named in Cargo.lock), following
/// every dependency edge. Cargo.lock does not tell dev-dependencies apart, so a crate the app
/// only tests with counts as linked: stricter, never looser.
pub fn linked(lockfile: &Lockfile, roots: &[String]) -> BTreeSet<(String, String)> {
    let mut by_name: BTreeMap<&str, Vec<&rustsec::package::Package>> = BTreeMap::new();
    for p in &lockfile.packages {
        by_name.entry(p.name.as_str()).or_default().push(p);
    }
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<&rustsec::package::Package> =
        roots.iter().filter_map(|r| by_name.get(r.as_str())).flatten().copied().collect();
    while let Some(p) = queue.pop_front() {
        if !seen.insert((p.name.as_str().to_owned(), p.version.to_string())) {
            continue;
        }
        for d in &p.dependencies {
            let candidates = by_name.get(d.name.as_str()).into_iter().flatten();
            queue.extend(candidates.filter(|c| c.version == d.version).copied());
        }
    }
    seen
}

/// Yanked versions, as far as cargo's local crates.io index cache knows them.
pub trait YankedLookup {
    /// `Some(true)` yanked, `Some(false)` not, `None` not in the cache.
    fn yanked(&self, name: &str, version: &str) -> Option<bool>;
}

/// Cargo's sparse-index cache (`$CARGO_HOME/registry/index/index.crates.io-*/.cache`): what
/// cargo last downloaded for each crate, including the `yanked` flag of every version.
pub struct IndexCache {
    dirs: Vec<PathBuf>,
}

impl IndexCache {
    pub fn open(cargo_home: &Path) -> Option<IndexCache> {
        let index = cargo_home.join("registry").join("index");
        let mut dirs: Vec<PathBuf> = fs::read_dir(index)
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("index.crates.io-")))
            .map(|p| p.join(".cache"))
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        (!dirs.is_empty()).then_some(IndexCache { dirs })
    }

    /// The index path of a crate: `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd…`.
    fn relative(name: &str) -> PathBuf {
        let n = name.to_ascii_lowercase();
        match n.len() {
            1 => Path::new("1").join(&n),
            2 => Path::new("2").join(&n),
            3 => Path::new("3").join(&n[..1]).join(&n),
            _ => Path::new(&n[..2]).join(&n[2..4]).join(&n),
        }
    }
}

impl YankedLookup for IndexCache {
    fn yanked(&self, name: &str, version: &str) -> Option<bool> {
        let rel = IndexCache::relative(name);
        self.dirs.iter().find_map(|d| fs::read(d.join(&rel)).ok().and_then(|b| yanked_in_cache_file(&b, version)))
    }
}

/// One cache file: a header (format byte, u32 index version, revision, NUL), then
/// `version NUL json NUL` pairs.
fn yanked_in_cache_file(bytes: &[u8], version: &str) -> Option<bool> {
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        yanked: bool,
    }
    let body = bytes.get(5..)?;
    let mut parts = body.split(|&b| b == 0).skip(1);
    while let (Some(v), Some(json)) = (parts.next(), parts.next()) {
        if v == version.as_bytes() {
            return serde_json::from_slice::<Entry>(json).ok().map(|e| e.yanked);
        }
    }
    None
}

/// What the audit found, and how much it looked at.
pub struct Audit {
    pub findings: Vec<Finding>,
    /// crates.io packages in the lockfile.
    pub packages: usize,
    /// Of those, how many the index cache knew (yanked check); `None`: no cache.
    pub yanked_checked: Option<usize>,
}

/// Audit `lockfile` (whose text is `lock_text`, for line numbers; shown as `lock_path`).
pub fn audit(
    db: &AdvisoryDb,
    lockfile: &Lockfile,
    lock_text: &str,
    lock_path: &str,
    roots: &[String],
    index: Option<&dyn YankedLookup>,
) -> Audit {
    let linked = linked(lockfile, roots);
    let query = Query::new().collection(Collection::Crates).withdrawn(false);
    let mut findings = Vec::new();
    for v in db.db.query_vulnerabilities(lockfile, &query) {
        let meta = &v.advisory;
        let (name, version) = (v.package.name.as_str(), v.package.version.to_string());
        let patched: Vec<String> = v.versions.patched().iter().map(|r| r.to_string()).collect();
        let fix = if patched.is_empty() {
            "no patched version: replace the crate or suppress with a reason".to_owned()
        } else {
            format!("upgrade to {}", patched.join(" or "))
        };
        let url =
            meta.url.as_ref().map_or_else(|| format!("https://rustsec.org/advisories/{}", meta.id), |u| u.to_string());
        let (rule_kind, severity, note) = match &meta.informational {
            None => match &meta.cvss {
                Some(cvss) => {
                    let score = cvss.score();
                    ("vulnerability", Severity::from_cvss(score), format!("CVSS {score:.1}"))
                }
                None => ("vulnerability", Severity::High, "no CVSS score: counted as high".to_owned()),
            },
            Some(Informational::Unsound) if linked.contains(&(name.to_owned(), version.clone())) => {
                ("unsound", Severity::Medium, format!("unsound, and linked into {}", roots.join(", ")))
            }
            Some(Informational::Unsound) => {
                ("unsound", Severity::Warning, "unsound; not linked into the app".to_owned())
            }
            Some(Informational::Unmaintained) => ("unmaintained", Severity::Warning, "unmaintained".to_owned()),
            Some(other) => ("informational", Severity::Warning, other.as_str().to_owned()),
        };
        let mut f = Finding::new(
            Check::Advisories,
            meta.id.as_str(),
            severity,
            format!("{name} {version}: {} ({rule_kind}, {note})", meta.title.trim()),
        )
        .help(format!("{url}; {fix}"));
        f.aliases = meta.aliases.iter().map(|a| a.as_str().to_owned()).collect();
        f = f.at(lock_path, lock_line(lock_text, name, &version), None);
        findings.push(f);
    }

    let registry: Vec<_> =
        lockfile.packages.iter().filter(|p| p.source.as_ref().is_some_and(|s| s.is_default_registry())).collect();
    let mut yanked_checked = None;
    if let Some(index) = index {
        let mut known = 0;
        for p in &registry {
            let (name, version) = (p.name.as_str(), p.version.to_string());
            match index.yanked(name, &version) {
                Some(true) => {
                    known += 1;
                    findings.push(
                        Finding::new(
                            Check::Advisories,
                            "advisories/yanked",
                            Severity::Warning,
                            format!("{name} {version} is yanked"),
                        )
                        .help("yanked from crates.io: update it with `cargo update -p NAME`")
                        .at(lock_path, lock_line(lock_text, name, &version), None),
                    );
                }
                Some(false) => known += 1,
                None => {}
            }
        }
        yanked_checked = Some(known);
    }
    Audit { findings, packages: registry.len(), yanked_checked }
}

/// The line of `name = "…"` for this package and version in Cargo.lock.
pub fn lock_line(text: &str, name: &str, version: &str) -> Option<usize> {
    let (want_name, want_version) = (format!("name = \"{name}\""), format!("version = \"{version}\""));
    let lines: Vec<&str> = text.lines().collect();
    lines.windows(2).position(|w| w[0].trim() == want_name && w[1].trim() == want_version).map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_follow_cargo() {
        assert_eq!(IndexCache::relative("a"), Path::new("1/a"));
        assert_eq!(IndexCache::relative("ab"), Path::new("2/ab"));
        assert_eq!(IndexCache::relative("abc"), Path::new("3/a/abc"));
        assert_eq!(IndexCache::relative("Serde_Json"), Path::new("se/rd/serde_json"));
    }

    #[test]
    fn cache_file_entries_are_read_by_version() {
        let mut file = vec![3, 2, 0, 0, 0];
        file.extend_from_slice(b"etag: x\0");
        for (v, y) in [("1.0.0", false), ("1.0.1", true)] {
            file.extend_from_slice(v.as_bytes());
            file.push(0);
            file.extend_from_slice(format!("{{\"name\":\"x\",\"vers\":\"{v}\",\"yanked\":{y}}}").as_bytes());
            file.push(0);
        }
        assert_eq!(yanked_in_cache_file(&file, "1.0.0"), Some(false));
        assert_eq!(yanked_in_cache_file(&file, "1.0.1"), Some(true));
        assert_eq!(yanked_in_cache_file(&file, "2.0.0"), None);
    }

    #[test]
    fn dates_and_ages() {
        let d = parse_date_prefix("2026-08-21T08:28:40+02:00").unwrap();
        assert_eq!(d, jiff::civil::date(2026, 8, 21));
        assert_eq!(age_days(d, jiff::civil::date(2026, 11, 22)), 93);
        assert_eq!(parse_date_prefix("21/08/2026"), None);
    }

    #[test]
    fn lock_lines_name_the_package_entry() {
        let text = "[[package]]\nname = \"a\"\nversion = \"1.0.0\"\n\n[[package]]\nname = \"b\"\nversion = \"2.0.0\"\n";
        assert_eq!(lock_line(text, "b", "2.0.0"), Some(6));
        assert_eq!(lock_line(text, "b", "1.0.0"), None);
    }

    #[test]
    fn a_folder_that_is_not_an_advisory_database_is_an_error_not_a_pass() {
        let dir = std::env::temp_dir().join(format!("xtask-advisory-db-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("advisories")).unwrap();
        let err = |path: &Path| open(path).err().expect("an error").to_string();
        let e = err(&dir.join("missing"));
        assert!(e.ends_with("missing: no such folder"), "{e}");
        // A folder of something else (no `crates/`): never read as "no advisories, all clear".
        let e = err(&dir);
        assert!(e.contains("no `crates/` folder: is this a copy of github.com/rustsec/advisory-db?"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

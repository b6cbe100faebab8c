//! What the gate and the advisories program (`xtask/audit/`, `xtask-audit`) say to each
//! other, as JSON: the program links rustsec, the gate does not.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Finding;

/// What the gate asks for.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    /// The database folder (fetched already when it was to be).
    pub db: PathBuf,
    /// Where `--fetch` clones from, for the error messages.
    pub upstream: String,
    /// What is audited: a Cargo.lock, or the dependency list cargo-auditable embedded in a binary.
    pub audited: Audited,
    /// What is audited, as findings name it (a lockfile relative to the checked root; an image's
    /// binary as `IMAGE:PATH`).
    pub shown: String,
    /// `YYYY-MM-DD`, UTC.
    pub today: String,
    pub max_db_age_days: u32,
    /// Who accepted an older database (a flag, a variable, a setting), if anyone did.
    pub stale_accepted_by: Option<String>,
    /// The packages whose linked crates must not be unsound; empty: every workspace package.
    pub linked_by: Vec<String>,
    /// For the yanked lookup in cargo's index cache.
    pub cargo_home: Option<PathBuf>,
}

/// Where the packages to audit come from.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Audited {
    Lockfile(PathBuf),
    /// A binary built with `cargo auditable`: the list it carries. A binary without one is a
    /// finding, not a pass.
    Binary(PathBuf),
}

/// What it found: the notes the gate prints under the check, and the findings.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Response {
    pub notes: Vec<String>,
    pub findings: Vec<Finding>,
}

/// The packages a binary built with `cargo auditable` carries (`xtask-audit packages BINARY`):
/// what the smoke gate's SBOM lists.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Packages {
    pub packages: Vec<Package>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// `crates.io`, `git`, `local`, `registry` or another source cargo-auditable names.
    pub source: String,
    /// Only used while building (a build script's or a proc-macro's dependency): not in the binary.
    pub build_only: bool,
    /// The package the binary is (the one `cargo auditable build` built).
    pub root: bool,
}

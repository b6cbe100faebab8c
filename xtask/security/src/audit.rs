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
    pub lockfile: PathBuf,
    /// The lockfile as findings name it (relative to the checked root).
    pub lockfile_shown: String,
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

/// What it found: the notes the gate prints under the check, and the findings.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Response {
    pub notes: Vec<String>,
    pub findings: Vec<Finding>,
}

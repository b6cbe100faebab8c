//! `[workspace.metadata.xtask.security]`: how `cargo xtask security` runs.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::check_globs;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecuritySettings {
    /// The RustSec database folder (absolute); `None`: `$CARGO_HOME/advisory-db`, cargo-audit's.
    pub advisory_db: Option<PathBuf>,
    /// A database older than this fails the gate, unless `accept_stale_db`.
    pub max_db_age_days: u32,
    /// Accept an older database (printed on every run).
    pub accept_stale_db: bool,
    /// The packages whose linked crates must not be unsound; empty: every workspace package.
    pub linked_by: Vec<String>,
    /// The production Rust files the source rules read; `!pattern` takes files back out.
    pub source_paths: Vec<String>,
    /// The suppression file (absolute).
    pub suppressions: PathBuf,
}

/// The table as written, every key with its default.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct Table {
    advisory_db: Option<PathBuf>,
    max_db_age_days: u32,
    accept_stale_db: bool,
    linked_by: Vec<String>,
    source_paths: Vec<String>,
    suppressions: PathBuf,
}

impl Default for Table {
    fn default() -> Table {
        Table {
            advisory_db: None,
            max_db_age_days: 90,
            accept_stale_db: false,
            linked_by: Vec::new(),
            source_paths: vec!["**/src/**/*.rs".to_owned()],
            suppressions: "security.toml".into(),
        }
    }
}

impl Table {
    /// The settings, or every problem with them.
    pub(super) fn validate(self, root: &Path) -> Result<SecuritySettings, Vec<String>> {
        let mut errors = Vec::new();
        check_globs("source-paths", &self.source_paths, &mut errors);
        if self.max_db_age_days == 0 {
            errors.push("`max-db-age-days` must be at least 1".to_owned());
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(SecuritySettings {
            advisory_db: self.advisory_db.map(|p| root.join(p)),
            max_db_age_days: self.max_db_age_days,
            accept_stale_db: self.accept_stale_db,
            linked_by: self.linked_by,
            source_paths: self.source_paths,
            suppressions: root.join(self.suppressions),
        })
    }
}

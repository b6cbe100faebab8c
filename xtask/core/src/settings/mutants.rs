//! `[workspace.metadata.xtask.mutants]`: what `cargo xtask mutants` fails on, and how long a
//! mutant's tests may run.

use serde::Deserialize;

use crate::coverage::grade::Percent;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MutantsSettings {
    /// Fail when fewer than this share of the viable mutants are caught. Unset: not judged.
    pub threshold: Option<Percent>,
    /// Fail when more mutants than this are missed. Unset: not judged.
    pub max_missed: Option<u64>,
    /// A mutant's tests may run this many times as long as they took unmutated…
    pub timeout_multiplier: u32,
    /// …and at least this many seconds.
    pub minimum_timeout: u64,
}

/// The table as written, every key with its default.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct Table {
    mutants_threshold: Option<Percent>,
    max_missed_mutants: Option<u64>,
    timeout_multiplier: u32,
    minimum_timeout: u64,
}

impl Default for Table {
    fn default() -> Table {
        // cargo-mutants' own defaults for the test timeout: 5 times the baseline, at least 20 s.
        Table { mutants_threshold: None, max_missed_mutants: None, timeout_multiplier: 5, minimum_timeout: 20 }
    }
}

impl Table {
    /// The settings, or every problem with them.
    pub(super) fn validate(self) -> Result<MutantsSettings, Vec<String>> {
        let mut errors = Vec::new();
        if self.timeout_multiplier == 0 {
            errors.push("`timeout-multiplier` must be at least 1".to_owned());
        }
        if self.minimum_timeout == 0 {
            errors.push("`minimum-timeout` must be at least 1 (seconds)".to_owned());
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(MutantsSettings {
            threshold: self.mutants_threshold,
            max_missed: self.max_missed_mutants,
            timeout_multiplier: self.timeout_multiplier,
            minimum_timeout: self.minimum_timeout,
        })
    }
}

//! `[workspace.metadata.xtask.coverage]`: how `cargo xtask coverage` grades.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::coverage::Metric;
use crate::coverage::grade::{Band, Percent, default_bands};

#[derive(Clone, Debug)]
pub struct CoverageSettings {
    pub threshold: Percent,
    pub metric: Metric,
    /// Absolute paths.
    pub report: PathBuf,
    pub lcov: PathBuf,
    pub html: PathBuf,
    /// Where `--partition M/N` writes its shard's report (`coverage-M-of-N.xml`).
    pub shards: PathBuf,
    pub lowest_files: usize,
    pub bands: Vec<Band>,
    /// `--diff` without a base compares with this git revision (under Actions on a pull
    /// request, with the PR's base branch instead).
    pub base: Option<String>,
    /// The patch gate: covered ÷ coverable changed lines [default: `threshold`].
    pub patch_threshold: Percent,
    /// Optionally, at most this many uncovered changed lines.
    pub max_uncovered_changed_lines: Option<u64>,
    /// Optionally, at most this many lines outside the change that lost their coverage
    /// (`--base-report`); unset, they are reported only.
    pub max_indirect_uncovered_lines: Option<u64>,
    /// Optionally, a report of the merge base (absolute path) that `--diff` compares with when
    /// no `--base-report` is given: used when the file is there (CI restores it), else the
    /// indirect changes are not looked for, and the run says so.
    pub base_report: Option<PathBuf>,
    /// The ratchet's committed baseline (absolute path); no ratchet when unset.
    pub baseline: Option<PathBuf>,
    /// How far (percentage points) the total may fall below the baseline.
    pub ratchet_tolerance: Percent,
    /// Per-path gates, each graded on the files its glob matches.
    pub paths: Vec<PathGate>,
    /// The trend's folder (absolute): the history of graded runs (`history.jsonl`), the badge
    /// (`coverage-badge.svg`) and the chart (`coverage-trend.svg`).
    pub trend: PathBuf,
    /// How many runs the history keeps (at least 1).
    pub history_runs: usize,
    /// How many of the last runs the chart draws (at least 1, at most `history_runs`).
    pub trend_runs: usize,
}

/// One `[[workspace.metadata.xtask.coverage.paths]]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathGate {
    /// A glob over repository-relative paths (`*`, `?`, `**`).
    pub glob: String,
    pub threshold: Percent,
}

/// The table as written, every key with its default.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct Table {
    threshold: Percent,
    metric: Metric,
    report: PathBuf,
    lcov: PathBuf,
    html: PathBuf,
    shards: PathBuf,
    lowest_files: usize,
    bands: Vec<Band>,
    base: Option<String>,
    /// Unset: `threshold`.
    patch_threshold: Option<Percent>,
    max_uncovered_changed_lines: Option<u64>,
    max_indirect_uncovered_lines: Option<u64>,
    base_report: Option<PathBuf>,
    baseline: Option<PathBuf>,
    ratchet_tolerance: Percent,
    paths: Vec<PathGate>,
    trend: PathBuf,
    history_runs: usize,
    trend_runs: usize,
}

impl Default for Table {
    fn default() -> Table {
        Table {
            threshold: Percent::whole(70),
            metric: Metric::Lines,
            report: "coverage.xml".into(),
            lcov: "target/coverage/lcov.info".into(),
            html: "target/coverage/html".into(),
            shards: "target/coverage/shards".into(),
            lowest_files: 10,
            bands: default_bands(),
            base: None,
            patch_threshold: None,
            max_uncovered_changed_lines: None,
            max_indirect_uncovered_lines: None,
            base_report: None,
            baseline: None,
            ratchet_tolerance: "0.1".parse().expect("a valid percentage"),
            paths: Vec::new(),
            trend: "target/coverage".into(),
            history_runs: 200,
            trend_runs: 30,
        }
    }
}

impl Table {
    /// The settings, or every problem with them.
    pub(super) fn validate(self, root: &Path) -> Result<CoverageSettings, Vec<String>> {
        let mut errors = Vec::new();
        if self.base.as_deref().is_some_and(|b| b.trim().is_empty() || b.starts_with('-')) {
            errors.push("`base` must name a git revision, e.g. \"origin/main\"".to_owned());
        }
        if let Some(report) = &self.base_report {
            let text = report.to_string_lossy();
            if text.trim().is_empty() {
                errors.push(
                    "`base-report` must name a file: the merge base's report, e.g. \
                     \"target/coverage/base/coverage.xml\""
                        .to_owned(),
                );
            } else if text.contains(['*', '?']) {
                errors.push(format!(
                    "`base-report` ({text:?}) names one file, not a pattern: the merge base's merged report \
                     (several runs or shards: `--base-report` on the command line)"
                ));
            }
        }
        for (i, gate) in self.paths.iter().enumerate() {
            let at = format!("paths[{i}] ({:?})", gate.glob);
            if gate.glob.starts_with('!') {
                errors.push(format!("{at}: a path gate's glob cannot be negated: name the files it grades"));
            } else if let Err(e) = crate::repo::glob::check(&gate.glob) {
                errors.push(format!("{at}: {e}"));
            }
        }
        if self.history_runs == 0 {
            errors.push("`history-runs` must be at least 1: the history keeps the last runs".to_owned());
        }
        if self.trend_runs == 0 {
            errors.push("`trend-runs` must be at least 1: the chart draws the last runs".to_owned());
        } else if self.trend_runs > self.history_runs.max(1) {
            errors.push(format!(
                "`trend-runs` ({}) is more than `history-runs` ({}): the history would never hold that many runs",
                self.trend_runs, self.history_runs
            ));
        }
        check_bands(&self.bands, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(CoverageSettings {
            threshold: self.threshold,
            metric: self.metric,
            report: root.join(self.report),
            lcov: root.join(self.lcov),
            html: root.join(self.html),
            shards: root.join(self.shards),
            lowest_files: self.lowest_files,
            bands: self.bands,
            base: self.base,
            patch_threshold: self.patch_threshold.unwrap_or(self.threshold),
            max_uncovered_changed_lines: self.max_uncovered_changed_lines,
            max_indirect_uncovered_lines: self.max_indirect_uncovered_lines,
            base_report: self.base_report.map(|r| root.join(r)),
            baseline: self.baseline.map(|b| root.join(b)),
            ratchet_tolerance: self.ratchet_tolerance,
            paths: self.paths,
            trend: root.join(self.trend),
            history_runs: self.history_runs,
            trend_runs: self.trend_runs,
        })
    }
}

fn check_bands(bands: &[Band], errors: &mut Vec<String>) {
    let Some(last) = bands.last() else {
        errors.push("`bands` is empty: give at least one band with min = 0".to_owned());
        return;
    };
    if last.min != Percent::ZERO {
        errors.push(format!("the last band (`{}`) must have min = 0 so every report gets a grade", last.label));
    }
    for pair in bands.windows(2) {
        if !pair[1].min.less_than(pair[0].min) {
            errors.push(format!(
                "`bands` must be listed highest first: `{}` ({}) comes before `{}` ({})",
                pair[0].label, pair[0].min, pair[1].label, pair[1].min
            ));
        }
    }
}

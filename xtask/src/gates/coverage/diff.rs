//! `--diff [BASE]`: the patch gate's verdict on a change (read from git by `crate::change`);
//! the counting is the coverage crate's (`patch.rs`).

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Result, bail};

use crate::change::Change;
use crate::coverage::cobertura::Report;
use crate::coverage::grade::Percent;
use crate::coverage::patch;

/// The patch gate's verdict on one report and one change.
pub struct PatchVerdict {
    pub base: String,
    pub base_from: &'static str,
    pub merge_base: String,
    pub patch: patch::Patch,
    /// Changed files of the report's languages (by extension) that the report does not list.
    pub not_in_report: Vec<String>,
    pub threshold: Percent,
    pub max_uncovered: Option<u64>,
    /// Changed lines covered / coverable reach `threshold`.
    pub percent_passed: bool,
    /// No more uncovered changed lines than `max_uncovered`.
    pub count_passed: bool,
}

impl PatchVerdict {
    pub fn passed(&self) -> bool {
        self.percent_passed && self.count_passed
    }

    pub fn uncovered(&self) -> u64 {
        self.patch.counts.valid - self.patch.counts.covered
    }
}

/// Judges the change on the report: exit 2 (an error) when the report and the change cannot
/// describe the same tree.
pub fn judge(change: &Change, report: &Report, threshold: Percent, max_uncovered: Option<u64>) -> Result<PatchVerdict> {
    if report.line_elements == 0 {
        bail!("--diff: the report has no <line> elements, only totals: patch coverage needs per-line data");
    }
    let root = change.toplevel.to_string_lossy();
    let p = patch::patch_with_files(report, &change.lines, &root, &change.files);
    // Source files the report should have listed: of its languages (by extension), in a folder
    // where it lists other files (not tests, benches or fixtures, which it never measures).
    let extension = |name: &str| Path::new(name).extension().map(|e| e.to_string_lossy().into_owned());
    let languages: HashSet<String> = report.files.iter().filter_map(|f| extension(&f.name)).collect();
    let folder = |path: &str| path.rsplit_once('/').map_or("", |(dir, _)| dir).to_owned();
    let measured = &p.measured_folders;
    let not_in_report: Vec<String> = p
        .not_in_report
        .iter()
        .filter(|f| extension(f).is_some_and(|e| languages.contains(&e)) && measured.contains(&folder(f)))
        .cloned()
        .collect();
    let changed_sources = p.not_in_report.iter().any(|f| extension(f).is_some_and(|e| languages.contains(&e)));
    if p.files.is_empty() && changed_sources {
        // Not one changed source file is in the report: fine if the report is of this tree
        // (the change is outside what it measures), an error if it is of another.
        if measured.is_empty() {
            let tried: Vec<String> =
                p.tried.iter().map(|t| format!("  {} (as {})", t.report_name, t.forms.join(", "))).collect();
            bail!(
                "--diff: the report and the change do not describe the same tree: none of its {} files is a \
                 file of the repository at {} (sources: {}). Tried:\n{}",
                report.files.len(),
                root,
                if report.sources.is_empty() { "none".to_owned() } else { report.sources.join(", ") },
                tried.join("\n")
            );
        }
    }
    let uncovered = p.counts.valid - p.counts.covered;
    Ok(PatchVerdict {
        base: change.base.clone(),
        base_from: change.base_from,
        merge_base: change.merge_base.clone(),
        percent_passed: p.passes(threshold),
        count_passed: max_uncovered.is_none_or(|max| uncovered <= max),
        patch: p,
        not_in_report,
        threshold,
        max_uncovered,
    })
}

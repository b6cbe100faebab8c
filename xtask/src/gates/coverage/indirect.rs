//! `--base-report`: the indirect changes, the lines outside the change that the base's tests
//! covered and the change's do not (counted by the coverage crate's `indirect.rs`), reported
//! and, with `max-indirect-uncovered-lines`, gated. Also the other runs that tell unstable
//! lines from lost ones: two `--base-report`s, `--repeat-report`, `--repeat`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::Context;
use crate::change::Change;
use crate::coverage::cobertura::Report;
use crate::coverage::indirect::{self, Indirect, LineMap, Side};
use crate::coverage::merge::Merger;
use crate::settings::Metric;

/// One run of a commit's tests: its report (its shards merged), named as the output shows it.
pub struct Run {
    pub name: String,
    pub report: Report,
}

/// Reads one run per argument: a report, or a quoted pattern whose reports (the run's shards)
/// are merged. `flag` names the argument in errors.
pub fn read_runs(cx: &Context, flag: &str, args: &[PathBuf]) -> Result<Vec<Run>> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| cx.root.clone());
    let mut runs = Vec::new();
    for arg in args {
        let files = super::inputs::expand_flag(flag, std::slice::from_ref(arg), &cwd)?;
        if let Some(missing) = files.iter().find(|f| !f.exists()) {
            bail!(
                "{flag} {}: no such file (a report of the commit's tests: its CI run's artifact, or \
                 `cargo xtask coverage` run on it)",
                super::display_name(cx, missing)
            );
        }
        super::shards::check_complete(&files).with_context(|| format!("{flag} {}", arg.display()))?;
        let run = match files.as_slice() {
            [one] => {
                let name = super::display_name(cx, one);
                Run { report: super::read_report(one, &name, Metric::Lines)?, name }
            }
            _ => {
                let mut merger = Merger::new(&cx.root.to_string_lossy());
                for file in &files {
                    let name = super::display_name(cx, file);
                    merger.add(name.clone(), super::read_report(file, &name, Metric::Lines)?);
                }
                Run { name: format!("{} ({} reports)", arg.display(), files.len()), report: merger.finish().report }
            }
        };
        if run.report.line_elements == 0 {
            bail!(
                "{flag} {}: the report has totals only, no <line> elements: the indirect changes need per-line data",
                run.name
            );
        }
        runs.push(run);
    }
    Ok(runs)
}

/// Without `--base-report`: the `base-report` setting's report of the merge base, when the file
/// is there (in CI, the base commit's run saved it and this run restored it). When it is not
/// (the base's run saved none, or the cache lost it), the indirect changes are not looked for,
/// and one line says so and why (not when nothing changed, as on the default branch's own
/// run): a missing file here is not an error, as a given `--base-report` is.
pub fn from_setting(cx: &Context, change: &Change) -> Result<Vec<Run>> {
    let Some(report) = &cx.settings.coverage.base_report else { return Ok(Vec::new()) };
    if report.exists() {
        return read_runs(cx, "`base-report`", std::slice::from_ref(report));
    }
    if change.diff.is_empty() {
        return Ok(Vec::new());
    }
    eprintln!(
        "indirect changes: not looked for: no report of the merge base {} at {} (the `base-report` setting; in CI \
         the base commit's run keeps one there, and none was kept or it was evicted)",
        change.merge_base,
        super::display_name(cx, report)
    );
    Ok(Vec::new())
}

/// Where `--repeat` writes the second run's report.
pub fn repeat_report(cx: &Context) -> PathBuf {
    crate::target_dir(&cx.root).join("coverage").join("repeat.xml")
}

/// The files of the merge base's tree: what the base's report names are matched to.
fn base_files(change: &Change) -> Result<Vec<String>> {
    let out = crate::repo::git(&change.toplevel)
        .args(["ls-tree", "-r", "-z", "--name-only", "--full-tree", "--end-of-options"])
        .arg(&change.merge_base)
        .run()
        .map_err(|e| anyhow::anyhow!("--base-report: cannot list the merge base's files with git: {e:#}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).split('\0').filter(|f| !f.is_empty()).map(str::to_owned).collect())
}

/// The indirect changes of one change, and their verdict.
pub struct IndirectVerdict {
    pub base: String,
    pub merge_base: String,
    /// The base's runs and the head's (the graded report first), as named in the output.
    pub base_runs: Vec<String>,
    pub head_runs: Vec<String>,
    pub indirect: Indirect,
    pub max_lost: Option<u64>,
    /// No more lost lines than `max_lost`.
    pub passed: bool,
}

/// How many of the base report's names that are no file of the merge base an error shows.
const SHOWN: usize = 3;

/// Compares the base's runs with the head's (the graded report and its other runs) on the
/// lines the change leaves as they were. Exit 2 (an error) when the base's reports name no
/// file of the merge base: they are of another tree.
pub fn judge(
    change: &Change,
    head: (&str, &Report),
    base: &[Run],
    repeats: &[Run],
    max_lost: Option<u64>,
) -> Result<IndirectVerdict> {
    let tree = base_files(change)?;
    let root = change.toplevel.to_string_lossy();
    let base_side = Side { runs: base.iter().map(|r| &r.report).collect(), root: &root, files: &tree };
    let mut head_reports = vec![head.1];
    head_reports.extend(repeats.iter().map(|r| &r.report));
    let head_side = Side { runs: head_reports, root: &root, files: &change.files };
    let found = indirect::indirect(&base_side, &head_side, &LineMap::new(&change.diff));
    if found.base_files == 0 {
        let names: Vec<&str> = found.base_unmatched.iter().take(SHOWN).map(String::as_str).collect();
        bail!(
            "--base-report: none of the base report's files is a file of the merge base {} (the report must be \
             of that commit): it lists {}",
            change.merge_base,
            if names.is_empty() { "no file".to_owned() } else { names.join(", ") }
        );
    }
    let mut head_runs = vec![head.0.to_owned()];
    head_runs.extend(repeats.iter().map(|r| r.name.clone()));
    Ok(IndirectVerdict {
        base: change.base.clone(),
        merge_base: change.merge_base.clone(),
        base_runs: base.iter().map(|r| r.name.clone()).collect(),
        head_runs,
        passed: max_lost.is_none_or(|max| found.lost <= max),
        indirect: found,
        max_lost,
    })
}

/// The base reports' contents, for the verdict cache's key: the verdict depends on them.
pub fn digest(cx: &Context, args: &[PathBuf]) -> Result<String> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| cx.root.clone());
    let mut out = Vec::new();
    for file in super::inputs::expand_flag("--base-report", args, &cwd)? {
        let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
        out.push(format!("{} {}", Path::new(&file).display(), crate::snapshot::digest(&cx.root, &bytes)?));
    }
    Ok(out.join(", "))
}

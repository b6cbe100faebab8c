//! `--diff [BASE]`: what the change is, from git. The changed lines are those between the
//! merge base of BASE and HEAD, and the working tree (committed, staged and unstaged); the
//! counting is the coverage crate's (`patch.rs`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

use crate::Context;
use crate::coverage::cobertura::Report;
use crate::coverage::grade::Percent;
use crate::coverage::patch::{self, ChangedLines};
use crate::repo::git;

/// The change the patch is judged on.
pub struct Change {
    /// The base as given (or found), e.g. `origin/main`.
    pub base: String,
    /// Where it came from: the command line, the PR, the setting.
    pub base_from: &'static str,
    /// The merge base, abbreviated.
    pub merge_base: String,
    /// The repository's top folder, absolute.
    pub toplevel: PathBuf,
    pub lines: ChangedLines,
    /// Every file git tracks, repository-relative: lets report names be matched exactly.
    pub files: Vec<String>,
}

/// The base to compare with: `--diff BASE`, else the pull request's base branch under
/// GitHub Actions, else the `base` setting.
pub fn base(cx: &Context, given: &str) -> Result<(String, &'static str)> {
    if !given.is_empty() {
        return Ok((given.to_owned(), "given with --diff"));
    }
    if cx.out.github
        && let Some(branch) = std::env::var("GITHUB_BASE_REF").ok().filter(|b| !b.is_empty())
    {
        return Ok((format!("origin/{branch}"), "the pull request's base branch"));
    }
    match &cx.settings.coverage.base {
        Some(base) => Ok((base.clone(), "the `base` setting")),
        None => bail!(
            "--diff needs a base to compare with: `--diff origin/main`, or `base = \"origin/main\"` in \
             [workspace.metadata.xtask.coverage]"
        ),
    }
}

/// The base and its merge base with HEAD, for the verdict cache's key: the change is the
/// work tree (in the key already) against that commit. Unresolved: said so (the gate fails).
pub fn merge_base(cx: &Context, given: &str) -> String {
    let Ok((base, _)) = base(cx, given) else { return "no base".to_owned() };
    match git(&cx.root).args(["merge-base", "--end-of-options", &base, "HEAD"]).output() {
        Ok(o) if o.status.success() => format!("{base} {}", String::from_utf8_lossy(&o.stdout).trim()),
        _ => format!("{base} unresolved"),
    }
}

/// Reads the change from git: the merge base, the diff against it, the tracked files.
pub fn change(cx: &Context, root: &Path, given: &str) -> Result<Change> {
    let (base, base_from) = base(cx, given)?;
    let toplevel = PathBuf::from(run(root, &["rev-parse", "--show-toplevel"], "find the repository")?.trim());
    let shallow = run(root, &["rev-parse", "--is-shallow-repository"], "inspect the repository")?.trim() == "true";
    let unshallow = "this is a shallow clone: `git fetch --unshallow` (in GitHub Actions, `fetch-depth: 0` \
                     on actions/checkout)";

    let verify = git(root)
        .args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
        .arg(format!("{base}^{{commit}}"))
        .output();
    if !verify.is_ok_and(|o| o.status.success()) {
        let fetch = match base.split_once('/') {
            Some((remote, branch)) => format!("`git fetch {remote} {branch}`"),
            None => format!("fetch it (`git fetch origin {base}`)"),
        };
        let also = if shallow { format!("; {unshallow}") } else { String::new() };
        bail!("the base `{base}` ({base_from}) is not in this repository's history: {fetch}{also}");
    }
    let merge_base = match git(root).args(["merge-base", "--end-of-options", &base, "HEAD"]).output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        _ if shallow => bail!("`{base}` and HEAD have no common commit in this shallow history: {unshallow}"),
        _ => bail!("`{base}` ({base_from}) and HEAD have no common history: nothing to compare with"),
    };
    let diff = run(
        root,
        &[
            "-c",
            "core.quotePath=true",
            "diff",
            "-U0",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "-M",
            "--src-prefix=a/",
            "--dst-prefix=b/",
            &merge_base,
            "--",
        ],
        "diff against the merge base",
    )?;
    let lines = patch::parse_diff(&diff).map_err(|e| anyhow::anyhow!("cannot read git's diff: {e}"))?;
    let files = run(&toplevel, &["ls-files", "-z"], "list the tracked files")?
        .split('\0')
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect();
    let short = merge_base.get(..12).unwrap_or(&merge_base).to_owned();
    Ok(Change { base, base_from, merge_base: short, toplevel, lines, files })
}

/// `git ARGS` in `dir`, its stdout; an error naming what it was for.
fn run(dir: &Path, args: &[&str], what: &str) -> Result<String> {
    let mut cmd: Command = git(dir);
    cmd.args(args);
    let shown = format!("git {}", args.join(" "));
    let out = crate::process::checked(&mut cmd, &shown)
        .map_err(|e| anyhow::anyhow!("--diff: cannot {what} with git: {e:#}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

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
pub fn judge(change: Change, report: &Report, threshold: Percent, max_uncovered: Option<u64>) -> Result<PatchVerdict> {
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
        base: change.base,
        base_from: change.base_from,
        merge_base: change.merge_base,
        percent_passed: p.passes(threshold),
        count_passed: max_uncovered.is_none_or(|max| uncovered <= max),
        patch: p,
        not_in_report,
        threshold,
        max_uncovered,
    })
}

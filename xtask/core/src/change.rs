//! What changed against a base, from git: the base (`--diff BASE`, a pull request's base
//! branch, the `base` setting), its merge base with HEAD, and the lines changed between that
//! merge base and the working tree (committed, staged and unstaged). The coverage gate's
//! `--diff` judges it; `cargo xtask test --changed` runs the tests it touches.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::Context;
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
    /// Each changed file's paths and changed blocks: where an unchanged line of the merge base
    /// is now (the indirect changes).
    pub diff: Vec<patch::FileChange>,
    /// Every file git tracks, repository-relative: lets report names be matched exactly.
    pub files: Vec<String>,
    /// git's diff with context lines, when [`read_with_context`] asked for it: `lines` were
    /// read from it, so the two agree (`coverage --diff --html`).
    pub text: Option<String>,
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
pub fn read(cx: &Context, root: &Path, given: &str) -> Result<Change> {
    read_with_context(cx, root, given, None)
}

/// [`read`], with `Some(n)`: from git's diff with `n` context lines around each change, which
/// the change keeps (`Change::text`) for a reader to see (the added lines are the same).
pub fn read_with_context(cx: &Context, root: &Path, given: &str, context: Option<u32>) -> Result<Change> {
    let toplevel = PathBuf::from(run(root, &["rev-parse", "--show-toplevel"], "find the repository")?.trim());
    let Resolved { base, base_from, merge_base } = resolve(cx, root, given)?;
    let unified = format!("-U{}", context.unwrap_or(0));
    let text = run(
        root,
        &[
            "-c",
            "core.quotePath=true",
            "diff",
            &unified,
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
    let diff = patch::read_diff(&text).map_err(|e| anyhow::anyhow!("cannot read git's diff: {e}"))?;
    let files = run(&toplevel, &["ls-files", "-z"], "list the tracked files")?
        .split('\0')
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect();
    let short = merge_base.get(..12).unwrap_or(&merge_base).to_owned();
    let text = context.map(|_| text);
    Ok(Change { base, base_from, merge_base: short, toplevel, lines: diff.lines, diff: diff.files, files, text })
}

/// The merge base's full commit id that [`read`] would judge the change against: the one
/// `coverage --diff --print-merge-base` prints, under which CI keeps the base's report.
pub fn merge_base_commit(cx: &Context, root: &Path, given: &str) -> Result<String> {
    Ok(resolve(cx, root, given)?.merge_base)
}

/// The base, where it came from, and its merge base with HEAD (the full commit id).
struct Resolved {
    base: String,
    base_from: &'static str,
    merge_base: String,
}

/// Finds the base ([`base`]) and its merge base with HEAD in the checkout at `root`; an error
/// naming the fetch when the base is not in the history or a shallow clone stops short of it.
fn resolve(cx: &Context, root: &Path, given: &str) -> Result<Resolved> {
    let (base, base_from) = base(cx, given)?;
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
    Ok(Resolved { base, base_from, merge_base })
}

/// `git ARGS` in `dir`, its stdout; an error naming what it was for.
fn run(dir: &Path, args: &[&str], what: &str) -> Result<String> {
    let out = git(dir).args(args).run().map_err(|e| anyhow::anyhow!("--diff: cannot {what} with git: {e:#}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

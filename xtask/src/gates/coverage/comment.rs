//! `--comment DIR`: the pull request's comment, as Markdown rendered from the run's verdicts
//! (the grade, the patch gate with its uncovered ranges linked to the lines in the pull
//! request's head commit, the per-path gates, the ratchet, the indirect changes), written with
//! its sidecar (the pull request and the commit) for `cargo xtask comment post`, which posts
//! it from a workflow with write permission (`gates/comment.rs`).
//!
//! What a pull request controls (its title, its branch, its files' names, the base's name)
//! reaches the comment only as text: inside code spans whose fence is longer than any run of
//! backticks in it, with `|` escaped in tables, and in links only percent-encoded. The title
//! and the branch are not shown at all.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, bail};

use crate::coverage::grade::{percent_text, thousands};
use crate::coverage::summary::Summary;
use crate::gates::comment::{self as poster, MARKER, MAX_BODY_BYTES, Sidecar};

use super::diff::PatchVerdict;
use super::paths::PathVerdict;
use super::ratchet::RatchetVerdict;
use super::render;
use super::{Graded, Verdicts};

/// How many uncovered ranges a section links at most; the rest are counted (the step
/// summary lists them all). A hundred links keep the comment far below GitHub's limit.
const RANGES_SHOWN: usize = 100;

/// Lines the base covered that the change no longer covers, outside the changed lines: what
/// the comment says of them. Filled by the indirect-changes check (`--base-report`);
/// [`CommentInput::indirect`] is `None` when it did not run, and the section is left out.
#[derive(Clone, Debug, Default)]
pub struct Indirect {
    /// What the lines are compared with, as shown (the base's report or commit).
    pub base: String,
    /// Per file (a repository path; most lost lines first), the ranges no longer covered.
    pub files: Vec<(String, Vec<(u32, u32)>)>,
    /// Lines whose coverage differs between two runs of one commit: never counted as lost.
    pub unstable: u64,
    /// `max-indirect-uncovered-lines` when set, and whether the lost lines stay within it.
    pub limit: Option<(u64, bool)>,
}

impl Indirect {
    fn lost(&self) -> u64 {
        self.files.iter().flat_map(|(_, r)| r).map(|&(a, b)| u64::from(b - a + 1)).sum()
    }
}

/// Where a line of the pull request's head commit is shown on GitHub.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Links {
    /// `GITHUB_SERVER_URL`, e.g. `https://github.com`.
    pub server: String,
    /// `GITHUB_REPOSITORY`, `owner/name`.
    pub repository: String,
    /// The pull request's head commit (else the commit the run tested).
    pub sha: String,
    /// `GITHUB_RUN_ID`: the run whose step summary lists everything.
    pub run_id: Option<u64>,
}

impl Links {
    /// `…/blob/<sha>/<path>#L10-L14`, the path percent-encoded.
    pub fn lines(&self, path: &str, (start, end): (u32, u32)) -> String {
        let anchor = if start == end { format!("L{start}") } else { format!("L{start}-L{end}") };
        format!("{}/{}/blob/{}/{}#{anchor}", self.server, self.repository, self.sha, encode_path(path))
    }

    fn run(&self) -> Option<String> {
        self.run_id.map(|id| format!("{}/{}/actions/runs/{id}", self.server, self.repository))
    }
}

/// Everything the comment is rendered from.
pub struct CommentInput<'a> {
    pub summary: &'a Summary,
    pub paths: &'a [PathVerdict],
    pub ratchet: Option<&'a RatchetVerdict>,
    pub patch: Option<&'a PatchVerdict>,
    pub indirect: Option<&'a Indirect>,
    /// The test run failed: the figures are from a failing run.
    pub tests_failed: bool,
    /// Where the ranges link to; none: the ranges are plain text.
    pub links: Option<&'a Links>,
}

/// The GitHub run the gate is in, from its environment: the pull request (from the event
/// GitHub wrote, `GITHUB_EVENT_PATH`) and where lines are linked.
#[derive(Debug, Default)]
pub struct GithubRun {
    pub pull: Option<Sidecar>,
    pub links: Option<Links>,
}

impl GithubRun {
    /// Reads `GITHUB_EVENT_PATH`, `GITHUB_REPOSITORY`, `GITHUB_SERVER_URL`, `GITHUB_SHA` and
    /// `GITHUB_RUN_ID`. A value that is set but malformed is an error, not a guess.
    pub fn from_env() -> Result<GithubRun> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let pull = match crate::output::github_event()? {
            Some(event) => pull_request_of_event(&event)?,
            None => None,
        };
        let Some(repository) = var("GITHUB_REPOSITORY") else { return Ok(GithubRun { pull, links: None }) };
        if !poster::is_repository(&repository) {
            bail!("GITHUB_REPOSITORY {repository:?} is not owner/name");
        }
        let server = var("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".to_owned());
        let server = server.trim_end_matches('/').to_owned();
        if !is_server(&server) {
            bail!("GITHUB_SERVER_URL {server:?} is not an http(s) address");
        }
        let sha = pull.as_ref().map(|p| p.head_sha.clone()).or_else(|| var("GITHUB_SHA").filter(|s| poster::is_sha(s)));
        let run_id = var("GITHUB_RUN_ID").and_then(|id| id.parse().ok());
        let links = sha.map(|sha| Links { server, repository, sha, run_id });
        Ok(GithubRun { pull, links })
    }
}

/// The pull request of a `pull_request` (or `pull_request_target`) event: its number and its
/// head commit. `None` for any other event.
pub fn pull_request_of_event(event: &serde_json::Value) -> Result<Option<Sidecar>> {
    let Some(pull) = event.get("pull_request").filter(|p| p.is_object()) else { return Ok(None) };
    let number = pull.get("number").and_then(serde_json::Value::as_u64).filter(|n| *n > 0);
    let Some(pull_request) = number else { bail!("GITHUB_EVENT_PATH: pull_request.number is not a positive integer") };
    let sha = pull.pointer("/head/sha").and_then(|s| s.as_str()).filter(|s| poster::is_sha(s));
    let Some(head_sha) = sha else { bail!("GITHUB_EVENT_PATH: pull_request.head.sha is not a commit") };
    Ok(Some(Sidecar { pull_request, head_sha: head_sha.to_owned() }))
}

/// `--comment DIR`: renders the comment from the verdicts and writes it, with its sidecar on
/// a pull request; says so on stderr (stdout may be the JSON report).
pub(super) fn write(dir: &Path, graded: &Graded, v: &Verdicts) -> Result<()> {
    let run = GithubRun::from_env()?;
    // The indirect changes (`--base-report`), when the gate judged them.
    let indirect = v.indirect.as_ref().map(|i| Indirect {
        base: i.base.clone(),
        files: i.indirect.lost_ranges().map(|(path, ranges)| (path.to_owned(), ranges.to_vec())).collect(),
        unstable: i.indirect.unstable,
        limit: i.max_lost.map(|max| (max, i.passed)),
    });
    let input = CommentInput {
        summary: &v.summary,
        paths: &v.paths,
        ratchet: v.ratchet.as_ref(),
        patch: v.patch.as_ref(),
        indirect: indirect.as_ref(),
        tests_failed: matches!(graded.tests, Some((crate::Outcome::Failed, _))),
        links: run.links.as_ref(),
    };
    let body = render(&input);
    poster::write_artifact(dir, &body, run.pull.as_ref())?;
    let shown = dir.join(poster::BODY_FILE);
    match &run.pull {
        Some(p) => {
            eprintln!("comment: {} (pull request #{}, for `cargo xtask comment post`)", shown.display(), p.pull_request)
        }
        None => eprintln!("comment: {} (not a pull request's run: nothing to post)", shown.display()),
    }
    Ok(())
}

/// The comment's Markdown: the marker line first, then the sections, at most
/// [`MAX_BODY_BYTES`] long.
pub fn render(c: &CommentInput<'_>) -> String {
    let mut out = format!("{MARKER}\n");
    out.push_str(&render::markdown_totals(c.summary));
    if c.tests_failed {
        out.push_str("\n❌ **The tests failed**: these figures are from a failing run.\n");
    }
    if let Some(v) = c.patch {
        out.push_str(&patch(v, c.links));
    }
    if !c.paths.is_empty() {
        out.push_str(&paths(c.paths));
    }
    if let Some(r) = c.ratchet {
        out.push_str(&ratchet(r));
    }
    if let Some(i) = c.indirect {
        out.push_str(&indirect(i, c.links));
    }
    if !c.summary.lowest.is_empty() {
        out.push_str("\n<details><summary>Lowest-covered files</summary>\n\n");
        out.push_str(&render::lowest_table(c.summary));
        out.push_str("\n</details>\n");
    }
    out.push_str(&footer(c.links));
    fit(out)
}

fn mark(passed: bool) -> &'static str {
    if passed { "✅" } else { "❌" }
}

fn patch(v: &PatchVerdict, links: Option<&Links>) -> String {
    let p = &v.patch;
    let merge_base = v.merge_base.get(..12).unwrap_or(&v.merge_base);
    let against = format!("against {} (merge base {})", code(&v.base), code(merge_base));
    if p.counts.valid == 0 {
        return format!(
            "\n#### ✅ Patch: no coverable line changed\n\nNothing to judge {against}: {}.\n",
            render::plural(p.changed_files as u64, "changed file")
        );
    }
    let mut out = format!(
        "\n#### {} Patch: {}% of the changed lines covered ({} / {}), gate {}%\n\n",
        mark(v.passed()),
        p.percent_text(),
        thousands(p.counts.covered),
        thousands(p.counts.valid),
        v.threshold
    );
    let _ = write!(out, "Changed {against}");
    if let Some(max) = v.max_uncovered {
        let _ = write!(
            out,
            "; {} uncovered, at most {max}: {}",
            render::plural(v.uncovered(), "changed line"),
            mark(v.count_passed)
        );
    }
    out.push_str(".\n");
    let files: Vec<(String, Vec<(u32, u32)>)> =
        p.files.iter().filter(|f| !f.uncovered.is_empty()).map(|f| (f.path.clone(), f.uncovered.clone())).collect();
    if !files.is_empty() {
        out.push('\n');
        out.push_str(&ranges_table(&files, "Uncovered changed lines", links));
    }
    if !v.not_in_report.is_empty() {
        let list: Vec<String> = v.not_in_report.iter().map(|f| code(f)).collect();
        let _ = writeln!(out, "\n_Changed, but not in the report (not measured): {}._", list.join(", "));
    }
    out
}

fn paths(paths: &[PathVerdict]) -> String {
    let failed = paths.iter().filter(|p| !p.passed).count();
    let heading = if failed == 0 {
        "✅ Paths: every path gate passed".to_owned()
    } else {
        format!("❌ Paths: {failed} of {} below their gate", paths.len())
    };
    format!("\n#### {heading}\n\n{}", render::paths_table(paths))
}

fn ratchet(r: &RatchetVerdict) -> String {
    let now = percent_text(r.now);
    let Some(b) = &r.before else {
        return format!(
            "\n#### ✅ Ratchet: no baseline yet\n\n{now}% now; `cargo xtask coverage --update-baseline` writes {}.\n",
            code(&r.path)
        );
    };
    let was = percent_text(b.counts());
    let at = code(b.commit.get(..12).unwrap_or(&b.commit));
    if r.passed {
        let how = if r.rose() { "up from" } else { "against" };
        return format!(
            "\n#### ✅ Ratchet: {now}%, {how} the baseline's {was}%\n\nThe baseline was measured at {at}; \
             tolerance {} points.\n",
            r.tolerance
        );
    }
    let mut out = format!(
        "\n#### ❌ Ratchet: {now}% fell from the baseline's {was}%\n\nBy more than the tolerance of {} points \
         (the baseline was measured at {at}).\n",
        r.tolerance
    );
    if !r.losers.is_empty() {
        out.push_str("\n| File | Covered before | Covered now |\n| --- | ---: | ---: |\n");
        for (name, was, is) in &r.losers {
            let _ = writeln!(
                out,
                "| {} | {} | {} (−{}) |",
                cell(name),
                thousands(*was),
                thousands(*is),
                thousands(was - is)
            );
        }
    }
    out
}

fn indirect(i: &Indirect, links: Option<&Links>) -> String {
    let lost = i.lost();
    let failed = i.limit.is_some_and(|(_, passed)| !passed);
    let sign = if failed {
        "❌"
    } else if lost > 0 {
        "⚠️"
    } else {
        "✅"
    };
    let mut out = if lost == 0 {
        format!("\n#### {sign} Indirect changes: none\n\nNo line that {} covered lost its coverage.\n", code(&i.base))
    } else {
        format!(
            "\n#### {sign} Indirect changes: {} no longer covered\n\nOutside the changed lines, covered in {}",
            render::plural(lost, "line"),
            code(&i.base)
        )
    };
    if lost > 0 {
        if let Some((max, passed)) = i.limit {
            let _ = write!(out, "; at most {max}: {}", mark(passed));
        }
        out.push_str(".\n\n");
        out.push_str(&ranges_table(&i.files, "Lines no longer covered", links));
    }
    if i.unstable > 0 {
        let _ = writeln!(
            out,
            "\n_{} whose coverage differs between two runs of one commit: unstable, not counted._",
            render::plural(i.unstable, "line")
        );
    }
    out
}

/// Files and their ranges, each range a link to its lines when `links` is known; at most
/// [`RANGES_SHOWN`] ranges, then how many more.
fn ranges_table(files: &[(String, Vec<(u32, u32)>)], what: &str, links: Option<&Links>) -> String {
    let mut out = format!("| File | {what} |\n| --- | --- |\n");
    let mut shown = 0;
    let mut left = (0usize, 0usize);
    for (path, ranges) in files {
        if shown >= RANGES_SHOWN {
            left.0 += ranges.len();
            left.1 += 1;
            continue;
        }
        let take = ranges.len().min(RANGES_SHOWN - shown);
        let mut cells: Vec<String> = ranges[..take]
            .iter()
            .map(|&(a, b)| {
                let text = if a == b { a.to_string() } else { format!("{a}–{b}") };
                match links {
                    Some(l) => format!("[{text}]({})", l.lines(path, (a, b))),
                    None => text,
                }
            })
            .collect();
        if take < ranges.len() {
            cells.push(format!("… {} more", ranges.len() - take));
            left.0 += ranges.len() - take;
        }
        shown += take;
        let _ = writeln!(out, "| {} | {} |", cell(path), cells.join(", "));
    }
    if left.0 > 0 {
        let files =
            if left.1 > 0 { format!(" ({} not listed)", render::plural(left.1 as u64, "file")) } else { String::new() };
        let more = thousands(left.0 as u64);
        let _ = writeln!(out, "\n_{more} more ranges not shown{files}: the run's step summary lists them all._");
    }
    out
}

fn footer(links: Option<&Links>) -> String {
    let mut parts = vec!["<sub>`cargo xtask coverage`".to_owned()];
    if let Some(l) = links {
        parts.push(format!("commit {}", code(l.sha.get(..12).unwrap_or(&l.sha))));
        if let Some(run) = l.run() {
            parts.push(format!("[the CI run]({run})"));
        }
    }
    parts.push("updated in place on each push</sub>".to_owned());
    format!("\n{}\n", parts.join(" · "))
}

/// The body cut at a line to fit GitHub's limit, saying so (the caps above keep a real
/// comment far below it; names thousands of characters long could still reach it).
fn fit(body: String) -> String {
    if body.len() <= MAX_BODY_BYTES {
        return body;
    }
    let note = "\n_(cut: the comment is longer than GitHub allows; the run's step summary has it all)_\n";
    let mut end = MAX_BODY_BYTES - note.len();
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    let end = body[..end].rfind('\n').map_or(end, |n| n + 1);
    format!("{}{note}", &body[..end])
}

/// Inline code whose fence is longer than any run of backticks in `text` (so nothing in it
/// closes the span), control characters shown as `�`.
pub fn code(text: &str) -> String {
    let text: String = text.chars().map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect();
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') || text.trim().is_empty() { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// [`code`] in a table cell: `|` escaped for GitHub's table parser.
fn cell(text: &str) -> String {
    code(text).replace('|', "\\|")
}

/// A repository path for a URL: every byte but letters, digits, `-._~/` percent-encoded.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `http(s)://host[:port][/path]`, of characters that need no escaping in a link.
fn is_server(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) else { return false };
    !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._:/".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_hold_any_text() {
        assert_eq!(code("main"), "`main`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`$(touch x)`"), "`` `$(touch x)` ``");
        assert_eq!(code("a``b`"), "``` a``b` ```");
        assert_eq!(code("x\ny"), "`x\u{FFFD}y`");
        assert_eq!(cell("a|b"), "`a\\|b`");
    }

    #[test]
    fn links_point_at_the_lines_of_the_head_commit() {
        let links = Links {
            server: "https://github.com".into(),
            repository: "o/r".into(),
            sha: "0123456789abcdef0123456789abcdef01234567".into(),
            run_id: Some(42),
        };
        assert_eq!(
            links.lines("src/a b#(1).rs", (10, 14)),
            "https://github.com/o/r/blob/0123456789abcdef0123456789abcdef01234567/src/a%20b%23%281%29.rs#L10-L14"
        );
        assert!(links.lines("src/a.rs", (3, 3)).ends_with("/src/a.rs#L3"));
        assert_eq!(links.run().as_deref(), Some("https://github.com/o/r/actions/runs/42"));
    }

    #[test]
    fn servers_are_plain_addresses() {
        assert!(is_server("https://github.com"));
        assert!(is_server("http://127.0.0.1:8080/ghe"));
        for bad in ["github.com", "https://", "https://a b", "https://x)(javascript:y", "javascript:alert(1)"] {
            assert!(!is_server(bad), "{bad}");
        }
    }

    #[test]
    fn a_long_body_is_cut_at_a_line_under_the_limit() {
        let body = format!("{MARKER}\n{}", "| `x` | 1 |\n".repeat(10_000));
        let cut = fit(body);
        assert!(cut.len() <= MAX_BODY_BYTES, "{}", cut.len());
        assert!(cut.starts_with(MARKER));
        assert!(cut.ends_with("the run's step summary has it all)_\n"));
        assert!(cut.contains("| `x` | 1 |\n\n_(cut"), "cut at a line");
    }

    #[test]
    fn indirect_changes_are_ranges_linked_like_the_patch() {
        let links = Links {
            server: "https://github.com".into(),
            repository: "o/r".into(),
            sha: "0123456789abcdef0123456789abcdef01234567".into(),
            run_id: None,
        };
        let lost = Indirect {
            base: "origin/main".into(),
            files: vec![("src/a.rs".into(), vec![(3, 5), (9, 9)])],
            unstable: 2,
            limit: Some((3, false)),
        };
        let text = indirect(&lost, Some(&links));
        assert!(text.starts_with("\n#### ❌ Indirect changes: 4 lines no longer covered\n"), "{text}");
        assert!(text.contains("covered in `origin/main`; at most 3: ❌."), "{text}");
        assert!(text.contains("| `src/a.rs` | [3–5](https://github.com/o/r/blob/0123456789abcdef0123456789abcdef01234567/src/a.rs#L3-L5), [9]("), "{text}");
        assert!(
            text.contains("_2 lines whose coverage differs between two runs of one commit: unstable, not counted._")
        );
        let none = Indirect { base: "origin/main".into(), ..Indirect::default() };
        assert_eq!(
            indirect(&none, None),
            "\n#### ✅ Indirect changes: none\n\nNo line that `origin/main` covered lost its coverage.\n"
        );
        let warned = Indirect { limit: None, unstable: 0, ..lost };
        assert!(indirect(&warned, None).starts_with("\n#### ⚠️ Indirect changes: 4 lines"));
    }

    #[test]
    fn many_ranges_are_capped_and_counted() {
        let files: Vec<(String, Vec<(u32, u32)>)> =
            (0..3).map(|f| (format!("src/f{f}.rs"), (1..=60).map(|n| (n * 2, n * 2)).collect())).collect();
        let table = ranges_table(&files, "Uncovered changed lines", None);
        assert!(table.contains("| `src/f1.rs` | 2, 4,"), "{table}");
        assert!(table.contains(", 80, … 20 more |"), "{table}");
        assert!(!table.contains("src/f2.rs"), "{table}");
        assert!(
            table.contains("_80 more ranges not shown (1 file not listed): the run's step summary lists them all._"),
            "{table}"
        );
    }
}

//! `--diff --html PATH`: the patch gate's verdict as one HTML page that stands alone. At the
//! top, the verdict, the counts and the uncovered changed ranges, each a link into the diff
//! below: per file, git's hunks with their context lines, each added line marked covered,
//! uncovered or not coverable (the coverage crate's `patch_view`, which marks them as the
//! verdict counts them). Inline CSS and no script (a Content-Security-Policy forbids any); every
//! mark is also a word and a symbol, so the page reads without colour. Everything from the
//! diff and the report is HTML-escaped.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result, bail};

use crate::coverage::grade::thousands;
use crate::coverage::patch::format_ranges;
use crate::coverage::patch_view::{self, Mark, PatchView, Row, RowKind, ViewFile};

use super::Graded;
use super::diff::PatchVerdict;

/// Lines of context around each change, as `git diff` shows by default.
pub const CONTEXT: u32 = 3;

/// What the page's `<meta name="generator">` says: a file that has it is one of ours, and is
/// replaced; any other file at the path is left alone ([`check_target`]).
const GENERATOR: &str = "cargo xtask coverage --diff --html";

/// Before any work: the path can take the page, and holds no file of the user's.
pub fn check_target(path: &Path) -> Result<()> {
    let shown = path.display();
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => bail!("--html {shown}: cannot inspect it: {e}"),
        Ok(m) if m.is_dir() => {
            bail!("--html {shown}: is a folder; name the HTML file to write, e.g. {shown}/patch.html")
        }
        Ok(_) => {
            // The generator line is in the page's first lines.
            let mut head = Vec::with_capacity(2048);
            std::fs::File::open(path)
                .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, 2048), &mut head))
                .with_context(|| format!("--html {shown}: cannot read it"))?;
            let head = String::from_utf8_lossy(&head);
            if head.contains(&format!("<meta name=\"generator\" content=\"{GENERATOR}\">")) {
                Ok(())
            } else {
                bail!(
                    "--html {shown}: the file exists and is not a patch report this command wrote: \
                     not replaced (remove it, or name another file)"
                )
            }
        }
    }
}

/// Writes the page for the verdict, atomically; says where on stderr.
pub(super) fn write(path: &Path, graded: &Graded, v: &PatchVerdict) -> Result<()> {
    let change = graded.change.as_ref().context("--html needs --diff")?;
    let text = change.text.as_deref().context("--html: the change was read without its context lines")?;
    let view =
        patch_view::view(text, &graded.report, &v.patch).map_err(|e| anyhow::anyhow!("--html: git's diff: {e}"))?;
    // The page shows the verdict's lines, marked as it counted them: anything else is a bug.
    if view.changed_lines() != change.lines || view.counts() != v.patch.counts {
        bail!(
            "--html: the page's marks ({} / {} covered) disagree with the verdict's ({} / {}): not written",
            view.counts().covered,
            view.counts().valid,
            v.patch.counts.covered,
            v.patch.counts.valid
        );
    }
    let page = render(v, &view);
    crate::output::write_atomically(path, |tmp| Ok(std::fs::write(tmp, &page)?))
        .with_context(|| format!("cannot write --html {}", path.display()))?;
    eprintln!("patch report: {}", path.display());
    Ok(())
}

/// The page.
pub fn render(v: &PatchVerdict, view: &PatchView) -> String {
    let p = &v.patch;
    let pct = p.percent_text();
    let judged = p.counts.valid > 0;
    let word = if v.passed() { "passed" } else { "FAILED" };
    let title = if judged {
        format!("Patch coverage {pct}% ({word}) against {}", v.base)
    } else {
        format!("Patch coverage: nothing to judge against {}", v.base)
    };
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"generator\" content=\"{GENERATOR}\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&title)
    );
    summary(&mut out, v, view);
    out.push_str("<main>\n");
    for (i, file) in view.files.iter().enumerate() {
        file_section(&mut out, i, file);
    }
    if view.files.is_empty() {
        out.push_str("<p>No file changed.</p>\n");
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// The top: what was compared, the verdict, the counts, the uncovered ranges as links, the legend.
fn summary(out: &mut String, v: &PatchVerdict, view: &PatchView) {
    let p = &v.patch;
    let pct = p.percent_text();
    let _ = writeln!(
        out,
        "<header>\n<h1>Patch coverage</h1>\n<p class=\"against\">The change against <code>{}</code> \
         (merge base <code>{}</code>, {}): the lines it adds, committed, staged and unstaged.</p>",
        esc(&v.base),
        esc(&v.merge_base),
        esc(v.base_from)
    );
    if p.counts.valid == 0 {
        out.push_str(
            "<p class=\"verdict passed\"><strong>✓ Patch gate: passed</strong>: no coverable line changed, \
             nothing to judge.</p>\n",
        );
    } else {
        let of = format!(
            "{pct}% of the changed lines covered ({} / {})",
            thousands(p.counts.covered),
            thousands(p.counts.valid)
        );
        if v.percent_passed {
            let _ = writeln!(
                out,
                "<p class=\"verdict passed\"><strong>✓ Patch gate: passed</strong>: {of}, at least the {}% it needs.</p>",
                v.threshold
            );
        } else {
            let more = v.threshold.shortfall(p.counts);
            let _ = writeln!(
                out,
                "<p class=\"verdict failed\"><strong>✗ Patch gate: FAILED</strong>: {of}, below the {}% it needs: \
                 cover {} more changed {} to pass.</p>",
                v.threshold,
                thousands(more),
                if more == 1 { "line" } else { "lines" }
            );
        }
        if let Some(max) = v.max_uncovered {
            let (class, mark, word) =
                if v.count_passed { ("passed", "✓", "passed") } else { ("failed", "✗", "FAILED") };
            let _ = writeln!(
                out,
                "<p class=\"verdict {class}\"><strong>{mark} Uncovered-lines gate: {word}</strong>: {} uncovered \
                 changed {}, at most {max} allowed.</p>",
                thousands(v.uncovered()),
                if v.uncovered() == 1 { "line" } else { "lines" }
            );
        }
    }

    let added = view.added();
    let _ = writeln!(
        out,
        "<table class=\"counts\">\n<caption>The changed lines</caption>\n<tbody>\n\
         <tr><th scope=\"row\">✓ covered</th><td>{}</td></tr>\n\
         <tr><th scope=\"row\">✗ uncovered</th><td>{}</td></tr>\n\
         <tr><th scope=\"row\">· not coverable</th><td>{}</td></tr>\n\
         <tr class=\"total\"><th scope=\"row\">changed lines</th><td>{}</td></tr>\n\
         <tr><th scope=\"row\">changed files</th><td>{}</td></tr>\n</tbody>\n</table>",
        thousands(p.counts.covered),
        thousands(v.uncovered()),
        thousands(added - p.counts.valid),
        thousands(added),
        thousands(view.files.len() as u64)
    );

    let uncovered: Vec<_> = p.files.iter().filter(|f| !f.uncovered.is_empty()).collect();
    if !uncovered.is_empty() {
        out.push_str("<h2>Uncovered changed lines</h2>\n<ul class=\"ranges\">\n");
        for f in uncovered {
            let index = view.files.iter().position(|v| v.path == f.path);
            let name = match index {
                Some(i) => format!("<a href=\"#f{i}\"><code>{}</code></a>", esc(&f.path)),
                None => format!("<code>{}</code>", esc(&f.path)),
            };
            let ranges: Vec<String> = f
                .uncovered
                .iter()
                .map(|&(a, b)| {
                    let text = format_ranges(&[(a, b)]);
                    match index {
                        Some(i) => format!("<a href=\"#f{i}-L{a}\">{text}</a>"),
                        None => text,
                    }
                })
                .collect();
            let _ = writeln!(out, "<li>{name}: {}</li>", ranges.join(", "));
        }
        out.push_str("</ul>\n");
    }
    if !v.not_in_report.is_empty() {
        let list: Vec<String> = v.not_in_report.iter().map(|f| format!("<code>{}</code>", esc(f))).collect();
        let _ = writeln!(
            out,
            "<p class=\"warning\"><strong>⚠ Not measured:</strong> changed source files the report does not \
             list: {}.</p>",
            list.join(", ")
        );
    }
    out.push_str(
        "<p class=\"legend\">Each added line is marked <span class=\"key covered\">✓ covered</span> (the tests ran \
         it), <span class=\"key uncovered\">✗ uncovered</span> (coverable, never run) or \
         <span class=\"key\">· not coverable</span> (the report lists no such line: a blank line, a comment, a \
         declaration, or a file it does not measure). A range such as 21–24 runs from its first uncovered \
         line to its last; lines between them that the report does not list are not coverable.</p>\n</header>\n",
    );
}

/// One file: its name, its figures, git's extended headers, its hunks.
fn file_section(out: &mut String, i: usize, file: &ViewFile) {
    let _ = write!(
        out,
        "<section class=\"file\" id=\"f{i}\" data-path=\"{}\" aria-labelledby=\"f{i}-h\">\n<h2 id=\"f{i}-h\"><code>{}</code>",
        esc(&file.path),
        esc(&file.path)
    );
    if let Some(from) = &file.renamed_from {
        let _ = write!(out, " <span class=\"from\">(renamed from <code>{}</code>)</span>", esc(from));
    }
    if file.deleted {
        out.push_str(" <span class=\"from\">(deleted)</span>");
    }
    out.push_str("</h2>\n");
    let added = file.added();
    let c = file.counts();
    if file.deleted || added == 0 {
        out.push_str("<p class=\"figures\">No line added.</p>\n");
    } else if !file.measured {
        let _ = writeln!(
            out,
            "<p class=\"figures\">Not in the coverage report: its {} changed {} are not counted.</p>",
            thousands(added),
            if added == 1 { "line" } else { "lines" }
        );
    } else {
        let _ = writeln!(
            out,
            "<p class=\"figures\">Of its {} changed {}: ✓ {} covered, ✗ {} uncovered, · {} not coverable.</p>",
            thousands(added),
            if added == 1 { "line" } else { "lines" },
            thousands(c.covered),
            thousands(c.valid - c.covered),
            thousands(added - c.valid)
        );
    }
    if !file.headers.is_empty() {
        let headers: Vec<String> = file.headers.iter().map(|h| esc(h)).collect();
        let _ = writeln!(out, "<p class=\"headers\">{}</p>", headers.join("<br>"));
    }
    if !file.hunks.is_empty() {
        // A deleted file's lines are there to open, not to read through.
        let removed: usize = file.hunks.iter().map(|h| h.rows.len()).sum();
        if file.deleted {
            let _ = writeln!(out, "<details><summary>Show the {} removed lines</summary>", thousands(removed as u64));
        }
        let _ = writeln!(
            out,
            "<table class=\"diff\">\n<thead><tr><th scope=\"col\">old</th><th scope=\"col\">new</th>\
             <th scope=\"col\">coverage</th><th scope=\"col\" colspan=\"2\">line</th></tr></thead>"
        );
        for hunk in &file.hunks {
            let _ = writeln!(out, "<tbody>\n<tr class=\"hunk\"><td colspan=\"5\">{}</td></tr>", esc(&hunk.header));
            for row in &hunk.rows {
                row_html(out, i, row);
            }
            out.push_str("</tbody>\n");
        }
        out.push_str("</table>\n");
        if file.deleted {
            out.push_str("</details>\n");
        }
    }
    out.push_str("</section>\n");
}

/// One line of a hunk: its numbers, its mark (in words), git's sign, its text.
fn row_html(out: &mut String, file: usize, row: &Row) {
    let (class, mark, sign) = match row.kind {
        RowKind::Context => ("context", "", " "),
        RowKind::Removed => ("removed", "", "-"),
        RowKind::Added(Mark::Covered) => ("added covered", "✓ covered", "+"),
        RowKind::Added(Mark::Uncovered) => ("added uncovered", "✗ uncovered", "+"),
        RowKind::Added(Mark::NotCoverable) => ("added not-coverable", "· not coverable", "+"),
        RowKind::Note => {
            let _ = writeln!(out, "<tr class=\"note\"><td colspan=\"5\">{}</td></tr>", esc(&row.text));
            return;
        }
    };
    let id = row.new.map(|n| format!(" id=\"f{file}-L{n}\"")).unwrap_or_default();
    let old = row.old.map(|n| n.to_string()).unwrap_or_default();
    let new = row.new.map(|n| format!("<a href=\"#f{file}-L{n}\">{n}</a>")).unwrap_or_default();
    let title = match (row.kind.clone(), row.new) {
        (RowKind::Added(Mark::Uncovered), Some(n)) => format!(" title=\"line {n}: changed, never run by the tests\""),
        (RowKind::Added(Mark::Covered), Some(n)) => format!(" title=\"line {n}: changed, run by the tests\""),
        (RowKind::Added(Mark::NotCoverable), Some(n)) => format!(" title=\"line {n}: changed, not coverable\""),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "<tr class=\"{class}\"{id}><td class=\"num\">{old}</td><td class=\"num\">{new}</td>\
         <td class=\"mark\"{title}>{mark}</td><td class=\"sign\">{sign}</td><td class=\"code\">{}</td></tr>",
        esc(&row.text)
    );
}

/// HTML-escapes text for an element or a quoted attribute; control characters (but the tab)
/// become U+FFFD, which a page cannot otherwise show.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' => out.push('\t'),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// The page's style: dark text on light backgrounds (contrast above 7:1), and every mark a
/// word as well as a colour; an uncovered line also has a thick left rule.
const STYLE: &str = "
:root { color-scheme: light; }
body { margin: 0 auto; max-width: 90rem; padding: 1rem 1.5rem 3rem; color: #111; background: #fff;
  font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; }
code, .diff td { font-family: ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace; }
h1 { font-size: 1.6rem; margin: .5rem 0; }
h2 { font-size: 1.15rem; margin: 1.6rem 0 .4rem; }
a { color: #0033a0; }
a:focus { outline: 3px solid #000; }
.verdict { font-size: 1.1rem; padding: .5rem .75rem; border: 2px solid #111; border-left-width: 8px; }
.verdict.passed { background: #e3f4e6; }
.verdict.failed { background: #fde2e2; }
.counts { border-collapse: collapse; margin: .75rem 0; }
.counts caption { text-align: left; font-weight: bold; padding-bottom: .25rem; }
.counts th, .counts td { border: 1px solid #555; padding: .15rem .6rem; text-align: left; }
.counts td { text-align: right; font-variant-numeric: tabular-nums; }
.counts .total th, .counts .total td { font-weight: bold; }
.ranges li { margin: .15rem 0; }
.warning { border: 2px dashed #111; padding: .4rem .75rem; background: #fff4cc; }
.legend { color: #222; }
.key { padding: 0 .3rem; border: 1px solid #555; white-space: nowrap; }
.key.covered { background: #e3f4e6; }
.key.uncovered { background: #fde2e2; font-weight: bold; }
.file { margin-top: 2rem; border-top: 2px solid #111; }
.file h2 { word-break: break-all; }
.from, .figures, .headers { color: #222; }
.headers { font-family: ui-monospace, 'DejaVu Sans Mono', monospace; font-size: 13px; }
.diff { border-collapse: collapse; width: 100%; font-size: 13px; line-height: 1.4; }
.diff th { text-align: left; font-weight: normal; color: #333; border-bottom: 1px solid #555; padding: 0 .5rem; }
.diff td { padding: 0 .5rem; vertical-align: top; }
.diff .num { text-align: right; color: #333; width: 1%; white-space: nowrap; }
.diff .num a { color: #333; text-decoration: none; }
.diff .mark { width: 1%; white-space: nowrap; }
.diff .sign { width: 1%; padding: 0 .25rem; }
.diff .code { white-space: pre-wrap; overflow-wrap: anywhere; }
.diff .hunk td, .diff .note td { background: #e8ecf5; color: #1a1f36; padding: .15rem .5rem; }
.diff .note td { font-style: italic; }
tr.removed { background: #f1f1f1; color: #333; }
tr.covered { background: #e3f4e6; }
tr.uncovered { background: #fde2e2; }
tr.uncovered td:first-child { box-shadow: inset 6px 0 0 #a4000f; }
tr.uncovered .mark { font-weight: bold; color: #7a0010; }
tr:target td { outline: 2px solid #000; outline-offset: -2px; }
details > summary { cursor: pointer; margin: .4rem 0; }
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup_and_no_control_characters() {
        assert_eq!(
            esc("</pre><script>alert('x')</script>"),
            "&lt;/pre&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
        );
        assert_eq!(esc("a & \"b\"\tc\u{0}\u{1b}[31m"), "a &amp; &quot;b&quot;\tc\u{fffd}\u{fffd}[31m");
    }
}

//! A summary as text (terminal), JSON (machines) or markdown (PR comments, step summary).

use colored::Colorize;

use crate::coverage::grade::{percent_text, thousands};
use crate::coverage::summary::{Source, Summary};

use super::diff::PatchVerdict;
use super::indirect::IndirectVerdict;
use super::paths::PathVerdict;
use super::ratchet::{RatchetVerdict, Written};

/// What is judged beside the total: per-path gates, the ratchet, the patch.
#[derive(Default)]
pub struct Extras<'a> {
    /// The inputs of a merge (none for one report).
    pub inputs: &'a [crate::coverage::merge::InputSummary],
    pub paths: &'a [PathVerdict],
    pub ratchet: Option<&'a RatchetVerdict>,
    pub patch: Option<&'a PatchVerdict>,
    pub indirect: Option<&'a IndirectVerdict>,
}

/// `--format` values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
    Markdown,
}

pub fn render(s: &Summary, extras: &Extras<'_>, format: Format) -> String {
    match format {
        Format::Text => {
            inputs_text(extras.inputs, s.metric)
                + &text(s)
                + &extras_text(s, extras)
                + &extras.patch.map(patch_text).unwrap_or_default()
                + &extras.indirect.map(indirect_text).unwrap_or_default()
        }
        Format::Json => json(s, extras),
        Format::Markdown => markdown_all(s, extras),
    }
}

/// The inputs of a merge, each with its own figure, before the union's grade.
fn inputs_text(inputs: &[crate::coverage::merge::InputSummary], metric: crate::settings::Metric) -> String {
    if inputs.is_empty() {
        return String::new();
    }
    let mut out = format!("Merged {} reports (the union of their {}):\n", inputs.len(), metric.noun());
    for i in inputs {
        let c = if metric == crate::settings::Metric::Lines { i.lines } else { i.branches };
        let lone = if i.shared_files == 0 { "  warning: no file in common with the others" } else { "" };
        out.push_str(&format!(
            "  {}: {}% ({} / {} {}, {}){lone}\n",
            i.name,
            percent_text(c),
            thousands(c.covered),
            thousands(c.valid),
            metric.noun(),
            plural(i.files as u64, "file")
        ));
    }
    out.push('\n');
    out
}

/// The markdown summary with everything judged beside the total (also the step summary).
pub fn markdown_all(s: &Summary, extras: &Extras<'_>) -> String {
    markdown(s)
        + &extras_markdown(s, extras)
        + &extras.patch.map(patch_markdown).unwrap_or_default()
        + &extras.indirect.map(indirect_markdown).unwrap_or_default()
}

fn verdict(passed: bool) -> colored::ColoredString {
    if passed { "passed".green().bold() } else { "FAILED".red().bold() }
}

/// The per-path gates and the ratchet, under the total's gate line.
fn extras_text(s: &Summary, e: &Extras<'_>) -> String {
    let noun = s.metric.noun();
    let mut out = String::new();
    for p in e.paths {
        let pct = percent_text(p.counts);
        let of = format!("{pct}% of {} {noun} in {}", thousands(p.counts.valid), plural(p.files as u64, "file"));
        if p.passed {
            out.push_str(&format!("Path {}: {} ({of} ≥ {}%)\n", p.glob, verdict(true), p.threshold));
        } else {
            let more = p.threshold.shortfall(p.counts);
            let unit = if more == 1 { s.metric.singular() } else { noun };
            out.push_str(&format!(
                "Path {}: {} ({of} is below {}%: cover {} more {unit} to pass)\n",
                p.glob,
                verdict(false),
                p.threshold,
                thousands(more)
            ));
        }
    }
    if let Some(r) = e.ratchet {
        out.push_str(&ratchet_text(r));
    }
    out
}

fn ratchet_text(r: &RatchetVerdict) -> String {
    let now = percent_text(r.now);
    let mut out = String::new();
    match &r.before {
        None => out.push_str(&format!("Ratchet: no baseline yet ({})\n", r.path)),
        Some(b) => {
            let was = percent_text(b.counts());
            let at = b.commit.get(..12).unwrap_or(&b.commit);
            if let Some(reason) = &r.reason {
                out.push_str(&format!(
                    "Ratchet: {} from {was}% (at {at}) to {now}% (reason: {reason})\n",
                    "lowered".yellow().bold()
                ));
                out.push_str(&losers_text(r));
            } else if !r.passed {
                out.push_str(&format!(
                    "Ratchet: {} ({now}% fell from the baseline's {was}% (at {at}) by more than {} points)\n",
                    verdict(false),
                    r.tolerance
                ));
                out.push_str(&losers_text(r));
            } else if r.rose() {
                out.push_str(&format!("Ratchet: {} ({now}%, up from the baseline's {was}% at {at})\n", verdict(true)));
            } else {
                out.push_str(&format!("Ratchet: {} ({now}%; the baseline {was}% at {at})\n", verdict(true)));
            }
        }
    }
    match r.written {
        Written::Nothing if r.before.is_none() => out
            .push_str(&format!("  write it with `cargo xtask coverage --update-baseline` (then commit {})\n", r.path)),
        Written::Nothing if r.rose() => {
            out.push_str("  coverage rose: lock it in with `cargo xtask coverage --update-baseline`\n")
        }
        Written::Nothing => {}
        Written::Raised => out.push_str(&format!(
            "Baseline: {} written: {now}% ({} / {}); commit it\n",
            r.path,
            thousands(r.now.covered),
            thousands(r.now.valid)
        )),
        Written::Lowered => {
            out.push_str(&format!("Baseline: {} lowered to {now}%, the reason kept in it; commit it\n", r.path))
        }
        Written::Refused => out.push_str(&format!(
            "Baseline: not updated: coverage fell to {now}%; to lower the baseline, \
             `cargo xtask coverage --lower-baseline --reason \"…\"`\n"
        )),
    }
    out
}

/// The files that lost the most covered lines since the baseline, under the ratchet's line.
fn losers_text(r: &RatchetVerdict) -> String {
    let mut out = String::new();
    if !r.losers.is_empty() {
        out.push_str("  files that lost the most covered lines:\n");
        for (name, was, is) in &r.losers {
            out.push_str(&format!("    {name}: {was} → {is} (−{})\n", was - is));
        }
    }
    out
}

fn extras_markdown(s: &Summary, e: &Extras<'_>) -> String {
    let mut out = String::new();
    if !e.inputs.is_empty() {
        out.push_str("\n| Merged report | Covered | Total | Coverage |\n| --- | ---: | ---: | ---: |\n");
        for i in e.inputs {
            let c = if s.metric == crate::settings::Metric::Lines { i.lines } else { i.branches };
            let lone = if i.shared_files == 0 { " ⚠️ no file in common" } else { "" };
            out.push_str(&format!(
                "| {}{lone} | {} | {} | {}% |\n",
                cell_code(&i.name),
                thousands(c.covered),
                thousands(c.valid),
                percent_text(c)
            ));
        }
    }
    if !e.paths.is_empty() {
        out.push('\n');
        out.push_str(&paths_table(e.paths));
    }
    if let Some(r) = e.ratchet
        && let Some(b) = &r.before
    {
        let mark = if r.passed { "✅" } else { "❌" };
        if let Some(reason) = &r.reason {
            out.push_str(&format!(
                "\n⚠️ Ratchet: the baseline was lowered from {}% to {}% ({}), reason: {}\n",
                percent_text(b.counts()),
                percent_text(r.now),
                s.metric.noun(),
                reason.replace(['\n', '\r'], " ")
            ));
        } else {
            out.push_str(&format!(
                "\n{mark} Ratchet: {}% against the baseline's {}% (tolerance {} points, {}).\n",
                percent_text(r.now),
                percent_text(b.counts()),
                r.tolerance,
                s.metric.noun()
            ));
        }
    }
    out
}

/// The per-path gates as a table (the step summary's and the pull request comment's).
pub(super) fn paths_table(paths: &[PathVerdict]) -> String {
    let mut out = String::from("| Path | Covered | Total | Coverage | Gate |\n| --- | ---: | ---: | ---: | --- |\n");
    for p in paths {
        out.push_str(&format!(
            "| {} | {} | {} | {}% | {} {}% |\n",
            cell_code(&p.glob),
            thousands(p.counts.covered),
            thousands(p.counts.valid),
            percent_text(p.counts),
            if p.passed { "✅" } else { "❌" },
            p.threshold
        ));
    }
    out
}

fn totals(s: &Summary) -> String {
    let pct = percent_text(s.counts);
    match s.source {
        Source::RootRate => format!("{pct}% ({} rate; the report gives no counts)", s.metric.noun()),
        _ => format!("{pct}% ({} / {} {})", thousands(s.counts.covered), thousands(s.counts.valid), s.metric.noun()),
    }
}

fn band_colored(s: &Summary, text: String) -> colored::ColoredString {
    // Colour follows the verdict's side of the scale, not the label's wording.
    if !s.passed {
        text.red().bold()
    } else if s.band.min.less_than(s.threshold) {
        text.yellow().bold()
    } else {
        text.green().bold()
    }
}

pub fn text(s: &Summary) -> String {
    let mut out = String::new();
    let grade = format!("{} {}", s.band.emoji, s.band.label);
    let note = if s.band.note.is_empty() { String::new() } else { format!(" — {}", s.band.note) };
    out.push_str(&format!("Coverage: {} — {}{note}\n", band_colored(s, grade), totals(s)));
    if let Some(n) = s.source_note() {
        out.push_str(&format!("note: {n}\n"));
    }
    let pct = percent_text(s.counts);
    if s.passed {
        out.push_str(&format!("Gate: {} ({pct}% ≥ {}%)\n", "passed".green().bold(), s.threshold));
    } else {
        let need = match s.source {
            Source::RootRate => String::new(),
            _ => format!(
                ": cover {} more {} to pass",
                thousands(s.shortfall),
                if s.shortfall == 1 { s.metric.singular() } else { s.metric.noun() }
            ),
        };
        out.push_str(&format!("Gate: {} ({pct}% is below {}%{need})\n", "FAILED".red().bold(), s.threshold));
    }
    if !s.lowest.is_empty() {
        out.push_str(&format!("\nLowest-covered files (most uncovered {} first):\n", s.metric.noun()));
        let width =
            s.lowest.iter().map(|r| thousands(r.counts.valid - r.counts.covered).len()).max().unwrap_or(0).max(6);
        out.push_str(&format!("  {:>width$}  {:>7}  file\n", "missed", "cover"));
        for r in &s.lowest {
            let missed = thousands(r.counts.valid - r.counts.covered);
            out.push_str(&format!("  {missed:>width$}  {:>6}%  {}\n", percent_text(r.counts), r.name));
        }
    }
    out
}

fn json(s: &Summary, extras: &Extras<'_>) -> String {
    let pct = |c: crate::coverage::cobertura::Counts| crate::coverage::grade::floor_hundredths(c) as f64 / 100.0;
    let mut value = serde_json::json!({
        "report": s.report,
        "metric": s.metric.noun(),
        "source": match s.source { Source::Elements => "line-elements", Source::RootCounts => "root-counts", Source::RootRate => "root-rate" },
        "totals": { "covered": s.counts.covered, "valid": s.counts.valid, "percent": pct(s.counts) },
        "grade": { "emoji": s.band.emoji, "label": s.band.label, "note": s.band.note },
        "gate": { "threshold": s.threshold.to_string(), "passed": s.passed, "shortfall": s.shortfall },
        "files": s.files,
        "lowest_files": s.lowest.iter().map(|r| serde_json::json!({
            "file": r.name, "covered": r.counts.covered, "valid": r.counts.valid,
            "missed": r.counts.valid - r.counts.covered, "percent": pct(r.counts),
        })).collect::<Vec<_>>(),
    });
    if let Some(v) = extras.patch {
        value["patch"] = patch_json(v);
    }
    if let Some(v) = extras.indirect {
        value["indirect"] = indirect_json(v);
    }
    if !extras.inputs.is_empty() {
        let counts = |i: &crate::coverage::merge::InputSummary| {
            if s.metric == crate::settings::Metric::Lines { i.lines } else { i.branches }
        };
        value["inputs"] = extras
            .inputs
            .iter()
            .map(|i| {
                let c = counts(i);
                serde_json::json!({
                    "report": i.name, "covered": c.covered, "valid": c.valid, "percent": pct(c),
                    "files": i.files, "shared_files": i.shared_files,
                })
            })
            .collect();
    }
    if !extras.paths.is_empty() {
        value["paths"] = extras
            .paths
            .iter()
            .map(|p| {
                serde_json::json!({
                    "glob": p.glob, "files": p.files, "covered": p.counts.covered, "valid": p.counts.valid,
                    "percent": pct(p.counts), "threshold": p.threshold.to_string(), "passed": p.passed,
                })
            })
            .collect();
    }
    if let Some(r) = extras.ratchet {
        value["ratchet"] = serde_json::json!({
            "baseline": r.path,
            "before": r.before.as_ref().map(|b| serde_json::json!({
                "covered": b.covered, "valid": b.valid, "percent": pct(b.counts()), "commit": b.commit,
            })),
            "tolerance": r.tolerance.to_string(),
            "passed": r.passed,
            "lowered": r.reason.as_ref().map(|reason| serde_json::json!({
                "reason": reason, "covered": r.now.covered, "valid": r.now.valid, "percent": pct(r.now),
            })),
            "lost": r.losers.iter().map(|(f, was, is)| serde_json::json!({"file": f, "before": was, "now": is})).collect::<Vec<_>>(),
        });
    }
    let mut out = serde_json::to_string_pretty(&value).expect("a JSON value always serialises");
    out.push('\n');
    out
}

/// A table cell: a code span, with `|` escaped for GitHub's table parser.
fn cell_code(text: &str) -> String {
    let ticks = if text.contains('`') { "``" } else { "`" };
    format!("{ticks}{}{ticks}", text.replace('|', "\\|"))
}

pub fn markdown(s: &Summary) -> String {
    let mut out = markdown_totals(s);
    if !s.lowest.is_empty() {
        out.push_str("\n**Lowest-covered files**\n\n");
        out.push_str(&lowest_table(s));
    }
    out
}

/// The grade's heading and the totals' table, with the source's note.
pub(super) fn markdown_totals(s: &Summary) -> String {
    let pct = percent_text(s.counts);
    let mut out = format!("### {} Coverage: {} ({pct}%)\n\n", s.band.emoji, s.band.label);
    let metric = if s.metric.noun() == "lines" { "Lines" } else { "Branches" };
    let verdict = if s.passed {
        "✅ passed".to_owned()
    } else {
        format!("❌ failed: {} more {} needed", thousands(s.shortfall), s.metric.noun())
    };
    out.push_str(&format!(
        "| Metric | Covered | Total | Coverage | Gate ({}%) |\n| --- | ---: | ---: | ---: | --- |\n",
        s.threshold
    ));
    out.push_str(&format!(
        "| {metric} | {} | {} | {pct}% | {verdict} |\n",
        thousands(s.counts.covered),
        thousands(s.counts.valid)
    ));
    if let Some(n) = s.source_note() {
        out.push_str(&format!("\n_Note: {n}._\n"));
    }
    out
}

/// The lowest-covered files as a table.
pub(super) fn lowest_table(s: &Summary) -> String {
    let mut out = String::from("| File | Missed | Coverage |\n| --- | ---: | ---: |\n");
    for r in &s.lowest {
        out.push_str(&format!(
            "| {} | {} | {}% |\n",
            cell_code(&r.name),
            thousands(r.counts.valid - r.counts.covered),
            percent_text(r.counts)
        ));
    }
    out
}

/// The patch figure under the total: the verdict, the uncovered changed lines as ranges.
pub fn patch_text(v: &PatchVerdict) -> String {
    let p = &v.patch;
    let mut out = String::new();
    let against = format!("against {} (merge base {}, {})", v.base, v.merge_base, v.base_from);
    if p.counts.valid == 0 {
        let files = plural(p.changed_files as u64, "changed file");
        out.push_str(&format!(
            "\nPatch: no coverable line changed ({files}) {against}: nothing to judge, {}\n",
            "passed".green().bold()
        ));
    } else {
        out.push_str(&format!(
            "\nPatch: {}% of the changed lines covered ({} / {}) {against}\n",
            p.percent_text(),
            thousands(p.counts.covered),
            thousands(p.counts.valid)
        ));
        let pct = p.percent_text();
        if v.percent_passed {
            out.push_str(&format!("Patch gate: {} ({pct}% ≥ {}%)\n", "passed".green().bold(), v.threshold));
        } else {
            let more = v.threshold.shortfall(p.counts);
            let lines = if more == 1 { "line" } else { "lines" };
            out.push_str(&format!(
                "Patch gate: {} ({pct}% is below {}%: cover {} more changed {lines} to pass)\n",
                "FAILED".red().bold(),
                v.threshold,
                thousands(more)
            ));
        }
        if let Some(max) = v.max_uncovered {
            let uncovered = plural(v.uncovered(), "uncovered changed line");
            let verdict = if v.count_passed { "passed".green().bold() } else { "FAILED".red().bold() };
            out.push_str(&format!("Uncovered-lines gate: {verdict} ({uncovered}; at most {max})\n"));
        }
    }
    let uncovered: Vec<_> = p.files.iter().filter(|f| !f.uncovered.is_empty()).collect();
    if !uncovered.is_empty() {
        out.push_str("Uncovered changed lines (most first):\n");
        for f in uncovered {
            out.push_str(&format!("  {}\n", f.uncovered_text()));
        }
    }
    if !v.not_in_report.is_empty() {
        out.push_str("warning: changed source files the report does not list (not measured):\n");
        for f in &v.not_in_report {
            out.push_str(&format!("  {f}\n"));
        }
    }
    out
}

pub(super) fn plural(n: u64, noun: &str) -> String {
    format!("{} {noun}{}", thousands(n), if n == 1 { "" } else { "s" })
}

/// The patch part of the JSON document.
fn patch_json(v: &PatchVerdict) -> serde_json::Value {
    let p = &v.patch;
    serde_json::json!({
        "base": v.base,
        "merge_base": v.merge_base,
        "covered": p.counts.covered,
        "valid": p.counts.valid,
        "percent": crate::coverage::grade::floor_hundredths(p.counts) as f64 / 100.0,
        "threshold": v.threshold.to_string(),
        "max_uncovered_changed_lines": v.max_uncovered,
        "passed": v.passed(),
        "changed_files": p.changed_files,
        "files": p.files.iter().map(|f| serde_json::json!({
            "file": f.path, "covered": f.counts.covered, "valid": f.counts.valid,
            "uncovered": f.uncovered.iter().map(|&(a, b)| [a, b]).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "not_in_report": v.not_in_report,
    })
}

/// The patch part of the markdown summary.
pub fn patch_markdown(v: &PatchVerdict) -> String {
    let p = &v.patch;
    let mut out = format!("\n#### Patch coverage against `{}` (merge base `{}`)\n\n", v.base, v.merge_base);
    if p.counts.valid == 0 {
        out.push_str("No coverable line changed: nothing to judge. ✅\n");
    } else {
        let verdict = if v.percent_passed { "✅ passed".to_owned() } else { "❌ failed".to_owned() };
        out.push_str(&format!(
            "{}% of the changed lines covered ({} / {}), gate {}%: {verdict}\n",
            p.percent_text(),
            thousands(p.counts.covered),
            thousands(p.counts.valid),
            v.threshold
        ));
        if let Some(max) = v.max_uncovered {
            let mark = if v.count_passed { "✅" } else { "❌" };
            out.push_str(&format!("\n{} uncovered, at most {max}: {mark}\n", plural(v.uncovered(), "changed line")));
        }
    }
    let uncovered: Vec<_> = p.files.iter().filter(|f| !f.uncovered.is_empty()).collect();
    if !uncovered.is_empty() {
        out.push_str("\n| File | Uncovered changed lines |\n| --- | --- |\n");
        for f in uncovered {
            out.push_str(&format!(
                "| {} | {} |\n",
                cell_code(&f.path),
                crate::coverage::patch::format_ranges(&f.uncovered)
            ));
        }
    }
    if !v.not_in_report.is_empty() {
        let list: Vec<String> = v.not_in_report.iter().map(|f| cell_code(f)).collect();
        out.push_str(&format!("\n_Not in the report (not measured): {}._\n", list.join(", ")));
    }
    out
}

/// The indirect changes under the patch: lines outside the change that lost their coverage,
/// the unstable ones, the verdict when `max-indirect-uncovered-lines` is set.
pub fn indirect_text(v: &IndirectVerdict) -> String {
    let i = &v.indirect;
    let against = format!(
        "{} unchanged lines compared with the merge base {} of {}",
        thousands(i.compared),
        v.merge_base,
        v.base
    );
    let mut out = match (i.lost, i.gained) {
        (0, 0) => format!("\nIndirect: no line outside the change lost its coverage ({against})\n"),
        (0, gained) => format!(
            "\nIndirect: no line outside the change lost its coverage, {} gained it ({against})\n",
            thousands(gained)
        ),
        (lost, gained) => format!(
            "\nIndirect: {} outside the change lost {} coverage{} ({against})\n",
            plural(lost, "line"),
            if lost == 1 { "its" } else { "their" },
            if gained > 0 { format!(", {} gained it", thousands(gained)) } else { String::new() }
        ),
    };
    if i.lost > 0 {
        out.push_str("Lost coverage outside the change (most first):\n");
        for f in i.files.iter().filter(|f| !f.lost.is_empty()) {
            out.push_str(&format!("  {}\n", f.lost_text()));
        }
    }
    if i.base_runs > 1 || i.head_runs > 1 {
        out.push_str(&format!(
            "Unstable: {} whose coverage differs between runs of one commit ({} of the base, {} of the change): \
             not counted\n",
            plural(i.unstable, "line"),
            plural(i.base_runs as u64, "run"),
            i.head_runs
        ));
        for f in i.files.iter().filter(|f| !f.unstable.is_empty()) {
            out.push_str(&format!("  {}\n", f.unstable_text()));
        }
    }
    if let Some(max) = v.max_lost {
        out.push_str(&format!(
            "Indirect gate: {} ({} lost coverage; at most {max})\n",
            verdict(v.passed),
            plural(i.lost, "line")
        ));
    }
    if !i.base_unmatched.is_empty() {
        out.push_str(&format!(
            "warning: {} of the base report {} no file of the merge base (not compared): {}\n",
            plural(i.base_unmatched.len() as u64, "file"),
            if i.base_unmatched.len() == 1 { "is" } else { "are" },
            i.base_unmatched.join(", ")
        ));
    }
    out
}

/// The indirect part of the JSON document.
fn indirect_json(v: &IndirectVerdict) -> serde_json::Value {
    let i = &v.indirect;
    let ranges = |r: &[crate::coverage::patch::LineRange]| r.iter().map(|&(a, b)| [a, b]).collect::<Vec<_>>();
    serde_json::json!({
        "base": v.base,
        "merge_base": v.merge_base,
        "base_runs": v.base_runs,
        "head_runs": v.head_runs,
        "compared": i.compared,
        "lost": i.lost,
        "gained": i.gained,
        "unstable": i.unstable,
        "max_indirect_uncovered_lines": v.max_lost,
        "passed": v.passed,
        "files": i.files.iter().map(|f| serde_json::json!({
            "file": f.path, "base_file": f.base_path,
            "lost": ranges(&f.lost), "unstable": ranges(&f.unstable),
        })).collect::<Vec<_>>(),
        "base_not_in_tree": i.base_unmatched,
    })
}

/// The indirect part of the markdown summary.
pub fn indirect_markdown(v: &IndirectVerdict) -> String {
    let i = &v.indirect;
    let mut out = format!("\n#### Indirect changes against `{}` (merge base `{}`)\n\n", v.base, v.merge_base);
    let lost = match i.lost {
        0 => "No line outside the change lost its coverage".to_owned(),
        n => format!("{} outside the change lost {} coverage", plural(n, "line"), if n == 1 { "its" } else { "their" }),
    };
    out.push_str(&format!("{lost} ({} unchanged lines compared", thousands(i.compared)));
    if i.gained > 0 {
        out.push_str(&format!(", {} gained coverage", thousands(i.gained)));
    }
    out.push_str(").");
    if let Some(max) = v.max_lost {
        out.push_str(&format!(" At most {max}: {}", if v.passed { "✅" } else { "❌" }));
    }
    out.push('\n');
    if i.lost > 0 {
        out.push_str("\n| File | Lines that lost their coverage |\n| --- | --- |\n");
        for f in i.files.iter().filter(|f| !f.lost.is_empty()) {
            out.push_str(&format!("| {} | {} |\n", cell_code(&f.path), crate::coverage::patch::format_ranges(&f.lost)));
        }
    }
    if i.unstable > 0 {
        out.push_str(&format!(
            "\n{} unstable (coverage differs between runs of one commit; not counted):\n\n\
             | File | Unstable lines |\n| --- | --- |\n",
            plural(i.unstable, "line")
        ));
        for f in i.files.iter().filter(|f| !f.unstable.is_empty()) {
            out.push_str(&format!(
                "| {} | {} |\n",
                cell_code(&f.path),
                crate::coverage::patch::format_ranges(&f.unstable)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coverage::Metric;
    use crate::coverage::cobertura::Counts;
    use crate::coverage::grade::{Band, Percent};
    use crate::coverage::summary::FileRow;

    fn summary(covered: u64, valid: u64, passed: bool) -> Summary {
        Summary {
            report: "coverage.xml".into(),
            metric: Metric::Lines,
            counts: Counts { covered, valid },
            source: Source::Elements,
            band: Band {
                min: Percent::whole(70),
                emoji: "✅".into(),
                label: "Approved".into(),
                note: "minimum bar cleared".into(),
            },
            threshold: Percent::whole(70),
            passed,
            shortfall: 0,
            files: 2,
            lowest: vec![FileRow { name: "src/a|b.rs".into(), counts: Counts { covered: 1, valid: 3 } }],
        }
    }

    #[test]
    fn text_shows_grade_counts_and_lowest_files() {
        colored::control::set_override(false);
        let t = text(&summary(7_500_565, 10_000_000, true));
        assert!(
            t.starts_with("Coverage: ✅ Approved — 75.00% (7,500,565 / 10,000,000 lines) — minimum bar cleared\n"),
            "{t}"
        );
        assert!(t.contains("Gate: passed (75.00% ≥ 70%)"), "{t}");
        assert!(t.contains("       2   33.33%  src/a|b.rs"), "{t}");
    }

    #[test]
    fn markdown_escapes_table_cells() {
        let m = markdown(&summary(3, 4, true));
        assert!(m.contains("| `src/a\\|b.rs` | 2 | 33.33% |"), "{m}");
        assert!(m.contains("| Lines | 3 | 4 | 75.00% | ✅ passed |"), "{m}");
    }

    #[test]
    fn json_has_exact_counts() {
        let v: serde_json::Value =
            serde_json::from_str(&json(&summary(7_500_565, 10_000_000, true), &Extras::default())).unwrap();
        assert_eq!(v["totals"]["covered"], 7_500_565);
        assert_eq!(v["totals"]["valid"], 10_000_000);
        assert_eq!(v["totals"]["percent"], 75.0);
        assert_eq!(v["gate"]["passed"], true);
        assert_eq!(v["lowest_files"][0]["missed"], 2);
    }
}

//! The coverage gate's report: the summary printed (text, JSON or Markdown, from render.rs),
//! the step summary, the GitHub annotations, and the outcome the verdicts decide. It judges
//! nothing itself.

use anyhow::Result;

use crate::Context;
use crate::coverage::grade::percent_text;
use crate::output::Level;

use super::render::{self, Format};
use super::{CoverageRun, Graded, Verdicts, diff, indirect};
use crate::Outcome;

/// Renders the verdicts, annotates what failed, and decides the run's outcome.
pub(super) fn report(cx: &Context, graded: &Graded, v: &Verdicts, format: Format) -> Result<CoverageRun> {
    for lone in graded.merged.iter().filter(|i| i.shared_files == 0) {
        let msg = format!("{} has no file in common with the other reports: a shard of another tree?", lone.name);
        cx.out.annotate(Level::Warning, None, "Coverage inputs", &msg);
    }
    let extras = render::Extras {
        inputs: &graded.merged,
        paths: &v.paths,
        ratchet: v.ratchet.as_ref(),
        patch: v.patch.as_ref(),
        indirect: v.indirect.as_ref(),
    };
    print!("{}", render::render(&v.summary, &extras, format));
    cx.out.step_summary(&render::markdown_all(&v.summary, &extras))?;
    if let Some(patch) = &v.patch {
        annotate_uncovered(cx, patch);
    }
    if let Some(i) = &v.indirect {
        annotate_lost(cx, i);
    }

    if let Some((Outcome::Failed, _)) = v.tests {
        let msg = "the tests failed: the coverage above is from a failing run";
        eprintln!("{}", colored::Colorize::bold(colored::Colorize::red(msg)));
        annotate(cx, msg);
    }
    for p in v.paths.iter().filter(|p| !p.passed) {
        let pct = percent_text(p.counts);
        annotate(cx, &format!("coverage of {} {pct}% is below its {}% gate", p.glob, p.threshold));
    }
    if let Some(r) = v.ratchet.as_ref().filter(|r| !r.passed) {
        let was = r.before.as_ref().map(|b| percent_text(b.counts())).unwrap_or_default();
        let now = percent_text(r.now);
        annotate(cx, &format!("coverage fell from the baseline's {was}% to {now}% (more than {} points)", r.tolerance));
    }
    if let Some(r) = v.ratchet.as_ref()
        && let (Some(reason), Some(b)) = (&r.reason, &r.before)
    {
        let (was, now) = (percent_text(b.counts()), percent_text(r.now));
        let msg = format!("the ratchet's baseline was lowered from {was}% to {now}%: {reason}");
        cx.out.annotate(Level::Warning, None, "Coverage baseline lowered", &msg);
    }
    if let Some(p) = v.patch.as_ref().filter(|p| !p.passed()) {
        annotate(cx, &patch_failure(p));
    }
    if let Some(i) = v.indirect.as_ref().filter(|i| !i.passed) {
        annotate(
            cx,
            &format!(
                "{} lines outside the change lost their coverage, at most {} allowed (against {})",
                i.indirect.lost,
                i.max_lost.unwrap_or(0),
                i.base
            ),
        );
    }
    let s = &v.summary;
    if !s.passed {
        annotate(
            cx,
            &format!(
                "{} {} coverage {}% is below the {}% gate ({})",
                s.band.emoji,
                s.metric.singular(),
                percent_text(s.counts),
                s.threshold,
                graded.name
            ),
        );
    }
    Ok(CoverageRun { tests: v.tests, coverage: v.coverage() })
}

/// The gate's one annotation.
pub(super) fn annotate(cx: &Context, message: &str) {
    cx.out.annotate(Level::Error, None, "Coverage gate", message);
}

/// How many ranges (uncovered changed, or lost outside the change) get an annotation of their own.
const RANGE_ANNOTATIONS: usize = 10;

/// A warning on each uncovered changed range (the first ten), then one saying how many more.
fn annotate_uncovered(cx: &Context, v: &diff::PatchVerdict) {
    let ranges: Vec<(&str, u32, u32)> =
        v.patch.files.iter().flat_map(|f| f.uncovered.iter().map(move |&(a, b)| (f.path.as_str(), a, b))).collect();
    annotate_ranges(cx, &ranges, "Uncovered changed lines", "uncovered changed ranges", |start, end| {
        let lines = if start == end { format!("line {start} is") } else { format!("lines {start}–{end} are") };
        format!("{lines} changed and not covered by the tests")
    });
}

/// A warning on each range outside the change that lost its coverage (the first ten), then one
/// saying how many more.
fn annotate_lost(cx: &Context, v: &indirect::IndirectVerdict) {
    let ranges: Vec<(&str, u32, u32)> =
        v.indirect.lost_ranges().flat_map(|(path, r)| r.iter().map(move |&(a, b)| (path, a, b))).collect();
    let what = "ranges lost their coverage outside the change";
    annotate_ranges(cx, &ranges, "Lost coverage outside the change", what, |start, end| {
        let lines = if start == end { format!("line {start} was") } else { format!("lines {start}–{end} were") };
        let now = if start == end { "is" } else { "are" };
        format!("{lines} covered at the merge base {} and {now} not now: the change is elsewhere", v.merge_base)
    });
}

/// A warning at each range (the first [`RANGE_ANNOTATIONS`]), with `message(start, end)`, then
/// one saying how many more `what` there are.
fn annotate_ranges(
    cx: &Context,
    ranges: &[(&str, u32, u32)],
    title: &str,
    what: &str,
    message: impl Fn(u32, u32) -> String,
) {
    for &(file, start, end) in ranges.iter().take(RANGE_ANNOTATIONS) {
        let at = crate::output::At {
            file,
            line: Some(start as usize),
            end_line: (end != start).then_some(end as usize),
            col: None,
        };
        cx.out.annotate(Level::Warning, Some(at), title, &message(start, end));
    }
    if ranges.len() > RANGE_ANNOTATIONS {
        let more = ranges.len() - RANGE_ANNOTATIONS;
        cx.out.annotate(Level::Warning, None, title, &format!("{more} more {what}: see the coverage summary"));
    }
}

/// Why the patch gate failed, in one line.
fn patch_failure(v: &diff::PatchVerdict) -> String {
    let mut why = Vec::new();
    if !v.percent_passed {
        why.push(format!("patch coverage {}% is below the {}% patch gate", v.patch.percent_text(), v.threshold));
    }
    if !v.count_passed {
        let max = v.max_uncovered.unwrap_or(0);
        why.push(format!("{} uncovered changed lines, at most {max} allowed", v.uncovered()));
    }
    format!("{} (against {})", why.join("; "), v.base)
}

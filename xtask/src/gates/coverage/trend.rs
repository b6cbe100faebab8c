//! The trend, once the run is reported: its totals added to the history (history.rs, where
//! and when a run is recorded), the badge and the chart (picture.rs) written atomically into
//! the trend folder, and their figures in the step summary.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::history::{self, Entry, Figure, PathFigure};
use super::picture::{self, Point};
use super::{Graded, Verdicts};
use crate::Context;
use crate::settings::Metric;

/// The badge's and the chart's file names in the trend folder.
pub const BADGE: &str = "coverage-badge.svg";
pub const CHART: &str = "coverage-trend.svg";

/// The trend folder: `XTASK_TREND_DIR` when set (the xtask's own tests point it at a folder of
/// theirs, so grading their reports never adds to the checkout's history), else the `trend`
/// setting.
pub fn folder(cx: &Context) -> PathBuf {
    match std::env::var_os("XTASK_TREND_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => cx.root.join(dir),
        None => cx.settings.coverage.trend.clone(),
    }
}

/// Records the run (when this is a run that records: [`history::Ci::records`]), then writes the
/// badge of its total and the chart of the last `trend-runs` runs, this one last.
pub(super) fn keep(cx: &Context, graded: &Graded, v: &Verdicts) -> Result<()> {
    let settings = &cx.settings.coverage;
    let s = &v.summary;
    let (lines, _) = graded.report.totals();
    let entry = Entry {
        commit: crate::repo::head(&cx.root),
        date: history::now_utc(),
        metric: s.metric.noun().to_owned(),
        lines: match s.metric {
            Metric::Lines => Some(s.counts),
            Metric::Branches => Some(lines).filter(|c| c.valid > 0),
        }
        .map(Figure::of),
        branches: (s.metric == Metric::Branches).then(|| Figure::of(s.counts)),
        paths: v.paths.iter().map(|p| PathFigure { glob: p.glob.clone(), figure: Figure::of(p.counts) }).collect(),
    };
    let dir = folder(cx);
    let file = dir.join(history::FILE);
    let recorded = history::Ci::from_process().records();
    let entries = match &recorded {
        Ok(()) => history::append(&file, entry, settings.history_runs)?,
        // Not kept, but drawn: the chart ends at this run either way.
        Err(_) => {
            let mut entries = history::read(&file)?;
            entries.push(entry);
            entries
        }
    };
    let runs: Vec<(&Entry, _)> = entries.iter().filter_map(|e| Some((e, e.counts(s.metric)?))).collect();
    let runs = &runs[runs.len().saturating_sub(settings.trend_runs)..];
    let points: Vec<Point<'_>> =
        runs.iter().map(|(e, counts)| Point { commit: &e.commit, date: &e.date, counts: *counts }).collect();

    let noun = s.metric.noun();
    let (badge, chart) = (dir.join(BADGE), dir.join(CHART));
    write(&badge, &picture::badge(s.counts, &settings.bands, noun))?;
    write(&chart, &picture::trend(&points, s.threshold, noun))?;

    let shown = |p: &Path| crate::output::relative(&cx.root, p);
    let files = format!("`{}` and `{}`", shown(&badge), shown(&chart));
    let mut markdown = picture::markdown(&points, s.threshold, &settings.bands, noun, &files);
    let said = match &recorded {
        Ok(()) => format!("recorded in {} ({} kept)", shown(&file), plural(entries.len())),
        Err(why) => {
            markdown.push_str(&format!("\n_This run is not in the history: {why}._\n"));
            format!("not recorded ({why})")
        }
    };
    cx.out.step_summary(&markdown)?;
    eprintln!("trend: this run {said}; badge and chart: {} · {}", shown(&badge), shown(&chart));
    Ok(())
}

fn plural(n: usize) -> String {
    format!("{n} {}", if n == 1 { "run" } else { "runs" })
}

fn write(path: &Path, text: &str) -> Result<()> {
    crate::output::write_atomically(path, |tmp| std::fs::write(tmp, text).map_err(Into::into))
        .with_context(|| format!("cannot write {}", path.display()))
}

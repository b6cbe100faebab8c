//! The ratchet: a committed baseline (the `baseline` setting) holds the total's counts and the
//! commit they were measured at; the gate fails when the total falls below it by more than
//! `ratchet-tolerance` points. `--update-baseline` raises it, `--lower-baseline --reason`
//! lowers it, keeping the reason; the run that lowers it is judged against the new baseline.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

use crate::Context;
use crate::coverage::cobertura::{Counts, Report};
use crate::coverage::grade::{self, Percent};
use crate::settings::Metric;

/// The baseline file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub metric: String,
    pub covered: u64,
    pub valid: u64,
    /// The commit the counts were measured at.
    pub commit: String,
    /// Per file (repository path): `[covered, valid]`, to say which files lost lines.
    #[serde(default)]
    pub files: BTreeMap<String, [u64; 2]>,
    /// Why it was last lowered, and from what.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lowered: Option<Lowered>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lowered {
    pub reason: String,
    pub from: [u64; 2],
}

impl Baseline {
    pub fn counts(&self) -> Counts {
        Counts { covered: self.covered, valid: self.valid }
    }
}

/// What the user asked of the baseline this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    Check,
    Update,
    Lower { reason: &'a str },
}

/// What became of the baseline file this run.
pub enum Written {
    Nothing,
    /// Created or raised (or kept at the same figure).
    Raised,
    Lowered,
    /// `--update-baseline` when coverage fell: not written.
    Refused,
}

pub struct RatchetVerdict {
    /// The baseline file, as shown.
    pub path: String,
    /// The baseline before this run (none: there was no file).
    pub before: Option<Baseline>,
    pub now: Counts,
    pub tolerance: Percent,
    /// Judged against the baseline as it is after this run: one lowered now is passed.
    pub passed: bool,
    /// Files that lost the most covered lines: (path, covered before, covered now).
    pub losers: Vec<(String, u64, u64)>,
    pub written: Written,
    /// Why the baseline was lowered, when this run lowered it ([`Written::Lowered`]); else none.
    pub reason: Option<String>,
}

impl RatchetVerdict {
    pub fn rose(&self) -> bool {
        self.before.as_ref().is_some_and(|b| grade::rose(self.now, b.counts()))
    }
}

/// How many losing files are named.
const LOSERS: usize = 5;

/// Judges the total against the baseline and writes it when asked. `names` are the report's
/// files as repository paths, in report order.
pub fn judge(
    cx: &Context,
    path: &Path,
    report: &Report,
    names: &[String],
    metric: Metric,
    now: Counts,
    request: Request<'_>,
) -> Result<RatchetVerdict> {
    let shown = crate::output::relative(&cx.root, path);
    let before = read(path, &shown)?;
    if let Some(b) = &before
        && b.metric != metric.noun()
    {
        bail!(
            "{shown}: the baseline counts {}, this run {}: run with `--metric {}`, or write a new baseline \
             with `--lower-baseline --reason …`",
            b.metric,
            metric.noun(),
            if b.metric == "branches" { "branches" } else { "lines" }
        );
    }
    let tolerance = cx.settings.coverage.ratchet_tolerance;
    let held = before.as_ref().is_none_or(|b| !grade::fell_by_more_than(now, b.counts(), tolerance));
    let mut files = BTreeMap::new();
    for (f, name) in report.files.iter().zip(names) {
        let c = if metric == Metric::Lines { f.lines } else { f.branches };
        let entry = files.entry(name.clone()).or_insert([0, 0]);
        entry[0] += c.covered;
        entry[1] += c.valid;
    }
    let mut losers: Vec<(String, u64, u64)> = before
        .iter()
        .flat_map(|b| b.files.iter())
        .filter_map(|(name, [was, _])| {
            let is = files.get(name).map_or(0, |c| c[0]);
            (is < *was).then(|| (name.clone(), *was, is))
        })
        .collect();
    losers.sort_by(|a, b| (b.1 - b.2).cmp(&(a.1 - a.2)).then_with(|| a.0.cmp(&b.0)));
    losers.truncate(LOSERS);

    let fell = before.as_ref().is_some_and(|b| grade::rose(b.counts(), now));
    let written = match request {
        Request::Check => Written::Nothing,
        Request::Update if fell => Written::Refused,
        Request::Update | Request::Lower { .. } => {
            let lowered = match request {
                Request::Lower { reason } if fell => {
                    let b = before.as_ref().expect("fell from a baseline");
                    Some(Lowered { reason: reason.to_owned(), from: [b.covered, b.valid] })
                }
                // Not lower: any earlier reason stays with the file.
                _ => before.as_ref().and_then(|b| b.lowered.clone()),
            };
            let baseline = Baseline {
                metric: metric.noun().to_owned(),
                covered: now.covered,
                valid: now.valid,
                commit: crate::repo::head(&cx.root),
                files,
                lowered,
            };
            write(path, &baseline).with_context(|| format!("cannot write the baseline {shown}"))?;
            if fell { Written::Lowered } else { Written::Raised }
        }
    };
    // A person who gave a reason to lower the baseline is judged against the lowered one,
    // which is this run's figure: the run passes the ratchet, saying from what it was lowered.
    let (passed, reason) = match (&written, request) {
        (Written::Lowered, Request::Lower { reason }) => (true, Some(reason.to_owned())),
        _ => (held, None),
    };
    Ok(RatchetVerdict { path: shown, before, now, tolerance, passed, losers, written, reason })
}

fn read(path: &Path, shown: &str) -> Result<Option<Baseline>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => bail!("cannot read the baseline {shown}: {e}"),
    };
    let baseline: Baseline = serde_json::from_str(&text).with_context(|| {
        format!("{shown}: not a coverage baseline (write one with `cargo xtask coverage --update-baseline`)")
    })?;
    if baseline.covered > baseline.valid {
        bail!("{shown}: covered ({}) is more than valid ({})", baseline.covered, baseline.valid);
    }
    Ok(Some(baseline))
}

fn write(path: &Path, baseline: &Baseline) -> Result<()> {
    let mut text = serde_json::to_string_pretty(baseline)?;
    text.push('\n');
    crate::output::write_atomically(path, |tmp| std::fs::write(tmp, &text).map_err(Into::into))
}

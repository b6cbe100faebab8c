//! `cargo xtask coverage`: run the tests under cargo-llvm-cov, write the reports, grade them.
//! With `--file`, grade an existing Cobertura report from any producer instead.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};

use crate::coverage::cobertura::{ParseOptions, Report};
use crate::coverage::grade::Percent;
use crate::coverage::merge::Merger;
mod build;
mod comment;
mod diff;
mod history;
mod html;
mod indirect;
mod inputs;
mod paths;
mod picture;
mod ratchet;
pub mod render;
mod report;
pub mod shards;
mod trend;

use self::render::Format;
use crate::cache::{self, Answer, Inputs, Ran};
use crate::coverage::summary::{GradeOptions, Summary};
use crate::db;
use crate::images::ImageBuild;
use crate::impact;
use crate::impact::map::{Map, TestId};
use crate::impact::record::Recorder;
use crate::impact::select::{Plan, Selection};
use crate::settings::Metric;
use crate::test_run::{Partition, parse_partition, test_inputs};
use crate::tools::{self, Tool, WhenMissing};
use crate::{Context, Outcome, interrupt};

/// Flags of `cargo xtask coverage` (its help text is on the subcommand in main.rs).
#[derive(Debug, Default, clap::Args)]
pub struct CoverageArgs {
    /// Grade this report (Cobertura XML or LCOV, told apart by content) instead of running the
    /// tests. Repeat it, or give a quoted pattern (`'shards/*.xml'`), to grade the union of
    /// several: lines merged, never percentages averaged
    #[arg(long, value_name = "PATH")]
    pub file: Vec<PathBuf>,
    /// Also write the report the gate graded (the union, with several --file) as Cobertura XML
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Fail below this percentage, e.g. 70 or 72.5 [default: `threshold` in Cargo.toml]
    #[arg(long, value_name = "PERCENT")]
    pub fail_under: Option<Percent>,
    /// What the gate counts [default: `metric` in Cargo.toml, else lines]
    #[arg(long, value_parser = metric_parser())]
    pub metric: Option<Metric>,
    /// How to print the summary
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// How many of the lowest-covered files to list [default: `lowest-files` in Cargo.toml]
    #[arg(long, value_name = "N")]
    pub lowest: Option<usize>,
    /// Also judge what a change adds: the lines changed since the merge base of BASE and HEAD
    /// (commits, staged and unstaged edits), covered ÷ coverable, gated by `patch-threshold`
    /// [default BASE: on a GitHub pull request its base branch, else the `base` setting]
    #[arg(long, value_name = "BASE", num_args = 0..=1, default_missing_value = "")]
    pub diff: Option<String>,
    /// With --diff: read the change from this git checkout instead of the workspace's (for a
    /// report of another checkout, given with --file)
    #[arg(long, value_name = "PATH", requires = "diff")]
    pub root: Option<PathBuf>,
    /// With --diff: fail when the changed lines are covered below this percentage
    /// [default: `patch-threshold` in Cargo.toml, else `threshold`]
    #[arg(long, value_name = "PERCENT", requires = "diff")]
    pub patch_fail_under: Option<Percent>,
    /// With --diff: fail when more changed lines than this are uncovered
    /// [default: `max-uncovered-changed-lines` in Cargo.toml, else no limit]
    #[arg(long, value_name = "N", requires = "diff")]
    pub max_uncovered_lines: Option<u64>,
    /// With --diff: also write the change as one HTML page that stands alone: the diff with its
    /// context lines, each changed line marked covered, uncovered or not coverable, and the
    /// uncovered ranges linked from a summary at the top. Replaces only a page it wrote before
    #[arg(long, value_name = "PATH", requires = "diff")]
    pub html: Option<PathBuf>,
    /// With --diff: also report the indirect changes, the lines outside the change that this
    /// report of the merge base (its CI run's merged report, or a local run on it) covered and
    /// the graded report does not. Each --base-report is one run of the base's tests (a report,
    /// or a quoted pattern of its shards); give two runs to find the unstable lines, whose
    /// coverage differs between them and which never count as lost
    #[arg(long, value_name = "PATH", requires = "diff")]
    pub base_report: Vec<PathBuf>,
    /// With --base-report: another run of the graded tree's tests (a report, or a quoted pattern
    /// of its shards; repeatable), compared with the graded report to find the unstable lines
    #[arg(long, value_name = "PATH", requires = "base_report")]
    pub repeat_report: Vec<PathBuf>,
    /// With --base-report: run every test a second time and compare the two runs to find the
    /// unstable lines (the graded report is the first run's)
    #[arg(long, requires = "base_report", conflicts_with = "file")]
    pub repeat: bool,
    /// With --base-report: fail when more lines than this lost their coverage outside the change
    /// [default: `max-indirect-uncovered-lines` in Cargo.toml, else no limit: reported only]
    #[arg(long, value_name = "N", requires = "base_report")]
    pub max_indirect_lines: Option<u64>,
    /// With --diff: print the full commit id of the merge base the change would be judged
    /// against, and nothing else; runs nothing. CI keeps each commit's report under its id and
    /// restores the merge base's where the `base-report` setting reads it
    #[arg(long, requires = "diff", conflicts_with_all = ["file", "output", "html", "base_report", "comment",
          "update_baseline", "lower_baseline", "full"])]
    pub print_merge_base: bool,
    /// Write the ratchet's baseline (the `baseline` setting) when coverage rose, or when there
    /// is none yet; says so, and writes nothing, when it fell
    #[arg(long, conflicts_with = "lower_baseline")]
    pub update_baseline: bool,
    /// Write the baseline even though coverage fell, keeping --reason in it; this run is then
    /// judged against the lowered baseline
    #[arg(long, requires = "reason")]
    pub lower_baseline: bool,
    /// Why the baseline is lowered (kept in the baseline file)
    #[arg(long, value_name = "TEXT", requires = "lower_baseline")]
    pub reason: Option<String>,
    /// Run only part M of N of the suite under coverage (nextest's `--partition count:M/N`,
    /// e.g. one job of a CI matrix) and write that shard's report, coverage-M-of-N.xml in the
    /// `shards` folder, for a later `--file` merge. Grades nothing unless --grade
    #[arg(long, value_name = "M/N", value_parser = parse_partition,
          conflicts_with_all = ["file", "output", "diff", "update_baseline", "lower_baseline"])]
    pub partition: Option<Partition>,
    /// With --partition: also grade the shard on its own, as the gate would
    #[arg(long, requires = "partition")]
    pub grade: bool,
    /// With --diff: run every test, not only those the change can affect (see "Impact-aware
    /// runs" in docs/quality-gates.md)
    #[arg(long, requires = "diff")]
    pub full: bool,
    /// List the tests that cover a line (FILE:LINE) or any line of a file (FILE), from the
    /// per-test map of the last full run; runs nothing
    #[arg(long, value_name = "FILE[:LINE]",
          conflicts_with_all = ["file", "output", "diff", "partition", "update_baseline", "lower_baseline"])]
    pub why: Option<String>,
    /// Write the pull request's comment into this folder: comment.md (the grade, the patch
    /// gate's uncovered ranges linked to the head commit, the path gates, the ratchet) and, in
    /// a pull request's GitHub run, comment.json (its number and head commit), for
    /// `cargo xtask comment post`
    #[arg(long, value_name = "DIR", conflicts_with_all = ["why", "partition"])]
    pub comment: Option<PathBuf>,
    /// Do not install missing tools; fail with the command that installs them
    #[arg(long)]
    pub no_install: bool,
    /// Extra arguments for the `cargo llvm-cov` test run (e.g. `-- --exclude app`)
    #[arg(last = true, value_name = "CARGO_LLVM_COV_ARGS")]
    pub extra: Vec<String>,
}

/// What one coverage run decided, for `cargo xtask ci`'s table: the test run (when there
/// was one) and the coverage gate are reported apart.
#[derive(Clone, Copy, Debug)]
pub struct CoverageRun {
    /// `None` with --file (nothing was run).
    pub tests: Option<(Outcome, Duration)>,
    pub coverage: Outcome,
}

impl CoverageRun {
    pub fn outcome(&self) -> Outcome {
        match self.tests {
            Some((Outcome::Failed, _)) => Outcome::Failed,
            _ => self.coverage,
        }
    }

    /// What the verdict cache keeps of the run, for `cargo xtask ci`'s table.
    fn detail(&self) -> serde_json::Value {
        let word = |o: Outcome| if o == Outcome::Passed { "passed" } else { "failed" };
        serde_json::json!({
            "tests": self.tests.map(|(o, _)| word(o)),
            "test_seconds": self.tests.map(|(_, t)| t.as_secs_f64()),
            "coverage": word(self.coverage),
        })
    }

    /// The run a cached (or fresh) answer describes.
    pub fn of(answer: &Answer) -> CoverageRun {
        let d = &answer.detail;
        let outcome = |v: &serde_json::Value| if v == "passed" { Outcome::Passed } else { Outcome::Failed };
        let tests = d.get("tests").filter(|t| t.is_string()).map(|t| {
            let seconds = d.get("test_seconds").and_then(serde_json::Value::as_f64).unwrap_or(0.0);
            (outcome(t), Duration::from_secs_f64(seconds.max(0.0)))
        });
        let coverage = d.get("coverage").map_or(answer.outcome, outcome);
        CoverageRun { tests, coverage }
    }
}

impl CoverageArgs {
    /// The gate, answered from the verdict cache when it can be (cache.rs).
    pub fn run(self, cx: &Context) -> Result<Outcome> {
        let answer = self.answer(cx);
        // The test database (if any) is stopped by now: end as the signal would have.
        interrupt::exit_if_received();
        Ok(answer?.outcome)
    }

    /// [`CoverageArgs::run`], saying whether the cache answered ([`CoverageRun::of`] reads the
    /// test run's verdict and time back); the caller ends the process when a signal arrived.
    pub fn answer(self, cx: &Context) -> Result<Answer> {
        let inputs = self.cache_inputs(cx);
        cache::through(cx, inputs, || {
            let run = self.run_detailed(cx)?;
            Ok(Ran::from(run.outcome()).detail(run.detail()))
        })
    }

    /// What the verdict depends on besides what every gate reads: the test run's (see
    /// `test::test_inputs`), the base of `--diff`, and the reports it writes. `None`: never
    /// cached (`--file` grades a given report quickly, `--why` reads the map, `--partition` is one part of a split,
    /// the baseline flags write the baseline, `--root` reads another checkout, `--comment`
    /// writes the pull request's comment).
    pub fn cache_inputs(&self, cx: &Context) -> Option<Inputs> {
        if !self.file.is_empty()
            || self.why.is_some()
            || self.partition.is_some()
            || self.update_baseline
            || self.lower_baseline
            || self.root.is_some()
            || self.comment.is_some()
            || self.print_merge_base
        {
            return None;
        }
        let settings = &cx.settings.coverage;
        let mut inputs = test_inputs(Inputs::new("coverage", self))
            .output(&settings.report)
            .output(&settings.lcov)
            .output(settings.html.join("index.html"));
        if let Some(output) = &self.output {
            inputs = inputs.output(output);
        }
        if let Some(page) = &self.html {
            inputs = inputs.output(page);
        }
        if let Some(given) = &self.diff {
            inputs = inputs.env("GITHUB_BASE_REF").extra("diff base", crate::change::merge_base(cx, given));
        }
        if !self.base_report.is_empty() {
            inputs = match indirect::digest(cx, &[&self.base_report[..], &self.repeat_report[..]].concat()) {
                Ok(digest) => inputs.extra("base and repeat reports", digest),
                Err(e) => inputs.unusable(format!("{e:#}")),
            };
        } else if let (Some(_), Some(report)) = (&self.diff, &settings.base_report) {
            // The `base-report` setting's file: whether it is there, and what it holds.
            inputs = match report.exists() {
                false => inputs.extra("base report", format!("none at {}", report.display())),
                true => match indirect::digest(cx, std::slice::from_ref(report)) {
                    Ok(digest) => inputs.extra("base report", digest),
                    Err(e) => inputs.unusable(format!("{e:#}")),
                },
            };
        }
        if self.repeat {
            inputs = inputs.output(indirect::repeat_report(cx));
        }
        Some(inputs)
    }

    /// The gate in three steps: its inputs (the report, given or made by a test run, and the
    /// change) → the judgement ([`Verdicts`], every verdict of the run) → the report (the
    /// summary printed, the step summary, the annotations) and the outcome; then the trend
    /// (the history, the badge and the chart).
    pub fn run_detailed(self, cx: &Context) -> Result<CoverageRun> {
        if self.format == Format::Json {
            cx.out.keep_stdout_for_the_report();
        }
        if let Some(target) = &self.why {
            return why(cx, target, self.format).map(|()| CoverageRun { tests: None, coverage: Outcome::Passed });
        }
        if self.print_merge_base {
            let given = self.diff.as_deref().unwrap_or_default();
            println!("{}", crate::change::merge_base_commit(cx, &self.checkout(cx)?, given)?);
            return Ok(CoverageRun { tests: None, coverage: Outcome::Passed });
        }
        self.check(cx)?;
        let graded = match self.inputs(cx)? {
            Gathered::Graded(graded) => graded,
            Gathered::Done(run) => return Ok(run),
        };
        let verdicts = self.judge(cx, &graded)?;
        if let (Some(page), Some(patch)) = (&self.html, &verdicts.patch) {
            html::write(page, &graded, patch)?;
        }
        let run = report::report(cx, &graded, &verdicts, self.format)?;
        if let Some(dir) = &self.comment {
            comment::write(dir, &graded, &verdicts)?;
        }
        // The whole report's total goes to the trend; a shard graded alone is not the total.
        // The trend cannot change the verdict: when it cannot be kept, the run says so.
        if self.partition.is_none()
            && let Err(e) = trend::keep(cx, &graded, &verdicts)
        {
            let msg = format!("not kept: {e:#}");
            eprintln!("trend: {msg}");
            cx.out.annotate(crate::output::Level::Warning, None, "Coverage trend", &msg);
        }
        Ok(run)
    }

    /// The flags that contradict the settings or each other in ways clap cannot see.
    fn check(&self, cx: &Context) -> Result<()> {
        let settings = &cx.settings.coverage;
        if !self.file.is_empty() && !self.extra.is_empty() {
            bail!("arguments after `--` are for the test run; with --file nothing is run");
        }
        if (self.update_baseline || self.lower_baseline) && settings.baseline.is_none() {
            bail!(
                "--update-baseline and --lower-baseline write the ratchet's baseline: name its file first, \
                 `baseline = \"coverage-baseline.json\"` in [workspace.metadata.xtask.coverage]"
            );
        }
        if self.reason.as_deref().is_some_and(|r| r.trim().is_empty()) {
            bail!("--reason: say why the baseline is lowered");
        }
        if let Some(page) = &self.html {
            html::check_target(page)?;
        }
        Ok(())
    }

    /// The checkout the change is read from: `--root`, else the workspace's.
    fn checkout(&self, cx: &Context) -> Result<PathBuf> {
        match &self.root {
            Some(r) => r.canonicalize().with_context(|| format!("--root {}: no such folder", r.display())),
            None => Ok(cx.root.clone()),
        }
    }

    /// The metric counted: `--metric`, else the setting.
    fn metric(&self, cx: &Context) -> Metric {
        self.metric.unwrap_or(cx.settings.coverage.metric)
    }

    /// The report to grade (the `--file` reports, merged when several, or the test run's),
    /// the test run's verdict, and the change of `--diff`; or the whole answer when there is
    /// nothing to grade (a shard's report written, a test run that left no data).
    fn inputs(&self, cx: &Context) -> Result<Gathered> {
        let metric = self.metric(cx);
        // The change first: a base that cannot be compared with stops the gate before the tests.
        let checkout = self.checkout(cx)?;
        // The page of --html shows the diff with its context lines: the change is read from it.
        let context = self.html.is_some().then_some(html::CONTEXT);
        let change = self
            .diff
            .as_deref()
            .map(|base| crate::change::read_with_context(cx, &checkout, base, context))
            .transpose()?;
        // The other runs the indirect changes compare, read before the tests run: `--base-report`,
        // else the `base-report` setting's report when it is there.
        let base_runs = match (&change, self.base_report.is_empty()) {
            (Some(change), true) => indirect::from_setting(cx, change)?,
            _ => indirect::read_runs(cx, "--base-report", &self.base_report)?,
        };
        let mut repeats = indirect::read_runs(cx, "--repeat-report", &self.repeat_report)?;
        let cwd = std::env::current_dir().unwrap_or_else(|_| cx.root.clone());
        let files = inputs::expand(&self.file, &cwd)?;
        shards::check_complete(&files)?;
        // The pre-push loop: only the tests the change can affect, the rest from the map.
        let impact = if self.diff.is_some()
            && !self.full
            && !self.repeat
            && files.is_empty()
            && self.partition.is_none()
            && self.extra.is_empty()
        {
            let decision = if metric == Metric::Branches {
                impact::Decision {
                    map: None,
                    plan: Plan::Everything("the map records lines, and --metric branches counts branches".into()),
                }
            } else {
                impact::decide(cx, &[])?
            };
            impact::explain(&decision);
            match decision.plan {
                Plan::Selected(selection) => decision.map.map(|map| (map, selection)),
                Plan::Everything(_) => None,
            }
        } else {
            None
        };
        let (path, tests) = match files.first() {
            Some(file) => (file.clone(), None),
            None => match run_tests(cx, self, metric, impact.as_ref())? {
                TestRun::Reported(report, passed, elapsed) => {
                    let tests = (if passed { Outcome::Passed } else { Outcome::Failed }, elapsed);
                    if let Some(part) = self.partition.filter(|_| !self.grade) {
                        return shard_written(cx, part, &report, metric, self.format, tests).map(Gathered::Done);
                    }
                    if self.repeat {
                        let again = indirect::repeat_report(cx);
                        repeats.extend(indirect::read_runs(cx, "--repeat", &[again])?);
                    }
                    (report, Some(tests))
                }
                TestRun::NoData(elapsed) => {
                    let msg = "the test run failed and left no coverage data, so no report was written";
                    eprintln!("{}", colored::Colorize::bold(colored::Colorize::red(msg)));
                    report::annotate(cx, msg);
                    let run = CoverageRun { tests: Some((Outcome::Failed, elapsed)), coverage: Outcome::Failed };
                    return Ok(Gathered::Done(run));
                }
            },
        };
        let (name, report, merged) = if files.len() > 1 {
            let mut merger = Merger::new(&cx.root.to_string_lossy());
            for input in &files {
                let input_name = display_name(cx, input);
                merger.add(input_name.clone(), read_report(input, &input_name, metric)?);
            }
            let merged = merger.finish();
            (format!("the union of {} reports", files.len()), merged.report, merged.inputs)
        } else {
            let name = display_name(cx, &path);
            let report = read_report(&path, &name, metric)?;
            (name, report, Vec::new())
        };
        Ok(Gathered::Graded(Box::new(Graded { name, report, merged, tests, change, base_runs, repeats })))
    }

    /// Every verdict on the graded report: the gate's (the summary), the per-path gates', the
    /// ratchet's (which writes the baseline when asked) and the patch gate's. `--output` is
    /// written once the report is known to be gradable.
    fn judge(&self, cx: &Context, graded: &Graded) -> Result<Verdicts> {
        let settings = &cx.settings.coverage;
        let metric = self.metric(cx);
        let options = GradeOptions {
            metric,
            threshold: self.fail_under.unwrap_or(settings.threshold),
            bands: &settings.bands,
            lowest: self.lowest.unwrap_or(settings.lowest_files),
        };
        let (name, report) = (&graded.name, &graded.report);
        let summary = Summary::build(name, report, &options).map_err(|u| anyhow!(u.0))?;
        if let Some(out) = &self.output {
            write_output(out, report)?;
        }

        // Per-path gates and the ratchet, on the report's files as repository paths.
        if summary.source != crate::coverage::summary::Source::Elements
            && (!settings.paths.is_empty() || settings.baseline.is_some())
        {
            bail!(
                "{name}: the report has totals only, no <line> elements: per-path gates and the ratchet need per-file data"
            );
        }
        let paths = paths::judge(report, metric, &settings.paths, &cx.root)?;
        let names: Vec<String> =
            report.files.iter().map(|f| paths::repo_name(&f.name, &report.sources, &cx.root)).collect();
        let request = match (&self.reason, self.update_baseline) {
            (Some(reason), _) => ratchet::Request::Lower { reason },
            (None, true) => ratchet::Request::Update,
            (None, false) => ratchet::Request::Check,
        };
        let ratchet = settings
            .baseline
            .as_deref()
            .map(|path| ratchet::judge(cx, path, report, &names, metric, summary.counts, request))
            .transpose()?;

        let patch_threshold = self.patch_fail_under.unwrap_or(settings.patch_threshold);
        let max_uncovered = self.max_uncovered_lines.or(settings.max_uncovered_changed_lines);
        let patch =
            graded.change.as_ref().map(|c| diff::judge(c, report, patch_threshold, max_uncovered)).transpose()?;
        let max_lost = self.max_indirect_lines.or(settings.max_indirect_uncovered_lines);
        let indirect = match &graded.change {
            Some(c) if !graded.base_runs.is_empty() => {
                Some(indirect::judge(c, (name, report), &graded.base_runs, &graded.repeats, max_lost)?)
            }
            _ => None,
        };
        Ok(Verdicts { summary, paths, ratchet, patch, indirect, tests: graded.tests })
    }
}

/// What [`CoverageArgs::inputs`] found.
enum Gathered {
    Graded(Box<Graded>),
    /// Nothing to grade: the run's answer.
    Done(CoverageRun),
}

/// The report the gate grades, and what came with it.
pub(super) struct Graded {
    /// As the summary names it: the file, or "the union of N reports".
    pub name: String,
    pub report: Report,
    /// Each input of a merge (none for one report).
    pub merged: Vec<crate::coverage::merge::InputSummary>,
    /// The test run's verdict and time (none with --file).
    pub tests: Option<(Outcome, Duration)>,
    /// `--diff`'s change.
    pub change: Option<crate::change::Change>,
    /// `--base-report`'s runs of the base, and the graded tree's other runs (`--repeat-report`,
    /// `--repeat`).
    pub base_runs: Vec<indirect::Run>,
    pub repeats: Vec<indirect::Run>,
}

/// Every verdict of one run; the report renders them and decides the outcome
/// ([`Verdicts::coverage`]).
pub(super) struct Verdicts {
    /// The gate: the total against the threshold, the band, the lowest-covered files.
    pub summary: Summary,
    pub paths: Vec<paths::PathVerdict>,
    pub ratchet: Option<ratchet::RatchetVerdict>,
    pub patch: Option<diff::PatchVerdict>,
    pub indirect: Option<indirect::IndirectVerdict>,
    /// The test run's, when there was one: a failing run is reported, not graded.
    pub tests: Option<(Outcome, Duration)>,
}

impl Verdicts {
    /// The coverage gate's outcome: the total and every other gate passed.
    pub fn coverage(&self) -> Outcome {
        let others = self.paths.iter().all(|p| p.passed)
            && self.ratchet.as_ref().is_none_or(|r| r.passed)
            && self.patch.as_ref().is_none_or(diff::PatchVerdict::passed)
            && self.indirect.as_ref().is_none_or(|i| i.passed);
        if self.summary.passed && others { Outcome::Passed } else { Outcome::Failed }
    }
}

/// `--output`: the graded report as Cobertura XML, written atomically.
fn write_output(out: &Path, report: &Report) -> Result<()> {
    crate::output::write_atomically(out, |tmp| {
        let mut file = std::io::BufWriter::new(File::create(tmp)?);
        crate::coverage::write::write_cobertura(report, &mut file)?;
        std::io::Write::flush(&mut file)?;
        Ok(())
    })
    .with_context(|| format!("cannot write --output {}", out.display()))
}

/// The path as the user would type it: relative to the current folder when inside it.
fn display_name(cx: &Context, path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_else(|_| cx.root.clone());
    path.strip_prefix(&cwd).unwrap_or(path).display().to_string()
}

/// `--metric`: the coverage crate's `Metric`, with the values and their help listed.
fn metric_parser() -> impl clap::builder::TypedValueParser<Value = Metric> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser as _};
    PossibleValuesParser::new([
        PossibleValue::new("lines").help("Lines with at least one hit (Cobertura `<line hits>`)"),
        PossibleValue::new("branches").help("Branch outcomes taken (Cobertura `condition-coverage`)"),
    ])
    .map(|s| s.parse::<Metric>().expect("only the listed values get here"))
}

/// Parses a report, turning a parse error into `path:line:column: message`.
pub fn read_report(path: &Path, name: &str, metric: Metric) -> Result<Report> {
    let file = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow!(
            "{name}: no such file (give a Cobertura XML or LCOV report with --file, or run without --file to produce one)"
        ),
        _ => anyhow!("{name}: cannot open: {e}"),
    })?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        bail!("{name}: is a folder, not a Cobertura XML report");
    }
    let reader = BufReader::with_capacity(256 * 1024, file);
    crate::coverage::parse_any_file(reader, ParseOptions { branches: metric == Metric::Branches }).map_err(|e| {
        let (line, column) = locate(path, e.offset).unwrap_or((0, 0));
        anyhow!("{name}:{line}:{column}: {}", e.message)
    })
}

/// 1-based line and column (in bytes) of a byte offset.
fn locate(path: &Path, offset: u64) -> std::io::Result<(u64, u64)> {
    let mut reader = BufReader::new(File::open(path)?.take(offset));
    let (mut line, mut column) = (1, 1);
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok((line, column));
        }
        for &b in buf {
            if b == b'\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        let n = buf.len();
        reader.consume(n);
    }
}

enum TestRun {
    /// Reports written (the one to grade is named); whether the tests passed, and how long the
    /// test run took (database included, reports not).
    Reported(PathBuf, bool, Duration),
    /// The run failed before producing any profile data (e.g. a build error).
    NoData(Duration),
}

fn run_tests(cx: &Context, args: &CoverageArgs, metric: Metric, impact: Option<&(Map, Selection)>) -> Result<TestRun> {
    // A whole run builds the stack's images first, beside the installs (images.rs).
    let images = (args.partition.is_none() && args.extra.is_empty() && impact.is_none())
        .then(|| ImageBuild::start(cx))
        .flatten();
    // nextest runs each test in a process of its own: what the per-test map and the shards need.
    // The tools the tests run are provided in the same call, so that their install (a download)
    // goes on beside cargo's (a compile) on a first run.
    let mut needed = vec![Tool::CargoLlvmCov, Tool::LlvmTools, Tool::CargoNextest];
    needed.extend(cx.settings.test.tools.iter().copied());
    tools::provide(cx, &needed, !args.no_install, WhenMissing::Fail)?;
    let tool_env = tools::for_tests(cx, !args.no_install)?;
    let settings = &cx.settings.coverage;
    let extra = &args.extra;
    // A whole run records which lines each test covers (the per-test map); a shard, or a run
    // narrowed by extra arguments, does not. An impact-aware run notes which tests ran, and
    // without the recorder it cannot: it runs everything.
    let recorder = if args.partition.is_none() && extra.is_empty() {
        match Recorder::start(cx) {
            Ok(r) => Some(r),
            Err(why) => {
                eprintln!("map: this run records no per-test map: {why}");
                None
            }
        }
    } else {
        None
    };
    let impact = impact.filter(|_| {
        recorder.is_some() || {
            eprintln!("impact: running every test: the recorder cannot run");
            false
        }
    });
    // In a workspace that copied `xtask/`, its packages are neither tested nor reported.
    let mut flags: Vec<String> = crate::test_run::exclusions(cx);
    if let Some(p) = args.partition {
        // nextest deals the tests out; every test binary is still measured, so each shard's
        // report lists every coverable line and the union is exact.
        flags.extend(["--partition".to_owned(), format!("count:{p}")]);
    }
    // Every test binary runs, so a failing one does not leave the others' code unmeasured.
    if !extra.iter().any(|a| a == "--no-fail-fast") {
        flags.push("--no-fail-fast".into());
    }
    if metric == Metric::Branches {
        flags.push("--branch".into());
    }
    // `--repeat`'s second run: the same tests, without the recorder or the flaky record.
    let again: Vec<String> = flags.iter().chain(extra).cloned().collect();
    if let Some((map, selection)) = impact {
        flags.push("--no-tests=pass".into());
        flags.extend(selection.nextest_args(map));
    }
    // Retries, and the JUnit report that records the flaky tests (flaky/), as the test gate.
    let recording = super::flaky::Recording::prepare(cx)?;
    flags.extend(recording.args());
    flags.extend(extra.iter().cloned());
    let runner: &[&str] = &["llvm-cov", "nextest", "--workspace", "--no-report"];

    // One test run, with the test gate's database and services when the suite needs them;
    // every report below is rendered from this run's profile data.
    let started = Instant::now();
    // The last run's profiles would be counted again (with `--no-report` cargo-llvm-cov keeps
    // them, to merge runs): start from none. The instrumented build is kept when nothing it
    // depends on beyond its sources changed (build.rs), so an edit compiles only what it touched.
    let build = build::Plan::decide(cx, metric, extra);
    build.clean(cx)?;
    // A selection of no test runs none: no database or services for it.
    let runs_tests = !impact.is_some_and(|(_, s)| s.is_empty());
    let wanted = db::Wanted { database: cx.settings.test.database && runs_tests, services: runs_tests };
    if let Some(images) = images {
        images.wait(cx);
    }
    let passed = db::with_test_services(cx, wanted, |env| {
        let run = cx
            .cargo()
            .args(runner)
            .args(&flags)
            .envs(tool_env.iter().map(|(k, v)| (k, v)))
            .envs(recorder.iter().flat_map(Recorder::env))
            .envs(env.vars())
            .stdout(cx.out.stdout_for_programs());
        let shown: Vec<String> = runner.iter().map(|a| a.to_string()).chain(flags.iter().cloned()).collect();
        let shown = shown.join(" ");
        match impact {
            // The filtersets of a selection are long: name them, do not print them.
            Some(_) => eprintln!("$ cargo {} …", shown.split(" -E ").next().unwrap_or(&shown)),
            None => eprintln!("$ cargo {shown}"),
        }
        Ok(interrupt::run(run)?.success())
    })?;
    // A flaky test that must fail the gate fails the run as a failing test does.
    let passed = recording.finish(cx)? == Outcome::Passed && passed;
    let elapsed = started.elapsed();
    // Before anything reads the build: no program older than its sources reaches a report.
    build.after_the_run(cx)?;

    // A shard writes its Cobertura report only: the merge reads it, and the LCOV and HTML of
    // one part would mislead.
    let report = match args.partition {
        Some(p) => {
            shards::remove_other_splits(&settings.shards, p)?;
            settings.shards.join(shards::file_name(p))
        }
        None => settings.report.clone(),
    };
    let cobertura =
        crate::output::write_atomically(&report, |tmp| llvm_cov_report(cx, "--cobertura", "--output-path", tmp));
    if let Err(e) = cobertura {
        if !passed {
            return Ok(TestRun::NoData(elapsed));
        }
        return Err(e.context("cargo llvm-cov could not write the Cobertura report"));
    }
    if args.partition.is_some() {
        eprintln!("report: {}", display_name(cx, &report));
        return Ok(TestRun::Reported(report, passed, elapsed));
    }
    if let Some((map, selection)) = impact {
        // The selected tests' report, completed from the map, is the report.
        let Some(recorder) = &recorder else { unreachable!("an impact-aware run has its recorder") };
        let ran = recorder.ran()?;
        let selected = read_report(&report, &display_name(cx, &report), Metric::Lines)?;
        let changed: BTreeSet<String> = selection.changes.paths().into_iter().map(str::to_owned).collect();
        let tests: BTreeSet<TestId> = ran.keys().cloned().collect();
        let total = impact::compose::compose(selected, map, &tests, &changed, &cx.root.to_string_lossy());
        for (path, lcov) in [(&report, false), (&settings.lcov, true)] {
            crate::output::write_atomically(path, |tmp| {
                let mut file = std::io::BufWriter::new(File::create(tmp)?);
                if lcov {
                    crate::coverage::write::write_lcov(&total, &mut file)?;
                } else {
                    crate::coverage::write::write_cobertura(&total, &mut file)?;
                }
                std::io::Write::flush(&mut file)?;
                Ok(())
            })
            .with_context(|| format!("cannot write {}", path.display()))?;
        }
        let failed = ran.values().filter(|p| !**p).count();
        eprintln!(
            "impact: {} tests ran{}; the other {} tests' lines come from the map of {}",
            ran.len(),
            if failed > 0 { format!(" ({failed} failed)") } else { String::new() },
            map.tests.iter().filter(|t| !tests.contains(&t.id)).count(),
            map.commit
        );
        eprintln!(
            "reports: {} · {} (the HTML report is the last full run's: `--full` rewrites it)",
            display_name(cx, &report),
            display_name(cx, &settings.lcov)
        );
        return Ok(TestRun::Reported(report, passed, elapsed));
    }
    if let Some(recorder) = recorder {
        let recorded = read_report(&report, &display_name(cx, &report), Metric::Lines)
            .and_then(|total| recorder.finish(cx, &total));
        if let Err(e) = recorded {
            eprintln!("map: not saved: {e:#}");
        }
    }
    crate::output::write_atomically(&settings.lcov, |tmp| llvm_cov_report(cx, "--lcov", "--output-path", tmp))
        .context("cargo llvm-cov could not write the LCOV report")?;
    write_html(cx, &settings.html).context("cargo llvm-cov could not write the HTML report")?;
    eprintln!(
        "reports: {} · {} · {}",
        display_name(cx, &settings.report),
        display_name(cx, &settings.lcov),
        display_name(cx, &settings.html.join("index.html"))
    );
    if args.repeat {
        run_again(cx, runner, &again, &tool_env, wanted)?;
    }
    Ok(TestRun::Reported(report, passed, elapsed))
}

/// `--repeat`: the same tests again from no profile data (every report above is written), into
/// a report of their own for the indirect changes to compare. Its tests failing is said, not
/// judged: the first run's verdict is the gate's.
fn run_again(
    cx: &Context,
    runner: &[&str],
    flags: &[String],
    tool_env: &[(String, PathBuf)],
    wanted: db::Wanted,
) -> Result<()> {
    // A signal during the first run stops here, not after a second.
    interrupt::check()?;
    eprintln!("repeat: running the tests again, to find the lines whose coverage changes from run to run");
    cx.cargo()
        .args(["llvm-cov", "clean", "--profraw-only"])
        .run()
        .context("cannot remove the first run's profiles before the second")?;
    let passed = db::with_test_services(cx, wanted, |env| {
        let run = cx
            .cargo()
            .args(runner)
            .args(flags)
            .envs(tool_env.iter().map(|(k, v)| (k, v)))
            .envs(env.vars())
            .stdout(cx.out.stdout_for_programs());
        eprintln!("$ cargo {} {}", runner.join(" "), flags.join(" "));
        Ok(interrupt::run(run)?.success())
    })?;
    interrupt::check()?;
    if !passed {
        eprintln!("repeat: tests failed in the second run; its coverage is compared all the same");
    }
    let path = indirect::repeat_report(cx);
    crate::output::write_atomically(&path, |tmp| llvm_cov_report(cx, "--cobertura", "--output-path", tmp))
        .context("cargo llvm-cov could not write the second run's report")?;
    eprintln!("repeat: {}", display_name(cx, &path));
    Ok(())
}

/// A shard's run without --grade: what it measured, and how to merge it. Its outcome is the tests'.
fn shard_written(
    cx: &Context,
    part: Partition,
    report: &Path,
    metric: Metric,
    format: Format,
    tests: (Outcome, Duration),
) -> Result<CoverageRun> {
    let name = display_name(cx, report);
    let parsed = read_report(report, &name, metric)?;
    let (lines, branches) = parsed.totals();
    let counts = if metric == Metric::Lines { lines } else { branches };
    let folder = display_name(cx, &cx.settings.coverage.shards);
    if format == Format::Json {
        let doc = serde_json::json!({
            "shard": { "index": part.index, "count": part.count },
            "report": name,
            "metric": metric.noun(),
            "covered": counts.covered,
            "valid": counts.valid,
            "tests": if tests.0 == Outcome::Passed { "passed" } else { "failed" },
        });
        println!("{doc:#}");
    } else {
        println!(
            "Shard {part}: {} of {} {} covered by this part's tests ({name})",
            counts.covered,
            counts.valid,
            metric.noun()
        );
        println!(
            "Not graded alone: merge the {} parts with `cargo xtask coverage --file '{folder}/*.xml'`",
            part.count
        );
    }
    if tests.0 == Outcome::Failed {
        let msg = format!("the tests of shard {part} failed");
        eprintln!("{}", colored::Colorize::bold(colored::Colorize::red(msg.as_str())));
        report::annotate(cx, &msg);
    }
    Ok(CoverageRun { tests: Some(tests), coverage: tests.0 })
}

/// `cargo llvm-cov report FORMAT OPTION PATH`, quietly: its output is shown only when it fails.
fn llvm_cov_report(cx: &Context, format: &str, option: &str, path: &Path) -> Result<()> {
    let shown = format!("cargo llvm-cov report {format} {option} {}", path.display());
    cx.cargo().args(["llvm-cov", "report", format, option]).arg(path).shown(shown).run().map(drop)
}

/// cargo-llvm-cov writes `<output-dir>/html/`; render into a fresh folder, then swap it in.
fn write_html(cx: &Context, dest: &Path) -> Result<()> {
    let parent = dest.parent().context("html path has no folder")?;
    std::fs::create_dir_all(parent)?;
    let tmp = parent.join(format!(".html.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = llvm_cov_report(cx, "--html", "--output-dir", &tmp)
        .and_then(|()| crate::output::swap_dir(&tmp.join("html"), dest));
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// `--why FILE[:LINE]`: the tests that cover it, from the map.
fn why(cx: &Context, target: &str, format: Format) -> Result<()> {
    let (file, line) = impact::map::parse_why(target)?;
    let map = impact::load_for_why(&cx.root)?;
    // Accept the path as typed from the current folder, or as a repository path.
    let cwd = std::env::current_dir().unwrap_or_else(|_| cx.root.clone());
    let absolute = cwd.join(&file);
    let repo_path = absolute
        .strip_prefix(&cx.root)
        .ok()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .filter(|p| map.files.contains_key(p) || map.tree.files.contains_key(p))
        .unwrap_or_else(|| file.trim_start_matches("./").to_owned());
    if !map.tree.files.contains_key(&repo_path) && !map.files.contains_key(&repo_path) {
        bail!("--why {target}: {repo_path} is not a file of the map's run (map of {})", map.commit);
    }
    let found = map.why(&repo_path, line);
    let at = match line {
        Some(l) => format!("{repo_path}:{l}"),
        None => repo_path.clone(),
    };
    let now = crate::snapshot::Snapshot::take(&cx.root).ok();
    let stale = now.as_ref().is_some_and(|n| n.files.get(&repo_path) != map.tree.files.get(&repo_path));
    if format == Format::Json {
        let tests: Vec<serde_json::Value> = found
            .iter()
            .map(|(id, lines)| serde_json::json!({ "binary": id.binary, "name": id.name, "lines": lines }))
            .collect();
        let doc = serde_json::json!({
            "file": repo_path, "line": line, "map": { "commit": map.commit, "recorded": map.recorded },
            "changed_since": stale, "tests": tests,
        });
        println!("{doc:#}");
        return Ok(());
    }
    match found.len() {
        0 => println!("{at}: no test covers it (map of {}, {})", map.commit, impact::ago(map.recorded)),
        n => {
            println!(
                "{at}: covered by {n} {} (map of {}, {})",
                if n == 1 { "test" } else { "tests" },
                map.commit,
                impact::ago(map.recorded)
            );
            for (id, lines) in found {
                let of_file = if line.is_some() { String::new() } else { format!("  ({lines} lines)") };
                println!("  {} {}{of_file}", id.binary, id.name);
            }
        }
    }
    if stale {
        eprintln!("note: {repo_path} changed since the map's run: its line numbers may have moved");
    }
    Ok(())
}

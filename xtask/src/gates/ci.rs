//! `cargo xtask ci`: every gate in CI order (`GATES`), then one summary table. The coverage
//! gate's test run *is* the test gate here, so the suite runs once. The smoke gate needs a
//! Docker engine: without one it is skipped, with the reason, or an error when `CI` is set
//! (the lint gate's policy for a missing tool). Each gate goes through the verdict cache on its
//! own (cache.rs): a gate whose inputs did not change answers from it, and its row says
//! `(cached)` beside the time the recorded run took.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use colored::Colorize;

use crate::cache::Answer;
use crate::gates::coverage::{CoverageArgs, CoverageRun};
use crate::gates::lint::LintArgs;
use crate::gates::security::SecurityArgs;
use crate::gates::smoke::SmokeArgs;
use crate::output::Level;
use crate::{Context, Outcome, docker, interrupt};

/// The gates CI runs, in order: the one place the order is written. `cargo xtask ci` runs them
/// in it, and the test suite (tests/wiring.rs) holds `.pre-commit-config.yaml`,
/// `.github/workflows/ci.yml` and the docs' lists of the gates to it.
pub const GATES: [&str; 5] = ["lint", "test", "coverage", "smoke", "security"];

/// Flags of `cargo xtask ci`.
#[derive(Debug, Default, clap::Args)]
pub struct CiArgs {
    /// Run every gate even after one fails (by default the first failure stops the run)
    #[arg(long)]
    pub keep_going: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    Passed,
    Failed,
    /// The gate could not run (exit 2 on its own): bad input, a missing tool.
    Error,
    /// Not run, because an earlier gate failed.
    Skipped,
    /// Not run, because what it needs is missing here (said why).
    NotRun(String),
}

impl Verdict {
    fn of(result: &Result<Outcome>) -> Verdict {
        match result {
            Ok(Outcome::Passed) => Verdict::Passed,
            Ok(Outcome::Failed) => Verdict::Failed,
            Err(_) => Verdict::Error,
        }
    }

    fn text(&self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "FAILED",
            Verdict::Error => "ERROR",
            Verdict::Skipped | Verdict::NotRun(_) => "skipped",
        }
    }
}

struct Row {
    gate: &'static str,
    verdict: Verdict,
    /// How long the gate took; answered from the cache, how long the recorded run took.
    time: Option<Duration>,
    cached: bool,
}

impl Row {
    fn not_run(gate: &'static str, verdict: Verdict) -> Row {
        Row { gate, verdict, time: None, cached: false }
    }
}

impl CiArgs {
    pub fn run(self, cx: &Context) -> Result<Outcome> {
        let started = Instant::now();
        let mut rows: Vec<Row> = Vec::new();
        // A gate that failed or could not run stops the others; one not run for want of what it
        // needs here (smoke without an engine) does not.
        let stop = |rows: &[Row]| {
            !self.keep_going && rows.iter().any(|r| matches!(r.verdict, Verdict::Failed | Verdict::Error))
        };

        for gate in GATES {
            if rows.iter().any(|r| r.gate == gate) {
                continue; // coverage: its row came with the test gate's (one test run)
            }
            // The test run, the longest, also does not start after a signal.
            if stop(&rows) || (matches!(gate, "test" | "coverage") && interrupt::received().is_some()) {
                rows.push(Row::not_run(gate, Verdict::Skipped));
                continue;
            }
            match gate {
                "lint" => rows.push(one_gate(cx, gate, || LintArgs::default().answer(cx))),
                "security" => rows.push(one_gate(cx, gate, || SecurityArgs::default().answer(cx))),
                "smoke" => rows.push(smoke(cx)),
                // The coverage gate's test run is the test gate: both rows from one run.
                "test" | "coverage" => {
                    section(cx, "test + coverage (one test run)");
                    let t = Instant::now();
                    let answer = CoverageArgs::default().answer(cx);
                    interrupt::exit_if_received();
                    rows.extend(test_and_coverage(answer, t.elapsed()));
                    end_section(cx);
                }
                other => bail!("`{other}` is in GATES, but `cargo xtask ci` does not know how to run it"),
            }
        }

        let total = started.elapsed();
        eprint!("{}", table(&rows, total));
        cx.out.step_summary(&markdown(&rows, total))?;
        let errors: Vec<&str> = rows.iter().filter(|r| r.verdict == Verdict::Error).map(|r| r.gate).collect();
        if !errors.is_empty() {
            bail!("{} could not run (see the error above)", errors.join(", "));
        }
        if rows.iter().any(|r| r.verdict == Verdict::Failed) {
            cx.out.annotate(Level::Error, None, "cargo xtask ci", &failed_list(&rows));
            return Ok(Outcome::Failed);
        }
        Ok(Outcome::Passed)
    }
}

/// The smoke gate, when a Docker engine answers; without one, skipped (an error when CI is set).
fn smoke(cx: &Context) -> Row {
    match docker::docker() {
        Ok(_) => one_gate(cx, "smoke", || SmokeArgs::default().answer(cx)),
        Err(why) if cx.out.ci => {
            eprintln!("{} the smoke gate needs a Docker engine: {why}", "error:".red().bold());
            Row::not_run("smoke", Verdict::Error)
        }
        Err(why) => {
            eprintln!("{} smoke skipped: {why}", "warning:".yellow().bold());
            Row::not_run("smoke", Verdict::NotRun(format!("no Docker engine: {why}")))
        }
    }
}

/// Runs one gate in its own output section and times it (a cached answer: the recorded run's time).
fn one_gate(cx: &Context, gate: &'static str, run: impl FnOnce() -> Result<Answer>) -> Row {
    section(cx, gate);
    let t = Instant::now();
    let answer = run();
    interrupt::exit_if_received();
    let cached = answer.as_ref().ok().and_then(|a| a.cached);
    let result = answer.map(|a| a.outcome);
    report_error(&result);
    let time = Some(cached.unwrap_or(t.elapsed()));
    let row = Row { gate, verdict: Verdict::of(&result), time, cached: cached.is_some() };
    end_section(cx);
    row
}

/// The test and coverage rows of the coverage gate's one run (or its cached answer).
fn test_and_coverage(answer: Result<Answer>, elapsed: Duration) -> [Row; 2] {
    match answer {
        Ok(answer) => {
            let run = CoverageRun::of(&answer);
            let (tests, test_time) = run.tests.unwrap_or((answer.outcome, Duration::ZERO));
            let (total, cached) = (answer.cached.unwrap_or(elapsed), answer.cached.is_some());
            [
                Row { gate: "test", verdict: Verdict::of(&Ok(tests)), time: Some(test_time), cached },
                Row {
                    gate: "coverage",
                    verdict: Verdict::of(&Ok(run.coverage)),
                    time: Some(total.saturating_sub(test_time)),
                    cached,
                },
            ]
        }
        Err(e) => {
            report_error(&Err(e));
            [
                Row { gate: "test", verdict: Verdict::Error, time: Some(elapsed), cached: false },
                Row::not_run("coverage", Verdict::Skipped),
            ]
        }
    }
}

fn failed_list(rows: &[Row]) -> String {
    let failed: Vec<&str> = rows.iter().filter(|r| r.verdict == Verdict::Failed).map(|r| r.gate).collect();
    format!("failed gates: {}", failed.join(", "))
}

/// A gate that could not run has printed nothing about why: say it here, as `main` would.
fn report_error(result: &Result<Outcome>) {
    if let Err(e) = result {
        eprintln!("{} {e:#}", "error:".red().bold());
    }
}

/// A visible header between gates; a collapsible group under GitHub Actions.
fn section(cx: &Context, name: &str) {
    if cx.out.github {
        // Groups cannot nest, and each gate prints its own output: one flat group per gate.
        println!("::group::{name}");
    } else {
        eprintln!("{}", format!("── {name} ──").bold());
    }
}

fn end_section(cx: &Context) {
    if cx.out.github {
        println!("::endgroup::");
    }
}

fn seconds(time: Option<Duration>) -> String {
    time.map_or_else(|| "–".to_owned(), |t| format!("{:.1}s", t.as_secs_f64()))
}

/// ` (cached)` after a cached row's time.
fn cached(row: &Row) -> &'static str {
    if row.cached { " (cached)" } else { "" }
}

fn table(rows: &[Row], total: Duration) -> String {
    let mut out = format!("\n{}\n", "CI summary".bold());
    out.push_str(&format!("  {:<10} {:<8} {:>8}\n", "gate", "verdict", "time"));
    for r in rows {
        let verdict = format!("{:<8}", r.verdict.text());
        let verdict = match r.verdict {
            Verdict::Passed => verdict.green(),
            Verdict::Failed | Verdict::Error => verdict.red().bold(),
            Verdict::Skipped | Verdict::NotRun(_) => verdict.dimmed(),
        };
        let why = match &r.verdict {
            Verdict::NotRun(why) => format!("  ({})", first_words(why)),
            _ => String::new(),
        };
        out.push_str(&format!("  {:<10} {verdict} {:>8}{}{why}\n", r.gate, seconds(r.time), cached(r).dimmed()));
    }
    out.push_str(&format!("  {:<10} {:<8} {:>8}\n", "total", "", seconds(Some(total))));
    if rows.iter().any(|r| r.cached) {
        out.push_str(&format!(
            "  {}\n",
            "(cached): answered from the verdict cache; the time is the recorded run's".dimmed()
        ));
    }
    out
}

fn markdown(rows: &[Row], total: Duration) -> String {
    let mut out = String::from("### CI gates\n\n| Gate | Verdict | Time |\n| --- | --- | ---: |\n");
    for r in rows {
        let icon = match r.verdict {
            Verdict::Passed => "✅",
            Verdict::Failed | Verdict::Error => "❌",
            Verdict::Skipped | Verdict::NotRun(_) => "⏭️",
        };
        let why = match &r.verdict {
            Verdict::NotRun(why) => format!(" ({})", first_words(why).replace('|', "\\|")),
            _ => String::new(),
        };
        out.push_str(&format!(
            "| `{}` | {icon} {}{why} | {}{} |\n",
            r.gate,
            r.verdict.text(),
            seconds(r.time),
            cached(r)
        ));
    }
    out.push_str(&format!("| total | | {} |\n", seconds(Some(total))));
    out
}

/// The reason a gate did not run, up to its first `:` detail ("no Docker engine").
fn first_words(why: &str) -> &str {
    why.split(':').next().unwrap_or(why).trim()
}

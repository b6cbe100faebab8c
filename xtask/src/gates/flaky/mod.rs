//! Flaky tests: what the test and coverage gates' nextest runs record, and `cargo xtask flaky`,
//! which reads that record.
//!
//! A run ([`Recording`]) gives nextest `--retries N` (the test table's `retries`) and, through a
//! tool config file of ours (`--tool-config-file`, so the workspace's `.config/nextest.toml` is
//! left alone), a JUnit report under `target/xtask-tests/`. Its outcomes (`junit.rs`)
//! are judged against the quarantine file ([`quarantine`]), printed, summarised for GitHub, and
//! appended to the history ([`history`]).

pub mod history;
pub mod junit;
pub mod quarantine;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use colored::Colorize as _;
use junit::{Status, TestCase};

use crate::output::{At, Level};
use crate::security::date::Date;
use crate::{Context, Outcome};

use self::quarantine::{Entry, Quarantine};

/// Flags of `cargo xtask flaky`.
#[derive(Debug, clap::Args)]
pub struct FlakyArgs {
    /// How many of the last runs to look at
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
}

impl FlakyArgs {
    /// Lists the tests that flaked in the last runs; always passes (it judges nothing).
    pub fn run(self, cx: &Context) -> Result<Outcome> {
        let file = history::path(&cx.root);
        let shown = crate::output::relative(&cx.root, &file);
        let records = history::read(&file)?;
        if records.is_empty() {
            println!("No test runs recorded yet in {shown}: `cargo xtask test` (with cargo-nextest) records each run.");
            return Ok(Outcome::Passed);
        }
        let (flaky, looked) = history::flaky(&records, self.runs as usize);
        let runs = if looked == 1 { "run" } else { "runs" };
        if flaky.is_empty() {
            println!("No test flaked in the last {looked} {runs} ({shown}).");
            return Ok(Outcome::Passed);
        }
        println!("{} flaky in the last {looked} {runs} ({shown}):", count(flaky.len(), "test"));
        for f in &flaky {
            let commit: String = f.last_commit.chars().take(12).collect();
            println!(
                "  {}  flaked in {} of {} runs ({:.0}%), last at {commit}",
                f.test.bold(),
                f.flaked,
                f.runs,
                f.rate()
            );
            for line in &f.output {
                println!("      | {line}");
            }
        }
        Ok(Outcome::Passed)
    }
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// One nextest run being recorded: its extra arguments, then [`Recording::finish`].
pub struct Recording {
    /// Read before the run, so that a problem with it stops the gate before the tests run.
    quarantine: Quarantine,
    junit: PathBuf,
    config: PathBuf,
    retries: u32,
    run: String,
}

impl Recording {
    /// Reads the quarantine file, writes the tool config that asks nextest for the JUnit report
    /// (under the profile the run uses: `NEXTEST_PROFILE`, else `default`) and removes the last
    /// run's report.
    pub fn prepare(cx: &Context) -> Result<Recording> {
        let quarantine_file = cx.root.join(&cx.settings.test.quarantine);
        let shown = crate::output::relative(&cx.root, &quarantine_file);
        let quarantine = Quarantine::load(&quarantine_file, &shown)?;
        let dir = crate::target_dir(&cx.root).join("xtask-tests");
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let junit = dir.join("junit.xml");
        let config = dir.join("nextest-tool.toml");
        write_junit_config(
            &config,
            &junit,
            "Written by `cargo xtask test` and `cargo xtask coverage` for each run: nextest's JUnit report,\n\
             # which records flaky tests (gates/flaky/). The workspace's .config/nextest.toml wins over it.",
            "store-failure-output = true\n",
        )?;
        match std::fs::remove_file(&junit) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot remove the last run's {}", junit.display()));
            }
            _ => {}
        }
        let started = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let retries = cx.settings.test.retries(cx.out.ci);
        Ok(Recording { quarantine, junit, config, retries, run: format!("{started}-{}", std::process::id()) })
    }

    /// nextest's arguments: the retries and the tool config.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--retries".into(),
            self.retries.to_string(),
            "--tool-config-file".into(),
            format!("xtask:{}", self.config.display()),
        ]
    }

    /// Reads the run's report, prints its flaky tests, writes them to the step summary and as
    /// annotations, appends the run to the history, and says whether the flakes fail the gate:
    /// a flaky test not in quarantine (or whose entry expired) fails it in CI and is a warning
    /// elsewhere; an expired entry's flake fails it everywhere.
    pub fn finish(self, cx: &Context) -> Result<Outcome> {
        let xml = match std::fs::read(&self.junit) {
            Ok(x) => x,
            Err(_) => {
                eprintln!(
                    "note: nextest wrote no JUnit report (a build failure, or a junit path set in \
                     .config/nextest.toml), so this run's flaky tests are not recorded"
                );
                return Ok(Outcome::Passed);
            }
        };
        let cases = junit::parse(&xml).map_err(|e| {
            anyhow::anyhow!("nextest's JUnit report {} cannot be read: {}", self.junit.display(), e.message)
        })?;
        let verdicts = judge(&cases, &self.quarantine, crate::security::today(), cx.out.ci);
        report(cx, &verdicts, &self.quarantine)?;
        let commit = crate::repo::head(&cx.root);
        let records: Vec<history::Record> = cases.iter().filter_map(|c| record(&self.run, &commit, c)).collect();
        let file = history::path(&cx.root);
        if let Err(e) = history::append(&file, &records) {
            eprintln!("warning: the test history was not updated: {e:#}");
        }
        Ok(if verdicts.iter().any(|v| v.fails) { Outcome::Failed } else { Outcome::Passed })
    }
}

/// Writes a nextest tool config (given as `--tool-config-file xtask:CONFIG`) that asks for a
/// JUnit report at `junit` under the profile the run uses (`NEXTEST_PROFILE`, else `default`),
/// leaving the workspace's `.config/nextest.toml` alone. `comment` heads the file; `more` adds
/// keys to the junit table.
pub fn write_junit_config(config: &Path, junit: &Path, comment: &str, more: &str) -> Result<()> {
    let profile = std::env::var("NEXTEST_PROFILE").ok().filter(|p| !p.is_empty()).unwrap_or("default".into());
    let text =
        format!("# {comment}\n[profile.{profile}.junit]\npath = {}\n{more}", toml_string(&junit.to_string_lossy()));
    std::fs::write(config, text).with_context(|| format!("cannot write {}", config.display()))
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn record(run: &str, commit: &str, c: &TestCase) -> Option<history::Record> {
    let outcome = match c.status {
        Status::Passed => history::Outcome::Pass,
        Status::Failed => history::Outcome::Fail,
        Status::Flaky => history::Outcome::Flaky,
        Status::Skipped => return None,
    };
    Some(history::Record {
        run: run.to_owned(),
        commit: commit.to_owned(),
        test: c.id(),
        outcome,
        ms: (c.time * 1000.0).round() as u64,
        output: first_lines(c),
    })
}

/// The first lines of a test's first failing attempt, without a backtrace (`RUST_BACKTRACE`),
/// whose frames are the test harness's and would crowd out what the test printed.
fn first_lines(c: &TestCase) -> Vec<String> {
    let Some(attempt) = &c.first_failure else { return Vec::new() };
    let mut lines = Vec::new();
    let mut in_backtrace = false;
    for line in attempt.output.lines() {
        if line.starts_with("stack backtrace:") {
            in_backtrace = true;
        } else if in_backtrace && !line.starts_with(' ') {
            in_backtrace = false;
            if line.starts_with("note: Some details are omitted") {
                continue;
            }
        }
        if !in_backtrace && !line.trim().is_empty() && !harness_line(line, &c.name) {
            lines.push(line.to_owned());
        }
        if lines.len() == history::OUTPUT_LINES {
            break;
        }
    }
    lines
}

/// A line the test harness prints around a failing test, not the test: `running 1 test`,
/// `test NAME ... FAILED`, `failures:`, the test's name under it, `test result: …`.
fn harness_line(line: &str, name: &str) -> bool {
    let trimmed = line.trim();
    (line.starts_with("running ") && (trimmed.ends_with(" test") || trimmed.ends_with(" tests")))
        || (line.starts_with("test ") && trimmed.ends_with(" ... FAILED"))
        || trimmed == "failures:"
        || (line.starts_with("    ") && trimmed == name)
        || line.starts_with("test result: ")
}

/// How a flaky test stands.
#[derive(Clone, Debug)]
pub struct Verdict<'a> {
    pub case: &'a TestCase,
    /// The quarantine entry that names it, if any.
    pub entry: Option<&'a Entry>,
    /// Its entry's date has passed.
    pub expired: bool,
    /// It fails the gate.
    pub fails: bool,
}

/// Each flaky test with its quarantine entry and whether it fails the gate.
pub fn judge<'a>(cases: &'a [TestCase], quarantine: &'a Quarantine, today: Date, ci: bool) -> Vec<Verdict<'a>> {
    cases
        .iter()
        .filter(|c| c.status == Status::Flaky)
        .map(|case| {
            let entry = quarantine.entry_for(&case.id());
            let expired = entry.is_some_and(|e| e.expired(today));
            let fails = match entry {
                Some(_) if expired => true,
                Some(_) => false,
                None => ci,
            };
            Verdict { case, entry, expired, fails }
        })
        .collect()
}

/// Prints the flaky tests and the unused quarantine entries; the step summary and annotations.
fn report(cx: &Context, verdicts: &[Verdict<'_>], quarantine: &Quarantine) -> Result<()> {
    let mut summary = String::new();
    if !verdicts.is_empty() {
        eprintln!("{}", format!("Flaky tests: {}", count(verdicts.len(), "test")).yellow().bold());
        summary.push_str(
            "### Flaky tests\n\n| Test | Failed attempts | Status | First failing lines |\n| --- | --- | --- | --- |\n",
        );
    }
    for v in verdicts {
        let id = v.case.id();
        let status = match (v.entry, v.expired) {
            (Some(e), false) => {
                format!("quarantined until {} ({}:{}): {}", e.expires, quarantine.path, e.line, e.reason)
            }
            (Some(e), true) => format!(
                "its quarantine expired on {} ({}:{}): fix the test, or quarantine it again with a new date",
                e.expires, quarantine.path, e.line
            ),
            (None, _) if v.fails => format!(
                "NEW flaky test: fails the gate in CI. Fix it, or quarantine it in {} with a reason and an expiry",
                quarantine.path
            ),
            (None, _) => format!(
                "new flaky test (a warning here; it fails the gate in CI): fix it, or quarantine it in {}",
                quarantine.path
            ),
        };
        let site = v.case.panic_site().filter(|(file, _)| cx.root.join(file).is_file());
        let at = site.as_ref().map(|(f, l)| format!(" at {f}:{l}")).unwrap_or_default();
        let tries = v.case.failed_attempts;
        eprintln!("  {} {}: failed {} then passed{at}", "FLAKY".yellow().bold(), id.bold(), count(tries, "attempt"));
        eprintln!("      {status}");
        let lines = first_lines(v.case);
        for line in &lines {
            eprintln!("      | {line}");
        }
        let shown = lines.iter().map(|l| l.replace('|', "\\|")).collect::<Vec<_>>().join("<br>");
        summary.push_str(&format!("| `{id}` | {tries} | {} | {shown} |\n", status.replace('|', "\\|")));
        let message = format!("{id} failed {}, then passed: {status}\n{}", count(tries, "attempt"), lines.join("\n"));
        let level = if v.fails { Level::Error } else { Level::Warning };
        let at = site.as_ref().map(|(file, line)| At { file, line: Some(*line), end_line: None, col: None });
        cx.out.annotate(level, at, "Flaky test", &message);
    }
    let today = crate::security::today();
    for e in &quarantine.entries {
        if verdicts.iter().any(|v| v.entry == Some(e)) {
            continue;
        }
        let why = if e.expired(today) { format!("expired on {}", e.expires) } else { format!("until {}", e.expires) };
        eprintln!(
            "note: {}:{}: the quarantine of {} ({why}) matched no flaky test in this run: unused; remove it once the \
             test is fixed",
            quarantine.path, e.line, e.test
        );
    }
    if !summary.is_empty() {
        cx.out.step_summary(&summary)?;
    }
    Ok(())
}

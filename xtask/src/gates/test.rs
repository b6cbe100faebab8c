//! `cargo xtask test`: every test in the workspace, with cargo-nextest when it is installed
//! (else `cargo test`), and PostgreSQL and the other compose services provided for the run
//! when the suite needs them (`db/`).

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::flaky::Recording;
use crate::cache::{self, Answer, Inputs, Ran};
use crate::db;
use crate::images::ImageBuild;
use crate::impact::{self, select::Plan};
use crate::output::Level;
use crate::test_run::{self, Partition, parse_partition, test_inputs};
use crate::tools::{self, Provided, Tool, WhenMissing};
use crate::{Context, Outcome, interrupt};

/// Flags of `cargo xtask test` (its help text is on the subcommand in main.rs).
#[derive(Debug, Default, clap::Args)]
pub struct TestArgs {
    /// Run only part M of N (nextest's `--partition count:M/N`), e.g. one job of a CI matrix
    #[arg(long, value_name = "M/N", value_parser = parse_partition)]
    pub partition: Option<Partition>,
    /// Provide PostgreSQL for this run even when `database = false` in Cargo.toml
    #[arg(long, overrides_with = "no_database")]
    pub database: bool,
    /// Do not provide PostgreSQL for this run, even when `database = true`
    #[arg(long, overrides_with = "database")]
    pub no_database: bool,
    /// Run only the tests the change can affect, told by the per-test map of the last full
    /// coverage run: the change since that run, plus what changed since the merge base with
    /// BASE when given. Without a usable map, everything runs (and says why)
    #[arg(long, value_name = "BASE", num_args = 0..=1, default_missing_value = "",
          conflicts_with = "partition")]
    pub changed: Option<String>,
    /// Do not install the suite's missing tools (`tools` in Cargo.toml); fail instead
    #[arg(long)]
    pub no_install: bool,
    /// Extra arguments for the test runner: a filter, `--no-fail-fast`, `-- --nocapture`, …
    #[arg(last = true, value_name = "TEST_ARGS")]
    pub extra: Vec<String>,
}

impl TestArgs {
    /// The gate, answered from the verdict cache when it can be (cache.rs).
    pub fn run(self, cx: &Context) -> Result<Outcome> {
        let answer = self.answer(cx);
        interrupt::exit_if_received();
        Ok(answer?.outcome)
    }

    /// [`TestArgs::run`], saying whether the cache answered; the caller ends the process when
    /// a signal arrived (`interrupt::exit_if_received`), once the output is no longer captured.
    pub fn answer(self, cx: &Context) -> Result<Answer> {
        let inputs = self.cache_inputs();
        cache::through(cx, inputs, || Ok(Ran::from(self.run_inner(cx)?)))
    }

    /// What the verdict depends on besides what every gate reads: the database's source, and
    /// whether a Docker engine answers (the tests on the engine skip themselves without one).
    /// `None` with `--partition`: one part of a split is never cached.
    pub fn cache_inputs(&self) -> Option<Inputs> {
        if self.partition.is_some() {
            return None;
        }
        Some(test_inputs(Inputs::new("test", self)))
    }

    fn run_inner(&self, cx: &Context) -> Result<Outcome> {
        // A whole run builds the stack's images first, beside the rest (images.rs).
        let images = (self.changed.is_none() && self.partition.is_none() && self.extra.is_empty())
            .then(|| ImageBuild::start(cx))
            .flatten();
        // Optional: never installed on the fly; `cargo test` runs the suite without it.
        let nextest = tools::provide(cx, &[Tool::CargoNextest], false, WhenMissing::Report)?
            .iter()
            .all(|(_, p)| *p == Provided::Ready);
        if !nextest {
            if self.partition.is_some() {
                bail!(
                    "--partition needs cargo-nextest, which is not installed; install it with `{}`",
                    Tool::CargoNextest.install_command()
                );
            }
            eprintln!(
                "note: cargo-nextest is not installed, so the tests run with `cargo test` (nextest is faster and can \
                 split the suite: `{}`)",
                Tool::CargoNextest.install_command()
            );
        }
        let tool_env = tools::for_tests(cx, !self.no_install)?;
        let wants_db = (cx.settings.test.database || self.database) && !self.no_database;
        let selection = match &self.changed {
            Some(base) => {
                if !nextest {
                    bail!(
                        "--changed runs single tests with cargo-nextest, which is not installed; install it with `{}`",
                        Tool::CargoNextest.install_command()
                    );
                }
                let extra = if base.is_empty() { Vec::new() } else { changed_since(cx, base)? };
                let decision = impact::decide(cx, &extra)?;
                impact::explain(&decision);
                match decision.plan {
                    Plan::Selected(s) => decision.map.map(|m| (m, s)),
                    Plan::Everything(_) => None,
                }
            }
            None => None,
        };
        let exclusions = test_run::exclusions(cx);
        let mut runs = vec![self.main_run(nextest, &exclusions)];
        // nextest retries a failing test and reports, in JUnit, one that passed on a retry:
        // flaky, recorded and judged against the quarantine (flaky/).
        let recording = if nextest { Some(Recording::prepare(cx)?) } else { None };
        if let Some(r) = &recording {
            runs[0].extend(r.args());
        }
        if let Some((map, s)) = &selection {
            runs[0].push("--no-tests=pass".into());
            runs[0].extend(s.nextest_args(map));
        }
        // nextest does not run doctests: run them once (in the first part of a partitioned
        // suite), unless a filter or other arguments select particular tests. A selection runs
        // those of the packages whose Rust code changed.
        match &selection {
            Some((_, s)) => {
                let packages = impact::packages_with_rust_changes(cx, &s.changes)?;
                if !packages.is_empty() {
                    let mut doc = vec!["test".to_owned(), "--doc".to_owned()];
                    for p in packages {
                        doc.push("-p".to_owned());
                        doc.push(p);
                    }
                    runs.push(doc);
                }
            }
            None if nextest && self.extra.is_empty() && self.partition.is_none_or(|p| p.index == 1) => {
                let mut doc: Vec<String> = vec!["test".into(), "--workspace".into(), "--doc".into()];
                doc.extend(exclusions.iter().cloned());
                runs.push(doc);
            }
            None => {}
        }
        // A selection of no test runs none: no database or services for it.
        let runs_tests = !selection.as_ref().is_some_and(|(_, s)| s.is_empty());
        let wanted = db::Wanted { database: wants_db && runs_tests, services: runs_tests };
        if let Some(images) = images {
            images.wait(cx);
        }
        let outcome = db::with_test_services(cx, wanted, |env| run_all(cx, &runs, env, &tool_env, recording))?;
        match outcome {
            Outcome::Passed => eprintln!("Tests: passed"),
            Outcome::Failed => {
                eprintln!("{}", colored::Colorize::bold(colored::Colorize::red("Tests: FAILED")));
                cx.out.annotate(Level::Error, None, "Test gate", "the tests failed");
            }
        }
        Ok(outcome)
    }

    /// `nextest run --workspace [--exclude P…] [--partition count:M/N] …` or `test --workspace …`.
    fn main_run(&self, nextest: bool, exclusions: &[String]) -> Vec<String> {
        let mut args: Vec<String> = if nextest {
            vec!["nextest".into(), "run".into(), "--workspace".into()]
        } else {
            vec!["test".into(), "--workspace".into()]
        };
        args.extend(exclusions.iter().cloned());
        if let Some(p) = self.partition {
            args.push("--partition".into());
            args.push(format!("count:{p}"));
        }
        args.extend(self.extra.iter().cloned());
        args
    }
}

/// The files changed since the merge base of `base` and HEAD (committed, staged, unstaged).
fn changed_since(cx: &Context, base: &str) -> Result<Vec<String>> {
    let change = crate::change::read(cx, &cx.root, base)?;
    Ok(change.lines.files().map(|(path, _)| path.to_owned()).collect())
}

/// Runs each cargo command in turn, stopping at the first that fails; each gets the services'
/// variables. The first is nextest's run when `recording`: its flaky tests are reported after
/// it, and fail the gate when they must (flaky/).
fn run_all(
    cx: &Context,
    runs: &[Vec<String>],
    env: &db::TestEnv,
    tool_env: &[(String, PathBuf)],
    mut recording: Option<Recording>,
) -> Result<Outcome> {
    for args in runs {
        let cmd = cx.cargo().args(args).envs(tool_env.iter().map(|(k, v)| (k, v))).envs(env.vars());
        eprintln!("$ cargo {}", args.join(" "));
        let status = interrupt::run(cmd)?;
        interrupt::check()?;
        let flakes = match recording.take() {
            Some(r) => r.finish(cx)?,
            None => Outcome::Passed,
        };
        if !status.success() || flakes == Outcome::Failed {
            return Ok(Outcome::Failed);
        }
    }
    Ok(Outcome::Passed)
}

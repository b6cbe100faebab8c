//! Running the mutants in the copy: the baseline (every chosen test, unmutated: they must
//! pass, and their times set each mutant's timeout), then each mutant in turn: built (a build
//! that fails is unviable), then its tests run within the timeout (a failing test caught it;
//! all passing missed it; still running at the timeout, it is a timeout).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use super::list::Mutant;
use super::plan::TestSet;
use super::scratch::Scratch;
use crate::gates::flaky::junit::{self, Status};
use crate::impact::map::Map;
use crate::process::Cmd;
use crate::{Context, interrupt};

/// What became of a mutant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// A test failed: the tests notice this change.
    Caught,
    /// Every test passed: no test notices.
    Missed,
    /// The tests ran past the timeout (counted apart, never as caught).
    Timeout,
    /// It does not build (counted apart).
    Unviable,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Caught => "caught",
            Verdict::Missed => "missed",
            Verdict::Timeout => "timeout",
            Verdict::Unviable => "unviable",
        }
    }
}

/// One mutant, tried.
#[derive(Clone, Debug)]
pub struct Tried {
    pub mutant: Mutant,
    pub verdict: Verdict,
    /// What ran: "2 tests", "the tests of app".
    pub tests: String,
    /// Seconds, build and tests.
    pub seconds: f64,
    /// When its verdict was found, for one remembered from an earlier run (memory.rs).
    pub remembered: Option<u64>,
}

/// Tests the baseline ran in less than this many seconds run first, in a stage of their own.
pub const QUICK: f64 = 1.0;

/// How a run goes: the copy, the tests' environment, the workspace's exclusions.
pub struct Runner<'a> {
    pub cx: &'a Context,
    pub scratch: &'a Scratch,
    pub map: Option<&'a Map>,
    pub env: Vec<(String, String)>,
    pub exclusions: Vec<String>,
}

/// The baseline's result: each test's time, to set the timeouts.
pub struct Baseline {
    times: BTreeMap<(String, String), f64>,
    /// The whole test run's wall time: the timeout's base for a set the times cannot add up.
    wall: f64,
}

impl Runner<'_> {
    /// `cargo nextest run` in the copy, with the tests' environment.
    ///
    /// Incrementally compiled, whatever the profile says (unless `CARGO_INCREMENTAL` is set):
    /// every build in the copy but its first is a rebuild after a one-line change, which
    /// incremental compilation makes about twice as fast (docs/benchmarks.md). A profile
    /// turns it off for cold builds, like this workspace's xtask; the copy has its own target.
    fn nextest(&self, set: &TestSet, run: bool) -> Cmd {
        let mut cmd = self
            .cx
            .cargo()
            .current_dir(&self.scratch.tree)
            .args(["nextest", "run"])
            .args(set.build_args(self.map, &self.exclusions))
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        if std::env::var_os("CARGO_INCREMENTAL").is_none() {
            cmd = cmd.env("CARGO_INCREMENTAL", "1");
        }
        if run {
            cmd = cmd.args(["--retries", "0", "--no-tests=fail"]).args(set.filter_args(self.map));
        } else {
            cmd = cmd.arg("--no-run");
        }
        cmd
    }

    /// Builds and runs every chosen test unmutated; an error when one fails, naming it.
    pub fn baseline(&self, union: &TestSet) -> Result<Baseline> {
        let build = interrupt::output(self.nextest(union, false))?;
        interrupt::check()?;
        if !build.status.success() {
            bail!(
                "the copy of the checkout does not build its tests unmutated (in {}):\n{}",
                crate::output::relative(&self.cx.root, &self.scratch.tree),
                crate::process::last_lines(crate::process::text(&build).trim(), 20)
            );
        }
        let junit = self.scratch.home.join("baseline-junit.xml");
        let config = self.scratch.home.join("nextest-tool.toml");
        let comment = "Written by `cargo xtask mutants`: the baseline's JUnit report (each test's time).";
        crate::gates::flaky::write_junit_config(&config, &junit, comment, "")?;
        let _ = std::fs::remove_file(&junit);
        let started = Instant::now();
        let cmd = self
            .nextest(union, true)
            .args(["--no-fail-fast", "--tool-config-file"])
            .arg(format!("xtask:{}", config.display()));
        let out = interrupt::output(cmd)?;
        interrupt::check()?;
        let wall = started.elapsed().as_secs_f64();
        let cases = std::fs::read(&junit).ok().and_then(|x| junit::parse(&x).ok()).unwrap_or_default();
        let failed: Vec<String> = cases.iter().filter(|c| c.status == Status::Failed).map(|c| c.id()).collect();
        if !out.status.success() {
            let which = if failed.is_empty() {
                crate::process::last_lines(crate::process::text(&out).trim(), 20)
            } else {
                failed.iter().map(|t| format!("  {t}")).collect::<Vec<_>>().join("\n")
            };
            bail!(
                "the tests fail without any mutant in the copy of the checkout ({}), so no mutant can be judged:\n\
                 {which}",
                crate::output::relative(&self.cx.root, &self.scratch.tree)
            );
        }
        let times = cases.into_iter().map(|c| ((c.binary, c.name), c.time)).collect();
        Ok(Baseline { times, wall })
    }

    /// How long a mutant's tests may run: the settings' multiple of what they took unmutated.
    fn timeout(&self, baseline: &Baseline, set: &TestSet) -> Duration {
        let s = &self.cx.settings.mutants;
        let base = match self.map {
            Some(map) if set.filters.is_empty() && set.packages.is_empty() => set
                .tests
                .iter()
                .filter_map(|&t| map.tests.get(t))
                .map(|e| {
                    baseline.times.get(&(e.id.binary.clone(), e.id.name.clone())).copied().unwrap_or(baseline.wall)
                })
                .sum::<f64>()
                .min(baseline.wall),
            _ => baseline.wall,
        };
        let secs = (base * f64::from(s.timeout_multiplier)).max(s.minimum_timeout as f64);
        Duration::from_secs_f64(secs)
    }

    /// Builds and tests one mutant in the copy, stage by stage ([`stages`]).
    pub fn try_one(&self, baseline: &Baseline, mutant: &Mutant, set: &TestSet) -> Result<Tried> {
        let started = Instant::now();
        let applied = self.scratch.apply(mutant)?;
        let mut verdict = Verdict::Missed;
        for stage in stages(self.map, baseline, set) {
            let build = interrupt::output(self.nextest(&stage, false))?;
            interrupt::check()?;
            if !build.status.success() {
                verdict = Verdict::Unviable;
                break;
            }
            let log = self.scratch.last_log();
            match timed(self.nextest(&stage, true), self.timeout(baseline, &stage), &log)? {
                None => verdict = Verdict::Timeout,
                Some(0) => continue,
                // nextest: 4 when no test ran (a selection that names none is the xtask's mistake).
                Some(4) => {
                    bail!("{}: no test ran (`{}`); see {}", mutant.title(), self.nextest(&stage, true), log.display())
                }
                Some(_) => verdict = Verdict::Caught,
            }
            break;
        }
        drop(applied);
        Ok(Tried {
            mutant: mutant.clone(),
            verdict,
            tests: set.brief(),
            seconds: started.elapsed().as_secs_f64(),
            remembered: None,
        })
    }
}

/// The stages a mutant's tests run in: first those the baseline ran in under [`QUICK`]
/// seconds, then the others (and any filterset or whole package). A stage that fails catches
/// the mutant, so the slow tests run only for a mutant the quick ones miss; each stage builds
/// only its own test binaries. One stage when the split leaves either empty.
fn stages(map: Option<&Map>, baseline: &Baseline, set: &TestSet) -> Vec<TestSet> {
    let Some(map) = map else { return vec![set.clone()] };
    let quick_one = |t: &usize| {
        (map.tests.get(*t))
            .and_then(|e| baseline.times.get(&(e.id.binary.clone(), e.id.name.clone())))
            .is_some_and(|&secs| secs < QUICK)
    };
    let (quick, slow): (BTreeSet<usize>, BTreeSet<usize>) = set.tests.iter().partition(|t| quick_one(t));
    let rest = TestSet { tests: slow, ..set.clone() };
    if quick.is_empty() || rest.is_empty() {
        return vec![set.clone()];
    }
    vec![TestSet { tests: quick, ..TestSet::default() }, rest]
}

/// Runs `cmd` with its output to `log` until it exits (its exit code; a death by a signal is
/// 128 + the signal) or `timeout` passes (`None`, said at the end of the log).
fn timed(cmd: Cmd, timeout: Duration, log: &Path) -> Result<Option<i32>> {
    use std::os::unix::process::ExitStatusExt as _;
    let file = std::fs::File::create(log).with_context(|| format!("cannot write {}", log.display()))?;
    let err = file.try_clone().with_context(|| format!("cannot write {}", log.display()))?;
    let status = interrupt::status_within(cmd.stdin(Stdio::null()).stdout(file).stderr(err), timeout)?;
    match status {
        Some(status) => Ok(Some(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))),
        None => {
            let mut f = std::fs::OpenOptions::new().append(true).open(log)?;
            let _ = writeln!(f, "\n(cargo xtask mutants: stopped after {} s)", timeout.as_secs());
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impact::map::{FORMAT, TestEntry, TestId};

    #[test]
    fn the_quick_tests_run_first_and_the_slow_ones_only_when_they_all_pass() {
        let ids = [("a", "unit"), ("a::it", "slow"), ("b::it", "quick"), ("b::it", "gone")];
        let map = Map {
            format: FORMAT,
            validity: Default::default(),
            recorded: 0,
            commit: "abc".into(),
            tree: Default::default(),
            rust: Default::default(),
            tests: (ids.iter())
                .map(|(b, n)| TestEntry { id: TestId { binary: b.to_string(), name: n.to_string() }, passed: true })
                .collect(),
            files: Default::default(),
            unattributed: 0,
        };
        let times = [(("a", "unit"), 0.01), (("a::it", "slow"), 12.0), (("b::it", "quick"), 0.9)];
        let baseline = Baseline {
            times: times.iter().map(|((b, n), t)| ((b.to_string(), n.to_string()), *t)).collect(),
            wall: 13.0,
        };
        let set = |tests: &[usize]| TestSet { tests: tests.iter().copied().collect(), ..TestSet::default() };
        let split = stages(Some(&map), &baseline, &set(&[0, 1, 2, 3]));
        // A test the baseline did not time goes with the slow ones.
        assert_eq!(split, [set(&[0, 2]), set(&[1, 3])]);
        // The filtersets and packages go with the slow stage.
        let wide = TestSet { filters: ["package(=b)".into()].into(), ..set(&[0, 1]) };
        let split = stages(Some(&map), &baseline, &wide);
        assert_eq!(split, [set(&[0]), TestSet { filters: ["package(=b)".into()].into(), ..set(&[1]) }]);
        // One stage when either side is empty, or without a map.
        assert_eq!(stages(Some(&map), &baseline, &set(&[0, 2])), [set(&[0, 2])]);
        assert_eq!(stages(Some(&map), &baseline, &set(&[1])), [set(&[1])]);
        let quick_and_package = TestSet { packages: ["a".into()].into(), ..set(&[0]) };
        let split = stages(Some(&map), &baseline, &quick_and_package);
        assert_eq!(split, [set(&[0]), TestSet { packages: ["a".into()].into(), ..TestSet::default() }]);
        assert_eq!(stages(None, &baseline, &set(&[0, 1])), [set(&[0, 1])]);
    }
}

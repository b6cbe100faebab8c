//! The record of every test run: `target/xtask-tests/history.jsonl` (under `CARGO_TARGET_DIR`
//! when set), one JSON line a test a run, the oldest first. Bounded: it keeps the last
//! [`KEEP_RUNS`] runs, rewritten atomically when an append would go past that.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};

/// How many runs the file keeps.
pub const KEEP_RUNS: usize = 50;
/// How many lines of a failing attempt's output a record keeps.
pub const OUTPUT_LINES: usize = 12;

/// The history file of the workspace at `root`.
pub fn path(root: &Path) -> PathBuf {
    crate::target_dir(root).join("xtask-tests").join("history.jsonl")
}

/// One test in one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The run: its start (seconds since the epoch) and the process id.
    pub run: String,
    /// The commit checked out (`unknown` outside git).
    pub commit: String,
    /// `binary::test`.
    pub test: String,
    pub outcome: Outcome,
    /// How long its last attempt took, in milliseconds.
    pub ms: u64,
    /// The first lines of its first failing attempt's output (a flaky or failed test).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Flaky,
}

/// The records in the file, oldest first; a missing file has none, and a line that is not a
/// record (a torn write, an older format) is skipped.
pub fn read(file: &Path) -> Result<Vec<Record>> {
    crate::jsonl::read(file)
}

/// Adds one run's records: appended, or, when the file would then hold more than
/// [`KEEP_RUNS`] runs, the file rewritten (atomically) with the last runs only.
pub fn append(file: &Path, records: &[Record]) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    // A run's records are appended together, the oldest runs' first: the surplus is everything
    // before the oldest kept run's first record (none while every run is kept; `all` is never
    // empty here, so neither is `runs`).
    crate::jsonl::append(file, records.to_vec(), |all| {
        let runs = run_order(all);
        let oldest_kept = &runs[runs.len().saturating_sub(KEEP_RUNS)];
        all.iter().position(|r| &r.run == oldest_kept).unwrap_or(0)
    })
    .map(drop)
}

/// The runs, in the order they first appear.
fn run_order(records: &[Record]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    records.iter().filter(|r| seen.insert(r.run.as_str())).map(|r| r.run.clone()).collect()
}

/// A test that flaked in the runs looked at.
#[derive(Clone, Debug, PartialEq)]
pub struct Flaky {
    pub test: String,
    /// Runs it took part in, and flaked in.
    pub runs: usize,
    pub flaked: usize,
    /// The commit of the last run it flaked in, and that attempt's first lines.
    pub last_commit: String,
    pub output: Vec<String>,
}

impl Flaky {
    /// Flakes per run, in percent.
    pub fn rate(&self) -> f64 {
        100.0 * self.flaked as f64 / self.runs.max(1) as f64
    }
}

/// The tests that flaked in the last `runs` runs, the highest rate first; and how many runs
/// there were to look at.
pub fn flaky(records: &[Record], runs: usize) -> (Vec<Flaky>, usize) {
    let order = run_order(records);
    let looked: std::collections::HashSet<&str> =
        order[order.len().saturating_sub(runs)..].iter().map(|r| r.as_str()).collect();
    let mut by_test: BTreeMap<&str, Flaky> = BTreeMap::new();
    for r in records.iter().filter(|r| looked.contains(r.run.as_str())) {
        let f = by_test.entry(&r.test).or_insert_with(|| Flaky {
            test: r.test.clone(),
            runs: 0,
            flaked: 0,
            last_commit: String::new(),
            output: Vec::new(),
        });
        f.runs += 1;
        if r.outcome == Outcome::Flaky {
            f.flaked += 1;
            f.last_commit = r.commit.clone();
            f.output = r.output.clone();
        }
    }
    let mut flaky: Vec<Flaky> = by_test.into_values().filter(|f| f.flaked > 0).collect();
    flaky.sort_by(|a, b| b.rate().total_cmp(&a.rate()).then(a.test.cmp(&b.test)));
    (flaky, looked.len())
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn record(run: usize, test: &str, outcome: Outcome) -> Record {
        Record {
            run: format!("r{run}"),
            commit: format!("c{run}"),
            test: test.into(),
            outcome,
            ms: 3,
            output: if outcome == Outcome::Pass { vec![] } else { vec![format!("boom {run}")] },
        }
    }

    #[test]
    fn appends_then_keeps_the_last_runs_and_counts_flakes() {
        let dir = std::env::temp_dir().join(format!("xtask-history-{}", std::process::id()));
        let file = dir.join("h.jsonl");
        let _ = std::fs::remove_dir_all(&dir);
        for run in 0..KEEP_RUNS + 5 {
            let outcome = if run % 10 == 0 { Outcome::Flaky } else { Outcome::Pass };
            append(&file, &[record(run, "a::x", outcome), record(run, "a::y", Outcome::Pass)]).unwrap();
        }
        let records = read(&file).unwrap();
        assert_eq!(records.len(), 2 * KEEP_RUNS);
        assert_eq!(records[0].run, "r5");
        let (flaky, looked) = flaky(&records, 20);
        assert_eq!(looked, 20);
        // Runs 35..55: 40 and 50 flaked.
        assert_eq!(flaky.len(), 1);
        assert_eq!((flaky[0].test.as_str(), flaky[0].runs, flaky[0].flaked), ("a::x", 20, 2));
        assert_eq!((flaky[0].last_commit.as_str(), flaky[0].output.clone()), ("c50", vec!["boom 50".to_owned()]));
        assert!((flaky[0].rate() - 10.0).abs() < 1e-9);
        // A torn line is skipped.
        std::fs::OpenOptions::new().append(true).open(&file).unwrap().write_all(b"{\"run\":").unwrap();
        assert_eq!(read(&file).unwrap().len(), 2 * KEEP_RUNS);
        append(&file, &[record(99, "a::z", Outcome::Fail)]).unwrap();
        let records = read(&file).unwrap();
        assert_eq!((records.len(), records.last().unwrap().test.as_str()), (2 * KEEP_RUNS - 1, "a::z"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! The coverage history: `history.jsonl` in the trend folder (the `trend` setting,
//! `target/coverage` by default), one JSON line a graded run, the oldest first: the commit, the
//! date, the lines (and the branches, when the run counted them) and each per-path gate's
//! figure. Bounded: it keeps the last `history-runs` runs, rewritten atomically when an append
//! would go past that. Under GitHub Actions only a run on the default branch adds to it.

use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::coverage::cobertura::Counts;
use crate::coverage::grade::floor_hundredths;
use crate::settings::Metric;

/// The history's file name in the trend folder.
pub const FILE: &str = "history.jsonl";

/// One graded run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The commit checked out (`unknown` outside git).
    pub commit: String,
    /// When it was graded, in UTC: `2025-06-01T12:34:56Z`.
    pub date: String,
    /// What the gate counted: `lines` or `branches`.
    pub metric: String,
    pub lines: Option<Figure>,
    /// Only when the run counted branches (`--metric branches`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branches: Option<Figure>,
    /// The per-path gates' figures, in the gate's metric.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<PathFigure>,
}

/// Covered of valid, and the percentage as the gate shows it (rounded down, two decimals).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub covered: u64,
    pub valid: u64,
    pub percent: f64,
}

impl Figure {
    pub fn of(c: Counts) -> Figure {
        Figure { covered: c.covered, valid: c.valid, percent: floor_hundredths(c) as f64 / 100.0 }
    }

    pub fn counts(&self) -> Counts {
        Counts { covered: self.covered, valid: self.valid }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathFigure {
    pub glob: String,
    #[serde(flatten)]
    pub figure: Figure,
}

impl Entry {
    /// The figure of `metric`, when the run measured it.
    pub fn counts(&self, metric: Metric) -> Option<Counts> {
        let figure = if metric == Metric::Lines { self.lines } else { self.branches };
        figure.map(|f| f.counts()).filter(|c| c.valid > 0 && c.covered <= c.valid)
    }
}

/// The entries in the file, oldest first; a missing file has none, and a line that is not an
/// entry (a torn write, an older format) is skipped.
pub fn read(file: &Path) -> Result<Vec<Entry>> {
    crate::jsonl::read(file)
}

/// Adds one run: appended, or, when the file would then hold more than `keep` runs (or its last
/// line is torn), the file rewritten atomically with the last `keep` only. Gives the entries
/// the file now holds.
pub fn append(file: &Path, entry: Entry, keep: usize) -> Result<Vec<Entry>> {
    crate::jsonl::append(file, vec![entry], |all| all.len().saturating_sub(keep.max(1)))
}

/// What tells a CI run on the default branch from the others (GitHub Actions' variables).
#[derive(Clone, Debug, Default)]
pub struct Ci {
    /// `GITHUB_ACTIONS=true`.
    pub actions: bool,
    /// `GITHUB_REF`: `refs/heads/main` on a push to main, `refs/pull/7/merge` on a pull request.
    pub git_ref: Option<String>,
    /// The repository's default branch, from the event's payload (`GITHUB_EVENT_PATH`).
    pub default_branch: Option<String>,
}

impl Ci {
    pub fn from_process() -> Ci {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let actions = var("GITHUB_ACTIONS").as_deref() == Some("true");
        let default_branch = actions
            .then(|| crate::output::github_event().ok().flatten())
            .flatten()
            .and_then(|v| v["repository"]["default_branch"].as_str().map(str::to_owned));
        Ci { actions, git_ref: var("GITHUB_REF"), default_branch }
    }

    /// Whether this run adds to the history: every run outside GitHub Actions (the developer's
    /// own record); under Actions, a run on the default branch only (the event's
    /// `repository.default_branch`, else `main`), so that pull requests and other branches
    /// leave main's trend alone. Else why not, in a few words.
    pub fn records(&self) -> Result<(), String> {
        if !self.actions {
            return Ok(());
        }
        let branch = self.default_branch.as_deref().unwrap_or("main");
        match self.git_ref.as_deref() {
            Some(r) if r.strip_prefix("refs/heads/") == Some(branch) => Ok(()),
            Some(r) => Err(format!("under GitHub Actions only runs on {branch} are recorded, and this is {r}")),
            None => Err(format!("under GitHub Actions only runs on {branch} are recorded, and GITHUB_REF is unset")),
        }
    }
}

/// Now in UTC, as an entry's date: `2025-06-01T12:34:56Z`.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let date = crate::security::date::Date::from_days_since_epoch((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!("{date}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn entry(n: u64) -> Entry {
        Entry {
            commit: format!("c{n}"),
            date: "2025-06-01T12:34:56Z".into(),
            metric: "lines".into(),
            lines: Some(Figure::of(Counts { covered: n, valid: 1000 })),
            branches: None,
            paths: vec![PathFigure { glob: "src/**".into(), figure: Figure::of(Counts { covered: 1, valid: 3 }) }],
        }
    }

    #[test]
    fn appends_then_keeps_the_last_runs() {
        let dir = std::env::temp_dir().join(format!("xtask-coverage-history-{}", std::process::id()));
        let file = dir.join(FILE);
        let _ = std::fs::remove_dir_all(&dir);
        for n in 0..7 {
            let kept = append(&file, entry(n), 5).unwrap();
            assert_eq!(kept.len(), (n as usize + 1).min(5));
        }
        let entries = read(&file).unwrap();
        assert_eq!(entries.iter().map(|e| e.commit.as_str()).collect::<Vec<_>>(), ["c2", "c3", "c4", "c5", "c6"]);
        assert_eq!(entries[0], entry(2), "what is written is read back");
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text.lines().count(), 5);
        assert!(
            text.lines().next().unwrap().contains(
                "\"lines\":{\"covered\":2,\"valid\":1000,\"percent\":0.2},\
                 \"paths\":[{\"glob\":\"src/**\",\"covered\":1,\"valid\":3,\"percent\":33.33}]"
            ),
            "{text}"
        );
        // A torn line is skipped, and the next append does not join it.
        std::fs::OpenOptions::new().append(true).open(&file).unwrap().write_all(b"{\"commit\":").unwrap();
        assert_eq!(read(&file).unwrap().len(), 5);
        let kept = append(&file, entry(9), 10).unwrap();
        assert_eq!((kept.len(), read(&file).unwrap().last().unwrap().commit.as_str()), (6, "c9"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_the_default_branch_records_under_actions() {
        let ci = |git_ref: Option<&str>, default: Option<&str>| Ci {
            actions: true,
            git_ref: git_ref.map(str::to_owned),
            default_branch: default.map(str::to_owned),
        };
        assert_eq!(Ci::default().records(), Ok(()), "a local run always records");
        assert_eq!(ci(Some("refs/heads/main"), None).records(), Ok(()));
        assert_eq!(ci(Some("refs/heads/trunk"), Some("trunk")).records(), Ok(()));
        let pr = ci(Some("refs/pull/7/merge"), Some("main")).records().unwrap_err();
        assert_eq!(pr, "under GitHub Actions only runs on main are recorded, and this is refs/pull/7/merge");
        assert!(ci(Some("refs/heads/main"), Some("trunk")).records().is_err());
        assert!(ci(Some("refs/heads/mainline"), None).records().is_err());
        assert!(ci(None, None).records().unwrap_err().contains("GITHUB_REF is unset"));
    }

    #[test]
    fn the_date_is_utc_to_the_second() {
        let now = now_utc();
        assert_eq!(now.len(), "2025-06-01T12:34:56Z".len(), "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
    }
}

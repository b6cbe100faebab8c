//! The per-test coverage map: which lines each test covered in the last full coverage run,
//! with what that run is valid for (the tree it measured, its toolchain, lockfile and
//! settings). Stored as one JSON file, `target/coverage/test-map.json`, written atomically at
//! the end of a full run: a run that is killed leaves the previous map as it was.
//!
//! Lines are kept per file as the inverse table (for each file, each test that covered any of
//! its lines, with those lines as ranges: `"12-14,20"`), which answers both questions asked of
//! it: which tests touch a file (selection) and which tests cover a line (`--why`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

use super::skeleton;
use crate::snapshot::Snapshot;

/// Bumped whenever the file's meaning changes: an older map is then not used.
pub const FORMAT: u32 = 1;

/// Where the map lives, under the target folder.
pub fn path(target: &Path) -> PathBuf {
    target.join("coverage").join("test-map.json")
}

/// What a map is valid for, besides the tree: a map recorded under other values is not used.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validity {
    /// `rustc -vV`.
    pub toolchain: String,
    /// The content id of `Cargo.lock`.
    pub lockfile: String,
    /// A digest of `[workspace.metadata.xtask]`.
    pub settings: String,
    /// The pinned cargo-llvm-cov and cargo-nextest.
    pub tools: String,
}

impl Validity {
    /// Why a map recorded under `self` cannot stand for a run under `now`, if it cannot.
    pub fn mismatch(&self, now: &Validity) -> Option<&'static str> {
        if self.toolchain != now.toolchain {
            Some("the toolchain changed")
        } else if self.lockfile != now.lockfile {
            Some("Cargo.lock changed")
        } else if self.settings != now.settings {
            Some("the [workspace.metadata.xtask] settings changed")
        } else if self.tools != now.tools {
            Some("the pinned cargo-llvm-cov or cargo-nextest changed")
        } else {
            None
        }
    }
}

/// One test of the recorded run.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TestId {
    /// nextest's binary id: `xtask::coverage_run`, `app` (unit tests), `app::bin/app`.
    pub binary: String,
    pub name: String,
}

impl std::fmt::Display for TestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.binary, self.name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestEntry {
    #[serde(flatten)]
    pub id: TestId,
    /// Whether it passed in the recorded run (a failed or unfinished test is always run again).
    pub passed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Map {
    pub format: u32,
    pub validity: Validity,
    /// When the run ended (seconds since the epoch) and the commit it was at (abbreviated).
    pub recorded: u64,
    pub commit: String,
    /// The checkout the run measured.
    pub tree: Snapshot,
    /// The fingerprints of the tree's Rust files (see `skeleton.rs`).
    pub rust: BTreeMap<String, skeleton::Fingerprint>,
    pub tests: Vec<TestEntry>,
    /// Repository path → test (index into `tests`) → the lines it covered, as ranges.
    pub files: BTreeMap<String, BTreeMap<usize, String>>,
    /// Covered lines of the run's report that no test's lines include (a profile the recorder
    /// could not attribute): such a map cannot stand for the tests that do not run.
    #[serde(default)]
    pub unattributed: usize,
}

/// Why a stored map cannot be used.
#[derive(Debug)]
pub enum Unusable {
    Missing,
    /// Unreadable, not JSON, another format, or inconsistent.
    Corrupt(String),
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::Missing => write!(f, "there is no per-test map yet (a full `cargo xtask coverage` records one)"),
            Unusable::Corrupt(why) => write!(f, "the per-test map is unusable ({why}); the next full run replaces it"),
        }
    }
}

impl Map {
    pub fn load(path: &Path) -> Result<Map, Unusable> {
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Unusable::Missing),
            Err(e) => return Err(Unusable::Corrupt(format!("cannot read {}: {e}", path.display()))),
        };
        #[derive(Deserialize)]
        struct Head {
            format: u32,
        }
        let head: Head = serde_json::from_slice(&text).map_err(|e| Unusable::Corrupt(format!("not a map: {e}")))?;
        if head.format != FORMAT {
            return Err(Unusable::Corrupt(format!("format {} where this xtask writes {FORMAT}", head.format)));
        }
        let map: Map = serde_json::from_slice(&text).map_err(|e| Unusable::Corrupt(format!("not a map: {e}")))?;
        map.check().map_err(Unusable::Corrupt)?;
        Ok(map)
    }

    /// Every test index in range, every range readable.
    fn check(&self) -> Result<(), String> {
        for (file, tests) in &self.files {
            for (&t, ranges) in tests {
                if t >= self.tests.len() {
                    return Err(format!("{file}: test #{t} of {}", self.tests.len()));
                }
                parse_ranges(ranges).map_err(|e| format!("{file}: {e}"))?;
            }
        }
        Ok(())
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_vec(self).context("cannot serialise the per-test map")?;
        crate::output::write_atomically(path, |tmp| std::fs::write(tmp, &text).map_err(Into::into))
            .with_context(|| format!("cannot write the per-test map {}", path.display()))
    }

    /// The tests (indices) that covered any line of `file`.
    pub fn tests_touching(&self, file: &str) -> impl Iterator<Item = usize> + '_ {
        self.files.get(file).into_iter().flat_map(|t| t.keys().copied())
    }

    /// The lines `test` covered in `file`.
    pub fn lines(&self, file: &str, test: usize) -> Vec<u32> {
        self.files.get(file).and_then(|t| t.get(&test)).map(|r| parse_ranges(r).unwrap_or_default()).unwrap_or_default()
    }

    /// The tests that covered `line` of `file`, or any line of it (`None`), with how many of its
    /// lines each covered.
    pub fn why(&self, file: &str, line: Option<u32>) -> Vec<(&TestId, usize)> {
        let mut found = Vec::new();
        for (&t, ranges) in self.files.get(file).into_iter().flatten() {
            let lines = parse_ranges(ranges).unwrap_or_default();
            if line.is_none_or(|l| lines.binary_search(&l).is_ok()) {
                found.push((&self.tests[t].id, lines.len()));
            }
        }
        found.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        found
    }
}

/// Sorted, distinct line numbers as `a-b,c` ranges.
pub fn ranges_text(lines: &BTreeSet<u32>) -> String {
    let mut out = String::new();
    let mut iter = lines.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}-{end}"));
        }
    }
    out
}

/// The line numbers of `a-b,c` ranges, sorted.
pub fn parse_ranges(text: &str) -> Result<Vec<u32>, String> {
    let mut lines = Vec::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) else {
            return Err(format!("`{part}` is not a line range"));
        };
        if b < a || b - a > 10_000_000 {
            return Err(format!("`{part}` is not a line range"));
        }
        lines.extend(a..=b);
    }
    lines.sort_unstable();
    lines.dedup();
    Ok(lines)
}

/// `FILE` or `FILE:LINE`, as `--why` takes it.
pub fn parse_why(text: &str) -> Result<(String, Option<u32>)> {
    let text = text.trim();
    if let Some((file, line)) = text.rsplit_once(':')
        && let Ok(line) = line.parse::<u32>()
    {
        if line == 0 {
            bail!("--why {text}: lines are numbered from 1");
        }
        return Ok((file.to_owned(), Some(line)));
    }
    if text.is_empty() {
        bail!("--why needs a file, or FILE:LINE");
    }
    Ok((text.to_owned(), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_round_trip() {
        let lines: BTreeSet<u32> = [1, 2, 3, 5, 8, 9, 20].into_iter().collect();
        assert_eq!(ranges_text(&lines), "1-3,5,8-9,20");
        assert_eq!(parse_ranges("1-3,5,8-9,20").unwrap(), lines.into_iter().collect::<Vec<_>>());
        assert_eq!(ranges_text(&BTreeSet::new()), "");
        for bad in ["x", "3-1", "1-", "-1", "1--2"] {
            assert!(parse_ranges(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn why_arguments() {
        assert_eq!(parse_why("app/src/x.rs:12").unwrap(), ("app/src/x.rs".into(), Some(12)));
        assert_eq!(parse_why("app/src/x.rs").unwrap(), ("app/src/x.rs".into(), None));
        assert!(parse_why("app/src/x.rs:0").is_err());
        assert!(parse_why(" ").is_err());
    }

    #[test]
    fn a_corrupt_or_foreign_map_is_unusable_not_an_error() {
        let dir = std::env::temp_dir().join(format!("xtask-map-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("test-map.json");
        assert!(matches!(Map::load(&file), Err(Unusable::Missing)));
        std::fs::write(&file, "{\"format\": 1, \"validity\"").unwrap();
        assert!(matches!(Map::load(&file), Err(Unusable::Corrupt(_))));
        std::fs::write(&file, "{\"format\": 999}").unwrap();
        let Err(Unusable::Corrupt(why)) = Map::load(&file) else { panic!() };
        assert!(why.contains("format 999"), "{why}");
        let map = Map {
            format: FORMAT,
            validity: Validity::default(),
            recorded: 0,
            commit: "abc".into(),
            tree: Snapshot::default(),
            rust: BTreeMap::new(),
            tests: vec![TestEntry { id: TestId { binary: "b".into(), name: "t".into() }, passed: true }],
            files: [("f.rs".to_owned(), [(0, "1-2".to_owned())].into_iter().collect())].into_iter().collect(),
            unattributed: 0,
        };
        map.save(&file).unwrap();
        assert_eq!(Map::load(&file).unwrap(), map);
        assert_eq!(map.why("f.rs", Some(2)).len(), 1);
        assert!(map.why("f.rs", Some(3)).is_empty());
        let mut broken = map.clone();
        broken.files.get_mut("f.rs").unwrap().insert(5, "1".into());
        broken.save(&file).unwrap();
        let Err(Unusable::Corrupt(why)) = Map::load(&file) else { panic!() };
        assert!(why.contains("test #5"), "{why}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! Remembered verdicts: a mutant caught or missed in one run keeps its verdict in a later run
//! while nothing its tests can reach has changed, so that a run after an edit (a pull
//! request's next commit, next week's run, a run interrupted and started again) tests only the
//! mutants the edit can affect.
//!
//! After each mutant, its verdict is appended to `verdicts.jsonl` under
//! `target/xtask-cache/mutants/`, with the tests it ran and the key of its tree's record,
//! `trees/<key>.json`: the checkout the run tested (each file's content id, each Rust file's
//! fingerprints), what the per-test map was valid for, and the map's tests.
//!
//! A remembered verdict answers when, for the change from its tree to the checkout now as an
//! impact-aware run judges it (`impact::select`, by the current map's lines):
//! - the map is valid for what the verdict's run was (toolchain, lockfile, settings, pins), and
//!   the change is not one that runs everything and leaves the mutant's file as it was;
//! - no test it ran is one the change selects, by the map or by a filterset that may name it
//!   (`plan::filter_names`: by its binary id and name);
//! - a caught mutant would still run every test it ran (the failing one among them); a missed
//!   one would run no test it did not, and no filterset.
//!
//! A mutant that ran filtersets or whole packages keeps its verdict only in the same tree, with
//! the same tests. An unviable mutant (it does not build) keeps it only in the same tree: what
//! any other file says may make it build. Timeouts are not kept: the machine may have been busy. `--no-cache` runs every mutant (and keeps the verdicts); `cargo xtask cache
//! clean` forgets them. A memory that cannot be read is empty, said once, never an error.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use super::exec::{Tried, Verdict};
use super::list::{Mutant, Position};
use super::plan::{TestSet, dependents, filter_names};
use crate::Context;
use crate::impact::map::{Map, TestId, Validity};
use crate::impact::select::{self, Plan, Selection};
use crate::impact::skeleton::Fingerprint;
use crate::impact::workspace::Workspace;
use crate::snapshot::Snapshot;

/// The format of the records: part of each, so a new format never answers from an old record.
const FORMAT: u32 = 1;
/// How many verdicts the memory keeps (the newest of each mutant; the oldest go first).
const KEEP: usize = 50_000;
/// How many of the newest trees a run compares the checkout with.
const TREES: usize = 16;

/// The checkout a run tested, and the map it chose tests by.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct TreeRecord {
    format: u32,
    validity: Validity,
    tree: Snapshot,
    rust: BTreeMap<String, Fingerprint>,
    /// The map's tests: the verdicts name theirs by index in this list.
    tests: Vec<TestId>,
}

/// One verdict.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Entry {
    format: u32,
    /// The key of its tree's record.
    tree: String,
    /// When (seconds since the epoch).
    at: u64,
    file: String,
    start: Position,
    end: Position,
    replacement: String,
    verdict: Verdict,
    seconds: f64,
    /// What ran, as the progress line said it.
    brief: String,
    tests: Vec<usize>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    filters: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    packages: Vec<String>,
}

impl Entry {
    fn is(&self, m: &Mutant) -> bool {
        self.file == m.file && self.start == m.start && self.end == m.end && self.replacement == m.replacement
    }
}

/// The remembered verdicts, and where this run's go.
pub struct Memory {
    dir: PathBuf,
    entries: Vec<Entry>,
    /// The key of this run's tree record, once written.
    current: Option<String>,
}

impl Memory {
    /// `target/xtask-cache/mutants/` (or under `$XTASK_CACHE_DIR`), read.
    pub fn open(cx: &Context) -> Memory {
        let dir = crate::cache::dir(&cx.root).join("mutants");
        let entries = match crate::jsonl::read::<Entry>(&dir.join("verdicts.jsonl")) {
            Ok(all) => all.into_iter().filter(|e| e.format == FORMAT).collect(),
            Err(e) => {
                eprintln!("  the remembered verdicts cannot be read ({e:#}): every mutant runs");
                Vec::new()
            }
        };
        Memory { dir, entries, current: None }
    }

    /// For each mutant to run, its remembered verdict when it still holds (module docs).
    pub fn recall(
        &self,
        cx: &Context,
        map: Option<&Map>,
        now: &Snapshot,
        run: &[(Mutant, TestSet)],
    ) -> Result<Vec<Option<Tried>>> {
        let mut found: Vec<Option<Tried>> = vec![None; run.len()];
        let Some(map) = map else { return Ok(found) };
        if self.entries.is_empty() {
            return Ok(found);
        }
        let mut newest: HashMap<(&str, u32), Vec<&Entry>> = HashMap::new();
        for e in self.entries.iter().rev() {
            newest.entry((e.file.as_str(), e.start.line)).or_default().push(e);
        }
        let latest = |m: &Mutant| newest.get(&(m.file.as_str(), m.start.line))?.iter().copied().find(|e| e.is(m));
        let wanted: Vec<Option<&Entry>> = run.iter().map(|(m, _)| latest(m)).collect();
        let mut trees: Vec<&str> = Vec::new();
        for e in self.entries.iter().rev() {
            if !trees.contains(&e.tree.as_str()) && trees.len() < TREES {
                trees.push(&e.tree);
            }
        }
        let workspace = Workspace::load(&cx.cargo, &cx.root)?;
        let read = |path: &str| std::fs::read_to_string(cx.root.join(path)).ok();
        let mut changes: HashMap<&str, (TreeRecord, Selection)> = HashMap::new();
        for key in trees {
            if !wanted.iter().flatten().any(|e| e.tree == key) {
                continue;
            }
            let Some(record) = self.tree(key) else { continue };
            if record.validity != map.validity {
                continue;
            }
            let then = Map { tree: record.tree.clone(), rust: record.rust.clone(), ..map.clone() };
            if let Plan::Selected(s) = select::plan(&then, now, &[], &workspace, &cx.settings.test.inputs, &read) {
                changes.insert(key, (record, s));
            }
        }
        let index: BTreeMap<&TestId, usize> = map.tests.iter().enumerate().map(|(i, t)| (&t.id, i)).collect();
        let reach = |f: &str, t: &TestId| filter_names(f, t, &|p: &str| dependents(&workspace, p));
        for (i, ((mutant, set), entry)) in run.iter().zip(wanted).enumerate() {
            let Some(entry) = entry else { continue };
            let Some((record, change)) = changes.get(entry.tree.as_str()) else { continue };
            let then = Then { entry, tests: &record.tests, change };
            if then.holds(mutant, set, map, &index, &reach) {
                found[i] = Some(Tried {
                    mutant: mutant.clone(),
                    verdict: entry.verdict,
                    tests: entry.brief.clone(),
                    seconds: entry.seconds,
                    remembered: Some(entry.at),
                });
            }
        }
        Ok(found)
    }

    /// Keeps a tried mutant's verdict (caught, missed or unviable; module docs), with its tree's record
    /// written first, once a run. Nothing without a map: its tests were whole packages.
    pub fn keep(
        &mut self,
        cx: &Context,
        map: Option<&Map>,
        tree: &Snapshot,
        tried: &Tried,
        set: &TestSet,
    ) -> Result<()> {
        let Some(map) = map else { return Ok(()) };
        if !matches!(tried.verdict, Verdict::Caught | Verdict::Missed | Verdict::Unviable) {
            return Ok(());
        }
        let key = match &self.current {
            Some(key) => key.clone(),
            None => {
                let key = self.write_tree(cx, map, tree)?;
                self.current = Some(key.clone());
                key
            }
        };
        let m = &tried.mutant;
        let entry = Entry {
            format: FORMAT,
            tree: key,
            at: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            file: m.file.clone(),
            start: m.start,
            end: m.end,
            replacement: m.replacement.clone(),
            verdict: tried.verdict,
            seconds: (tried.seconds * 10.0).round() / 10.0,
            brief: tried.tests.clone(),
            tests: set.tests.iter().copied().collect(),
            filters: set.filters.iter().cloned().collect(),
            packages: set.packages.iter().cloned().collect(),
        };
        let file = self.dir.join("verdicts.jsonl");
        let line = serde_json::to_string(&entry)? + "\n";
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)
            .with_context(|| format!("cannot open {}", file.display()))?;
        f.write_all(line.as_bytes()).with_context(|| format!("cannot write {}", file.display()))?;
        self.entries.push(entry);
        Ok(())
    }

    /// Writes the memory again with the newest verdict of each mutant only, at most [`KEEP`],
    /// and removes the tree records none of them names. At the end of a run that kept some.
    pub fn tidy(&mut self) -> Result<()> {
        if self.current.is_none() {
            return Ok(());
        }
        let mut seen: BTreeSet<(&str, Position, Position, &str)> = BTreeSet::new();
        let mut kept: Vec<&Entry> = Vec::new();
        for e in self.entries.iter().rev() {
            if kept.len() < KEEP && seen.insert((&e.file, e.start, e.end, &e.replacement)) {
                kept.push(e);
            }
        }
        kept.reverse();
        let file = self.dir.join("verdicts.jsonl");
        if kept.len() < self.entries.len() {
            let mut text = String::new();
            for e in &kept {
                text.push_str(&serde_json::to_string(e)?);
                text.push('\n');
            }
            crate::output::write_atomically(&file, |tmp| std::fs::write(tmp, &text).map_err(Into::into))
                .with_context(|| format!("cannot write {}", file.display()))?;
        }
        let named: BTreeSet<String> = kept.iter().map(|e| format!("{}.json", e.tree)).collect();
        let trees = self.dir.join("trees");
        for item in std::fs::read_dir(&trees).into_iter().flatten().flatten() {
            let name = item.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") && !named.contains(&name) {
                let _ = std::fs::remove_file(item.path());
            }
        }
        self.entries = kept.into_iter().cloned().collect();
        Ok(())
    }

    fn tree(&self, key: &str) -> Option<TreeRecord> {
        let text = std::fs::read(self.dir.join("trees").join(format!("{key}.json"))).ok()?;
        serde_json::from_slice::<TreeRecord>(&text).ok().filter(|r| r.format == FORMAT)
    }

    /// The record of the tree this run tests; its key, the digest of its text.
    fn write_tree(&self, cx: &Context, map: &Map, tree: &Snapshot) -> Result<String> {
        let rust = (tree.files.keys())
            .filter(|p| p.ends_with(".rs"))
            .filter_map(|p| std::fs::read_to_string(cx.root.join(p)).ok().map(|t| (p.clone(), Fingerprint::of(&t))))
            .collect();
        let record = TreeRecord {
            format: FORMAT,
            validity: map.validity.clone(),
            tree: tree.clone(),
            rust,
            tests: map.tests.iter().map(|t| t.id.clone()).collect(),
        };
        let text = serde_json::to_vec(&record)?;
        let key = crate::snapshot::digest(&cx.root, &text)?;
        let path = self.dir.join("trees").join(format!("{key}.json"));
        if !path.is_file() {
            crate::output::write_atomically(&path, |tmp| std::fs::write(tmp, &text).map_err(Into::into))
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(key)
    }
}

/// A remembered verdict with its tree's tests and the change since its tree.
struct Then<'a> {
    entry: &'a Entry,
    tests: &'a [TestId],
    change: &'a Selection,
}

impl Then<'_> {
    /// Whether the verdict holds now for `mutant`, which would run `set` (module docs).
    fn holds(
        &self,
        mutant: &Mutant,
        set: &TestSet,
        map: &Map,
        index: &BTreeMap<&TestId, usize>,
        reach: &dyn Fn(&str, &TestId) -> Option<bool>,
    ) -> bool {
        let e = self.entry;
        if matches!(e.verdict, Verdict::Unviable) {
            return self.change.changes.is_empty();
        }
        let Some(old) = e.tests.iter().map(|&i| self.tests.get(i)).collect::<Option<BTreeSet<&TestId>>>() else {
            return false;
        };
        let new: BTreeSet<&TestId> = set.tests.iter().filter_map(|&i| map.tests.get(i)).map(|t| &t.id).collect();
        if !e.filters.is_empty() || !e.packages.is_empty() || !set.packages.is_empty() {
            let same = |a: &[String], b: &BTreeSet<String>| a.iter().eq(b.iter());
            return self.change.changes.is_empty()
                && old == new
                && same(&e.filters, &set.filters)
                && same(&e.packages, &set.packages);
        }
        if self.change.changes.paths().contains(&mutant.file.as_str()) {
            return false;
        }
        let reached = |t: &TestId| {
            let Some(i) = index.get(t) else { return true };
            self.change.tests.contains(i) || (self.change.filters.iter()).any(|(f, _)| reach(f, t) != Some(false))
        };
        if old.iter().any(|t| reached(t)) {
            return false;
        }
        match e.verdict {
            Verdict::Caught => old.is_subset(&new),
            Verdict::Missed => set.filters.is_empty() && new.is_subset(&old),
            Verdict::Timeout | Verdict::Unviable => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impact::map::{FORMAT as MAP_FORMAT, TestEntry};
    use crate::snapshot::Changes;

    fn id(binary: &str, name: &str) -> TestId {
        TestId { binary: binary.into(), name: name.into() }
    }

    /// Tests 0 and 1 of package a, 2 of b (which depends on a).
    fn map(order: &[usize]) -> Map {
        let all = [id("a", "unit"), id("a::it", "strong"), id("b::bin/b", "runs")];
        Map {
            format: MAP_FORMAT,
            validity: Validity::default(),
            recorded: 0,
            commit: "abc".into(),
            tree: Default::default(),
            rust: BTreeMap::new(),
            tests: order.iter().map(|&i| TestEntry { id: all[i].clone(), passed: true }).collect(),
            files: BTreeMap::new(),
            unattributed: 0,
        }
    }

    fn mutant() -> Mutant {
        Mutant {
            package: "a".into(),
            file: "a/src/lib.rs".into(),
            start: Position { line: 3, column: 5 },
            end: Position { line: 3, column: 6 },
            replacement: ">=".into(),
            what: "replace > with >= in earns".into(),
            genre: "BinaryOperator".into(),
        }
    }

    fn entry(verdict: Verdict, tests: &[usize]) -> Entry {
        let m = mutant();
        Entry {
            format: FORMAT,
            tree: "t".into(),
            at: 0,
            file: m.file,
            start: m.start,
            end: m.end,
            replacement: m.replacement,
            verdict,
            seconds: 1.0,
            brief: "2 tests".into(),
            tests: tests.to_vec(),
            filters: Vec::new(),
            packages: Vec::new(),
        }
    }

    fn change(modified: &[&str], tests: &[usize], filters: &[&str]) -> Selection {
        Selection {
            changes: Changes { modified: modified.iter().map(|p| p.to_string()).collect(), ..Changes::default() },
            tests: tests.iter().copied().collect(),
            filters: filters.iter().map(|f| (f.to_string(), String::new())).collect(),
            reasons: Vec::new(),
        }
    }

    fn set(tests: &[usize], filters: &[&str]) -> TestSet {
        TestSet {
            tests: tests.iter().copied().collect(),
            filters: filters.iter().map(|f| f.to_string()).collect(),
            ..TestSet::default()
        }
    }

    /// Whether `entry` (its tree's tests are the map's in the order 0, 1, 2) holds after
    /// `change`, for a mutant that would now run `now` of a map in the order `order`.
    fn holds(entry: &Entry, change: &Selection, order: &[usize], now: &TestSet) -> bool {
        let then = map(&[0, 1, 2]);
        let tests: Vec<TestId> = then.tests.iter().map(|t| t.id.clone()).collect();
        let map = map(order);
        let index: BTreeMap<&TestId, usize> = map.tests.iter().enumerate().map(|(i, t)| (&t.id, i)).collect();
        let dependents = |p: &str| -> BTreeSet<String> {
            if p == "a" { ["a".to_owned(), "b".to_owned()].into() } else { [p.to_owned()].into() }
        };
        let reach = |f: &str, t: &TestId| filter_names(f, t, &dependents);
        Then { entry, tests: &tests, change }.holds(&mutant(), now, &map, &index, &reach)
    }

    #[test]
    fn a_verdict_holds_while_nothing_its_tests_reach_changed() {
        let caught = entry(Verdict::Caught, &[0, 1]);
        let none = change(&[], &[], &[]);
        assert!(holds(&caught, &none, &[0, 1, 2], &set(&[0, 1], &[])));
        // Another file changed, which only test 2 covers: still holds.
        assert!(holds(&caught, &change(&["b/src/main.rs"], &[2], &[]), &[0, 1, 2], &set(&[0, 1], &[])));
        // The map was recorded again and lists its tests in another order: by name, not index.
        assert!(holds(&caught, &none, &[2, 1, 0], &set(&[2, 1], &[])));
        // A test it ran covers a changed file, or a filterset can name it: it runs again.
        assert!(!holds(&caught, &change(&["a/src/other.rs"], &[1], &[]), &[0, 1, 2], &set(&[0, 1], &[])));
        assert!(!holds(
            &caught,
            &change(&["a/tests/it.rs"], &[], &["binary_id(=a::it)"]),
            &[0, 1, 2],
            &set(&[0, 1], &[])
        ));
        assert!(!holds(&caught, &change(&["x.txt"], &[], &["test(=unit)"]), &[0, 1, 2], &set(&[0, 1], &[])));
        // A filterset that names other tests of its package leaves it: here the unit tests only.
        let unit_tests = "package(=a) & (kind(lib) | kind(bin))";
        assert!(holds(
            &entry(Verdict::Caught, &[1]),
            &change(&["a/src/x.rs"], &[], &[unit_tests]),
            &[0, 1, 2],
            &set(&[1], &[])
        ));
        assert!(!holds(&caught, &change(&["a/src/x.rs"], &[], &[unit_tests]), &[0, 1, 2], &set(&[0, 1], &[])));
        assert!(!holds(&caught, &change(&["x.txt"], &[], &["test(/^uni/)"]), &[0, 1, 2], &set(&[0, 1], &[])), "it may");
        // A filterset that names only tests of other packages leaves it.
        assert!(holds(&caught, &change(&["b/tests/t.rs"], &[], &["binary_id(=b::t)"]), &[0, 1, 2], &set(&[0, 1], &[])));
        // Its own file changed: it runs again.
        assert!(!holds(&caught, &change(&["a/src/lib.rs"], &[], &[]), &[0, 1, 2], &set(&[0, 1], &[])));
        // A test it ran that the map no longer knows: it runs again.
        assert!(!holds(&caught, &change(&["x.txt"], &[], &[]), &[0, 2], &set(&[0], &[])));
    }

    #[test]
    fn a_caught_verdict_needs_every_test_it_ran_and_a_missed_one_no_other() {
        let elsewhere = change(&["b/src/main.rs"], &[2], &[]);
        let caught = entry(Verdict::Caught, &[0, 1]);
        assert!(holds(&caught, &elsewhere, &[0, 1, 2], &set(&[0, 1, 2], &["package(=b)"])), "more tests: still caught");
        assert!(!holds(&caught, &elsewhere, &[0, 1, 2], &set(&[0], &[])), "the failing test may be the one left out");
        let missed = entry(Verdict::Missed, &[0, 1]);
        assert!(holds(&missed, &elsewhere, &[0, 1, 2], &set(&[0, 1], &[])));
        assert!(holds(&missed, &elsewhere, &[0, 1, 2], &set(&[1], &[])), "fewer tests: still missed");
        assert!(!holds(&missed, &elsewhere, &[0, 1, 2], &set(&[0, 1, 2], &[])), "a new test may catch it");
        assert!(!holds(&missed, &elsewhere, &[0, 1, 2], &set(&[0, 1], &["binary_id(=b::t)"])), "so may a filterset");
        // Timeouts are never kept; were one read, it would not hold.
        assert!(!holds(&entry(Verdict::Timeout, &[0]), &change(&[], &[], &[]), &[0, 1, 2], &set(&[0], &[])));
        // An unviable mutant stays unviable in the same tree only: any file may make it build.
        let unviable = entry(Verdict::Unviable, &[0]);
        assert!(holds(&unviable, &change(&[], &[], &[]), &[0, 1, 2], &set(&[0], &[])));
        assert!(!holds(&unviable, &change(&["b/src/main.rs"], &[2], &[]), &[0, 1, 2], &set(&[0], &[])));
    }

    #[test]
    fn a_verdict_of_filtersets_or_packages_holds_in_the_same_tree_only() {
        let mut e = entry(Verdict::Missed, &[0]);
        e.filters = vec!["(binary_id(=a::it)) & (package(=a))".into()];
        let now = set(&[0], &["(binary_id(=a::it)) & (package(=a))"]);
        assert!(holds(&e, &change(&[], &[], &[]), &[0, 1, 2], &now));
        assert!(!holds(&e, &change(&["b/src/main.rs"], &[2], &[]), &[0, 1, 2], &now));
        assert!(!holds(&e, &change(&[], &[], &[]), &[0, 1, 2], &set(&[0], &[])));
        let mut e = entry(Verdict::Caught, &[]);
        e.packages = vec!["a".into()];
        let now = TestSet { packages: ["a".into()].into(), ..TestSet::default() };
        assert!(holds(&e, &change(&[], &[], &[]), &[0, 1, 2], &now));
        assert!(!holds(&e, &change(&["README.md"], &[], &[]), &[0, 1, 2], &now));
    }
}

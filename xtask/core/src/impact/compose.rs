//! The report of an impact-aware run: what the selected tests measured, plus what the map says
//! the tests that did not run cover. A file changed since the map's run is taken from the
//! selected run alone: every test that covered it there ran again (that is how they were
//! selected), and its old line numbers mean nothing now. An unchanged file gets, on top of
//! what the selected tests covered, the lines the map records for the tests that did not run:
//! nothing they execute changed, so they cover what they covered. The coverable lines are
//! always the selected run's (it built and measured every binary).

use std::collections::BTreeSet;

use super::map::{Map, TestId};
use crate::coverage::cobertura::Report;
use crate::coverage::patch::repo_key;

/// The report a full run would have written, from `selected` (this run's report), `map`, the
/// tests that ran (`ran`) and the paths changed since the map's run. File names become
/// repository paths.
pub fn compose(
    mut selected: Report,
    map: &Map,
    ran: &BTreeSet<TestId>,
    changed: &BTreeSet<String>,
    root: &str,
) -> Report {
    let idle: Vec<bool> = map.tests.iter().map(|t| !ran.contains(&t.id)).collect();
    for file in &mut selected.files {
        let path = repo_key(&file.name, &selected.sources, root);
        if !changed.contains(&path) {
            for &t in map.files.get(&path).into_iter().flat_map(|tests| tests.keys()) {
                if idle[t] {
                    file.line_table.cover(map.lines(&path, t));
                }
            }
            file.lines = file.line_table.counts();
        }
        file.name = path;
    }
    selected.files.sort_by(|a, b| a.name.cmp(&b.name));
    selected.sources.clear();
    selected.root = Default::default();
    selected
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::coverage::cobertura::{Counts, ParseOptions};
    use crate::impact::map::{TestEntry, Validity};
    use crate::snapshot::Snapshot;

    fn report(lcov: &str) -> Report {
        crate::coverage::lcov::parse(lcov.as_bytes(), ParseOptions::default()).unwrap()
    }

    #[test]
    fn idle_tests_lend_their_lines_to_unchanged_files_only() {
        let id = |n: &str| TestId { binary: "b".into(), name: n.into() };
        let map = Map {
            format: crate::impact::map::FORMAT,
            validity: Validity::default(),
            recorded: 0,
            commit: String::new(),
            tree: Snapshot::default(),
            rust: BTreeMap::new(),
            tests: vec![TestEntry { id: id("ran"), passed: true }, TestEntry { id: id("idle"), passed: true }],
            files: [
                ("src/a.rs".to_owned(), [(0, "1".to_owned()), (1, "2-3,9".to_owned())].into_iter().collect()),
                ("src/b.rs".to_owned(), [(1, "1-2".to_owned())].into_iter().collect()),
            ]
            .into_iter()
            .collect(),
            unattributed: 0,
        };
        // This run: `ran` ran and covered nothing of a.rs; b.rs changed (and now has lines 1-4).
        let selected = report(
            "SF:/r/src/a.rs\nDA:1,0\nDA:2,0\nDA:3,0\nDA:4,0\nend_of_record\nSF:/r/src/b.rs\nDA:1,0\nDA:4,1\nend_of_record\n",
        );
        let ran: BTreeSet<TestId> = [id("ran")].into_iter().collect();
        let changed: BTreeSet<String> = ["src/b.rs".to_owned()].into_iter().collect();
        let out = compose(selected, &map, &ran, &changed, "/r");
        let a = &out.files[0];
        assert_eq!(a.name, "src/a.rs");
        // Line 1 was `ran`'s, which ran again and no longer covers it; 9 is not coverable now.
        assert_eq!(a.line_table.iter().collect::<Vec<_>>(), [(1, false), (2, true), (3, true), (4, false)]);
        assert_eq!(a.lines, Counts { covered: 2, valid: 4 });
        let b = &out.files[1];
        assert_eq!(b.line_table.iter().collect::<Vec<_>>(), [(1, false), (4, true)], "changed: this run's alone");
        assert_eq!(out.totals().0, Counts { covered: 3, valid: 6 });
    }
}

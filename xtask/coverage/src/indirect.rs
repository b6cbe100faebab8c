//! Indirect changes: lines the base's tests covered that the change's tests no longer cover,
//! **outside** the changed lines. A change in one file can stop a path in another being
//! exercised; the patch gate, which judges the changed lines, never sees it.
//!
//! # Which lines are compared
//!
//! Only lines that exist unchanged on both sides: a base line is followed through the diff
//! ([`LineMap`]) to its line in the head, moved by the blocks above it, through a rename; a
//! line inside a changed block (modified or deleted) has no counterpart and is the patch
//! gate's business. A compared line must be listed (coverable) by both sides' reports.
//!
//! # Runs, and unstable lines
//!
//! Each side is one or more runs of its commit's tests (each run one report: shards merged
//! first). A line is *covered* in a side when every run that lists it covers it, *uncovered*
//! when none does, and *unstable* when the runs disagree: coverage that changes between two
//! runs of one commit is noise, never a loss. A line unstable on either side is counted and
//! listed as unstable, not as lost.
//!
//! # Ranges
//!
//! In head line numbers, as the patch gate's: `12–14` means 12 and 14 lost their coverage and
//! every line between them the head's report lists did too (lines it does not list, such as
//! blank lines and comments, do not break a range).
//!
//! Report filenames are matched to repository paths as the patch gate matches them
//! ([`crate::patch::map_path`]): the base's against the base tree's files, the head's against
//! the head's.

use std::collections::{BTreeMap, HashMap};

use crate::cobertura::{LineTable, Report};
use crate::patch::{Block, FileChange, LineRange, Mapping, MatchKind, RepoPaths, format_ranges, map_path};

/// Where each line of the base is in the head, from a diff's files ([`crate::patch::read_diff`]).
/// A path the diff does not name is unchanged: same path, same lines.
#[derive(Clone, Debug, Default)]
pub struct LineMap {
    /// Base path → its head path (`None`: deleted) and its changed blocks, in order.
    files: HashMap<String, (Option<String>, Vec<Block>)>,
}

impl LineMap {
    pub fn new(changes: &[FileChange]) -> LineMap {
        let files = changes
            .iter()
            .filter_map(|c| Some((c.old_path.clone()?, (c.new_path.clone(), c.blocks.clone()))))
            .collect();
        LineMap { files }
    }

    /// The head path of a base path; `None` when the change deletes the file.
    pub fn head_path<'a>(&'a self, base: &'a str) -> Option<&'a str> {
        match self.files.get(base) {
            Some((head, _)) => head.as_deref(),
            None => Some(base),
        }
    }

    /// The head path and line of a base line; `None` when the change modifies or deletes it.
    pub fn head_line<'a>(&'a self, base: &'a str, line: u32) -> Option<(&'a str, u32)> {
        let path = self.head_path(base)?;
        Some((path, self.shift(base).map(line)?))
    }

    fn shift(&self, base: &str) -> Shift<'_> {
        let blocks = self.files.get(base).map_or(&[][..], |(_, b)| b.as_slice());
        Shift { blocks, next: 0, offset: 0 }
    }
}

/// Base lines → head lines through one file's blocks, asked in increasing order.
struct Shift<'a> {
    blocks: &'a [Block],
    /// The first block not yet passed, and how far the passed ones moved the lines after them.
    next: usize,
    offset: i64,
}

impl Shift<'_> {
    fn map(&mut self, line: u32) -> Option<u32> {
        while let Some(b) = self.blocks.get(self.next) {
            let end = u64::from(b.old_start) + u64::from(b.old_count);
            if u64::from(line) >= end {
                // Above this line: it moves the line by what it added less what it removed.
                self.offset += i64::from(b.new_count) - i64::from(b.old_count);
                self.next += 1;
            } else if line >= b.old_start {
                return None;
            } else {
                break;
            }
        }
        u32::try_from(i64::from(line) + self.offset).ok().filter(|&l| l > 0)
    }
}

/// One commit's coverage: a report per run of its tests, and the tree they were made from.
pub struct Side<'a> {
    pub runs: Vec<&'a Report>,
    /// The checkout's absolute path (where a report's absolute names are read against).
    pub root: &'a str,
    /// The tree's files, repository-relative: what report names are matched to.
    pub files: &'a [String],
}

/// One file with lines that lost their coverage, or whose coverage is unstable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndirectFile {
    /// The head's path.
    pub path: String,
    /// The base's path (another when the change renames the file).
    pub base_path: String,
    /// Lines the base covered and the head does not, as ranges of head lines.
    pub lost: Vec<LineRange>,
    pub lost_lines: u64,
    /// Lines whose coverage differs between runs of one side, as ranges of head lines.
    pub unstable: Vec<LineRange>,
    pub unstable_lines: u64,
}

impl IndirectFile {
    /// `src/b.rs: 12–14, 20`.
    pub fn lost_text(&self) -> String {
        format!("{}: {}", self.path, format_ranges(&self.lost))
    }

    pub fn unstable_text(&self) -> String {
        format!("{}: {}", self.path, format_ranges(&self.unstable))
    }
}

/// The indirect changes of a change: what lost coverage outside it, what is unstable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Indirect {
    /// Lines compared: unchanged, and listed by both sides' reports.
    pub compared: u64,
    /// Covered in the base, not in the head (neither unstable).
    pub lost: u64,
    /// Not covered in the base, covered in the head (neither unstable).
    pub gained: u64,
    /// Unstable on either side.
    pub unstable: u64,
    /// Files with lost or unstable lines: most lost first, then most unstable, then by path.
    pub files: Vec<IndirectFile>,
    pub base_runs: usize,
    pub head_runs: usize,
    /// How many of the base's repository paths its reports list.
    pub base_files: usize,
    /// Base report names that are no file of the base tree (or tie between several), sorted.
    pub base_unmatched: Vec<String>,
}

impl Indirect {
    /// Files with lost lines and their ranges.
    pub fn lost_ranges(&self) -> impl Iterator<Item = (&str, &[LineRange])> + '_ {
        self.files.iter().filter(|f| !f.lost.is_empty()).map(|f| (f.path.as_str(), f.lost.as_slice()))
    }

    /// Files with unstable lines and their ranges.
    pub fn unstable_ranges(&self) -> impl Iterator<Item = (&str, &[LineRange])> + '_ {
        self.files.iter().filter(|f| !f.unstable.is_empty()).map(|f| (f.path.as_str(), f.unstable.as_slice()))
    }
}

/// A line over the runs of one side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Covered,
    Uncovered,
    Unstable,
}

/// `None` when no run lists the line.
fn state(tables: &[Option<&LineTable>], line: u32) -> Option<State> {
    let (mut covered, mut uncovered) = (false, false);
    for t in tables.iter().flatten() {
        match t.state(line) {
            Some(true) => covered = true,
            Some(false) => uncovered = true,
            None => {}
        }
    }
    match (covered, uncovered) {
        (true, true) => Some(State::Unstable),
        (true, false) => Some(State::Covered),
        (false, true) => Some(State::Uncovered),
        (false, false) => None,
    }
}

/// A report's files by repository path: the report files matched best to a path, their lines
/// united (as the patch gate merges copies of one file); and the names matching no path.
fn by_path(report: &Report, root: &str, repo: &RepoPaths) -> (HashMap<String, LineTable>, Vec<String>) {
    let mut claims: HashMap<String, Vec<(MatchKind, usize)>> = HashMap::new();
    let mut unmatched = Vec::new();
    for (i, f) in report.files.iter().enumerate() {
        match map_path(&f.name, &report.sources, root, repo) {
            Mapping::Found { path, how } => claims.entry(path).or_default().push((how, i)),
            Mapping::Ambiguous(_) | Mapping::Missing => unmatched.push(f.name.clone()),
        }
    }
    let tables = claims
        .into_iter()
        .map(|(path, claim)| {
            let best = claim.iter().map(|(how, _)| how.rank()).min().expect("claims are never empty");
            let mut table = LineTable::default();
            for &(how, i) in &claim {
                if how.rank() == best {
                    table.union(&report.files[i].line_table);
                }
            }
            (path, table)
        })
        .collect();
    (tables, unmatched)
}

/// Each run's tables by repository path, and the names no run could match.
fn side_tables(side: &Side<'_>) -> (Vec<HashMap<String, LineTable>>, Vec<String>) {
    let repo = RepoPaths::new(side.files);
    let mut unmatched = Vec::new();
    let runs = side
        .runs
        .iter()
        .map(|r| {
            let (tables, names) = by_path(r, side.root, &repo);
            unmatched.extend(names);
            tables
        })
        .collect();
    unmatched.sort();
    unmatched.dedup();
    (runs, unmatched)
}

/// The lines of `marked` (sorted, each one of `listed`) as ranges over `listed`: a listed line
/// that is not marked ends a range.
fn ranges(listed: impl Iterator<Item = u32>, marked: &[u32]) -> Vec<LineRange> {
    let mut out = Vec::new();
    let mut open: Option<LineRange> = None;
    let mut k = 0;
    for line in listed {
        while marked.get(k).is_some_and(|&m| m < line) {
            k += 1;
        }
        if marked.get(k) == Some(&line) {
            open = Some((open.map_or(line, |(s, _)| s), line));
        } else {
            out.extend(open.take());
        }
    }
    out.extend(open);
    out
}

/// One head file's findings while they are gathered.
#[derive(Default)]
struct Found {
    base_path: String,
    lost: Vec<u32>,
    unstable: Vec<u32>,
}

/// Compares the base's coverage with the head's on the lines the change leaves as they were.
pub fn indirect(base: &Side<'_>, head: &Side<'_>, map: &LineMap) -> Indirect {
    let (base_runs, base_unmatched) = side_tables(base);
    let (head_runs, _) = side_tables(head);
    let mut base_paths: Vec<&String> = base_runs.iter().flat_map(HashMap::keys).collect();
    base_paths.sort();
    base_paths.dedup();

    let mut out = Indirect {
        base_runs: base_runs.len(),
        head_runs: head_runs.len(),
        base_files: base_paths.len(),
        base_unmatched,
        ..Indirect::default()
    };
    let mut found: BTreeMap<String, Found> = BTreeMap::new();
    for base_path in base_paths {
        let Some(head_path) = map.head_path(base_path) else { continue };
        let head_tables: Vec<Option<&LineTable>> = head_runs.iter().map(|r| r.get(head_path)).collect();
        if head_tables.iter().all(Option::is_none) {
            continue;
        }
        let base_tables: Vec<Option<&LineTable>> = base_runs.iter().map(|r| r.get(base_path.as_str())).collect();
        let mut listed = LineTable::default();
        for t in base_tables.iter().flatten() {
            listed.union(t);
        }
        let mut shift = map.shift(base_path);
        let entry = found
            .entry(head_path.to_owned())
            .or_insert_with(|| Found { base_path: base_path.clone(), ..Found::default() });
        for (line, _) in listed.iter() {
            let Some(before) = state(&base_tables, line) else { continue };
            let Some(at) = shift.map(line) else { continue };
            let Some(now) = state(&head_tables, at) else { continue };
            out.compared += 1;
            match (before, now) {
                (State::Unstable, _) | (_, State::Unstable) => entry.unstable.push(at),
                (State::Covered, State::Uncovered) => entry.lost.push(at),
                (State::Uncovered, State::Covered) => out.gained += 1,
                _ => {}
            }
        }
    }
    for (path, mut f) in found {
        if f.lost.is_empty() && f.unstable.is_empty() {
            continue;
        }
        f.lost.sort_unstable();
        f.unstable.sort_unstable();
        let mut listed = LineTable::default();
        for t in head_runs.iter().filter_map(|r| r.get(&path)) {
            listed.union(t);
        }
        let lines = || listed.iter().map(|(line, _)| line);
        out.lost += f.lost.len() as u64;
        out.unstable += f.unstable.len() as u64;
        out.files.push(IndirectFile {
            lost: ranges(lines(), &f.lost),
            lost_lines: f.lost.len() as u64,
            unstable: ranges(lines(), &f.unstable),
            unstable_lines: f.unstable.len() as u64,
            base_path: f.base_path,
            path,
        });
    }
    out.files.sort_by(|a, b| {
        (b.lost_lines, b.unstable_lines).cmp(&(a.lost_lines, a.unstable_lines)).then_with(|| a.path.cmp(&b.path))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cobertura::{ParseOptions, parse};
    use crate::patch::read_diff;

    /// Lines moved and changed in `src/b.rs`, `old.rs` renamed with an edit, `pure.rs` renamed
    /// as it was, `gone.rs` deleted, `new.rs` added, `copy.rs` copied from `src/b.rs`.
    const DIFF: &str = "\
diff --git a/src/b.rs b/src/b.rs
index 1111111..2222222 100644
--- a/src/b.rs
+++ b/src/b.rs
@@ -0,0 +1,2 @@
+// two lines
+// added at the top
@@ -5 +7 @@ fn f() {
-    modified();
+    changed();
@@ -10,3 +11,0 @@ fn g() {
-    removed();
-    removed();
-    removed();
@@ -20,0 +20,4 @@ fn h() {
+    one();
+    two();
+    three();
+    four();
diff --git a/old.rs b/renamed.rs
similarity index 90%
rename from old.rs
rename to renamed.rs
index 3333333..4444444 100644
--- a/old.rs
+++ b/renamed.rs
@@ -3 +3,2 @@
-x
+y
+z
diff --git a/pure.rs \"b/pure name.rs\"
similarity index 100%
rename from pure.rs
rename to \"pure name.rs\"
diff --git a/gone.rs b/gone.rs
deleted file mode 100644
index 5555555..0000000
--- a/gone.rs
+++ /dev/null
@@ -1,2 +0,0 @@
-a
-b
diff --git a/new.rs b/new.rs
new file mode 100644
index 0000000..6666666
--- /dev/null
+++ b/new.rs
@@ -0,0 +1 @@
+n
diff --git a/run.sh b/run.sh
old mode 100644
new mode 100755
diff --git a/src/b.rs b/copy.rs
similarity index 90%
copy from src/b.rs
copy to copy.rs
index 1111111..7777777 100644
--- a/src/b.rs
+++ b/copy.rs
@@ -1 +1 @@
-x
+y
";

    fn map() -> LineMap {
        LineMap::new(&read_diff(DIFF).unwrap().files)
    }

    #[test]
    fn the_diff_keeps_each_files_paths_and_blocks() {
        let d = read_diff(DIFF).unwrap();
        let b = |old_start, old_count, new_start, new_count| Block { old_start, old_count, new_start, new_count };
        let paths: Vec<(Option<&str>, Option<&str>)> =
            d.files.iter().map(|f| (f.old_path.as_deref(), f.new_path.as_deref())).collect();
        assert_eq!(
            paths,
            [
                (Some("src/b.rs"), Some("src/b.rs")),
                (Some("old.rs"), Some("renamed.rs")),
                (Some("pure.rs"), Some("pure name.rs")),
                (Some("gone.rs"), None),
                (None, Some("new.rs")),
                (None, Some("copy.rs")),
            ],
            "the mode change moves no line and is left out; a copy's source stays"
        );
        assert_eq!(d.files[0].blocks, [b(1, 0, 1, 2), b(5, 1, 7, 1), b(10, 3, 12, 0), b(21, 0, 20, 4)]);
        assert_eq!(d.files[1].blocks, [b(3, 1, 3, 2)]);
        assert!(d.files[2].blocks.is_empty());
        assert_eq!(d.files[3].blocks, [b(1, 2, 1, 0)]);
        assert_eq!(d.lines.get("src/b.rs"), Some(&[(1, 2), (7, 7), (20, 23)][..]));
    }

    #[test]
    fn context_lines_split_a_hunk_into_blocks() {
        let diff = "diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1,6 +1,5 @@\n ctx\n-x\n+y\n ctx\n ctx\n-gone\n ctx\n";
        let d = read_diff(diff).unwrap();
        let blocks = &d.files[0].blocks;
        assert_eq!(
            blocks,
            &[
                Block { old_start: 2, old_count: 1, new_start: 2, new_count: 1 },
                Block { old_start: 5, old_count: 1, new_start: 5, new_count: 0 }
            ]
        );
        let map = LineMap::new(&d.files);
        let mapped: Vec<Option<u32>> = (1..=6).map(|l| map.head_line("a", l).map(|(_, l)| l)).collect();
        assert_eq!(mapped, [Some(1), None, Some(3), Some(4), None, Some(5)]);
    }

    #[test]
    fn lines_above_a_change_stay_lines_below_move_lines_inside_are_gone() {
        let map = map();
        let at = |path: &'static str, line: u32| map.head_line(path, line);
        // Two lines added at the top move everything down by two.
        assert_eq!(at("src/b.rs", 1), Some(("src/b.rs", 3)));
        assert_eq!(at("src/b.rs", 4), Some(("src/b.rs", 6)));
        // Line 5 is modified: no counterpart. Line 6 follows it, still two down.
        assert_eq!(at("src/b.rs", 5), None);
        assert_eq!(at("src/b.rs", 6), Some(("src/b.rs", 8)));
        // 10–12 removed: gone; 13 moves up by one (two added, three removed).
        assert_eq!((at("src/b.rs", 10), at("src/b.rs", 12)), (None, None));
        assert_eq!(at("src/b.rs", 13), Some(("src/b.rs", 12)));
        // Four lines inserted after 20: 20 stays at 19, 21 goes to 24.
        assert_eq!(at("src/b.rs", 20), Some(("src/b.rs", 19)));
        assert_eq!(at("src/b.rs", 21), Some(("src/b.rs", 24)));
        assert_eq!(at("src/b.rs", 1000), Some(("src/b.rs", 1003)));
        // A rename carries the lines to the new path; a deleted file has none; an untouched
        // file keeps its path and lines.
        assert_eq!(at("old.rs", 2), Some(("renamed.rs", 2)));
        assert_eq!(at("old.rs", 3), None);
        assert_eq!(at("old.rs", 4), Some(("renamed.rs", 5)));
        assert_eq!(at("pure.rs", 7), Some(("pure name.rs", 7)));
        assert_eq!(at("gone.rs", 3), None);
        assert_eq!(at("src/untouched.rs", 42), Some(("src/untouched.rs", 42)));
    }

    /// A Cobertura report: per file, `(line, hits)`.
    fn report(files: &[(&str, &[(u32, u32)])]) -> Report {
        let classes: String = files
            .iter()
            .map(|(name, lines)| {
                let lines: String =
                    lines.iter().map(|(n, hits)| format!(r#"<line number="{n}" hits="{hits}"/>"#)).collect();
                format!(r#"<class filename="{name}"><lines>{lines}</lines></class>"#)
            })
            .collect();
        let xml = format!("<coverage><packages><package><classes>{classes}</classes></package></packages></coverage>");
        parse(xml.as_bytes(), ParseOptions::default()).unwrap()
    }

    fn files(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn lines_the_base_covered_and_the_head_does_not_are_lost_in_head_numbers() {
        // Base: b.rs 1–4 covered, 5 (modified) covered, 6–8 covered, 9 not; 13 covered.
        let base = report(&[
            ("src/b.rs", &[(1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (6, 1), (7, 1), (8, 1), (9, 0), (13, 1)]),
            ("old.rs", &[(1, 1), (4, 1)]),
            ("gone.rs", &[(1, 1)]),
            ("elsewhere/not-here.rs", &[(1, 1)]),
        ]);
        // Head: the same lines two down; 3–4 (base 1–2) still covered, 5 (base 3) uncovered, 6
        // (base 4) uncovered; the modified line 7 uncovered (the patch gate's); 8–9 (base 6–7)
        // uncovered, 10 (base 8) covered; 11 (base 9) now covered; 12 (base 13) uncovered.
        // renamed.rs: base 4 is head 5, uncovered.
        let head = report(&[
            ("src/b.rs", &[(3, 1), (4, 1), (5, 0), (6, 0), (7, 0), (8, 0), (9, 0), (10, 1), (11, 1), (12, 0), (30, 0)]),
            ("renamed.rs", &[(1, 1), (5, 0)]),
            ("new.rs", &[(1, 0)]),
        ]);
        let base_files = files(&["src/b.rs", "old.rs", "gone.rs", "pure.rs"]);
        let head_files = files(&["src/b.rs", "renamed.rs", "new.rs", "pure name.rs"]);
        let i = indirect(
            &Side { runs: vec![&base], root: "/r", files: &base_files },
            &Side { runs: vec![&head], root: "/r", files: &head_files },
            &map(),
        );
        assert_eq!((i.compared, i.lost, i.gained, i.unstable), (11, 6, 1, 0));
        assert_eq!(i.files.len(), 2);
        let b = &i.files[0];
        // 7 is listed and not lost (it changed): it ends the first range.
        assert_eq!(
            (b.path.as_str(), b.lost.as_slice(), b.lost_lines),
            ("src/b.rs", &[(5, 6), (8, 9), (12, 12)][..], 5)
        );
        assert_eq!(b.lost_text(), "src/b.rs: 5–6, 8–9, 12");
        let r = &i.files[1];
        assert_eq!((r.path.as_str(), r.base_path.as_str(), r.lost.as_slice()), ("renamed.rs", "old.rs", &[(5, 5)][..]));
        assert_eq!((i.base_runs, i.head_runs, i.base_files), (1, 1, 3));
        assert_eq!(i.base_unmatched, ["elsewhere/not-here.rs"]);
        let ranges: Vec<(&str, &[LineRange])> = i.lost_ranges().collect();
        assert_eq!(ranges, [("src/b.rs", &[(5, 6), (8, 9), (12, 12)][..]), ("renamed.rs", &[(5, 5)][..])]);
    }

    #[test]
    fn a_line_whose_runs_disagree_is_unstable_never_lost() {
        let map = LineMap::default();
        let all = files(&["a.rs"]);
        // Base run 1 covers 1–4, run 2 covers 1, 2 and 4 but not 3. Head: 1–4 uncovered, with
        // a second run that covers 4.
        let base1 = report(&[("a.rs", &[(1, 1), (2, 1), (3, 1), (4, 1), (5, 0)])]);
        let base2 = report(&[("a.rs", &[(1, 1), (2, 1), (3, 0), (4, 1), (5, 0)])]);
        let head1 = report(&[("a.rs", &[(1, 0), (2, 0), (3, 0), (4, 0), (5, 0)])]);
        let head2 = report(&[("a.rs", &[(1, 0), (2, 0), (3, 0), (4, 1), (5, 0)])]);
        fn side<'a>(runs: Vec<&'a Report>, files: &'a [String]) -> Side<'a> {
            Side { runs, root: "/r", files }
        }
        let one = indirect(&side(vec![&base1], &all), &side(vec![&head1], &all), &map);
        assert_eq!((one.lost, one.unstable), (4, 0));
        assert_eq!(one.files[0].lost, [(1, 4)]);
        let i = indirect(&side(vec![&base1, &base2], &all), &side(vec![&head1, &head2], &all), &map);
        assert_eq!((i.lost, i.unstable, i.compared), (2, 2, 5));
        let f = &i.files[0];
        assert_eq!((f.lost.as_slice(), f.unstable.as_slice()), (&[(1, 2)][..], &[(3, 4)][..]));
        assert_eq!(f.unstable_text(), "a.rs: 3–4");
        assert_eq!((i.base_runs, i.head_runs), (2, 2));
    }

    #[test]
    fn names_match_as_the_patch_gate_matches_them() {
        // The base was measured in CI's checkout, the head here with absolute names.
        let base = report(&[("/home/runner/work/r/r/src/a.rs", &[(1, 1), (2, 1)])]);
        let head = report(&[("/w/main/src/a.rs", &[(1, 1), (2, 0)]), ("/w/main/src/a.rs", &[(2, 0)])]);
        let all = files(&["src/a.rs", "lib/a.rs"]);
        let i = indirect(
            &Side { runs: vec![&base], root: "/w/main", files: &all },
            &Side { runs: vec![&head], root: "/w/main", files: &all },
            &LineMap::default(),
        );
        assert_eq!(i.files[0].lost_text(), "src/a.rs: 2");
        assert!(i.base_unmatched.is_empty());
    }
}

//! Patch coverage: the lines a change adds or modifies, and how many of them the tests cover.
//!
//! The input is the text of `git diff -U0 --no-color --no-ext-diff -M --src-prefix=a/
//! --dst-prefix=b/ BASE` (the explicit prefixes override `diff.noprefix` and
//! `diff.mnemonicPrefix`; [`parse_diff`] refuses a new-side path without `b/`). Only the new side
//! counts: the `+` lines of each hunk, numbered from its `+c,d` header. Deleted files, pure
//! renames, mode changes and binary files add no lines. [`read_diff`] also keeps each file's
//! paths and changed blocks, which say where an unchanged line of the old side is in the new
//! (the indirect changes, [`crate::indirect`]).
//!
//! A changed line is *coverable* when the report lists it; it is *covered* when its hits are
//! above zero (the report's de-duplication rules, see [`crate::cobertura`]).
//!
//! # Matching report filenames to repository paths
//!
//! Paths are compared as components: `\` is `/`, empty and `.` components are dropped, `..`
//! is resolved, a drive letter (`c:`) is upper-cased. A report filename is tried, best first:
//!
//! 1. **source**: each `<source>` in report order joined with the filename, made relative to
//!    the root (a relative `<source>` is taken as relative to the root); the first hit wins.
//!    A report that names its sources means its filenames to be read against them (coverage.py
//!    run in `app/` writes `src/lib.rs` under the source `/repo/app`);
//! 2. **exact**: the filename itself as a repository-relative path, or, when it is absolute,
//!    made relative to the repository root;
//! 3. **suffix**: whole trailing components, when one path ends with the other: the forms
//!    joined with the sources (or the filename alone when the report has none) against every
//!    candidate path, the longest common suffix winning; a tie between two paths is
//!    *ambiguous* and matches nothing. So `src/lib.rs` under the source `/home/ci/build/app`
//!    is the repository's `app/src/lib.rs` even when the report was made in another checkout.
//!
//! Candidates are the paths the diff changes, plus, when the caller gives them, all the
//! repository's files (which lets an unchanged `src/lib.rs` win exactly instead of a changed
//! `app/src/lib.rs` by suffix). When several report files match one changed path, those with
//! the best kind of match are merged (a line is coverable if any lists it, covered if any
//! covers it).
//!
//! # Uncovered ranges
//!
//! `41–44` means: lines 41 to 44 are all changed, none is covered, and 41 and 44 are
//! coverable and uncovered; the lines between may be changed lines the report does not list
//! (blank lines, comments, braces). A covered line or an unchanged line ends a range.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use crate::cobertura::{Counts, LineTable, Report};
use crate::grade::{self, Percent};

/// An inclusive range of line numbers, `start <= end`.
pub type LineRange = (u32, u32);

/// The lines a diff adds or modifies: per new-side repository path, sorted disjoint ranges,
/// adjacent ranges merged. Only files with at least one such line are present.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangedLines {
    files: BTreeMap<String, Vec<LineRange>>,
}

impl ChangedLines {
    /// Files with their ranges, sorted by path.
    pub fn files(&self) -> impl Iterator<Item = (&str, &[LineRange])> + '_ {
        self.files.iter().map(|(path, ranges)| (path.as_str(), ranges.as_slice()))
    }

    pub fn get(&self, path: &str) -> Option<&[LineRange]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// How many files have changed lines.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// How many lines are changed, over all files.
    pub fn line_count(&self) -> u64 {
        self.files.values().flatten().map(|&(start, end)| u64::from(end - start) + 1).sum()
    }

    /// Builds the set from unsorted, possibly overlapping ranges (`start <= end`).
    pub fn from_ranges<'a>(ranges: impl IntoIterator<Item = (&'a str, LineRange)>) -> ChangedLines {
        let mut files: BTreeMap<String, Vec<LineRange>> = BTreeMap::new();
        for (path, range) in ranges {
            files.entry(path.to_owned()).or_default().push(range);
        }
        for ranges in files.values_mut() {
            merge(ranges);
        }
        files.retain(|_, r| !r.is_empty());
        ChangedLines { files }
    }
}

/// Sorts and merges overlapping or adjacent ranges.
fn merge(ranges: &mut Vec<LineRange>) {
    ranges.sort_unstable();
    let mut out: Vec<LineRange> = Vec::with_capacity(ranges.len());
    for &(start, end) in ranges.iter() {
        match out.last_mut() {
            Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    *ranges = out;
}

/// A diff that cannot be read, located by its 1-based line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for DiffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} of the diff: {}", self.line, self.message)
    }
}

impl std::error::Error for DiffError {}

/// Lines still expected in the hunk being read, and the number of the next one on each side.
struct Hunk {
    old: u32,
    new: u32,
    next: u32,
    next_old: u32,
}

/// One place where a diff changes a file: `old_count` lines of the old side from `old_start`
/// replaced by `new_count` lines of the new side from `new_start`. A count may be 0 (lines
/// only added, or only removed); its start is then the line that follows the place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub old_start: u32,
    pub old_count: u32,
    pub new_start: u32,
    pub new_count: u32,
}

/// One file of a diff: its path on each side (`None`: `/dev/null`, the file is added or
/// deleted; a rename has two) and its changed blocks, in order. Every line outside the blocks
/// is unchanged, only moved by the blocks above it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileChange {
    pub old_path: Option<String>,
    pub new_path: Option<String>,
    pub blocks: Vec<Block>,
}

/// A diff read whole: the new side's changed lines (what the patch gate judges) and each
/// file's paths and blocks (how the old side's lines map to the new side's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    pub lines: ChangedLines,
    /// Files whose path or lines changed, in the diff's order (mode-only and binary changes
    /// are left out: they move no line).
    pub files: Vec<FileChange>,
}

/// Reads git's unified diff (any context size) and collects the new side's added lines.
pub fn parse_diff(text: &str) -> Result<ChangedLines, DiffError> {
    read_diff(text).map(|d| d.lines)
}

/// The file of a diff being read: its header lines as read (decoded once the `+++` line is
/// known good, so that its error comes first), its blocks so far and the one open.
#[derive(Default)]
struct Reading {
    /// The `---` line's text after `--- `, and its line in the diff.
    minus: Option<(usize, String)>,
    rename_from: Option<String>,
    rename_to: Option<String>,
    /// A copy (`copy from`, with `diff.renames = copies`): its source stays where it was.
    copy: bool,
    blocks: Vec<Block>,
    open: Option<Block>,
}

impl Reading {
    /// The block being read, opened at the hunk's next lines when there is none.
    fn open(&mut self, h: &Hunk) -> &mut Block {
        self.open.get_or_insert(Block { old_start: h.next_old, old_count: 0, new_start: h.next, new_count: 0 })
    }

    fn close(&mut self) {
        self.blocks.extend(self.open.take());
    }
}

/// [`parse_diff`], also keeping each file's paths and changed blocks.
pub fn read_diff(text: &str) -> Result<Diff, DiffError> {
    let mut files: BTreeMap<String, Vec<LineRange>> = BTreeMap::new();
    let mut changes: Vec<FileChange> = Vec::new();
    let mut in_file = false;
    // The new-side path of the current file (None: `/dev/null` or not read yet), whether its
    // `+++` line was read, and its added lines so far.
    let mut target: Option<String> = None;
    let mut plus_seen = false;
    let mut added: Vec<LineRange> = Vec::new();
    let mut reading = Reading::default();
    let mut hunk: Option<Hunk> = None;
    let mut last = 0;

    let mut flush = |target: &mut Option<String>,
                     plus_seen: bool,
                     added: &mut Vec<LineRange>,
                     reading: &mut Reading|
     -> Result<(), DiffError> {
        reading.close();
        let r = std::mem::take(reading);
        let paths = if plus_seen {
            let old = match r.minus {
                Some((n, text)) => old_side_path(&text).map_err(|message| DiffError { line: n, message })?,
                None => target.clone(),
            };
            let old = old.filter(|_| !r.copy);
            Some((old, target.clone()))
        } else {
            r.rename_from.zip(r.rename_to).map(|(from, to)| (Some(from), Some(to)))
        };
        if let Some((old_path, new_path)) = paths
            && (old_path != new_path || !r.blocks.is_empty())
        {
            changes.push(FileChange { old_path, new_path, blocks: r.blocks });
        }
        if let Some(path) = target.take()
            && !added.is_empty()
        {
            files.entry(path).or_default().append(added);
        }
        added.clear();
        Ok(())
    };

    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        last = n;
        let fail = |message: String| Err(DiffError { line: n, message });
        if let Some(h) = hunk.as_mut().filter(|h| h.old > 0 || h.new > 0) {
            match line.as_bytes().first() {
                Some(b'+') if h.new > 0 => {
                    match added.last_mut() {
                        Some(r) if r.1.checked_add(1) == Some(h.next) => r.1 = h.next,
                        _ => added.push((h.next, h.next)),
                    }
                    reading.open(h).new_count += 1;
                    h.new -= 1;
                    h.next = h.next.wrapping_add(1);
                }
                Some(b'-') if h.old > 0 => {
                    reading.open(h).old_count += 1;
                    h.old -= 1;
                    h.next_old = h.next_old.wrapping_add(1);
                }
                // Context; an empty line is a blank context line (`diff.suppressBlankEmpty`).
                Some(b' ') | None if h.old > 0 && h.new > 0 => {
                    reading.close();
                    h.old -= 1;
                    h.new -= 1;
                    h.next = h.next.wrapping_add(1);
                    h.next_old = h.next_old.wrapping_add(1);
                }
                Some(b'\\') => {}
                _ => {
                    return fail(format!(
                        "expected {} more old and {} more new line(s) of the hunk, found {:?}",
                        h.old,
                        h.new,
                        short(line)
                    ));
                }
            }
            continue;
        }
        reading.close();
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with("diff --git ") {
            flush(&mut target, plus_seen, &mut added, &mut reading)?;
            (in_file, plus_seen, hunk) = (true, false, None);
        } else if line.starts_with("diff --cc ") || line.starts_with("diff --combined ") {
            return fail("a combined (merge) diff: diff the working tree against one commit".into());
        } else if !in_file {
            if !line.trim().is_empty() {
                return fail(format!("expected `diff --git`, found {:?}: not a git diff", short(line)));
            }
        } else if line.starts_with("@@") {
            if !plus_seen {
                return fail("a hunk before the file's `+++` line".into());
            }
            let Some((old_start, old, next, new)) = hunk_header(line) else {
                return fail(format!("malformed hunk header {:?}", short(line)));
            };
            if new > 0 && (next == 0 || next.checked_add(new - 1).is_none()) {
                return fail(format!("hunk header {:?} names lines out of range", short(line)));
            }
            // A side without lines names the line before the place: the next is one further.
            let next_old = if old == 0 { old_start.saturating_add(1) } else { old_start };
            let next = if new == 0 { next.saturating_add(1) } else { next };
            hunk = Some(Hunk { old, new, next, next_old });
        } else if hunk.is_some() {
            // Between hunks only the end-of-file marker may appear.
            if !line.starts_with('\\') && !line.is_empty() {
                return fail(format!("unexpected {:?} after a hunk", short(line)));
            }
        } else if let Some(path) = line.strip_prefix("+++ ") {
            target = new_side_path(path).map_err(|message| DiffError { line: n, message })?;
            plus_seen = true;
        } else if let Some(path) = line.strip_prefix("--- ") {
            reading.minus = Some((n, path.to_owned()));
        } else if line.starts_with("copy from ") {
            reading.copy = true;
        } else if let Some(path) = line.strip_prefix("rename from ") {
            reading.rename_from = Some(header_path(path).map_err(|message| DiffError { line: n, message })?);
        } else if let Some(path) = line.strip_prefix("rename to ") {
            reading.rename_to = Some(header_path(path).map_err(|message| DiffError { line: n, message })?);
        }
        // Anything else is an extended header line (index, mode, similarity, `Binary files …
        // differ`): it adds no lines.
    }
    if let Some(h) = hunk.filter(|h| h.old > 0 || h.new > 0) {
        return Err(DiffError {
            line: last,
            message: format!(
                "the diff ends inside a hunk ({} old and {} new line(s) missing): truncated?",
                h.old, h.new
            ),
        });
    }
    flush(&mut target, plus_seen, &mut added, &mut reading)?;
    for ranges in files.values_mut() {
        merge(ranges);
    }
    Ok(Diff { lines: ChangedLines { files }, files: changes })
}

pub(crate) fn short(line: &str) -> String {
    line.chars().take(80).collect()
}

/// `@@ -a[,b] +c[,d] @@…` → (a, b, c, d); a missing count is 1.
pub(crate) fn hunk_header(line: &str) -> Option<(u32, u32, u32, u32)> {
    let rest = line.strip_prefix("@@ -")?;
    let (old, rest) = rest.split_once(" +")?;
    let (new, _) = rest.split_once(" @@")?;
    let range = |s: &str| -> Option<(u32, u32)> {
        let number = |s: &str| if s.bytes().all(|b| b.is_ascii_digit()) { s.parse().ok() } else { None };
        match s.split_once(',') {
            Some((start, count)) => Some((number(start)?, number(count)?)),
            None => Some((number(s)?, 1)),
        }
    };
    let (old_start, old_count) = range(old)?;
    let (start, count) = range(new)?;
    Some((old_start, old_count, start, count))
}

/// The path of a `+++ ` line: `None` for `/dev/null`, else the path without `b/`.
pub(crate) fn new_side_path(text: &str) -> Result<Option<String>, String> {
    side_path(text, "b/", "new")
}

/// The path of a `--- ` line: `None` for `/dev/null`, else the path without `a/`.
fn old_side_path(text: &str) -> Result<Option<String>, String> {
    side_path(text, "a/", "old")
}

fn side_path(text: &str, prefix: &str, side: &str) -> Result<Option<String>, String> {
    let path = if text.starts_with('"') {
        unquote(text)?
    } else {
        // An unquoted name never holds a tab (git would quote it): anything after one is a label.
        let name = text.split('\t').next().unwrap_or(text);
        if name == "/dev/null" {
            return Ok(None);
        }
        name.to_owned()
    };
    match path.strip_prefix(prefix) {
        Some(rest) if !rest.is_empty() => Ok(Some(rest.to_owned())),
        _ => Err(format!(
            "the {side}-side path {path:?} does not start with `{prefix}`: run git diff with --src-prefix=a/ \
             --dst-prefix=b/"
        )),
    }
}

/// The path of a `rename from` or `rename to` line: as written, or quoted; no prefix.
fn header_path(text: &str) -> Result<String, String> {
    if text.starts_with('"') { unquote(text) } else { Ok(text.to_owned()) }
}

/// Git's C-style quoting: `"a/sp\303\251cial name.rs"` → `a/spécial name.rs`.
pub(crate) fn unquote(text: &str) -> Result<String, String> {
    let bad = |why: &str| format!("badly quoted path {:?}: {why}", short(text));
    let mut bytes = Vec::with_capacity(text.len());
    let mut it = text.as_bytes().iter().copied().skip(1);
    loop {
        match it.next() {
            None => return Err(bad("no closing quote")),
            Some(b'"') => break,
            Some(b'\\') => {
                let b = match it.next() {
                    Some(b'a') => 7,
                    Some(b'b') => 8,
                    Some(b't') => b'\t',
                    Some(b'n') => b'\n',
                    Some(b'v') => 11,
                    Some(b'f') => 12,
                    Some(b'r') => b'\r',
                    Some(c @ (b'"' | b'\\')) => c,
                    Some(d @ b'0'..=b'3') => {
                        let mut value = u32::from(d - b'0');
                        for _ in 0..2 {
                            match it.next() {
                                Some(d @ b'0'..=b'7') => value = value * 8 + u32::from(d - b'0'),
                                _ => return Err(bad("an octal escape needs three digits")),
                            }
                        }
                        value as u8
                    }
                    _ => return Err(bad("unknown escape")),
                };
                bytes.push(b);
            }
            Some(b) => bytes.push(b),
        }
    }
    Ok(String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// A path split into components (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Parts {
    absolute: bool,
    parts: Vec<String>,
}

impl Parts {
    fn new(path: &str) -> Parts {
        let path = path.replace('\\', "/");
        let drive = {
            let b = path.as_bytes();
            b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b.len() == 2 || b[2] == b'/')
        };
        let absolute = drive || path.starts_with('/');
        let floor = usize::from(drive);
        let mut parts: Vec<String> = Vec::new();
        for (i, p) in path.split('/').enumerate() {
            match p {
                "" | "." => {}
                _ if i == 0 && drive => parts.push(p.to_ascii_uppercase()),
                ".." if parts.len() > floor && parts.last().is_some_and(|l| l != "..") => {
                    parts.pop();
                }
                // Above the root of an absolute path is the root.
                ".." if absolute => {}
                _ => parts.push(p.to_owned()),
            }
        }
        Parts { absolute, parts }
    }

    /// `self` joined with a relative `other`; an absolute `other` stands alone.
    fn join(&self, other: &Parts) -> Parts {
        if other.absolute {
            return other.clone();
        }
        let mut joined = self.clone();
        let floor = usize::from(self.parts.first().is_some_and(|p| p.ends_with(':')));
        for p in &other.parts {
            match p.as_str() {
                ".." if joined.parts.len() > floor && joined.parts.last().is_some_and(|l| l != "..") => {
                    joined.parts.pop();
                }
                ".." if joined.absolute => {}
                _ => joined.parts.push(p.clone()),
            }
        }
        joined
    }

    /// The repository-relative form: relative paths as they are (unless they climb out with
    /// `..`), absolute ones only under `root`.
    fn in_repo(&self, root: &Parts) -> Option<String> {
        let rest = if self.absolute {
            if !root.absolute {
                return None;
            }
            self.parts.strip_prefix(root.parts.as_slice())?
        } else {
            &self.parts
        };
        if rest.is_empty() || rest[0] == ".." {
            return None;
        }
        Some(rest.join("/"))
    }

    fn text(&self) -> String {
        let joined = self.parts.join("/");
        if self.absolute && !self.parts.first().is_some_and(|p| p.ends_with(':')) {
            format!("/{joined}")
        } else {
            joined
        }
    }
}

/// The repository paths a report filename may be matched to.
#[derive(Clone, Debug, Default)]
pub struct RepoPaths {
    paths: HashSet<String>,
    /// Last component → the paths ending with it, as components.
    by_name: HashMap<String, Vec<Vec<String>>>,
}

impl RepoPaths {
    pub fn new<S: AsRef<str>>(paths: impl IntoIterator<Item = S>) -> RepoPaths {
        let mut repo = RepoPaths::default();
        for p in paths {
            repo.insert(p.as_ref());
        }
        repo
    }

    fn insert(&mut self, path: &str) {
        let parts = Parts::new(path);
        let Some(name) = parts.parts.last() else { return };
        let text = parts.parts.join("/");
        if self.paths.insert(text) {
            self.by_name.entry(name.clone()).or_default().push(parts.parts);
        }
    }

    pub fn contains(&self, path: &str) -> bool {
        self.paths.contains(path)
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

/// How a report filename was matched (best first: a source join, then the name itself, which
/// rank the same when copies of one file are merged, then a suffix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchKind {
    Source,
    Exact,
    /// This many whole trailing components agree.
    Suffix(usize),
}

impl MatchKind {
    /// Smaller is better.
    pub(crate) fn rank(self) -> (u8, usize) {
        match self {
            MatchKind::Source | MatchKind::Exact => (0, 0),
            MatchKind::Suffix(n) => (1, usize::MAX - n),
        }
    }
}

/// The outcome of [`map_path`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mapping {
    Found {
        path: String,
        how: MatchKind,
    },
    /// Several paths share the longest suffix: none is chosen.
    Ambiguous(Vec<String>),
    Missing,
}

/// The repository root and the report's sources, split once.
struct Resolver {
    root: Parts,
    sources: Vec<Parts>,
}

impl Resolver {
    fn new(sources: &[String], repo_root: &str) -> Resolver {
        Resolver { root: Parts::new(repo_root), sources: sources.iter().map(|s| Parts::new(s)).collect() }
    }

    /// The filename itself, then joined with each source (nothing more for an absolute name).
    fn forms(&self, name: &str) -> Vec<Parts> {
        let name = Parts::new(name);
        let mut forms = vec![name.clone()];
        if !name.absolute {
            forms.extend(self.sources.iter().map(|s| s.join(&name)));
        }
        forms
    }

    fn map(&self, name: &str, repo: &RepoPaths) -> Mapping {
        let forms = self.forms(name);
        // The source joins (forms[1..]) first, then the name itself (forms[0]).
        for (i, form) in forms.iter().enumerate().skip(1).chain(forms.iter().enumerate().take(1)) {
            if let Some(path) = form.in_repo(&self.root)
                && repo.contains(&path)
            {
                return Mapping::Found { path, how: if i == 0 { MatchKind::Exact } else { MatchKind::Source } };
            }
        }
        // Suffixes of the source-joined forms, or of the name when there are no sources.
        let suffix_forms = if forms.len() > 1 { &forms[1..] } else { &forms[..] };
        let mut best = 0;
        let mut found: Vec<String> = Vec::new();
        for form in suffix_forms {
            let tail: Vec<&String> = form.parts.iter().filter(|p| *p != "..").collect();
            let Some(last) = tail.last() else { continue };
            for candidate in repo.by_name.get(*last).into_iter().flatten() {
                let n = candidate.len().min(tail.len());
                let agree = candidate[candidate.len() - n..].iter().zip(&tail[tail.len() - n..]).all(|(a, b)| a == *b);
                if !agree || n < best {
                    continue;
                }
                if n > best {
                    best = n;
                    found.clear();
                }
                let path = candidate.join("/");
                if !found.contains(&path) {
                    found.push(path);
                }
            }
        }
        match found.len() {
            0 => Mapping::Missing,
            1 => Mapping::Found { path: found.remove(0), how: MatchKind::Suffix(best) },
            _ => {
                found.sort();
                Mapping::Ambiguous(found)
            }
        }
    }
}

/// Maps a report filename to one of `repo`'s paths (rules in the module docs). `repo_root` is
/// the repository's absolute path.
pub fn map_path(name: &str, sources: &[String], repo_root: &str, repo: &RepoPaths) -> Mapping {
    Resolver::new(sources, repo_root).map(name, repo)
}

/// The repository-relative path of a report filename when it can be made one, else the
/// `normalise`d name as written: a relative name joined with the first `<source>` that puts
/// it under `repo_root` (a relative source being relative to the root), else the name itself
/// (relative, or absolute under the root). Components as in the module docs (`\` is `/`,
/// `.` dropped, `..` resolved). Used as the file key when reports are merged.
pub fn repo_key(name: &str, sources: &[String], repo_root: &str) -> String {
    let root = Parts::new(repo_root);
    let parts = Parts::new(name);
    if !parts.absolute {
        for source in sources {
            if let Some(path) = Parts::new(source).join(&parts).in_repo(&root) {
                return path;
            }
        }
    }
    parts.in_repo(&root).unwrap_or_else(|| crate::cobertura::normalise(name))
}

/// One changed file the report lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchFile {
    /// The repository path.
    pub path: String,
    /// The report filenames merged into it.
    pub report_names: Vec<String>,
    pub how: MatchKind,
    /// Changed lines covered / changed lines the report lists.
    pub counts: Counts,
    /// All changed lines of the file, coverable or not.
    pub changed: u64,
    /// Uncovered changed lines as ranges (see the module docs).
    pub uncovered: Vec<LineRange>,
}

impl PatchFile {
    pub fn missed(&self) -> u64 {
        self.counts.valid - self.counts.covered
    }

    /// `app/src/routes/users.rs: 41–44, 58`.
    pub fn uncovered_text(&self) -> String {
        format!("{}: {}", self.path, format_ranges(&self.uncovered))
    }
}

/// A report filename and the repository-relative paths it was tried as (an absolute path when
/// it lies outside the root), for the message when nothing matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tried {
    pub report_name: String,
    pub forms: Vec<String>,
}

/// Patch coverage of a report against a diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Patch {
    /// Changed lines covered / changed lines the report lists, over all matched files.
    pub counts: Counts,
    /// Matched changed files, most uncovered changed lines first, then by path.
    pub files: Vec<PatchFile>,
    /// Changed paths no report file matched, sorted (including non-source files).
    pub not_in_report: Vec<String>,
    /// Report filenames whose best match was a tie between changed paths.
    pub ambiguous: Vec<(String, Vec<String>)>,
    /// How many files the diff changes.
    pub changed_files: usize,
    /// The first few report filenames (by name) and what they were tried as.
    pub tried: Vec<Tried>,
    /// The repository folders of every report file that is a file of the repository (the
    /// changed files and, when given, all of them): where the report measures.
    pub measured_folders: BTreeSet<String>,
}

impl Patch {
    /// True when the diff changes files but none of them matched the report: the report is
    /// probably of another checkout or the sources are wrong (the caller's exit 2).
    pub fn nothing_matched(&self) -> bool {
        self.changed_files > 0 && self.files.is_empty()
    }

    /// The exact verdict: `covered / coverable ≥ threshold`. No coverable changed line at all
    /// reaches any threshold; the caller decides whether to say so.
    pub fn passes(&self, threshold: Percent) -> bool {
        threshold.reached_by(self.counts)
    }

    /// The percentage rounded down to two decimals (`69.99` for 69.995 %).
    pub fn percent_text(&self) -> String {
        grade::percent_text(self.counts)
    }
}

/// How many report filenames [`Patch::tried`] shows.
const TRIED: usize = 3;

/// Patch coverage with the changed paths as the only candidates.
pub fn patch(report: &Report, changed: &ChangedLines, repo_root: &str) -> Patch {
    patch_with_files(report, changed, repo_root, &[])
}

/// Patch coverage with all the repository's files (`git ls-files`) as candidates too, so
/// that a report file is matched to its own, perhaps unchanged, path first.
pub fn patch_with_files(report: &Report, changed: &ChangedLines, repo_root: &str, repo_files: &[String]) -> Patch {
    let resolver = Resolver::new(&report.sources, repo_root);
    let repo = RepoPaths::new(changed.files.keys().chain(repo_files));
    let mut claims: HashMap<String, Vec<(MatchKind, usize)>> = HashMap::new();
    let mut ambiguous = Vec::new();
    let mut measured_folders = BTreeSet::new();
    for (i, f) in report.files.iter().enumerate() {
        match resolver.map(&f.name, &repo) {
            Mapping::Found { path, how } => {
                measured_folders.insert(path.rsplit_once('/').map_or("", |(dir, _)| dir).to_owned());
                if changed.files.contains_key(&path) {
                    claims.entry(path).or_default().push((how, i));
                }
            }
            Mapping::Ambiguous(paths) if paths.iter().any(|p| changed.files.contains_key(p)) => {
                ambiguous.push((f.name.clone(), paths));
            }
            _ => {}
        }
    }

    let mut counts = Counts::default();
    let mut files = Vec::new();
    let mut not_in_report = Vec::new();
    for (path, ranges) in &changed.files {
        let Some(mut claim) = claims.remove(path) else {
            not_in_report.push(path.clone());
            continue;
        };
        let best = claim.iter().map(|(how, _)| how.rank()).min().expect("claims are never empty");
        claim.retain(|(how, _)| how.rank() == best);
        let tables: Vec<&LineTable> = claim.iter().map(|&(_, i)| &report.files[i].line_table).collect();
        let mut file = PatchFile {
            path: path.clone(),
            report_names: claim.iter().map(|&(_, i)| report.files[i].name.clone()).collect(),
            how: claim[0].0,
            counts: Counts::default(),
            changed: 0,
            uncovered: Vec::new(),
        };
        for &(start, end) in ranges {
            file.changed += u64::from(end - start) + 1;
            // The uncovered range being built: its first and last uncovered line.
            let mut open: Option<LineRange> = None;
            for line in start..=end {
                match state(&tables, line) {
                    None => {}
                    Some(true) => {
                        file.counts.covered += 1;
                        file.counts.valid += 1;
                        file.uncovered.extend(open.take());
                    }
                    Some(false) => {
                        file.counts.valid += 1;
                        open = Some((open.map_or(line, |(s, _)| s), line));
                    }
                }
            }
            file.uncovered.extend(open);
        }
        counts.covered += file.counts.covered;
        counts.valid += file.counts.valid;
        files.push(file);
    }
    files.sort_by(|a, b| b.missed().cmp(&a.missed()).then_with(|| a.path.cmp(&b.path)));

    let tried = report
        .files
        .iter()
        .take(TRIED)
        .map(|f| Tried {
            report_name: f.name.clone(),
            forms: resolver
                .forms(&f.name)
                .iter()
                .map(|p| p.in_repo(&resolver.root).unwrap_or_else(|| p.text()))
                .collect(),
        })
        .collect();
    Patch { counts, files, not_in_report, ambiguous, changed_files: changed.len(), tried, measured_folders }
}

/// A line over several report files of one path: listed by any, covered by any.
pub(crate) fn state(tables: &[&LineTable], line: u32) -> Option<bool> {
    tables.iter().filter_map(|t| t.state(line)).reduce(|a, b| a || b)
}

/// `41–44, 58` (an en dash inside a range, `, ` between ranges).
pub fn format_ranges(ranges: &[LineRange]) -> String {
    let mut out = String::new();
    for (i, &(start, end)) in ranges.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}–{end}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cobertura::{ParseOptions, parse};

    fn ranges(c: &ChangedLines) -> Vec<(&str, Vec<LineRange>)> {
        c.files().map(|(p, r)| (p, r.to_vec())).collect()
    }

    const DIFF: &str = "\
diff --git a/src/lib.rs b/src/lib.rs
index 1111111..2222222 100644
--- a/src/lib.rs
+++ b/src/lib.rs
@@ -3,0 +4,2 @@ fn a() {
+    let x = 1;
+    let y = 2;
@@ -10 +12 @@ fn b() {
-old
+new
@@ -20,2 +22,0 @@
-gone
-gone too
@@ -30 +30,2 @@
-x
+--- not a header
+++ not a header either
\\ No newline at end of file
diff --git a/new.rs b/new.rs
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/new.rs
@@ -0,0 +1,3 @@
+diff --git a/x b/x
+@@ -1 +1 @@
+
diff --git a/old.rs b/old.rs
deleted file mode 100644
index 4444444..0000000
--- a/old.rs
+++ /dev/null
@@ -1,2 +0,0 @@
-a
-b
diff --git a/moved.rs b/renamed.rs
similarity index 100%
rename from moved.rs
rename to renamed.rs
diff --git a/m.rs b/edited.rs
similarity index 90%
rename from m.rs
rename to edited.rs
index 5555555..6666666 100644
--- a/m.rs
+++ b/edited.rs
@@ -5 +5 @@
-a
+b
diff --git a/logo.png b/logo.png
index 7777777..8888888 100644
Binary files a/logo.png and b/logo.png differ
diff --git a/run.sh b/run.sh
old mode 100644
new mode 100755
diff --git \"a/sp\\303\\251cial name.rs\" \"b/sp\\303\\251cial name.rs\"
index 9999999..aaaaaaa 100644
--- \"a/sp\\303\\251cial name.rs\"
+++ \"b/sp\\303\\251cial name.rs\"
@@ -1 +1 @@
-a
+b
diff --git a/with space.rs b/with space.rs
--- a/with space.rs\t
+++ b/with space.rs\t
@@ -7,0 +8 @@
+c
";

    #[test]
    fn the_new_side_of_every_hunk_is_collected() {
        let c = parse_diff(DIFF).unwrap();
        assert_eq!(
            ranges(&c),
            [
                ("edited.rs", vec![(5, 5)]),
                ("new.rs", vec![(1, 3)]),
                ("sp\u{e9}cial name.rs", vec![(1, 1)]),
                ("src/lib.rs", vec![(4, 5), (12, 12), (30, 31)]),
                ("with space.rs", vec![(8, 8)]),
            ]
        );
        assert_eq!(c.get("sp\u{e9}cial name.rs"), Some(&[(1, 1)][..]));
        assert_eq!((c.len(), c.line_count()), (5, 11));
        assert!(c.get("old.rs").is_none() && c.get("renamed.rs").is_none() && c.get("logo.png").is_none());
    }

    #[test]
    fn context_lines_crlf_and_an_empty_diff_are_read() {
        let diff =
            "diff --git a/a b/a\r\n--- a/a\r\n+++ b/a\r\n@@ -1,4 +1,5 @@\r\n ctx\r\n-x\r\n+y\r\n+z\r\n\r\n ctx\r\n";
        assert_eq!(ranges(&parse_diff(diff).unwrap()), [("a", vec![(2, 3)])]);
        assert!(parse_diff("").unwrap().is_empty());
        assert!(parse_diff("\n").unwrap().is_empty());
    }

    #[test]
    fn bad_diffs_are_refused_with_the_line() {
        let cases = [
            ("fatal: bad revision 'main'\n", 1, "not a git diff"),
            ("diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1,2 @@\n-a\n+b\n", 6, "ends inside a hunk"),
            ("diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1 @@\n-a\n+b\n+c\n", 7, "unexpected"),
            ("diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1 @@\n+b\n+c\n", 6, "expected 1 more old"),
            ("diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +x @@\n", 4, "malformed hunk header"),
            ("diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +0,2 @@\n", 4, "out of range"),
            ("diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +4294967295,2 @@\n", 4, "out of range"),
            ("diff --git a/a b/a\n@@ -1 +1 @@\n", 2, "before the file's `+++`"),
            ("diff --git a b\n--- a\n+++ a\n@@ -1 +1 @@\n-a\n+b\n", 3, "--dst-prefix=b/"),
            ("diff --git a/a b/a\n--- a\n+++ b/a\n@@ -1 +1 @@\n-a\n+b\n", 2, "old-side path \"a\""),
            // The prefix alone names no file.
            ("diff --git a/a b/a\n--- a/a\n+++ b/\n@@ -1 +1 @@\n-a\n+b\n", 3, "new-side path \"b/\""),
            ("diff --git a/a b/a\n--- a/a\n+++ \"b/a\\q\"\n", 3, "unknown escape"),
            ("diff --git a/a b/a\n--- a/a\n+++ \"b/a\n", 3, "no closing quote"),
            ("diff --cc a\n", 1, "combined"),
        ];
        for (diff, line, message) in cases {
            let e = parse_diff(diff).unwrap_err();
            assert_eq!(e.line, line, "{diff:?}: {e}");
            assert!(e.message.contains(message), "{diff:?}: {e}");
        }
        assert!(parse_diff(cases[0].0).unwrap_err().to_string().starts_with("line 1 of the diff: "));
    }

    #[test]
    fn quoted_paths_decode_c_escapes() {
        assert_eq!(unquote(r#""b/a\"b\\c\td\303\251" trailing"#).unwrap(), "b/a\"b\\c\td\u{e9}");
        assert_eq!(unquote(r#""b/\377""#).unwrap(), "b/\u{fffd}");
        assert!(unquote(r#""b/\30""#).is_err());
    }

    #[test]
    fn changed_lines_from_ranges_are_sorted_and_merged() {
        let c = ChangedLines::from_ranges([("a", (5, 6)), ("a", (1, 2)), ("a", (3, 3)), ("a", (9, 9)), ("b", (2, 4))]);
        assert_eq!(ranges(&c), [("a", vec![(1, 3), (5, 6), (9, 9)]), ("b", vec![(2, 4)])]);
    }

    fn repo(paths: &[&str]) -> RepoPaths {
        RepoPaths::new(paths.iter().copied())
    }

    fn found(path: &str, how: MatchKind) -> Mapping {
        Mapping::Found { path: path.into(), how }
    }

    #[test]
    fn report_names_map_to_repository_paths() {
        let r = repo(&["app/src/lib.rs", "src/main.rs", "lib/x.py"]);
        let none: &[String] = &[];
        let root = "/work/main";
        // Relative, `./`, `\`, absolute under the root.
        for name in
            ["src/main.rs", "./src/main.rs", "src\\main.rs", "/work/main/src/main.rs", "/work/main/./x/../src/main.rs"]
        {
            assert_eq!(map_path(name, none, root, &r), found("src/main.rs", MatchKind::Exact), "{name}");
        }
        // Joined with a source under the root; a relative source is relative to the root.
        let sources = ["/elsewhere".to_owned(), "/work/main/app".to_owned()];
        assert_eq!(map_path("src/lib.rs", &sources, root, &r), found("app/src/lib.rs", MatchKind::Source));
        assert_eq!(map_path("x.py", &["lib/".into()], root, &r), found("lib/x.py", MatchKind::Source));
        // The CI checkout is elsewhere: whole trailing components.
        let ci = ["/home/ci/build/app".to_owned()];
        assert_eq!(map_path("src/lib.rs", &ci, root, &r), found("app/src/lib.rs", MatchKind::Suffix(3)));
        assert_eq!(
            map_path("/home/ci/build/app/src/lib.rs", none, root, &r),
            found("app/src/lib.rs", MatchKind::Suffix(3))
        );
        assert_eq!(map_path("src/lib.rs", none, root, &r), found("app/src/lib.rs", MatchKind::Suffix(2)));
        // A source that names another directory does not fall back to the bare name.
        assert_eq!(map_path("src/lib.rs", &["/home/ci/build".into()], root, &r), Mapping::Missing);
        // Partial agreement is not a match.
        assert_eq!(map_path("other/src/lib.rs", none, root, &r), Mapping::Missing);
        assert_eq!(map_path("/work/main/../x.py", none, root, &r), Mapping::Missing);
        // Windows paths, drive letters in any case.
        assert_eq!(
            map_path("c:\\w\\main\\src\\main.rs", none, "C:/w/main", &r),
            found("src/main.rs", MatchKind::Exact)
        );
        assert_eq!(
            map_path("src\\lib.rs", &["C:\\w\\main\\app\\".into()], "c:\\w\\main", &r),
            found("app/src/lib.rs", MatchKind::Source)
        );
    }

    #[test]
    fn source_beats_name_beats_suffix_and_ties_are_ambiguous() {
        let r = repo(&["src/lib.rs", "app/src/lib.rs", "a/mod.rs", "b/mod.rs"]);
        let root = "/r";
        // Names relative to a source in a subfolder are read against it, even when the root has
        // a file of the same name; without that source the name is taken as it is.
        assert_eq!(map_path("src/lib.rs", &["/r/app".into()], root, &r), found("app/src/lib.rs", MatchKind::Source));
        assert_eq!(map_path("src/lib.rs", &[], root, &r), found("src/lib.rs", MatchKind::Exact));
        assert_eq!(
            map_path("lib.rs", &["/r/app/src".into(), "/r/src".into()], root, &r),
            found("app/src/lib.rs", MatchKind::Source)
        );
        assert_eq!(map_path("/ci/app/src/lib.rs", &[], root, &r), found("app/src/lib.rs", MatchKind::Suffix(3)));
        assert_eq!(map_path("mod.rs", &[], root, &r), Mapping::Ambiguous(vec!["a/mod.rs".into(), "b/mod.rs".into()]));
        assert_eq!(map_path("/ci/b/mod.rs", &[], root, &r), found("b/mod.rs", MatchKind::Suffix(2)));
    }

    fn report(sources: &[&str], files: &[(&str, &[(u32, u32)])]) -> Report {
        let sources: String = sources.iter().map(|s| format!("<source>{s}</source>")).collect();
        let classes: String = files
            .iter()
            .map(|(name, lines)| {
                let lines: String =
                    lines.iter().map(|(n, hits)| format!(r#"<line number="{n}" hits="{hits}"/>"#)).collect();
                format!(r#"<class filename="{name}"><lines>{lines}</lines></class>"#)
            })
            .collect();
        let xml = format!(
            "<coverage><sources>{sources}</sources><packages><package><classes>{classes}</classes></package></packages></coverage>"
        );
        parse(xml.as_bytes(), ParseOptions::default()).unwrap()
    }

    #[test]
    fn patch_counts_changed_coverable_lines_and_ranges_the_uncovered_ones() {
        // users.rs: changed 40–45 and 58; 43 is blank (not listed), 45 covered, 50 unchanged.
        let r = report(
            &["/home/ci/build/app"],
            &[
                ("src/routes/users.rs", &[(40, 1), (41, 0), (42, 0), (44, 0), (45, 2), (46, 0), (50, 0), (58, 0)]),
                ("src/ok.rs", &[(1, 1), (2, 1)]),
                ("src/untouched.rs", &[(1, 0)]),
            ],
        );
        let changed = ChangedLines::from_ranges([
            ("app/src/routes/users.rs", (40, 46)),
            ("app/src/routes/users.rs", (58, 58)),
            ("app/src/ok.rs", (1, 3)),
            ("app/src/comments.rs", (1, 1)),
            ("README.md", (1, 9)),
        ]);
        let p = patch(&report_with_comments(r), &changed, "/work/main");
        assert_eq!(p.counts, Counts { covered: 4, valid: 9 });
        let names: Vec<_> = p.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["app/src/routes/users.rs", "app/src/comments.rs", "app/src/ok.rs"]);
        let users = &p.files[0];
        assert_eq!(users.uncovered, [(41, 44), (46, 46), (58, 58)]);
        assert_eq!((users.counts, users.changed, users.missed()), (Counts { covered: 2, valid: 7 }, 8, 5));
        assert_eq!(users.uncovered_text(), "app/src/routes/users.rs: 41–44, 46, 58");
        assert_eq!(
            (users.how, users.report_names.as_slice()),
            (MatchKind::Suffix(4), &["src/routes/users.rs".to_owned()][..])
        );
        assert_eq!(p.files[1].counts, Counts { covered: 0, valid: 0 });
        assert_eq!(p.files[2].counts, Counts { covered: 2, valid: 2 });
        assert!(p.files[2].uncovered.is_empty());
        assert_eq!(p.not_in_report, ["README.md"]);
        assert_eq!((p.changed_files, p.nothing_matched()), (4, false));
        assert_eq!(p.percent_text(), "44.44");
    }

    /// Adds a file whose changed line is not coverable (a comment).
    fn report_with_comments(mut r: Report) -> Report {
        let extra = report(&[], &[("src/comments.rs", &[(5, 0)])]);
        r.files.extend(extra.files);
        r
    }

    #[test]
    fn copies_of_one_file_merge_and_the_best_match_wins() {
        let r = report(
            &["/r"],
            &[("/r/a.rs", &[(1, 0), (2, 0)]), ("a.rs", &[(2, 1), (3, 0)]), ("/elsewhere/x/a.rs", &[(1, 1)])],
        );
        let changed = ChangedLines::from_ranges([("a.rs", (1, 3))]);
        let p = patch(&r, &changed, "/r");
        let f = &p.files[0];
        assert_eq!(f.report_names, ["/r/a.rs", "a.rs"]);
        assert_eq!(
            (f.how, f.counts, f.uncovered.as_slice()),
            (MatchKind::Exact, Counts { covered: 1, valid: 3 }, &[(1, 1), (3, 3)][..])
        );
    }

    #[test]
    fn repository_files_keep_an_unchanged_file_from_claiming_a_changed_one() {
        let r = report(&[], &[("src/lib.rs", &[(1, 0)]), ("app/src/lib.rs", &[(1, 1)])]);
        let changed = ChangedLines::from_ranges([("app/src/lib.rs", (1, 1))]);
        // Without the file list, the root crate's src/lib.rs could only be a suffix match:
        // the exact match of app/src/lib.rs still wins.
        assert_eq!(patch(&r, &changed, "/r").files[0].report_names, ["app/src/lib.rs"]);
        let only_root = report(&[], &[("src/lib.rs", &[(1, 0)])]);
        assert_eq!(patch(&only_root, &changed, "/r").files[0].how, MatchKind::Suffix(2));
        let all = ["src/lib.rs".to_owned(), "app/src/lib.rs".to_owned()];
        let p = patch_with_files(&only_root, &changed, "/r", &all);
        assert!(p.nothing_matched());
        assert_eq!(p.not_in_report, ["app/src/lib.rs"]);
    }

    #[test]
    fn nothing_matched_says_what_was_tried() {
        let r = report(&["/ci/other"], &[("pkg/a.py", &[(1, 1)]), ("pkg/b.py", &[(1, 1)])]);
        let changed = ChangedLines::from_ranges([("src/x.rs", (1, 2))]);
        let p = patch(&r, &changed, "/work/main");
        assert!(p.nothing_matched());
        assert_eq!(
            p.tried[0],
            Tried { report_name: "pkg/a.py".into(), forms: vec!["pkg/a.py".into(), "/ci/other/pkg/a.py".into()] }
        );
        assert_eq!(p.tried.len(), 2);
        assert!(!patch(&r, &ChangedLines::default(), "/work/main").nothing_matched());
        let ambiguous = report(&[], &[("mod.rs", &[(1, 0)])]);
        let changed = ChangedLines::from_ranges([("a/mod.rs", (1, 1)), ("b/mod.rs", (1, 1))]);
        let p = patch(&ambiguous, &changed, "/r");
        assert_eq!(p.ambiguous, [("mod.rs".to_owned(), vec!["a/mod.rs".to_owned(), "b/mod.rs".to_owned()])]);
        assert!(p.nothing_matched());
    }

    #[test]
    fn a_patch_at_69_995_percent_fails_a_70_percent_gate() {
        // 13,999 of 20,000 changed lines covered: 69.995 %.
        let lines: Vec<(u32, u32)> = (1..=20_000).map(|n| (n, u32::from(n <= 13_999))).collect();
        let r = report(&[], &[("new.rs", &lines)]);
        let mut diff = String::from(
            "diff --git a/new.rs b/new.rs\nnew file mode 100644\n--- /dev/null\n+++ b/new.rs\n@@ -0,0 +1,20000 @@\n",
        );
        for _ in 0..20_000 {
            diff.push_str("+x\n");
        }
        let p = patch(&r, &parse_diff(&diff).unwrap(), "/r");
        assert_eq!(p.counts, Counts { covered: 13_999, valid: 20_000 });
        assert!(!p.passes(Percent::whole(70)));
        assert!(p.passes("69.995".parse().unwrap()));
        assert_eq!(p.percent_text(), "69.99");
        assert_eq!(p.files[0].uncovered_text(), "new.rs: 14000–20000");
    }

    #[test]
    fn ranges_are_written_with_en_dashes() {
        assert_eq!(format_ranges(&[(41, 44), (58, 58)]), "41–44, 58");
        assert_eq!(format_ranges(&[]), "");
    }
}

//! The change as git shows it, for a reader: per file its hunks with their context lines, and
//! each added line marked covered, uncovered or not coverable by the same rule as the patch
//! gate (see [`crate::patch`]), so a page that shows the marks agrees with the verdict.
//!
//! The input is `git diff -U<n>` with the options [`crate::patch::parse_diff`] documents (any
//! context size); its added lines are the ones the patch counts (the caller checks with
//! [`PatchView::changed_lines`]). Nothing here renders: the xtask writes the page.

use crate::cobertura::{Counts, LineTable, Report};
use crate::patch::{self, ChangedLines, DiffError, Patch, hunk_header, new_side_path, short, unquote};

/// What the patch gate made of an added line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// The report lists it with hits.
    Covered,
    /// The report lists it without hits: one of the verdict's uncovered lines.
    Uncovered,
    /// The report does not list it (a blank line, a comment, a declaration), or does not list
    /// its file at all: it counts neither way.
    NotCoverable,
}

/// One line of a hunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// Unchanged, shown around a change.
    Context,
    Added(Mark),
    Removed,
    /// `\ No newline at end of file`.
    Note,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub kind: RowKind,
    /// The line's number on the old side (context and removed lines).
    pub old: Option<u32>,
    /// The line's number on the new side (context and added lines).
    pub new: Option<u32>,
    /// The line without git's leading `+`, `-` or space.
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hunk {
    /// `@@ -a,b +c,d @@ …` as git wrote it (with the function context it shows after it).
    pub header: String,
    pub rows: Vec<Row>,
}

/// One file of the diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewFile {
    /// The new side's path, else (a deleted file) the old side's, else what git's
    /// `diff --git` line names.
    pub path: String,
    /// The old side's path when it is another (a rename), else `None`.
    pub renamed_from: Option<String>,
    /// No new side: the file was deleted.
    pub deleted: bool,
    /// The extended header lines git wrote (`new file mode 100644`, `similarity index 90%`,
    /// `Binary files … differ`, …), without `index`, `---` and `+++`.
    pub headers: Vec<String>,
    /// The patch matched the file to report files: its lines can be coverable.
    pub measured: bool,
    pub hunks: Vec<Hunk>,
}

impl ViewFile {
    /// Its added lines' marks: covered, coverable.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for row in self.hunks.iter().flat_map(|h| &h.rows) {
            match row.kind {
                RowKind::Added(Mark::Covered) => {
                    counts.covered += 1;
                    counts.valid += 1;
                }
                RowKind::Added(Mark::Uncovered) => counts.valid += 1,
                _ => {}
            }
        }
        counts
    }

    /// How many lines it adds.
    pub fn added(&self) -> u64 {
        self.hunks.iter().flat_map(|h| &h.rows).filter(|r| matches!(r.kind, RowKind::Added(_))).count() as u64
    }
}

/// The whole diff, marked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatchView {
    /// In git's order (by path).
    pub files: Vec<ViewFile>,
}

impl PatchView {
    /// The added lines, as the patch gate reads them from git's `-U0` diff.
    pub fn changed_lines(&self) -> ChangedLines {
        ChangedLines::from_ranges(self.files.iter().flat_map(|f| {
            f.hunks.iter().flat_map(|h| &h.rows).filter_map(move |r| match (&r.kind, r.new) {
                (RowKind::Added(_), Some(n)) if !f.deleted => Some((f.path.as_str(), (n, n))),
                _ => None,
            })
        }))
    }

    /// Every file's marks together: covered, coverable.
    pub fn counts(&self) -> Counts {
        self.files
            .iter()
            .map(ViewFile::counts)
            .fold(Counts::default(), |a, b| Counts { covered: a.covered + b.covered, valid: a.valid + b.valid })
    }

    /// How many lines the change adds.
    pub fn added(&self) -> u64 {
        self.files.iter().map(ViewFile::added).sum()
    }
}

/// Reads git's diff and marks each added line from the report files the patch matched to its
/// file (a line is covered when any of them covers it, as the patch counts it).
pub fn view(diff: &str, report: &Report, patch: &Patch) -> Result<PatchView, DiffError> {
    let mut files = parse(diff)?;
    for file in files.iter_mut().filter(|f| !f.deleted) {
        let Some(matched) = patch.files.iter().find(|p| p.path == file.path) else { continue };
        let tables: Vec<&LineTable> =
            report.files.iter().filter(|f| matched.report_names.contains(&f.name)).map(|f| &f.line_table).collect();
        file.measured = true;
        for row in file.hunks.iter_mut().flat_map(|h| &mut h.rows) {
            if let (RowKind::Added(mark), Some(n)) = (&mut row.kind, row.new) {
                *mark = match patch::state(&tables, n) {
                    Some(true) => Mark::Covered,
                    Some(false) => Mark::Uncovered,
                    None => Mark::NotCoverable,
                };
            }
        }
    }
    Ok(PatchView { files })
}

/// The hunk being read: lines still expected on each side, the next numbers.
struct Open {
    old: u32,
    new: u32,
    next_old: u32,
    next_new: u32,
}

/// Reads git's unified diff into files and hunks, every added line not coverable yet.
pub fn parse(text: &str) -> Result<Vec<ViewFile>, DiffError> {
    let mut files: Vec<ViewFile> = Vec::new();
    let mut open: Option<Open> = None;
    let mut plus_seen = false;
    for (i, raw) in text.lines().enumerate() {
        let fail = |message: String| Err(DiffError { line: i + 1, message });
        if let Some(h) = open.as_mut().filter(|h| h.old > 0 || h.new > 0) {
            let hunk = files.last_mut().and_then(|f| f.hunks.last_mut()).expect("a hunk is open only inside a file");
            let rest = raw.get(1..).unwrap_or("").to_owned();
            let row = match raw.as_bytes().first() {
                Some(b'+') if h.new > 0 => {
                    h.new -= 1;
                    h.next_new += 1;
                    Row { kind: RowKind::Added(Mark::NotCoverable), old: None, new: Some(h.next_new - 1), text: rest }
                }
                Some(b'-') if h.old > 0 => {
                    h.old -= 1;
                    h.next_old += 1;
                    Row { kind: RowKind::Removed, old: Some(h.next_old - 1), new: None, text: rest }
                }
                Some(b' ') | None if h.old > 0 && h.new > 0 => {
                    h.old -= 1;
                    h.new -= 1;
                    h.next_old += 1;
                    h.next_new += 1;
                    Row { kind: RowKind::Context, old: Some(h.next_old - 1), new: Some(h.next_new - 1), text: rest }
                }
                Some(b'\\') => Row { kind: RowKind::Note, old: None, new: None, text: raw.to_owned() },
                _ => {
                    return fail(format!(
                        "expected {} more old and {} more new line(s) of the hunk, found {:?}",
                        h.old,
                        h.new,
                        short(raw)
                    ));
                }
            };
            hunk.rows.push(row);
            continue;
        }
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(names) = line.strip_prefix("diff --git ") {
            files.push(ViewFile {
                path: git_line_path(names),
                renamed_from: None,
                deleted: false,
                headers: Vec::new(),
                measured: false,
                hunks: Vec::new(),
            });
            (plus_seen, open) = (false, None);
            continue;
        }
        if line.starts_with("diff --cc ") || line.starts_with("diff --combined ") {
            return fail("a combined (merge) diff: diff the working tree against one commit".into());
        }
        let Some(file) = files.last_mut() else {
            if line.trim().is_empty() {
                continue;
            }
            return fail(format!("expected `diff --git`, found {:?}: not a git diff", short(line)));
        };
        if line.starts_with("@@") {
            if !plus_seen {
                return fail("a hunk before the file's `+++` line".into());
            }
            let Some((old_start, old, new_start, new)) = hunk_header(line) else {
                return fail(format!("malformed hunk header {:?}", short(line)));
            };
            if new > 0 && (new_start == 0 || new_start.checked_add(new - 1).is_none())
                || old > 0 && (old_start == 0 || old_start.checked_add(old - 1).is_none())
            {
                return fail(format!("hunk header {:?} names lines out of range", short(line)));
            }
            file.hunks.push(Hunk { header: line.to_owned(), rows: Vec::new() });
            open = Some(Open { old, new, next_old: old_start, next_new: new_start });
        } else if open.is_some() {
            // Between hunks only the end-of-file marker may appear.
            if line.starts_with('\\') {
                if let Some(hunk) = file.hunks.last_mut() {
                    hunk.rows.push(Row { kind: RowKind::Note, old: None, new: None, text: line.to_owned() });
                }
            } else if !line.is_empty() {
                return fail(format!("unexpected {:?} after a hunk", short(line)));
            }
        } else if let Some(path) = line.strip_prefix("+++ ") {
            plus_seen = true;
            match new_side_path(path).map_err(|message| DiffError { line: i + 1, message })? {
                Some(path) => file.path = path,
                None => {
                    file.deleted = true;
                    if let Some(old) = file.renamed_from.take() {
                        file.path = old;
                    }
                }
            }
        } else if let Some(path) = line.strip_prefix("--- ") {
            // The old side, kept as `renamed_from` until the end shows whether it is another.
            if let Some(old) = old_side_path(path) {
                file.renamed_from = Some(old);
            }
        } else if let Some(from) = line.strip_prefix("rename from ") {
            file.renamed_from = Some(header_path(from));
            file.headers.push(line.to_owned());
        } else if let Some(to) = line.strip_prefix("rename to ") {
            file.path = header_path(to);
            file.headers.push(line.to_owned());
        } else if !line.starts_with("index ") && !line.trim().is_empty() {
            file.headers.push(line.to_owned());
        }
    }
    if let Some(h) = open.filter(|h| h.old > 0 || h.new > 0) {
        return Err(DiffError {
            line: text.lines().count(),
            message: format!(
                "the diff ends inside a hunk ({} old and {} new line(s) missing): truncated?",
                h.old, h.new
            ),
        });
    }
    // The old side is `renamed_from` only when it is another path than the new one.
    for file in &mut files {
        if file.renamed_from.as_deref() == Some(file.path.as_str()) {
            file.renamed_from = None;
        }
    }
    Ok(files)
}

/// The path of a `--- ` line without `a/`; `None` for `/dev/null` or an unreadable one.
fn old_side_path(text: &str) -> Option<String> {
    let path = if text.starts_with('"') { unquote(text).ok()? } else { text.split('\t').next()?.to_owned() };
    path.strip_prefix("a/").map(str::to_owned)
}

/// A `rename from` / `rename to` path: C-quoted when git had to, without a prefix.
fn header_path(text: &str) -> String {
    if text.starts_with('"') { unquote(text).unwrap_or_else(|_| text.to_owned()) } else { text.to_owned() }
}

/// The file `diff --git a/X b/X` names, for a file without `---`/`+++` lines (a binary file, a
/// mode change): `X` when both sides agree, else the text as written.
fn git_line_path(names: &str) -> String {
    if let Some(rest) = names.strip_prefix('"') {
        // `"a/…" "b/…"`: git quotes a side that needs it, and one file's two sides alike.
        if let Some(end) = rest.find("\" \"").map(|i| i + 2)
            && let (Ok(a), Ok(b)) = (unquote(&names[..end]), unquote(&names[end + 1..]))
            && let (Some(a), Some(b)) = (a.strip_prefix("a/"), b.strip_prefix("b/"))
            && a == b
        {
            return b.to_owned();
        }
        return names.to_owned();
    }
    // Unquoted: `a/X b/X`, the same X on both sides, so the split is in the middle.
    let mid = names.len() / 2;
    if names.len() % 2 == 1
        && names.is_char_boundary(mid)
        && names.as_bytes()[mid] == b' '
        && let (Some(a), Some(b)) = (names[..mid].strip_prefix("a/"), names[mid + 1..].strip_prefix("b/"))
        && a == b
    {
        return b.to_owned();
    }
    names.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cobertura::{ParseOptions, parse as parse_report};

    const DIFF: &str = "\
diff --git a/src/lib.rs b/src/lib.rs
index 1111111..2222222 100644
--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1,4 +1,5 @@ fn a() {
 one
-two
+zwei
+drei
 </pre><script>alert(1)</script>

@@ -10,2 +11,2 @@
 ten
-eleven
+elf
\\ No newline at end of file
diff --git a/old.rs b/old.rs
deleted file mode 100644
index 4444444..0000000
--- a/old.rs
+++ /dev/null
@@ -1,2 +0,0 @@
-a
-b
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
diff --git a/moved.rs b/renamed.rs
similarity index 100%
rename from moved.rs
rename to renamed.rs
diff --git a/logo.png b/logo.png
index 7777777..8888888 100644
Binary files a/logo.png and b/logo.png differ
diff --git \"a/sp\\303\\251cial name.rs\" \"b/sp\\303\\251cial name.rs\"
old mode 100644
new mode 100755
";

    fn rows(f: &ViewFile) -> Vec<(RowKind, Option<u32>, Option<u32>, &str)> {
        f.hunks.iter().flat_map(|h| &h.rows).map(|r| (r.kind.clone(), r.old, r.new, r.text.as_str())).collect()
    }

    #[test]
    fn files_hunks_and_numbered_rows_are_read_as_git_wrote_them() {
        let files = parse(DIFF).unwrap();
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["src/lib.rs", "old.rs", "edited.rs", "renamed.rs", "logo.png", "sp\u{e9}cial name.rs"]);
        let lib = &files[0];
        assert_eq!(lib.hunks[0].header, "@@ -1,4 +1,5 @@ fn a() {");
        let added = RowKind::Added(Mark::NotCoverable);
        assert_eq!(
            rows(lib),
            [
                (RowKind::Context, Some(1), Some(1), "one"),
                (RowKind::Removed, Some(2), None, "two"),
                (added.clone(), None, Some(2), "zwei"),
                (added.clone(), None, Some(3), "drei"),
                (RowKind::Context, Some(3), Some(4), "</pre><script>alert(1)</script>"),
                (RowKind::Context, Some(4), Some(5), ""),
                (RowKind::Context, Some(10), Some(11), "ten"),
                (RowKind::Removed, Some(11), None, "eleven"),
                (added.clone(), None, Some(12), "elf"),
                (RowKind::Note, None, None, "\\ No newline at end of file"),
            ]
        );
        assert!(lib.headers.is_empty() && lib.renamed_from.is_none() && !lib.deleted);
        assert!(files[1].deleted);
        assert_eq!(files[1].headers, ["deleted file mode 100644"]);
        assert_eq!(rows(&files[1]).len(), 2);
        assert_eq!(files[2].renamed_from.as_deref(), Some("m.rs"));
        assert_eq!(files[3].renamed_from.as_deref(), Some("moved.rs"));
        assert!(files[3].hunks.is_empty());
        assert_eq!(files[4].headers, ["Binary files a/logo.png and b/logo.png differ"]);
        assert_eq!(files[5].headers, ["old mode 100644", "new mode 100755"]);
    }

    #[test]
    fn the_added_lines_are_the_ones_the_patch_counts_at_any_context() {
        let view = PatchView { files: parse(DIFF).unwrap() };
        let zero = "\
diff --git a/src/lib.rs b/src/lib.rs
--- a/src/lib.rs
+++ b/src/lib.rs
@@ -2 +2,2 @@
-two
+zwei
+drei
@@ -11 +12 @@
-eleven
+elf
diff --git a/m.rs b/edited.rs
--- a/m.rs
+++ b/edited.rs
@@ -5 +5 @@
-a
+b
";
        assert_eq!(view.changed_lines(), patch::parse_diff(zero).unwrap());
        assert_eq!(view.changed_lines(), patch::parse_diff(DIFF).unwrap());
        assert_eq!(view.added(), 4);
    }

    #[test]
    fn added_lines_are_marked_as_the_patch_counts_them() {
        let xml = r#"<coverage><packages><package><classes>
            <class filename="src/lib.rs"><lines><line number="2" hits="3"/><line number="3" hits="0"/></lines></class>
            <class filename="src/lib.rs"><lines><line number="3" hits="0"/><line number="12" hits="0"/></lines></class>
            <class filename="edited.rs"><lines><line number="5" hits="1"/></lines></class>
        </classes></package></packages></coverage>"#;
        let report = parse_report(xml.as_bytes(), ParseOptions::default()).unwrap();
        let changed = patch::parse_diff(DIFF).unwrap();
        let p = patch::patch(&report, &changed, "/r");
        let view = view(DIFF, &report, &p).unwrap();
        let marks: Vec<(u32, Mark)> = view.files[0]
            .hunks
            .iter()
            .flat_map(|h| &h.rows)
            .filter_map(|r| match r.kind {
                RowKind::Added(m) => Some((r.new.unwrap(), m)),
                _ => None,
            })
            .collect();
        assert_eq!(marks, [(2, Mark::Covered), (3, Mark::Uncovered), (12, Mark::Uncovered)]);
        assert_eq!(view.counts(), p.counts);
        assert!(view.files[0].measured && view.files[2].measured && !view.files[1].measured);
        // A file the report does not list: measured by nothing, every line not coverable.
        let bare = patch::patch(&report, &ChangedLines::default(), "/r");
        let unmarked = super::view(DIFF, &report, &bare).unwrap();
        assert_eq!(unmarked.counts(), Counts::default());
        assert!(unmarked.files.iter().all(|f| !f.measured));
    }

    #[test]
    fn bad_diffs_are_refused_with_the_line() {
        for (diff, line, message) in [
            ("fatal: bad revision\n", 1, "not a git diff"),
            ("diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1,2 @@\n-a\n+b\n", 6, "ends inside a hunk"),
            ("diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1 @@\n+b\n+c\n", 6, "expected 1 more old"),
            ("diff --git a/a b/a\n@@ -1 +1 @@\n", 2, "before the file's `+++`"),
            ("diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -0,2 +1 @@\n", 4, "out of range"),
            ("diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +0,2 @@\n", 4, "out of range"),
            // Only old lines missing: still cut short.
            ("diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1,2 +1 @@\n-a\n+b\n", 6, "1 old and 0 new"),
            ("diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1 @@\n-a\n+b\nx\n", 7, "unexpected"),
            ("diff --cc a\n", 1, "combined"),
        ] {
            let e = parse(diff).unwrap_err();
            assert_eq!(e.line, line, "{diff:?}: {e}");
            assert!(e.message.contains(message), "{diff:?}: {e}");
        }
    }

    #[test]
    fn the_git_line_names_a_file_when_both_sides_agree() {
        assert_eq!(git_line_path("a/x y.png b/x y.png"), "x y.png");
        assert_eq!(git_line_path("a/x b/y"), "a/x b/y");
        assert_eq!(git_line_path("\"a/\\303\\251\" \"b/\\303\\251\""), "\u{e9}");
        assert_eq!(git_line_path("\"a/x\" \"b/y\""), "\"a/x\" \"b/y\"");
    }
}

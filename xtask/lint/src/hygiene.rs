//! File hygiene: what pre-commit-hooks' trailing-whitespace, end-of-file-fixer,
//! check-merge-conflict, mixed-line-ending, check-added-large-files, check-yaml and
//! check-toml did, on bytes, without Python; and, by file name, the leftovers of a merge or a
//! patch (`*.orig`, `*.rej`, `git mergetool`'s BACKUP, BASE, LOCAL and REMOTE copies).
//!
//! YAML and TOML validity use Rust crates (saphyr-parser, toml) rather than the tools venv:
//! the check then works on a machine without Python, and the policies need a YAML parser with
//! line numbers anyway. The crates build in about 2.5 s beside clap and syn
//! (docs/benchmarks.md, "What the lint gate adds").

use super::{Finding, line_of, yaml};

/// Findings of one rule in one file beyond this many are summarised in one line.
const PER_FILE_CAP: usize = 20;

/// Git's heuristic: a NUL byte in the first 8000 bytes makes a file binary.
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(8000)].contains(&0)
}

/// Every hygiene finding for one file. The leftover rule (by name) and the size limit
/// (`max_bytes`) apply to binary files too; the other rules to text files only.
pub fn check(path: &str, bytes: &[u8], max_bytes: u64) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(what) = leftover(path) {
        out.push(Finding::file(path, format!("{what}: delete it, or `git rm` it if it is tracked")));
    }
    let size = bytes.len() as u64;
    if size > max_bytes {
        out.push(Finding::file(
            path,
            format!("{} KB, over the {} KB limit for a committed file", size.div_ceil(1024), max_bytes / 1024),
        ));
    }
    if is_binary(bytes) {
        return out;
    }
    lines(path, bytes, &mut out);
    end_of_file(path, bytes, &mut out);
    if path.ends_with(".yml") || path.ends_with(".yaml") {
        match std::str::from_utf8(bytes) {
            Err(e) => out.push(Finding::at(path, line_of(bytes, e.valid_up_to()), "invalid YAML: not UTF-8")),
            Ok(text) => {
                if let Err(e) = yaml::parse(text) {
                    out.push(Finding::at(path, e.line.max(1), format!("invalid YAML: {}", e.message)));
                }
            }
        }
    }
    if path.ends_with(".toml") {
        match std::str::from_utf8(bytes) {
            Err(e) => out.push(Finding::at(path, line_of(bytes, e.valid_up_to()), "invalid TOML: not UTF-8")),
            Ok(text) => {
                if let Some((line, message)) = toml_problem(text) {
                    out.push(Finding::at(path, line, format!("invalid TOML: {message}")));
                }
            }
        }
    }
    out
}

/// Why `text` is not valid TOML, and on which line (1-based); `None` when it is. Also what
/// `cargo xtask init` checks a manifest with before it appends to it.
pub fn toml_problem(text: &str) -> Option<(usize, String)> {
    let e = toml::from_str::<toml::Table>(text).err()?;
    let line = e.span().map_or(1, |s| line_of(text.as_bytes(), s.start));
    Some((line, e.message().trim().to_owned()))
}

/// The copies `git mergetool` writes beside a conflicted file, and what each holds.
const MERGETOOL_COPIES: [(&str, &str); 4] = [
    ("BACKUP", "the file as the merge left it, with the conflict markers"),
    ("BASE", "the common ancestor's version"),
    ("LOCAL", "the current branch's version"),
    ("REMOTE", "the merged branch's version"),
];

/// What a file is when its name says a merge or a patch left it behind, `None` otherwise.
/// Only the file name counts (not its folders) and the tools' spellings are matched exactly:
/// `origin.rs`, `notes.original`, `docs/BACKUP.md` or `a.local.rs` are not leftovers.
///
/// - `*.orig`: the backup `git mergetool` (`mergetool.keepBackup`) or `patch -b` keeps.
/// - `*.rej`: the hunks `patch` or `git apply --reject` could not apply.
/// - `*.BACKUP.*`, `*.BASE.*`, `*.LOCAL.*`, `*.REMOTE.*` (older git wrote `a.rs.LOCAL.1234.rs`)
///   and `*_BACKUP_<pid>*` and so on (today's git writes `a_LOCAL_1234.rs`): the copies
///   `git mergetool` works on beside the file, left behind when it or the merge tool is killed.
fn leftover(path: &str) -> Option<String> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.ends_with(".orig") {
        return Some("a merge or patch leftover (`*.orig`, the backup `git mergetool` or `patch` keeps)".to_owned());
    }
    if name.ends_with(".rej") {
        return Some(
            "a patch leftover (`*.rej`, the hunks `patch` or `git apply --reject` could not apply)".to_owned(),
        );
    }
    for (copy, holds) in MERGETOOL_COPIES {
        let pattern = if name.contains(&format!(".{copy}.")) {
            format!("*.{copy}.*")
        } else if has_pid_copy(name, copy) {
            format!("*_{copy}_<pid>*")
        } else {
            continue;
        };
        return Some(format!("a merge leftover (`{pattern}`, the copy `git mergetool` makes of {holds})"));
    }
    None
}

/// `_{copy}_` followed by a process id, then the end of the name or the extension.
fn has_pid_copy(name: &str, copy: &str) -> bool {
    let marker = format!("_{copy}_");
    name.match_indices(&marker).any(|(at, _)| {
        let rest = &name[at + marker.len()..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && (digits == rest.len() || rest.as_bytes()[digits] == b'.')
    })
}

/// Trailing whitespace, CRLF endings and merge-conflict markers, line by line.
fn lines(path: &str, bytes: &[u8], out: &mut Vec<Finding>) {
    let mut trailing = Vec::new();
    let mut crlf = Vec::new();
    let mut in_conflict = false;
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let n = i + 1;
        let line = match raw.strip_suffix(b"\r") {
            Some(l) => {
                crlf.push(n);
                l
            }
            None => raw,
        };
        if line.ends_with(b" ") || line.ends_with(b"\t") {
            trailing.push(n);
        }
        let marker = conflict_marker(line, in_conflict);
        if let Some(m) = marker {
            in_conflict = m != ">>>>>>>";
            out.push(Finding::at(path, n, format!("merge conflict marker `{m}`")));
        }
    }
    for &n in trailing.iter().take(PER_FILE_CAP) {
        out.push(Finding::at(path, n, "trailing whitespace"));
    }
    if trailing.len() > PER_FILE_CAP {
        out.push(Finding::file(
            path,
            format!("… and {} more lines with trailing whitespace", trailing.len() - PER_FILE_CAP),
        ));
    }
    if let Some(&first) = crlf.first() {
        let count = crlf.len();
        let lines = if count == 1 { "1 line".to_owned() } else { format!("{count} lines, the first here") };
        out.push(Finding::at(path, first, format!("CRLF line ending ({lines}); use LF")));
    }
}

/// `<<<<<<<` and `>>>>>>>` (exactly seven, then a space or the end of the line) anywhere;
/// `=======` and `|||||||` only between them, so a Markdown or reST underline is not one.
fn conflict_marker(line: &[u8], in_conflict: bool) -> Option<&'static str> {
    let starts = |m: &[u8]| line.starts_with(m) && (line.len() == 7 || line[7] == b' ');
    if starts(b"<<<<<<<") {
        return Some("<<<<<<<");
    }
    if starts(b">>>>>>>") {
        return Some(">>>>>>>");
    }
    if in_conflict && starts(b"=======") {
        return Some("=======");
    }
    if in_conflict && starts(b"|||||||") {
        return Some("|||||||");
    }
    None
}

fn end_of_file(path: &str, bytes: &[u8], out: &mut Vec<Finding>) {
    if bytes.is_empty() {
        return;
    }
    if !bytes.ends_with(b"\n") {
        out.push(Finding::at(path, line_of(bytes, bytes.len()), "no newline at end of file"));
        return;
    }
    let body = trim_end_newlines(bytes);
    if body.is_empty() {
        out.push(Finding::at(path, 1, "blank lines at end of file (the file has nothing else)"));
    } else if !ends_in_one_newline(bytes) {
        out.push(Finding::at(path, line_of(bytes, body.len()) + 1, "blank lines at end of file"));
    }
}

fn trim_end_newlines(bytes: &[u8]) -> &[u8] {
    let mut end = bytes.len();
    while end > 0 && matches!(bytes[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &bytes[..end]
}

/// `…x\n` or `…x\r\n` (a CRLF file is reported as CRLF, not as having blank lines).
fn ends_in_one_newline(bytes: &[u8]) -> bool {
    let body = trim_end_newlines(bytes);
    let tail = &bytes[body.len()..];
    tail == b"\n" || tail == b"\r\n"
}

/// What `lint --fix` changes in a text file: CRLF → LF, trailing spaces and tabs removed,
/// exactly one newline at the end (an empty or blank file becomes empty). `None` when the
/// file is binary or already clean; otherwise the new bytes and what was fixed.
pub fn fix(bytes: &[u8]) -> Option<(Vec<u8>, Vec<&'static str>)> {
    if is_binary(bytes) || bytes.is_empty() {
        return None;
    }
    let mut fixed = Vec::new();
    let (mut crlf, mut trailing) = (false, false);
    let mut out = Vec::with_capacity(bytes.len());
    let parts: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    for (i, raw) in parts.iter().enumerate() {
        let mut line = *raw;
        if let Some(l) = line.strip_suffix(b"\r") {
            line = l;
            crlf = true;
        }
        let kept = line.len() - line.iter().rev().take_while(|&&b| b == b' ' || b == b'\t').count();
        trailing |= kept < line.len();
        out.extend_from_slice(&line[..kept]);
        if i + 1 < parts.len() {
            out.push(b'\n');
        }
    }
    let body_len = out.len() - out.iter().rev().take_while(|&&b| b == b'\n').count();
    let eof = if body_len == 0 { !out.is_empty() } else { out.len() != body_len + 1 };
    out.truncate(body_len);
    if body_len > 0 {
        out.push(b'\n');
    }
    if crlf {
        fixed.push("CRLF → LF");
    }
    if trailing {
        fixed.push("trailing whitespace");
    }
    if eof {
        fixed.push("final newline");
    }
    (out != bytes).then_some((out, fixed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(path: &str, text: &[u8]) -> Vec<String> {
        check(path, text, 500 * 1024).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn clean_text_has_no_findings() {
        assert!(msgs("a.txt", b"one\ntwo\n").is_empty());
        assert!(msgs("empty.txt", b"").is_empty());
        assert!(msgs("a.md", b"Title\n=======\n\ntext\n").is_empty(), "a setext underline is not a marker");
    }

    #[test]
    fn each_rule_reports_file_and_line() {
        assert_eq!(msgs("a.txt", b"x \ny\t\nz\n"), ["a.txt:1: trailing whitespace", "a.txt:2: trailing whitespace"]);
        assert_eq!(msgs("a.txt", b"x\ny"), ["a.txt:2: no newline at end of file"]);
        assert_eq!(msgs("a.txt", b"x\n\n\n"), ["a.txt:2: blank lines at end of file"]);
        assert_eq!(msgs("a.txt", b"x\r\ny\r\n"), ["a.txt:1: CRLF line ending (2 lines, the first here); use LF"]);
        let conflict = [&b"a\n"[..], b"<<<<<<< HEAD\n", b"ours\n", b"=======\n", b"theirs\n", b">>>>>>> b\n"].concat();
        assert_eq!(
            msgs("a.rs", &conflict),
            [
                "a.rs:2: merge conflict marker `<<<<<<<`",
                "a.rs:4: merge conflict marker `=======`",
                "a.rs:6: merge conflict marker `>>>>>>>`"
            ]
        );
    }

    #[test]
    fn merge_and_patch_leftovers_are_reported_by_name() {
        let delete = "delete it, or `git rm` it if it is tracked";
        assert_eq!(
            msgs("src/a.rs.orig", b"fn a() {}\n"),
            [format!(
                "src/a.rs.orig: a merge or patch leftover (`*.orig`, the backup `git mergetool` or `patch` keeps): \
                 {delete}"
            )]
        );
        assert_eq!(
            msgs("a.rs.rej", b"@@ -1 +1 @@\n"),
            [format!(
                "a.rs.rej: a patch leftover (`*.rej`, the hunks `patch` or `git apply --reject` could not apply): \
                 {delete}"
            )]
        );
        assert_eq!(
            msgs("app/src/lib_LOCAL_4242.rs", b"x\n"),
            [format!(
                "app/src/lib_LOCAL_4242.rs: a merge leftover (`*_LOCAL_<pid>*`, the copy `git mergetool` makes of \
                 the current branch's version): {delete}"
            )]
        );
        let old = msgs("Cargo.toml.BACKUP.77.toml", b"[x]\n");
        assert_eq!(old.len(), 1, "{old:?}");
        assert!(old[0].starts_with("Cargo.toml.BACKUP.77.toml: a merge leftover (`*.BACKUP.*`, "), "{old:?}");
        // By name, so binary and otherwise clean files too; the other rules still apply.
        assert_eq!(check("logo.png.orig", &[0u8, 1, 2], 500 * 1024).len(), 1);
        assert_eq!(msgs("a.txt.rej", b"x \n").len(), 2);
        let found = |path: &str| leftover(path).is_some();
        for path in [
            "a.orig",
            "docs/x.md.rej",
            "a.c.BASE.1.c",
            "a.c.REMOTE.1.c",
            "a.LOCAL.c",
            "README_BACKUP_1.md",
            "a_BASE_123",
            "x_REMOTE_9.tar.gz",
            ".env_LOCAL_12",
        ] {
            assert!(found(path), "{path}");
        }
        for path in [
            "origin.rs",
            "src/orig.rs",
            "notes.original",
            "a.orig.rs",
            "rejected.rs",
            "a.reject",
            "x.orig/file.txt",
            "docs/BACKUP.md",
            "BACKUP",
            "a.backup.rs",
            "a.local.rs",
            "LOCAL.md",
            "DATABASE_BASE_URL.md",
            "MY_LOCAL_NOTES.md",
            "a_REMOTE_.rs",
            "a_REMOTE_12x.rs",
            "a_BASE_1b.rs",
        ] {
            assert!(!found(path), "{path}: {:?}", leftover(path));
        }
    }

    #[test]
    fn big_files_are_reported_binary_or_not() {
        let big = vec![0u8; 600 * 1024];
        assert_eq!(
            check("blob.bin", &big, 500 * 1024)[0].to_string(),
            "blob.bin: 600 KB, over the 500 KB limit for a committed file"
        );
        assert_eq!(check("blob.bin", &big, 500 * 1024).len(), 1, "binary: no text rules");
        assert!(check("ok.bin", &[0u8, 1, 2, b' ', b'\n', b' '], 500 * 1024).is_empty());
    }

    #[test]
    fn yaml_and_toml_must_parse() {
        assert_eq!(
            msgs("a.yml", b"a: [1\n"),
            ["a.yml:2: invalid YAML: while parsing a flow sequence, expected ',' or ']'"]
        );
        assert_eq!(msgs("a.yaml", b"a: 1\na: 2\n"), ["a.yaml:2: invalid YAML: duplicate key `a` (first at line 1)"]);
        assert!(msgs("ok.yml", b"a: 1\n---\nb: [1, 2]\n").is_empty());
        let toml = msgs("a.toml", b"[x]\na = 1\n\n[x]\nb = 2\n");
        assert_eq!(toml.len(), 1, "{toml:?}");
        assert!(toml[0].starts_with("a.toml:4: invalid TOML: "), "{toml:?}");
        assert!(msgs("ok.toml", b"[x]\na = 1\n").is_empty());
    }

    #[test]
    fn trailing_whitespace_is_capped_per_file() {
        let text = "x \n".repeat(25);
        let m = msgs("a.txt", text.as_bytes());
        assert_eq!(m.len(), PER_FILE_CAP + 1);
        assert_eq!(m.last().unwrap(), "a.txt: … and 5 more lines with trailing whitespace");
        // At the cap exactly, every line is named and there is no "… and 0 more".
        let m = msgs("a.txt", "x \n".repeat(PER_FILE_CAP).as_bytes());
        assert_eq!(m.len(), PER_FILE_CAP);
        assert!(m.iter().all(|m| m.ends_with(": trailing whitespace")), "{m:?}");
    }

    #[test]
    fn fix_applies_only_the_safe_fixes() {
        assert_eq!(fix(b"a\n"), None);
        assert_eq!(fix(b""), None);
        assert_eq!(fix(b"\0 \n"), None);
        let (out, what) = fix(b"a \r\nb\t\r\nc").unwrap();
        assert_eq!(out, b"a\nb\nc\n");
        assert_eq!(what, ["CRLF → LF", "trailing whitespace", "final newline"]);
        let (out, what) = fix(b"a\n\n\n").unwrap();
        assert_eq!((out.as_slice(), what), (&b"a\n"[..], vec!["final newline"]));
        let (out, _) = fix(b"\n\n").unwrap();
        assert_eq!(out, b"");
        assert_eq!(msgs("blank.txt", b"\n"), ["blank.txt:1: blank lines at end of file (the file has nothing else)"]);
        assert_eq!(fix(b"\n").unwrap().0, b"");
        // After a fix, the file is clean for every fixable rule.
        let (out, _) = fix(b"x  \r\n\r\n y \t").unwrap();
        assert!(msgs("a.txt", &out).is_empty(), "{:?}", String::from_utf8_lossy(&out));
    }
}

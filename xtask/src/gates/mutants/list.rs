//! The mutants: what `cargo mutants --list --json` gives (each mutant's file, span, function
//! and replacement text), read into [`Mutant`]s, and a mutant applied to a file's text.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

use crate::Context;
use crate::process::Cmd;

/// One mutant: a span of a file replaced by other code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mutant {
    /// The workspace package the file belongs to.
    pub package: String,
    /// Repository path (`app/src/domain.rs`).
    pub file: String,
    /// Where the replaced code starts and ends (lines from 1, columns in characters from 1).
    pub start: Position,
    pub end: Position,
    /// The code put in its place.
    pub replacement: String,
    /// What was done, as cargo-mutants says it: `replace > with >= in earns`.
    pub what: String,
    /// The kind of mutation (cargo-mutants' genre: `FnValue`, `BinaryOperator`, …).
    pub genre: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

impl Mutant {
    /// `app/src/domain.rs:8: replace > with >= in earns`: how a mutant is named everywhere.
    pub fn title(&self) -> String {
        format!("{}:{}: {}", self.file, self.start.line, self.what)
    }

    /// The lines the replaced code spans.
    pub fn lines(&self) -> std::ops::RangeInclusive<u32> {
        self.start.line..=self.end.line
    }

    /// The file's text with this mutant in it; `None` when the span is not in the text (the
    /// file changed since the mutants were listed).
    pub fn apply(&self, text: &str) -> Option<String> {
        let start = offset(text, self.start)?;
        let end = offset(text, self.end)?;
        if end < start {
            return None;
        }
        let mut out = String::with_capacity(text.len() + self.replacement.len());
        out.push_str(&text[..start]);
        out.push_str(&self.replacement);
        out.push_str(&text[end..]);
        Some(out)
    }
}

/// The byte offset of a position (columns count characters, as cargo-mutants' spans do).
fn offset(text: &str, at: Position) -> Option<usize> {
    let mut line_start = 0;
    for _ in 1..at.line {
        line_start += text[line_start..].find('\n')? + 1;
    }
    let line = &text[line_start..];
    let line = &line[..line.find('\n').unwrap_or(line.len())];
    let column = usize::try_from(at.column.checked_sub(1)?).ok()?;
    if column == line.chars().count() {
        return Some(line_start + line.len());
    }
    line.char_indices().nth(column).map(|(i, _)| line_start + i)
}

/// cargo-mutants' JSON for one mutant (the fields read).
#[derive(Deserialize)]
struct Listed {
    package: String,
    file: String,
    span: Span,
    replacement: String,
    name: String,
    genre: String,
}

#[derive(Deserialize)]
struct Span {
    start: Position,
    end: Position,
}

/// Reads `cargo mutants --list --json`'s output. When a diff holds no mutant (a change to tests
/// or comments only, or an empty diff) cargo-mutants prints nothing at all: no mutants.
pub fn parse(json: &[u8]) -> Result<Vec<Mutant>> {
    if json.trim_ascii().is_empty() {
        return Ok(Vec::new());
    }
    let listed: Vec<Listed> =
        serde_json::from_slice(json).context("cargo-mutants' list is not the JSON this xtask reads")?;
    Ok(listed
        .into_iter()
        .map(|m| {
            // `app/src/x.rs:8:17: replace > with >= in earns`: the part after the position.
            let what = m.name.splitn(4, ':').nth(3).map_or_else(|| m.name.clone(), |w| w.trim().to_owned());
            Mutant {
                package: m.package,
                file: m.file,
                start: m.span.start,
                end: m.span.end,
                replacement: m.replacement,
                what,
                genre: m.genre,
            }
        })
        .collect())
}

/// Every mutant cargo-mutants finds in the workspace's packages (`--in-diff`: only those in
/// the change that diff file holds; `files`: only in files matching those globs; `names`: only
/// those whose name matches one of those regexes). The workspace's `.cargo/mutants.toml`, if
/// any, applies.
pub fn list(cx: &Context, in_diff: Option<&Path>, files: &[String], names: &[String]) -> Result<Vec<Mutant>> {
    let mut cmd: Cmd = cx.cargo().args(["mutants", "--list", "--json", "--workspace", "--colors", "never"]);
    if let Some(diff) = in_diff {
        cmd = cmd.arg("--in-diff").arg(diff);
    }
    for glob in files {
        cmd = cmd.arg("--file").arg(glob);
    }
    for regex in names {
        cmd = cmd.arg("--re").arg(regex);
    }
    let out = cmd.output()?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        bail!("`cargo mutants --list` failed: {}", crate::process::last_lines(text.trim(), 12));
    }
    parse(&out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mutant(start: (u32, u32), end: (u32, u32), replacement: &str) -> Mutant {
        Mutant {
            package: "p".into(),
            file: "p/src/lib.rs".into(),
            start: Position { line: start.0, column: start.1 },
            end: Position { line: end.0, column: end.1 },
            replacement: replacement.into(),
            what: "replace".into(),
            genre: "BinaryOperator".into(),
        }
    }

    #[test]
    fn spans_count_characters_not_bytes() {
        // cargo-mutants' own listing of this line puts the `>` at column 49.
        let text = "pub fn f(x: u32) -> bool { let _s = \"héllo→\"; x > 3 }\n";
        let m = mutant((1, 49), (1, 50), ">=");
        assert_eq!(m.apply(text).unwrap(), "pub fn f(x: u32) -> bool { let _s = \"héllo→\"; x >= 3 }\n");
    }

    #[test]
    fn a_body_across_lines_is_replaced_whole() {
        let text = "fn f() -> u32 {\n    let a = 1;\n    a + 1\n}\n";
        let m = mutant((2, 5), (3, 10), "0");
        assert_eq!(m.apply(text).unwrap(), "fn f() -> u32 {\n    0\n}\n");
        // The end of a line (no newline after it) is a place too.
        let m = mutant((1, 1), (1, 16), "");
        assert_eq!(m.apply("fn f() -> u32 {").unwrap(), "");
    }

    #[test]
    fn a_span_outside_the_text_is_none() {
        let text = "fn f() {}\n";
        assert_eq!(mutant((3, 1), (3, 2), "x").apply(text), None);
        assert_eq!(mutant((1, 40), (1, 41), "x").apply(text), None);
        assert_eq!(mutant((1, 0), (1, 2), "x").apply(text), None);
        assert_eq!(mutant((1, 5), (1, 2), "x").apply(text), None);
    }

    #[test]
    fn reads_cargo_mutants_json() {
        let json = br#"[{"package":"app","file":"app/src/a.rs","genre":"BinaryOperator",
            "name":"app/src/a.rs:8:17: replace > with >= in earns","replacement":">=",
            "span":{"start":{"line":8,"column":17},"end":{"line":8,"column":18}},
            "function":{"function_name":"earns"},"diff":"..."}]"#;
        let m = parse(json).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].title(), "app/src/a.rs:8: replace > with >= in earns");
        assert_eq!(m[0].lines(), 8..=8);
        assert!(parse(b"{}").is_err());
        assert_eq!(parse(b"").unwrap(), []);
        assert_eq!(parse(b"\n").unwrap(), []);
    }
}

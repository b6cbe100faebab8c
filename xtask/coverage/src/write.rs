//! Writes a [`Report`] (a merged one, typically) as Cobertura XML, or as an LCOV tracefile
//! ([`write_lcov`]), that this crate's parsers, and the usual readers, read back to the same
//! counts.
//!
//! - Root and per-class `line-rate`/`branch-rate` are written to four decimals, rounded
//!   down (`1` when nothing is measured, as coverage.py does); the root also carries
//!   `lines-covered`/`lines-valid`/`branches-covered`/`branches-valid`, `version="xtask"` and
//!   `timestamp` (seconds since the Unix epoch).
//! - `<sources/>` is empty: filenames are written as the report names them (repository paths
//!   after a merge). One `<package name=".">`, one `<class>` per file, `<methods/>` empty.
//! - **Hits are 1 or 0**: a report keeps whether a line is covered, not how often, so a
//!   covered line is written with `hits="1"`.
//! - A line with branch data gets `branch="true" condition-coverage="50% (1/2)"` (the
//!   percentage rounded down). Branch data on a line the report does not list is not written
//!   (a `<line>` would make it a listed line); readers of this crate never produce that from
//!   Cobertura input.
//! - Filenames are escaped for an attribute (`&`, `<`, `>`, `"`, `'`, and tab, CR, LF as
//!   character references, so they survive attribute normalisation); other control
//!   characters, which XML 1.0 cannot carry, become U+FFFD.

use std::borrow::Cow;
use std::io::Write;

use crate::cobertura::{Counts, Report};

/// Writes `report` as Cobertura XML to `out` (buffer `out` yourself: many small writes).
pub fn write_cobertura(report: &Report, out: &mut impl Write) -> std::io::Result<()> {
    let (lines, branches) = report.totals();
    let timestamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    writeln!(out, r#"<?xml version="1.0" ?>"#)?;
    writeln!(
        out,
        r#"<coverage line-rate="{}" branch-rate="{}" lines-covered="{}" lines-valid="{}" branches-covered="{}" branches-valid="{}" complexity="0" version="xtask" timestamp="{timestamp}">"#,
        rate(lines),
        rate(branches),
        lines.covered,
        lines.valid,
        branches.covered,
        branches.valid,
    )?;
    writeln!(out, "\t<sources/>")?;
    writeln!(out, "\t<packages>")?;
    writeln!(
        out,
        r#"		<package name="." line-rate="{}" branch-rate="{}" complexity="0">"#,
        rate(lines),
        rate(branches)
    )?;
    writeln!(out, "\t\t\t<classes>")?;
    for file in &report.files {
        let name = escape(&file.name);
        writeln!(
            out,
            r#"				<class name="{name}" filename="{name}" line-rate="{}" branch-rate="{}" complexity="0">"#,
            rate(file.lines),
            rate(file.branches)
        )?;
        writeln!(out, "\t\t\t\t\t<methods/>")?;
        writeln!(out, "\t\t\t\t\t<lines>")?;
        let mut branch_lines = file.branch_lines.iter().peekable();
        for (number, covered) in file.line_table.iter() {
            while branch_lines.next_if(|b| b.line < number).is_some() {}
            write!(out, r#"						<line number="{number}" hits="{}""#, u8::from(covered))?;
            if let Some(b) = branch_lines.next_if(|b| b.line == number) {
                let percent = if b.total == 0 { 100 } else { u64::from(b.covered) * 100 / u64::from(b.total) };
                write!(out, r#" branch="true" condition-coverage="{percent}% ({}/{})""#, b.covered, b.total)?;
            }
            writeln!(out, "/>")?;
        }
        writeln!(out, "\t\t\t\t\t</lines>")?;
        writeln!(out, "\t\t\t\t</class>")?;
    }
    writeln!(out, "\t\t\t</classes>")?;
    writeln!(out, "\t\t</package>")?;
    writeln!(out, "\t</packages>")?;
    writeln!(out, "</coverage>")?;
    Ok(())
}

/// covered ÷ valid to four decimals, rounded down; `1` when nothing is measured.
fn rate(c: Counts) -> String {
    if c.valid == 0 {
        return "1".into();
    }
    let ten_thousandths = u128::from(c.covered.min(c.valid)) * 10_000 / u128::from(c.valid);
    if ten_thousandths == 10_000 { "1".into() } else { format!("0.{ten_thousandths:04}") }
}

/// Escapes text for a double-quoted attribute value.
fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(|c: char| matches!(c, '&' | '<' | '>' | '"' | '\'') || c.is_ascii_control()) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if c.is_ascii_control() && c != '\u{7f}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Writes `report` as an LCOV tracefile: per file `SF:` (the name as the report gives it),
/// `DA:line,hits` with hits 1 or 0 (as in Cobertura above), `BRDA` per branch outcome when the
/// report has branch data (`-` for the outcomes not taken), `LF`/`LH`/`BRF`/`BRH`, and
/// `end_of_record`.
pub fn write_lcov(report: &Report, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "TN:")?;
    for file in &report.files {
        let name: String = file.name.chars().map(|c| if c == '\n' || c == '\r' { '\u{FFFD}' } else { c }).collect();
        writeln!(out, "SF:{name}")?;
        for (number, covered) in file.line_table.iter() {
            writeln!(out, "DA:{number},{}", u8::from(covered))?;
        }
        for b in &file.branch_lines {
            for outcome in 0..b.total {
                let taken = if outcome < b.covered { "1" } else { "-" };
                writeln!(out, "BRDA:{},0,{outcome},{taken}", b.line)?;
            }
        }
        let lines = file.line_table.counts();
        writeln!(out, "LF:{}", lines.valid)?;
        writeln!(out, "LH:{}", lines.covered)?;
        if !file.branch_lines.is_empty() {
            writeln!(out, "BRF:{}", file.branches.valid)?;
            writeln!(out, "BRH:{}", file.branches.covered)?;
        }
        writeln!(out, "end_of_record")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cobertura::{self, BranchLine, ParseOptions};
    use crate::lcov;
    use crate::merge::merge;

    fn write(report: &Report) -> String {
        let mut out = Vec::new();
        write_cobertura(report, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn reparse(xml: &str) -> Report {
        cobertura::parse(xml.as_bytes(), ParseOptions { branches: true }).unwrap_or_else(|e| panic!("{e}\n{xml}"))
    }

    #[test]
    fn lcov_reads_back_to_the_same_lines_and_branches() {
        let info = "SF:/r/a.rs\nDA:1,4\nDA:2,0\nDA:70,1\nBRDA:1,0,0,1\nBRDA:1,0,1,0\nend_of_record\nSF:b.rs\nDA:3,0\nend_of_record\n";
        let report = lcov::parse(info.as_bytes(), ParseOptions { branches: true }).unwrap();
        let mut out = Vec::new();
        write_lcov(&report, &mut out).unwrap();
        let back = lcov::parse(out.as_slice(), ParseOptions { branches: true }).unwrap();
        assert_eq!(back.totals(), report.totals());
        for (a, b) in back.files.iter().zip(&report.files) {
            assert_eq!((&a.name, &a.line_table, &a.branch_lines), (&b.name, &b.line_table, &b.branch_lines));
        }
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("DA:1,1\n") && text.contains("LF:3\nLH:2\n") && text.contains("BRH:1\n"), "{text}");
    }

    #[test]
    fn covering_marks_listed_lines_only() {
        let info = "SF:a\nDA:1,0\nDA:2,0\nDA:200,0\nend_of_record\n";
        let mut report = lcov::parse(info.as_bytes(), ParseOptions::default()).unwrap();
        let table = &mut report.files[0].line_table;
        table.cover([2, 3, 200, 9999]);
        assert_eq!(table.iter().collect::<Vec<_>>(), [(1, false), (2, true), (200, true)]);
        assert_eq!(table.counts(), Counts { covered: 2, valid: 3 });
    }

    #[test]
    fn filenames_are_escaped_and_read_back_as_written() {
        let info = "SF:/r/a&b <c> \"d\" 'e'.rs\nDA:1,1\nend_of_record\nSF:/r/tab\there.rs\nDA:2,0\nend_of_record\n";
        let report = lcov::parse(info.as_bytes(), ParseOptions::default()).unwrap();
        let xml = write(&report);
        assert!(xml.contains(r#"filename="/r/a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos;.rs""#), "{xml}");
        assert!(xml.contains(r#"filename="/r/tab&#9;here.rs""#), "{xml}");
        let back = reparse(&xml);
        let names: Vec<_> = back.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["/r/a&b <c> \"d\" 'e'.rs", "/r/tab\there.rs"]);
        assert_eq!(escape("x\u{1}y"), "x\u{fffd}y");
        assert!(matches!(escape("plain/name.rs"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_root_carries_the_totals_and_rates_rounded_down() {
        let info = "SF:a\nDA:1,1\nDA:2,1\nDA:3,0\nBRDA:1,0,0,1\nBRDA:1,0,1,0\nBRDA:1,0,2,0\nend_of_record\n";
        let report = lcov::parse(info.as_bytes(), ParseOptions { branches: true }).unwrap();
        let xml = write(&report);
        assert!(
            xml.contains(
                r#"<coverage line-rate="0.6666" branch-rate="0.3333" lines-covered="2" lines-valid="3" branches-covered="1" branches-valid="3""#
            ),
            "{xml}"
        );
        assert!(xml.contains(r#"<line number="1" hits="1" branch="true" condition-coverage="33% (1/3)"/>"#), "{xml}");
        assert!(xml.contains(r#"<line number="3" hits="0"/>"#), "{xml}");
        assert_eq!(rate(Counts { covered: 0, valid: 0 }), "1");
        assert_eq!(rate(Counts { covered: 5, valid: 5 }), "1");
        assert_eq!(rate(Counts { covered: 0, valid: 7 }), "0.0000");
        assert_eq!(rate(Counts { covered: 9_999, valid: 10_000 }), "0.9999");
    }

    #[test]
    fn parse_of_write_of_a_merge_gives_the_merge_back() {
        let xml = r#"<coverage><sources><source>/repo/app</source></sources><packages><package><classes>
            <class filename="src/lib.rs"><lines>
              <line number="1" hits="3"/><line number="2" hits="0" branch="true" condition-coverage="50% (1/2)"/>
              <line number="64" hits="0"/><line number="70" hits="1" branch="true" condition-coverage="0% (0/0)"/>
            </lines></class>
            <class filename="src/a&amp;b.rs"><lines><line number="9" hits="1"/></lines></class>
            </classes></package></packages></coverage>"#;
        let shard = reparse(xml);
        let info = "TN:\nSF:/repo/app/src/lib.rs\nDA:2,0\nDA:3,1\nDA:4000000000,0\nBRDA:2,0,0,1\nBRDA:2,0,1,1\n\
                    BRDA:3,0,0,-\nBRDA:3,0,1,2\nend_of_record\nSF:/tmp/gen.rs\nDA:1,0\nend_of_record\n";
        let info = lcov::parse(info.as_bytes(), ParseOptions { branches: true }).unwrap();
        let merged = merge(vec![("cov.xml".into(), shard), ("lcov.info".into(), info)], "/repo").report;
        assert_eq!(
            merged.files.iter().find(|f| f.name == "app/src/lib.rs").unwrap().branch_lines,
            [
                BranchLine { line: 2, covered: 2, total: 2 },
                BranchLine { line: 3, covered: 1, total: 2 },
                BranchLine { line: 70, covered: 0, total: 0 }
            ]
        );
        let back = reparse(&write(&merged));
        assert_eq!(back.files, merged.files);
        assert_eq!(back.totals(), merged.totals());
        assert_eq!(back.totals().0, Counts { covered: 4, valid: 8 });
        assert_eq!((back.line_elements, back.branch_elements), (merged.line_elements, merged.branch_elements));
        assert_eq!(back.root.lines, Some(merged.totals().0));
        assert_eq!(back.root.branches, Some(merged.totals().1));
        assert!(back.sources.is_empty());
    }
}

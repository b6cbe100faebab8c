//! Streaming LCOV tracefile reader (what cargo-llvm-cov `--lcov`, grcov, c8 and geninfo
//! write), into the same [`Report`] as Cobertura, with the same counting rules
//! (docs/quality-gates.md, "How lines are counted"):
//!
//! - **Lines** are the `DA:line,hits[,checksum]` records, keyed by (normalised `SF:` name,
//!   line number): a file may appear in several records (one per test name, `TN:`), a line
//!   listed several times counts once, covered when any copy has `hits > 0`.
//! - **Branches** (with [`ParseOptions::branches`]) are the `BRDA:line,block,branch,taken`
//!   records: per line, total = distinct (block, branch) pairs, covered = those of them with
//!   `taken > 0` in any copy (`-`, "never reached", is 0). Block and branch are identities,
//!   not counts (lcov 2 writes expressions there), kept in 64 bits (`branch_id`).
//! - **Summaries are not trusted.** `LF`/`LH`/`BRF`/`BRH`/`FNF`/`FNH` are checked to be
//!   numbers and otherwise ignored, like Cobertura's root totals when lines exist; `FN`/`FNDA`
//!   likewise (functions are not graded).
//!
//! Malformed input is refused with the byte offset of the offending line (the caller turns it
//! into `file:line:column`): a known record (`DA`, `BRDA`, `FN`, …) outside `SF:` …
//! `end_of_record`, an `SF:` inside an open record, an empty `SF:`, an `end_of_record` with no
//! open record, a missing, non-numeric, negative or huge number, a line that is not
//! `KEY:value`, a line longer than 1 MiB, a record left open at the end of the file (a truncated
//! tracefile), and a tracefile without any `SF:` record (nothing measured is never a pass).
//! Unknown keys (`VER:`, `FNL:`, `FNA:`, future ones) are ignored, as genhtml does.
//!
//! Memory is bounded by the distinct lines (and, with branches, the distinct branches),
//! never by the size of the file: one line of text is held at a time.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use crate::cobertura::{Accumulator, ParseError, ParseOptions, Report, err, normalise};

/// A file's branch outcomes: (line, [`branch_id`]) → taken in any copy.
type Outcomes = BTreeMap<(u32, u64), bool>;

/// The longest line accepted (a function name in `FN:` can be long, but not this long).
const MAX_LINE: usize = 1 << 20;

/// `parse` over a buffered file, compiled (and optimised) in this crate.
pub fn parse_file(input: std::io::BufReader<std::fs::File>, options: ParseOptions) -> Result<Report, ParseError> {
    parse(input, options)
}

/// Reads an LCOV tracefile from `input`.
pub fn parse<R: BufRead>(mut input: R, options: ParseOptions) -> Result<Report, ParseError> {
    let mut acc = Accumulator::new(options);
    // Branch outcomes per file (indexed like `branch_names`): (line, "block,branch") → taken.
    let mut branch_names: HashMap<String, usize> = HashMap::new();
    let mut branch_files: Vec<(String, Outcomes)> = Vec::new();
    // The open record: its file name and the index of its branch table.
    let mut open: Option<(String, usize)> = None;
    let mut records: u64 = 0;
    let mut offset: u64 = 0;
    let mut buf: Vec<u8> = Vec::with_capacity(256);

    loop {
        buf.clear();
        let at = offset;
        let n = std::io::Read::take(&mut input, MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| ParseError { offset: at, message: format!("read error: {e}") })?;
        if n == 0 {
            break;
        }
        if n > MAX_LINE && buf.last() != Some(&b'\n') {
            return err(at, "line longer than 1 MiB: not an LCOV tracefile");
        }
        offset += n as u64;
        let mut line = buf.as_slice();
        if at == 0 {
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        if line == b"end_of_record" {
            if open.take().is_none() {
                return err(at, "`end_of_record` without an open record (no `SF:` before it)");
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return err(at, format!("not an LCOV record (`KEY:value` or `end_of_record`): {}", excerpt(line)));
        };
        let (key, value) = (&line[..colon], &line[colon + 1..]);
        if key.is_empty() || !key.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_') {
            return err(at, format!("not an LCOV record (`KEY:value` or `end_of_record`): {}", excerpt(line)));
        }
        let key_text = String::from_utf8_lossy(key);
        let in_record = |open: &Option<(String, usize)>| -> Result<(), ParseError> {
            match open {
                Some(_) => Ok(()),
                None => err(at, format!("`{key_text}:` outside a source file record (no `SF:` before it)")),
            }
        };
        match key {
            b"TN" => {}
            b"SF" => {
                if let Some((name, _)) = &open {
                    return err(at, format!("`SF:` inside the record of {name}, which has no `end_of_record`"));
                }
                let name = normalise(String::from_utf8_lossy(value).trim());
                if name.is_empty() {
                    return err(at, "`SF:` without a file name");
                }
                acc.enter_file(&name);
                let index = if options.branches {
                    *branch_names.entry(name.clone()).or_insert_with(|| {
                        branch_files.push((name.clone(), BTreeMap::new()));
                        branch_files.len() - 1
                    })
                } else {
                    usize::MAX
                };
                records += 1;
                open = Some((name, index));
            }
            b"DA" => {
                in_record(&open)?;
                let mut fields = value.splitn(3, |&b| b == b',');
                let (Some(number), Some(hits)) = (fields.next(), fields.next()) else {
                    return err(at, format!("`DA:` expects line,hits[,checksum]: {}", excerpt(line)));
                };
                let number = line_number(number, at, "`DA:` line number")?;
                let hits = whole(hits, at, "`DA:` hit count")?;
                acc.add_line(number, hits > 0);
            }
            b"BRDA" => {
                in_record(&open)?;
                let (Some(first), Some(last)) =
                    (value.iter().position(|&b| b == b','), value.iter().rposition(|&b| b == b','))
                else {
                    return err(at, format!("`BRDA:` expects line,block,branch,taken: {}", excerpt(line)));
                };
                let id = value.get(first + 1..last).unwrap_or_default();
                if !id.contains(&b',') {
                    return err(at, format!("`BRDA:` expects line,block,branch,taken: {}", excerpt(line)));
                }
                let number = line_number(&value[..first], at, "`BRDA:` line number")?;
                let taken = match &value[last + 1..] {
                    b"-" => 0,
                    t => whole(t, at, "`BRDA:` taken count")?,
                };
                if let Some((_, index)) = &open
                    && options.branches
                {
                    acc.branch_elements += 1;
                    let slot = branch_files[*index].1.entry((number, branch_id(id))).or_insert(false);
                    *slot |= taken > 0;
                }
            }
            b"FN" => {
                in_record(&open)?;
                let Some(comma) = value.iter().position(|&b| b == b',') else {
                    return err(at, format!("`FN:` expects line,name: {}", excerpt(line)));
                };
                line_number(&value[..comma], at, "`FN:` line number")?;
            }
            b"FNDA" => {
                in_record(&open)?;
                let Some(comma) = value.iter().position(|&b| b == b',') else {
                    return err(at, format!("`FNDA:` expects hits,name: {}", excerpt(line)));
                };
                whole(&value[..comma], at, "`FNDA:` hit count")?;
            }
            b"FNF" | b"FNH" | b"LF" | b"LH" | b"BRF" | b"BRH" => {
                in_record(&open)?;
                let what = match key {
                    b"FNF" => "`FNF:` count",
                    b"FNH" => "`FNH:` count",
                    b"LF" => "`LF:` count",
                    b"LH" => "`LH:` count",
                    b"BRF" => "`BRF:` count",
                    _ => "`BRH:` count",
                };
                whole(value, at, what)?;
            }
            // VER, FNL, FNA and whatever comes next: ignored, as genhtml does.
            _ => {}
        }
    }
    if let Some((name, _)) = open {
        return err(
            offset,
            format!("unexpected end of file: the record of {name} has no `end_of_record` (truncated tracefile?)"),
        );
    }
    if records == 0 {
        return err(0, "no source file records (`SF:`): the tracefile measures nothing");
    }
    for (name, branches) in branch_files {
        if branches.is_empty() {
            continue;
        }
        acc.enter_file(&name);
        let mut line_counts: Option<(u32, u32, u32)> = None;
        for ((line, _), taken) in branches {
            match &mut line_counts {
                Some((l, covered, total)) if *l == line => {
                    *covered += u32::from(taken);
                    *total += 1;
                }
                _ => {
                    if let Some((l, covered, total)) = line_counts {
                        acc.add_branches(l, covered, total);
                    }
                    line_counts = Some((line, u32::from(taken), 1));
                }
            }
        }
        if let Some((l, covered, total)) = line_counts {
            acc.add_branches(l, covered, total);
        }
    }
    Ok(acc.finish())
}

/// The identity of a `block,branch` pair in 64 bits, so that a branch costs no allocation:
/// exact when both are numbers below 2^31 (what llvm-cov, gcov and istanbul write), else a
/// hash of the text with the top bit set (lcov 2 expressions, exception blocks `e0`); two
/// such texts on one line colliding is a 2^-63 chance.
fn branch_id(id: &[u8]) -> u64 {
    let number = |t: &[u8]| -> Option<u64> {
        if t.is_empty() || t.len() > 10 || !t.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = t.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
        (n < 1 << 31).then_some(n)
    };
    let comma = id.iter().position(|&b| b == b',').unwrap_or(id.len());
    if let (Some(block), Some(branch)) = (number(&id[..comma]), id.get(comma + 1..).and_then(number)) {
        return (block << 32) | branch;
    }
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hasher::write(&mut hasher, id);
    std::hash::Hasher::finish(&hasher) | 1 << 63
}

/// A line number: a whole number that fits in 32 bits.
fn line_number(field: &[u8], at: u64, what: &str) -> Result<u32, ParseError> {
    let n = whole(field, at, what)?;
    u32::try_from(n).or_else(|_| err(at, format!("{what} {n} is out of range")))
}

/// A non-negative decimal integer (surrounding spaces allowed).
fn whole(field: &[u8], at: u64, what: &str) -> Result<u64, ParseError> {
    let field = field.trim_ascii();
    let text = || String::from_utf8_lossy(field).into_owned();
    if field.is_empty() {
        return err(at, format!("{what} is empty"));
    }
    if field[0] == b'-' {
        return err(at, format!("{what} is negative: {}", text()));
    }
    let mut n: u64 = 0;
    for &b in field {
        if !b.is_ascii_digit() {
            return err(at, format!("{what} is not a whole number: {:?}", text()));
        }
        n = match n.checked_mul(10).and_then(|n| n.checked_add(u64::from(b - b'0'))) {
            Some(n) => n,
            None => return err(at, format!("{what} is too large: {}", text())),
        };
    }
    Ok(n)
}

/// The start of a line, for a message.
fn excerpt(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(&line[..line.len().min(60)]);
    if line.len() > 60 { format!("{text:?}…") } else { format!("{text:?}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cobertura::{BranchLine, Counts};

    fn lcov(s: &str) -> Result<Report, ParseError> {
        parse(s.as_bytes(), ParseOptions { branches: true })
    }

    /// The 1-based line of an error's offset in `s`.
    fn error_line(s: &str) -> (usize, String) {
        let e = lcov(s).unwrap_err();
        let offset = e.offset as usize;
        assert!(offset <= s.len(), "{e}");
        (s[..offset].matches('\n').count() + 1, e.message)
    }

    const TRACE: &str = "TN:unit\nSF:/repo/src/lib.rs\nFN:3,lib::f\nFNDA:2,lib::f\nFNF:1\nFNH:1\n\
        DA:3,2\nDA:4,0\nDA:5,0,AbCdEf==\nBRDA:4,0,0,1\nBRDA:4,0,1,-\nBRDA:5,0,0,0\nBRF:3\nBRH:1\nLF:3\nLH:1\nend_of_record\n\
        TN:integration\nSF:/repo/src/lib.rs\nDA:4,7\nDA:6,0\nBRDA:4,0,1,3\nBRDA:4,0,1,0\nend_of_record\n\
        SF:.\\src\\main.rs\nDA:1,1\nend_of_record\n";

    #[test]
    fn lines_are_deduplicated_across_records_and_covered_by_any_copy() {
        let r = lcov(TRACE).unwrap();
        let names: Vec<_> = r.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["/repo/src/lib.rs", "src/main.rs"]);
        let lib = &r.files[0];
        assert_eq!(lib.line_table.iter().collect::<Vec<_>>(), [(3, true), (4, true), (5, false), (6, false)]);
        assert_eq!(lib.lines, Counts { covered: 2, valid: 4 });
        assert_eq!(r.totals().0, Counts { covered: 3, valid: 5 });
        assert_eq!(r.line_elements, 6);
        assert!(r.sources.is_empty() && r.root == Default::default());
    }

    #[test]
    fn branches_count_distinct_block_branch_pairs_taken_in_any_copy() {
        let r = lcov(TRACE).unwrap();
        let lib = &r.files[0];
        // Line 4: (0,0) taken, (0,1) `-` then 3 then 0 → taken; line 5: (0,0) never taken.
        assert_eq!(
            lib.branch_lines,
            [BranchLine { line: 4, covered: 2, total: 2 }, BranchLine { line: 5, covered: 0, total: 1 }]
        );
        assert_eq!(lib.branches, Counts { covered: 2, valid: 3 });
        assert_eq!(r.branch_elements, 5);
        // Without the option, branches are checked but not kept.
        let r = parse(TRACE.as_bytes(), ParseOptions { branches: false }).unwrap();
        assert_eq!((r.totals().1, r.branch_elements), (Counts::default(), 0));
        assert!(r.files[0].branch_lines.is_empty());
        assert_eq!(r.totals().0, Counts { covered: 3, valid: 5 });
    }

    #[test]
    fn lcov2_branch_expressions_crlf_bom_and_unknown_keys_are_accepted() {
        let s = "\u{feff}VER:2.0\r\nTN:\r\nSF:a.c\r\nFNL:0,3,5\r\nFNA:0,1,main\r\nDA:3,1\r\n\
                 BRDA:3,e0,(a > b) == True,1\r\nBRDA:3,e0,(a > b) == False,-\r\n\r\nend_of_record\r\n";
        let r = lcov(s).unwrap();
        assert_eq!(r.files[0].lines, Counts { covered: 1, valid: 1 });
        assert_eq!(r.files[0].branches, Counts { covered: 1, valid: 2 });
    }

    #[test]
    fn every_malformed_record_is_refused_at_its_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("TN:\nDA:1,1\n", 2, "`DA:` outside a source file record"),
            ("SF:a\nend_of_record\nBRDA:1,0,0,1\n", 3, "`BRDA:` outside"),
            ("LF:3\n", 1, "`LF:` outside"),
            ("SF:a\nDA:x,1\nend_of_record\n", 2, "`DA:` line number is not a whole number"),
            ("SF:a\nDA:1,one\nend_of_record\n", 2, "`DA:` hit count is not a whole number"),
            ("SF:a\nDA:1,-1\nend_of_record\n", 2, "`DA:` hit count is negative"),
            ("SF:a\nDA:1,99999999999999999999\nend_of_record\n", 2, "too large"),
            ("SF:a\nDA:4294967296,1\nend_of_record\n", 2, "out of range"),
            ("SF:a\nDA:1\nend_of_record\n", 2, "`DA:` expects line,hits"),
            ("SF:a\nDA:1,\nend_of_record\n", 2, "`DA:` hit count is empty"),
            ("SF:a\nBRDA:1,0,1\nend_of_record\n", 2, "`BRDA:` expects"),
            ("SF:a\nBRDA:1,0\nend_of_record\n", 2, "`BRDA:` expects"),
            ("SF:a\nBRDA:1\nend_of_record\n", 2, "`BRDA:` expects"),
            ("SF:a\nBRDA:1,0,0,x\nend_of_record\n", 2, "`BRDA:` taken count is not a whole number"),
            ("SF:a\nFN:f\nend_of_record\n", 2, "`FN:` expects"),
            ("SF:a\nFNDA:x,f\nend_of_record\n", 2, "`FNDA:` hit count"),
            ("SF:a\nLH:many\nend_of_record\n", 2, "`LH:` count"),
            ("SF:a\nDA:1,1\nSF:b\n", 3, "`SF:` inside the record of a"),
            ("SF:  \n", 1, "`SF:` without a file name"),
            ("TN:\nend_of_record\n", 2, "`end_of_record` without an open record"),
            ("SF:a\nthis is not lcov\n", 2, "not an LCOV record"),
            ("SF:a\n: no key\n", 2, "not an LCOV record"),
            ("SF:a\nDA:1,1\n", 3, "has no `end_of_record`"),
            ("TN:x\n\n", 1, "no source file records"),
            ("", 1, "no source file records"),
        ];
        for &(input, line, reason) in cases {
            let (at, message) = error_line(input);
            assert!(message.contains(reason), "{input:?}: {message}");
            assert_eq!(at, line, "{input:?}: {message}");
        }
    }

    #[test]
    fn branch_ids_are_exact_for_numbers_and_distinct_for_text() {
        assert_eq!(branch_id(b"0,1"), 1);
        assert_eq!(branch_id(b"3,0"), 3 << 32);
        // Ten digits, still below 2^31: exact too.
        assert_eq!(branch_id(b"2147483647,1000000000"), (2_147_483_647 << 32) | 1_000_000_000);
        assert_ne!(branch_id(b"0,1"), branch_id(b"1,0"));
        let text = [&b"e0,(a > b) == True"[..], b"e0,(a > b) == False", b"2147483648,0", b"0,x", b"0"];
        for (i, a) in text.iter().enumerate() {
            assert!(branch_id(a) >= 1 << 63, "{i}");
            for b in &text[i + 1..] {
                assert_ne!(branch_id(a), branch_id(b));
            }
        }
        assert_eq!(branch_id(b"e0,x"), branch_id(b"e0,x"));
    }

    #[test]
    fn a_huge_line_is_refused_without_reading_it_all() {
        let mut s = String::from("SF:a\nFN:1,");
        s.push_str(&"x".repeat(MAX_LINE + 10));
        let (at, message) = error_line(&s);
        assert_eq!(at, 2);
        assert!(message.contains("longer than 1 MiB"), "{message}");
    }

    #[test]
    fn every_truncation_and_byte_flip_is_a_result_never_a_panic() {
        let bytes = TRACE.as_bytes();
        for cut in 0..bytes.len() {
            if let Err(e) = parse(&bytes[..cut], ParseOptions { branches: true }) {
                assert!(e.offset <= cut as u64, "{cut}: {e}");
            }
        }
        for at in 0..bytes.len() {
            for flip in [0x00, 0x0a, b',', b':', b'-', 0xff] {
                let mut mutated = bytes.to_vec();
                mutated[at] = flip;
                if let Err(e) = crate::parse_any(mutated.as_slice(), ParseOptions { branches: true }) {
                    assert!(e.offset <= mutated.len() as u64, "{at}: {e}");
                }
            }
        }
        // Cut right after a full record: a valid tracefile of the first file.
        let first = TRACE.find("end_of_record\n").unwrap() + "end_of_record\n".len();
        assert_eq!(parse(&bytes[..first], ParseOptions::default()).unwrap().files.len(), 1);
    }

    #[test]
    fn the_offset_is_the_start_of_the_offending_line() {
        let s = "SF:a\nDA:1,1\nDA:2,x\nend_of_record\n";
        let e = lcov(s).unwrap_err();
        assert!(s[e.offset as usize..].starts_with("DA:2,x"), "{e}");
    }
}

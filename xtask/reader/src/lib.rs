//! Reading coverage reports: Cobertura XML and LCOV tracefiles, told apart by content, into one
//! [`Report`] of per-file line bitsets. The hot path of every coverage gate (a 10 M-line report,
//! hundreds of per-test tracefiles in a recording run), so it is a crate of its own, built at
//! `opt-level = 3` in the dev profile with quick-xml and memchr, whose generic reader it
//! instantiates (root Cargo.toml; docs/benchmarks.md). The entry points the xtask calls are not
//! generic, so that the code is compiled, and optimised, here rather than in the caller.

pub mod cobertura;
pub mod lcov;

use std::io::BufRead;

use crate::cobertura::{ParseError, ParseOptions, Report};

/// A coverage report format, told by content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Cobertura,
    Lcov,
}

/// The LCOV record keys a tracefile may start with.
const LCOV_KEYS: &[&[u8]] = &[
    b"TN", b"SF", b"VER", b"DA", b"FN", b"FNDA", b"FNF", b"FNH", b"FNL", b"FNA", b"BRDA", b"BRF", b"BRH", b"LF", b"LH",
];

/// Tells the format of `input` by its content, never its name: after a UTF-8 BOM and white
/// space (which are consumed; their length is returned), `<` is Cobertura XML, an LCOV record
/// (`TN:`, `SF:`, any LCOV `KEY:`, `end_of_record`) is LCOV. Anything else is an error that
/// says what the file looks like (empty, JSON, neither format).
pub fn detect<R: BufRead>(input: &mut R) -> Result<(Format, u64), ParseError> {
    let read_error = |e: std::io::Error, offset| ParseError { offset, message: format!("read error: {e}") };
    let mut skipped: u64 = 0;
    loop {
        let head = input.fill_buf().map_err(|e| read_error(e, skipped))?;
        if head.is_empty() {
            let message = if skipped == 0 { "the file is empty" } else { "the file holds only white space" };
            return Err(ParseError { offset: 0, message: message.into() });
        }
        let bom = if skipped == 0 && head.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
        let blank = head[bom..].iter().take_while(|b| b.is_ascii_whitespace()).count();
        if bom + blank == head.len() {
            let n = head.len();
            skipped += n as u64;
            input.consume(n);
            continue;
        }
        let rest = &head[bom + blank..];
        let format = if rest.starts_with(b"<") {
            Some(Format::Cobertura)
        } else if rest.starts_with(b"end_of_record") {
            Some(Format::Lcov)
        } else {
            let key = rest.iter().position(|&b| b == b':').map(|colon| &rest[..colon]);
            key.filter(|k| LCOV_KEYS.contains(k)).map(|_| Format::Lcov)
        };
        let at = skipped + (bom + blank) as u64;
        let Some(format) = format else {
            let message = if rest.starts_with(b"{") || rest.starts_with(b"[") {
                "this looks like JSON: neither Cobertura XML nor an LCOV tracefile (cargo llvm-cov: --cobertura or --lcov)"
            } else {
                "neither Cobertura XML (starts with `<`) nor an LCOV tracefile (starts with `TN:` or `SF:`)"
            };
            return Err(ParseError { offset: at, message: message.into() });
        };
        input.consume(bom + blank);
        return Ok((format, at));
    }
}

/// Reads a Cobertura or an LCOV report, told apart by [`detect`]; error offsets are offsets
/// in the whole input.
pub fn parse_any<R: BufRead>(mut input: R, options: ParseOptions) -> Result<Report, ParseError> {
    let (format, skipped) = detect(&mut input)?;
    let result = match format {
        Format::Cobertura => cobertura::parse(input, options),
        Format::Lcov => lcov::parse(input, options),
    };
    result.map_err(|e| ParseError { offset: e.offset + skipped, ..e })
}

/// `parse_any` over a buffered file, compiled (and optimised) in this crate.
pub fn parse_any_file(input: std::io::BufReader<std::fs::File>, options: ParseOptions) -> Result<Report, ParseError> {
    parse_any(input, options)
}

/// An LCOV tracefile held in memory (`llvm-cov export` of one test in a recording run), read
/// here, optimised.
pub fn parse_lcov_bytes(input: &[u8], options: ParseOptions) -> Result<Report, ParseError> {
    lcov::parse(input, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(input: &[u8]) -> Result<Report, ParseError> {
        parse_any(input, ParseOptions { branches: true })
    }

    const XML: &str = r#"<?xml version="1.0"?><coverage><packages><package><classes><class filename="a.rs"><lines><line number="1" hits="1"/><line number="2" hits="0"/></lines></class></classes></package></packages></coverage>"#;
    const LCOV: &str = "SF:a.rs\nDA:1,1\nDA:2,0\nend_of_record\n";

    #[test]
    fn the_format_is_told_by_content_after_a_bom_and_white_space() {
        for prefix in ["", "\u{feff}", "\u{feff} \r\n\t", "\n\n"] {
            for (body, format) in [(XML, Format::Cobertura), (LCOV, Format::Lcov)] {
                let input = format!("{prefix}{body}");
                let mut reader = input.as_bytes();
                assert_eq!(detect(&mut reader).unwrap(), (format, prefix.len() as u64));
                assert_eq!(reader, body.as_bytes(), "only the prefix is consumed");
                let r = any(input.as_bytes()).unwrap_or_else(|e| panic!("{input:?}: {e}"));
                assert_eq!(r.totals().0, crate::cobertura::Counts { covered: 1, valid: 2 });
            }
        }
        for lcov in ["TN:\nSF:a\nDA:1,1\nend_of_record\n", "VER:2\nSF:a\nDA:1,1\nend_of_record\n", "end_of_record\n"] {
            assert_eq!(detect(&mut lcov.as_bytes()).unwrap().0, Format::Lcov, "{lcov}");
        }
    }

    #[test]
    fn unrecognised_input_is_an_error_saying_so() {
        let cases: [(&[u8], &str, u64); 6] = [
            (b"", "the file is empty", 0),
            (b"\xEF\xBB\xBF \n ", "only white space", 0),
            (b"  {\"files\": []}", "JSON", 2),
            (b"\nmode: set\nfoo.go:1.1,2.2 1 1\n", "neither Cobertura XML", 1),
            (b"XX:1\n", "neither", 0),
            (b"SF", "neither", 0),
        ];
        for (input, reason, offset) in cases {
            let e = any(input).unwrap_err();
            assert!(e.message.contains(reason), "{:?}: {e}", String::from_utf8_lossy(input));
            assert_eq!(e.offset, offset, "{:?}: {e}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn error_offsets_count_the_skipped_prefix() {
        let lcov = "\u{feff}\n\nSF:a\nDA:1,x\nend_of_record\n";
        let e = any(lcov.as_bytes()).unwrap_err();
        assert!(lcov[e.offset as usize..].starts_with("DA:1,x"), "{e}");
        let xml = "\n  <coverage><packages></package></coverage>";
        let e = any(xml.as_bytes()).unwrap_err();
        assert!(xml[e.offset as usize..].starts_with("</package>"), "{e}");
    }
}

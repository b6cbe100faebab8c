//! Reading nextest's JUnit report into one outcome per test: passed, failed, flaky (failed,
//! then passed on a retry) or skipped, with the first failing attempt's message and output.
//!
//! nextest writes `<testsuite name=BINARY>` / `<testcase classname=BINARY name=TEST time=S>`;
//! a test that failed has `<failure>` (and `<rerunFailure>` per retry), one that passed on a
//! retry `<flakyFailure>` per failed attempt, each with its own `<system-out>` and
//! `<system-err>`; a skipped test has `<skipped>`.

use quick_xml::events::{BytesStart, Event};

use xtask_reader::cobertura::ParseError;

/// What became of one test in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Passed,
    Failed,
    /// Failed at least once, then passed on a retry.
    Flaky,
    Skipped,
}

/// One failed attempt: the failure's message (`panicked at FILE:LINE:COL`) and what the test
/// printed (the failure's text, else its stderr and stdout).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attempt {
    pub message: String,
    pub output: String,
}

/// One `<testcase>`.
#[derive(Clone, Debug, PartialEq)]
pub struct TestCase {
    /// The test binary's id as nextest names it (`crate`, `crate::bin/name`, `crate::test_file`).
    pub binary: String,
    /// The test's name in its binary (`module::test`).
    pub name: String,
    pub status: Status,
    /// Seconds the final attempt took.
    pub time: f64,
    /// How many attempts failed (a flaky test's failed tries, a failed test's every try).
    pub failed_attempts: usize,
    /// The first failed attempt, when one failed.
    pub first_failure: Option<Attempt>,
}

impl TestCase {
    /// `binary::name`, the test's name in the history and the quarantine file.
    pub fn id(&self) -> String {
        format!("{}::{}", self.binary, self.name)
    }

    /// Where the first failure panicked (`FILE`, `LINE`), read from its message.
    pub fn panic_site(&self) -> Option<(String, usize)> {
        let message = &self.first_failure.as_ref()?.message;
        let rest = &message[message.find("panicked at ")? + "panicked at ".len()..];
        let rest = rest.trim_end_matches(':');
        let mut parts = rest.rsplitn(3, ':');
        let _col = parts.next()?;
        let line = parts.next()?.parse().ok()?;
        Some((parts.next()?.to_owned(), line))
    }
}

/// The element whose text is being collected in an attempt.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Body,
    Out,
    Err,
}

/// Reads a JUnit report made by nextest.
pub fn parse(xml: &[u8]) -> Result<Vec<TestCase>, ParseError> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut cases = Vec::new();
    let mut case: Option<TestCase> = None;
    // The attempt being read: which element, and its body, stdout, stderr.
    let mut attempt: Option<(String, Attempt, String, String)> = None;
    let mut part: Option<Part> = None;
    let mut seen_root = false;
    loop {
        let at = reader.buffer_position();
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| ParseError { offset: reader.error_position(), message: format!("malformed XML: {e}") })?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let tag = e.name().as_ref().to_owned();
                match tag.as_str() {
                    "testsuites" => seen_root = true,
                    "testcase" => {
                        let c = TestCase {
                            binary: attribute(e, "classname", at)?.unwrap_or_default(),
                            name: attribute(e, "name", at)?
                                .ok_or_else(|| ParseError { offset: at, message: "<testcase> has no `name`".into() })?,
                            status: Status::Passed,
                            time: attribute(e, "time", at)?.and_then(|t| t.parse().ok()).unwrap_or(0.0),
                            failed_attempts: 0,
                            first_failure: None,
                        };
                        if empty {
                            cases.push(c);
                        } else {
                            case = Some(c);
                        }
                    }
                    "failure" | "error" | "rerunFailure" | "rerunError" | "flakyFailure" | "flakyError" => {
                        if let Some(c) = &mut case {
                            c.failed_attempts += 1;
                            if tag.starts_with("flaky") {
                                c.status = Status::Flaky;
                            } else if c.status != Status::Flaky {
                                c.status = Status::Failed;
                            }
                            let message = attribute(e, "message", at)?.unwrap_or_default();
                            let a = Attempt { message, output: String::new() };
                            if empty {
                                c.first_failure.get_or_insert(a);
                            } else {
                                attempt = Some((tag, a, String::new(), String::new()));
                                part = Some(Part::Body);
                            }
                        }
                    }
                    "skipped" => {
                        if let Some(c) = &mut case {
                            c.status = Status::Skipped;
                        }
                    }
                    "system-out" if attempt.is_some() && !empty => part = Some(Part::Out),
                    "system-err" if attempt.is_some() && !empty => part = Some(Part::Err),
                    _ => {}
                }
            }
            Event::End(ref e) => match e.name().as_ref() {
                "testcase" => cases.extend(case.take()),
                "system-out" | "system-err" if attempt.is_some() => part = Some(Part::Body),
                name if attempt.as_ref().is_some_and(|(t, ..)| t == name) => {
                    let (_, mut a, out, err) = attempt.take().expect("an attempt is open");
                    part = None;
                    // The failure's text is the test's stderr (the panic); stdout adds what it printed.
                    let mut output = if a.output.trim().is_empty() { err } else { std::mem::take(&mut a.output) };
                    if !out.trim().is_empty() {
                        output = format!("{}\n{}", output.trim_end(), out.trim());
                    }
                    a.output = output.trim().to_owned();
                    if let Some(c) = &mut case {
                        c.first_failure.get_or_insert(a);
                    }
                }
                _ => {}
            },
            Event::Text(ref t) => push(&mut attempt, part, &t.xml_content(quick_xml::XmlVersion::Implicit1_0)),
            Event::CData(ref t) => push(&mut attempt, part, &t.xml_content(quick_xml::XmlVersion::Implicit1_0)),
            Event::GeneralRef(ref r) => {
                let name: &str = r.as_ref();
                let text = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => quick_xml::escape::resolve_predefined_entity(name).unwrap_or("").to_owned(),
                    Err(e) => {
                        return Err(ParseError {
                            offset: at,
                            message: format!("bad character reference &{name};: {e}"),
                        });
                    }
                };
                push(&mut attempt, part, &text);
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !seen_root {
        return Err(ParseError { offset: 0, message: "no <testsuites> element: not a JUnit report".into() });
    }
    Ok(cases)
}

fn push(attempt: &mut Option<(String, Attempt, String, String)>, part: Option<Part>, text: &str) {
    if let (Some((_, a, out, err)), Some(part)) = (attempt, part) {
        match part {
            Part::Body => a.output.push_str(text),
            Part::Out => out.push_str(text),
            Part::Err => err.push_str(text),
        }
    }
}

fn attribute(e: &BytesStart<'_>, key: &str, at: u64) -> Result<Option<String>, ParseError> {
    for attr in e.attributes().with_checks(false) {
        let attr = attr.map_err(|e| ParseError { offset: at, message: format!("malformed attribute: {e}") })?;
        if attr.key.as_ref() == key {
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| ParseError { offset: at, message: format!("bad `{key}` attribute: {e}") })?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="4" failures="1">
  <testsuite name="demo" tests="4">
    <testcase name="tests::flaky_once" classname="demo" time="0.006">
      <flakyFailure message="thread &apos;tests::flaky_once&apos; (1) panicked at src/lib.rs:11:13" type="x">thread &apos;tests::flaky_once&apos; (1) panicked at src/lib.rs:11:13:
first attempt fails
        <system-out>first attempt output line &lt;3&gt;</system-out>
        <system-err>ignored: the body says it</system-err>
      </flakyFailure>
    </testcase>
    <testcase name="tests::steady" classname="demo" time="0.009"/>
    <testcase name="always" classname="demo::it" time="0.1">
      <failure message="panicked at tests/it.rs:3:5" type="x">one</failure>
      <rerunFailure message="panicked at tests/it.rs:3:5" type="x">two</rerunFailure>
      <system-out>final</system-out>
    </testcase>
    <testcase name="later" classname="demo"><skipped/></testcase>
  </testsuite>
</testsuites>"#;

    #[test]
    fn flaky_failed_passed_and_skipped() {
        let cases = parse(REPORT.as_bytes()).unwrap();
        let by = |n: &str| cases.iter().find(|c| c.name == n).unwrap();
        let flaky = by("tests::flaky_once");
        assert_eq!((flaky.status, flaky.failed_attempts), (Status::Flaky, 1));
        assert_eq!(flaky.id(), "demo::tests::flaky_once");
        let first = flaky.first_failure.as_ref().unwrap();
        assert!(
            first.output.starts_with("thread 'tests::flaky_once' (1) panicked at src/lib.rs:11:13:\nfirst attempt")
        );
        assert!(first.output.ends_with("first attempt output line <3>"), "{}", first.output);
        assert_eq!(flaky.panic_site(), Some(("src/lib.rs".into(), 11)));
        assert_eq!(by("tests::steady").status, Status::Passed);
        let failed = by("always");
        assert_eq!(
            (failed.status, failed.failed_attempts, failed.id().as_str()),
            (Status::Failed, 2, "demo::it::always")
        );
        assert_eq!(failed.first_failure.as_ref().unwrap().output, "one");
        assert_eq!(failed.panic_site(), Some(("tests/it.rs".into(), 3)));
        assert_eq!(by("later").status, Status::Skipped);
        assert!((by("always").time - 0.1).abs() < 1e-9);
    }

    #[test]
    fn not_a_report() {
        assert!(parse(b"<coverage/>").is_err());
        assert!(parse(b"<testsuites><testcase></testsuites>").is_err());
    }
}

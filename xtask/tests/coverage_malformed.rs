//! Bad input gets one clear line naming the file and position, exit 2, and is never graded.

mod support;

use support::{Scratch, grade, percent_report};

/// Asserts exit 2 with a single error line `error: <path>:<line>:<col>: …<needle>…`.
fn assert_refused(name: &str, content: &str, position: &str, needle: &str) {
    let dir = Scratch::new("malformed");
    let path = dir.write(name, content);
    let run = grade(&path, &[]);
    assert_eq!(run.code, 2, "{name}: {run:?}");
    assert!(run.stdout.is_empty(), "{name}: nothing is graded: {run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{name}: one line: {run:?}");
    let expected = format!("error: {}:{position}: ", path.display());
    assert!(lines[0].starts_with(&expected), "{name}: expected {expected:?}: {run:?}");
    assert!(lines[0].contains(needle), "{name}: expected {needle:?}: {run:?}");
}

#[test]
fn truncated_report() {
    let full = percent_report(3, 4);
    let cut = &full[..full.len() / 2];
    let dir = Scratch::new("truncated");
    let run = grade(&dir.write("cut.xml", cut), &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("cut.xml:"), "{run:?}");
    // Cut between elements: the reader reaches the end with elements left open.
    let at_boundary = full.rsplit_once("</lines>").unwrap().0;
    assert_refused("cut2.xml", at_boundary, &format!("{}:1", at_boundary.lines().count() + 1), "truncated");
}

#[test]
fn not_xml_at_all() {
    assert_refused("plain.txt", "Name  Stmts  Miss  Cover\nTOTAL 100 25 75%\n", "1:1", "neither Cobertura XML");
    assert_refused("empty.xml", "", "1:1", "empty");
    assert_refused("blank.xml", "\n\n  \n", "1:1", "white space");
}

#[test]
fn json_is_neither_format_and_a_broken_lcov_record_is_located() {
    assert_refused("coverage.json", "\n{\"meta\": {}, \"totals\": {\"percent_covered\": 75.0}}", "2:1", "JSON");
    // LCOV is told apart by its content, whatever the file's name; its errors are located too.
    assert_refused("report.xml", "TN:\nSF:src/lib.rs\nDA:1,x\nend_of_record\n", "3:1", "DA");
    assert_refused("empty.info", "TN:\n", "1:1", "no source file records");
}

#[test]
fn missing_attributes() {
    let body = |line: &str| {
        format!(
            "<coverage>\n<packages><package name=\"p\"><classes>\n<class filename=\"a.rs\"><lines>\n{line}\n</lines></class></classes></package></packages></coverage>\n"
        )
    };
    assert_refused("no-hits.xml", &body("<line number=\"1\"/>"), "4:1", "no `hits` attribute");
    assert_refused("no-number.xml", &body("<line hits=\"1\"/>"), "4:1", "no `number` attribute");
    assert_refused(
        "no-filename.xml",
        "<coverage><packages><package><classes>\n  <class name=\"x\"><lines/></class></classes></package></packages></coverage>",
        "2:3",
        "no `filename` attribute",
    );
}

#[test]
fn non_numeric_or_negative_hits() {
    let body = |hits: &str| {
        format!(
            "<coverage><packages><package><classes><class filename=\"a\"><lines>\n<line number=\"1\" hits=\"{hits}\"/>\n</lines></class></classes></package></packages></coverage>"
        )
    };
    assert_refused("nan.xml", &body("many"), "2:1", "not a whole number");
    assert_refused("negative.xml", &body("-3"), "2:1", "negative");
    assert_refused("float.xml", &body("1.5"), "2:1", "not a whole number");
}

#[test]
fn entity_declarations_are_never_expanded() {
    let laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE coverage [\n <!ENTITY lol \"lol\">\n <!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">\n]>\n<coverage>&lol2;</coverage>\n";
    assert_refused("laughs.xml", laughs, "2:1", "entity declarations are not allowed");
    let xxe = "<?xml version=\"1.0\"?>\n<!DOCTYPE coverage [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<coverage>&xxe;</coverage>\n";
    assert_refused("xxe.xml", xxe, "2:1", "entity declarations are not allowed");
    // An entity from an external DTD is never fetched, so it is undeclared.
    let external = "<?xml version=\"1.0\"?>\n<!DOCTYPE coverage SYSTEM \"http://127.0.0.1:9/evil.dtd\">\n<coverage>\n<sources><source>&ext;</source></sources></coverage>\n";
    assert_refused("external.xml", external, "4:18", "undeclared entity &ext;");
}

#[test]
fn other_xml_reports_are_named() {
    assert_refused("jacoco.xml", "<?xml version=\"1.0\"?>\n<report name=\"x\"></report>", "2:1", "JaCoCo");
    let opencover = "<?xml version=\"1.0\"?>\n<CoverageSession>\n  <Summary numSequencePoints=\"4\" visitedSequencePoints=\"3\"/>\n</CoverageSession>\n";
    assert_refused("opencover.xml", opencover, "2:1", "looks like an OpenCover report, not Cobertura");
    assert_refused("html.xml", "<html><body/></html>", "1:1", "not <coverage>");
}

#[test]
fn mismatched_tags() {
    assert_refused("mismatch.xml", "<coverage>\n<packages></package>\n</coverage>", "2:11", "malformed XML");
}

#[test]
fn missing_file_or_folder() {
    let dir = Scratch::new("missing");
    let run = grade(&dir.0.join("nope.xml"), &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("nope.xml: no such file"), "{run:?}");
    let run = grade(&dir.0, &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("is a folder"), "{run:?}");
}

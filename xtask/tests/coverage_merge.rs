//! `cargo xtask coverage --file A --file B …` and `--file 'shards/*.xml'`: the union of several
//! reports (Cobertura and LCOV), each input's own figure, `--output`.

mod support;

use std::process::Command;

use support::{Run, Scratch};

/// A Cobertura report: per file, `(line, hits)`.
fn cobertura(source: Option<&str>, files: &[(&str, &[(u32, u32)])]) -> String {
    let sources = source.map(|s| format!("<sources><source>{s}</source></sources>")).unwrap_or_default();
    let mut classes = String::new();
    for (name, lines) in files {
        let lines: String = lines.iter().map(|(n, h)| format!("<line number=\"{n}\" hits=\"{h}\"/>")).collect();
        classes.push_str(&format!("<class name=\"c\" filename=\"{name}\"><lines>{lines}</lines></class>"));
    }
    format!("<coverage>{sources}<packages><package><classes>{classes}</classes></package></packages></coverage>\n")
}

/// An LCOV tracefile: per file, `(line, hits)`.
fn lcov(files: &[(&str, &[(u32, u32)])]) -> String {
    let mut out = String::from("TN:\n");
    for (name, lines) in files {
        out.push_str(&format!("SF:{name}\n"));
        for (n, h) in *lines {
            out.push_str(&format!("DA:{n},{h}\n"));
        }
        out.push_str("end_of_record\n");
    }
    out
}

/// Lines 1..=10 of a file, `covered` of them hit.
fn ten(covered: &[u32]) -> Vec<(u32, u32)> {
    (1..=10).map(|n| (n, u32::from(covered.contains(&n)))).collect()
}

fn run_in(dir: &Scratch, args: &[&str]) -> Run {
    let mut c: Command = support::xtask();
    c.current_dir(&dir.0).arg("coverage").args(args);
    support::run(c)
}

#[test]
fn shards_merge_line_by_line_never_by_averaging() {
    let dir = Scratch::new("merge");
    // Shard 1 covers lines 1–5 of a.rs, shard 2 lines 4–8: the union covers 1–8, 80%; the
    // average of the two shards' 50% would be wrong.
    dir.write("shards/1.xml", cobertura(None, &[("src/a.rs", &ten(&[1, 2, 3, 4, 5]))]));
    dir.write("shards/2.xml", cobertura(None, &[("src/a.rs", &ten(&[4, 5, 6, 7, 8]))]));
    let run = run_in(&dir, &["--file", "shards/1.xml", "--file", "shards/2.xml"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("Merged 2 reports (the union of their lines):\n"), "{run:?}");
    assert!(run.stdout.contains("  shards/1.xml: 50.00% (5 / 10 lines, 1 file)\n"), "{run:?}");
    assert!(run.stdout.contains("Coverage: 🌟 High — 80.00% (8 / 10 lines)"), "{run:?}");

    // The same with a pattern the xtask expands (quoted, as in a YAML `run:` line), as one
    // JSON document with each input.
    let run = run_in(&dir, &["--file", "shards/*.xml", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    assert_eq!((v["totals"]["covered"].as_u64(), v["totals"]["valid"].as_u64()), (Some(8), Some(10)));
    assert_eq!(v["inputs"][1]["report"], "shards/2.xml");
    assert_eq!((v["inputs"][1]["covered"].as_u64(), v["inputs"][1]["shared_files"].as_u64()), (Some(5), Some(1)));
}

#[test]
fn lcov_and_cobertura_of_one_tree_merge_whatever_their_paths() {
    let dir = Scratch::new("merge-mixed");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().display().to_string();
    // coverage.py style: relative to a source under the workspace; LCOV: absolute.
    dir.write("py.xml", cobertura(Some(&format!("{root}/app")), &[("src/a.rs", &ten(&[1, 2]))]));
    dir.write("rust.info", lcov(&[(&format!("{root}/app/src/a.rs"), &ten(&[3, 4])), ("/elsewhere/b.rs", &ten(&[]))]));
    let run = run_in(&dir, &["--file", "py.xml", "--file", "rust.info", "--lowest", "5"]);
    assert_eq!(run.code, 1, "4 / 20 is below 70%: {run:?}");
    assert!(run.stdout.contains("  rust.info: 10.00% (2 / 20 lines, 2 files)\n"), "{run:?}");
    assert!(run.stdout.contains("(4 / 20 lines)"), "the union of app/src/a.rs and b.rs: {run:?}");
    assert!(run.stdout.contains("app/src/a.rs"), "named as a repository path: {run:?}");
    assert!(!run.stdout.contains("no file in common"), "{run:?}");
}

#[test]
fn a_shard_of_another_tree_is_a_warning_and_an_unreadable_one_an_error() {
    let dir = Scratch::new("merge-lone");
    dir.write("a.xml", cobertura(None, &[("src/a.rs", &ten(&[1, 2, 3, 4, 5, 6, 7, 8]))]));
    dir.write("b.xml", cobertura(None, &[("src/a.rs", &ten(&[9]))]));
    dir.write("other.info", lcov(&[("lib/x.py", &ten(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))]));
    let mut c: Command = support::xtask();
    c.current_dir(&dir.0).env("GITHUB_ACTIONS", "true").args(["coverage", "--file", "*.xml", "--file", "other.info"]);
    let run = support::run(c);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("  other.info: 100.00% (10 / 10 lines, 1 file)  warning: no file in common with the others\n"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("::warning title=Coverage inputs::other.info has no file in common with the other reports"),
        "{run:?}"
    );

    // Never skipped: a missing input, a pattern that matches nothing, a broken one.
    let run = run_in(&dir, &["--file", "a.xml", "--file", "missing.xml"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("missing.xml: no such file"), "{run:?}");
    let run = run_in(&dir, &["--file", "a.xml", "--file", "shards/*.xml"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--file shards/*.xml: no file matches this pattern"), "{run:?}");
    dir.write("broken.info", "TN:\nSF:a.rs\nDA:1\nend_of_record\n");
    let run = run_in(&dir, &["--file", "a.xml", "--file", "broken.info"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("broken.info:3:1: "), "{run:?}");
}

#[test]
fn output_writes_the_graded_union_as_cobertura_even_when_the_gate_fails() {
    let dir = Scratch::new("merge-output");
    dir.write("1.info", lcov(&[("src/a.rs", &ten(&[1]))]));
    dir.write("2.info", lcov(&[("src/a.rs", &ten(&[2])), ("src/b.rs", &ten(&[]))]));
    let run = run_in(&dir, &["--file", "1.info", "--file", "2.info", "--output", "out/merged.xml"]);
    assert_eq!(run.code, 1, "2 / 20: {run:?}");
    let merged = dir.0.join("out/merged.xml");
    let text = std::fs::read_to_string(&merged).unwrap();
    assert!(text.starts_with("<?xml"), "{text}");
    let names: Vec<_> = std::fs::read_dir(dir.0.join("out")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["merged.xml"], "no temporary file left behind");
    // Graded again, alone: the same numbers the gate decided on.
    let again = support::grade(&merged, &["--fail-under", "0"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stdout.contains("(2 / 20 lines)"), "{again:?}");
}

#[test]
fn branches_merge_per_line() {
    let dir = Scratch::new("merge-branches");
    let lcov_branches = |taken: &[(u32, &str)]| {
        let mut out = String::from("SF:src/a.rs\nDA:1,1\n");
        for (branch, t) in taken {
            out.push_str(&format!("BRDA:1,0,{branch},{t}\n"));
        }
        out + "end_of_record\n"
    };
    dir.write("1.info", lcov_branches(&[(0, "1"), (1, "-"), (2, "0"), (3, "0")]));
    dir.write("2.info", lcov_branches(&[(0, "0"), (1, "1"), (2, "0"), (3, "0")]));
    let run = run_in(&dir, &["--file", "1.info", "--file", "2.info", "--metric", "branches", "--fail-under", "0"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("  1.info: 25.00% (1 / 4 branches, 1 file)"), "{run:?}");
    // Per line, the most branches any input took: not a sum (which would claim 2 of 4).
    assert!(run.stdout.contains("(1 / 4 branches)"), "{run:?}");
}

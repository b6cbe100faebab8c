//! `cargo xtask coverage --diff --base-report …`: the indirect changes, lines outside the change
//! that the base's run covered and the change's does not, on a throwaway git workspace with a
//! base commit and a change; the base's reports are LCOV (as a CI artifact may be), the
//! change's Cobertura, both as their producers write them. Unstable lines, from two runs of one
//! commit, are never counted.

mod lint_support;
mod support;

use std::process::Command;

use lint_support::{GIT_LOCATION_VARS, Repo};
use support::Run;

const A_BASE: &str = "use crate::b;

pub fn run(text: &str) -> String {
    let n = b::parse(text);
    b::describe(n)
}
";

/// The change: `run` no longer calls `describe`.
const A_HEAD: &str = "use crate::b;

pub fn run(text: &str) -> String {
    let n = b::parse(text);
    n.to_string()
}
";

const B_BASE: &str = "pub fn parse(text: &str) -> u32 {
    text.len() as u32
}

pub fn describe(n: u32) -> String {
    if n > 10 {
        format!(\"big {n}\")
    } else {
        format!(\"small {n}\")
    }
}
";

/// The change also documents `b.rs`: two lines on top move every line of it down by two.
fn b_head() -> String {
    format!("//! Parsing and describing.\n//! (two lines added above)\n{B_BASE}")
}

/// The coverable lines of b.rs at the base, and their hits in the base's run: `describe` runs
/// (5–7, 11), its `else` branch does not (9).
const B_BASE_HITS: [(u32, u32); 8] = [(1, 1), (2, 1), (3, 1), (5, 1), (6, 1), (7, 1), (9, 0), (11, 1)];

/// A workspace (its settings in `Cargo.toml`, `settings` added) with `src/a.rs` and `src/b.rs`
/// committed on `main`, and the change on the branch `feature`, committed.
fn workspace(name: &str, settings: &str) -> Repo {
    let repo = Repo::new(name);
    repo.write(
        "Cargo.toml",
        format!(
            "[package]\nname = \"ws\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\nexclude = [\"xtask\"]\n\n\
             [workspace.metadata.xtask.coverage]\nthreshold = 50\n{settings}\n"
        ),
    );
    repo.write("xtask/Cargo.toml", "[package]\nname = \"xtask\"\nversion = \"0.0.0\"\nedition = \"2021\"\n");
    repo.write("src/lib.rs", "mod a;\nmod b;\n");
    repo.write("src/a.rs", A_BASE);
    repo.write("src/b.rs", B_BASE);
    repo.git(&["commit", "-q", "-m", "base"]);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("src/a.rs", A_HEAD);
    repo.write("src/b.rs", b_head());
    repo.git(&["commit", "-q", "-m", "change"]);
    repo
}

/// An LCOV tracefile: per file, `(line, hits)`.
fn lcov(files: &[(&str, &[(u32, u32)])]) -> String {
    let mut out = String::from("TN:\n");
    for (name, lines) in files {
        out.push_str(&format!("SF:{name}\n"));
        for (n, h) in *lines {
            out.push_str(&format!("DA:{n},{h}\n"));
        }
        let hit = lines.iter().filter(|(_, h)| *h > 0).count();
        out.push_str(&format!("LF:{}\nLH:{hit}\nend_of_record\n", lines.len()));
    }
    out
}

/// A Cobertura report: per file, `(line, hits)`.
fn cobertura(files: &[(&str, &[(u32, u32)])]) -> String {
    let mut classes = String::new();
    for (name, lines) in files {
        let lines: String = lines.iter().map(|(n, h)| format!("<line number=\"{n}\" hits=\"{h}\"/>")).collect();
        classes.push_str(&format!("<class name=\"c\" filename=\"{name}\"><methods/><lines>{lines}</lines></class>"));
    }
    format!(
        "<?xml version=\"1.0\"?>\n<coverage version=\"1\"><sources/><packages><package name=\"p\">\
         <classes>{classes}</classes></package></packages></coverage>\n"
    )
}

/// The base's run, as its CI run's LCOV artifact: the absolute paths of CI's checkout.
fn base_report(b_hits: &[(u32, u32)]) -> String {
    lcov(&[
        ("/home/runner/work/ws/ws/src/a.rs", &[(3, 1), (4, 1), (5, 1), (6, 1)]),
        ("/home/runner/work/ws/ws/src/b.rs", b_hits),
    ])
}

/// The change's run: a.rs's changed line 5 is covered; b.rs's lines, two further down, are
/// covered up to `parse` only.
fn head_report(b_hits: &[(u32, u32)]) -> String {
    cobertura(&[("src/a.rs", &[(3, 1), (4, 1), (5, 1), (6, 1)]), ("src/b.rs", b_hits)])
}

const B_HEAD_HITS: [(u32, u32); 8] = [(3, 1), (4, 1), (5, 1), (7, 0), (8, 0), (9, 0), (11, 0), (13, 0)];

/// The gate on the workspace at `repo` (its settings, its git), `files` written beside it.
fn gate(repo: &Repo, files: &[(&str, String)], args: &[&str]) -> Command {
    for (name, text) in files {
        let path = repo.scratch.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let mut c = support::xtask_on(&repo.root);
    for var in GIT_LOCATION_VARS {
        c.env_remove(var);
    }
    c.current_dir(&repo.scratch.0).arg("coverage").args(args);
    c
}

fn run(repo: &Repo, files: &[(&str, String)], args: &[&str]) -> Run {
    support::run(gate(repo, files, args))
}

fn standard_files() -> Vec<(&'static str, String)> {
    vec![("head.xml", head_report(&B_HEAD_HITS)), ("base.info", base_report(&B_BASE_HITS))]
}

#[test]
fn a_change_in_one_file_that_leaves_a_function_in_another_uncovered_is_reported_in_head_lines() {
    let repo = workspace("indirect-report", "");
    let args = ["--file", "head.xml", "--diff", "main", "--base-report", "base.info"];
    let run = run(&repo, &standard_files(), &args);
    // Unset `max-indirect-uncovered-lines`: reported, never failing. The patch (a.rs 5, covered;
    // b.rs's two comment lines, not coverable) and the total (7 / 12) pass.
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("Patch: 100.00% of the changed lines covered (1 / 1)"), "{run:?}");
    // describe was base lines 5–7 and 11, covered; it is head lines 7–9 and 13, not covered.
    // Its `else` (base 9, head 11) was never covered: not a loss, and it splits the ranges.
    assert!(
        run.stdout.contains(
            "\nIndirect: 4 lines outside the change lost their coverage (11 unchanged lines compared with the \
             merge base "
        ),
        "{run:?}"
    );
    assert!(run.stdout.contains("Lost coverage outside the change (most first):\n  src/b.rs: 7–9, 13\n"), "{run:?}");
    assert!(!run.stdout.contains("Indirect gate"), "no limit, no gate: {run:?}");
    assert!(!run.stdout.contains("Unstable"), "one run a side: {run:?}");

    let mut args_json = args.to_vec();
    args_json.extend(["--format", "json"]);
    let run = self::run(&repo, &standard_files(), &args_json);
    assert_eq!(run.code, 0, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    let i = &v["indirect"];
    assert_eq!((i["lost"].as_u64(), i["compared"].as_u64(), i["unstable"].as_u64()), (Some(4), Some(11), Some(0)));
    assert_eq!(i["files"][0]["file"], "src/b.rs");
    assert_eq!(i["files"][0]["lost"], serde_json::json!([[7, 9], [13, 13]]));
    assert_eq!(i["base_runs"], serde_json::json!(["base.info"]));
    assert_eq!(i["max_indirect_uncovered_lines"], serde_json::Value::Null);
    assert_eq!(i["passed"], true);
}

#[test]
fn max_indirect_uncovered_lines_fails_the_gate_with_its_verdict_and_annotations() {
    let repo = workspace("indirect-gate", "max-indirect-uncovered-lines = 0");
    let summary = repo.scratch.0.join("summary.md");
    let args = ["--file", "head.xml", "--diff", "main", "--base-report", "base.info"];
    let mut c = gate(&repo, &standard_files(), &args);
    c.env("GITHUB_ACTIONS", "true").env("GITHUB_STEP_SUMMARY", &summary);
    let run = support::run(c);
    assert_eq!(run.code, 1, "4 lines lost, at most 0: {run:?}");
    assert!(run.stdout.contains("Indirect gate: FAILED (4 lines lost coverage; at most 0)"), "{run:?}");
    assert!(run.stdout.contains("Gate: passed"), "the total passes: {run:?}");
    assert!(
        run.stdout.contains(
            "::warning file=src/b.rs,line=7,endLine=9,title=Lost coverage outside the change::lines 7–9 were covered \
             at the merge base "
        ),
        "{run:?}"
    );
    let single =
        "::warning file=src/b.rs,line=13,title=Lost coverage outside the change::line 13 was covered at the merge base";
    let line = run.stdout.lines().find(|l| l.starts_with(single)).unwrap_or_else(|| panic!("{run:?}"));
    assert!(line.ends_with(" and is not now: the change is elsewhere"), "{line}");
    let range = run.stdout.lines().find(|l| l.contains("line=7,endLine=9")).unwrap();
    assert!(range.ends_with(" and are not now: the change is elsewhere"), "{range}");
    assert!(
        run.stdout.contains(
            "::error title=Coverage gate::4 lines outside the change lost their coverage, at most 0 allowed (against main)"
        ),
        "{run:?}"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("#### Indirect changes against `main` (merge base `"), "{md}");
    assert!(
        md.contains("4 lines outside the change lost their coverage (11 unchanged lines compared). At most 0: ❌"),
        "{md}"
    );
    assert!(md.contains("| `src/b.rs` | 7–9, 13 |"), "{md}");

    // The pull request's comment says the same (`--comment`).
    let run = self::run(&repo, &standard_files(), &[&args[..], &["--comment", "comment"]].concat());
    assert_eq!(run.code, 1, "{run:?}");
    let comment = std::fs::read_to_string(repo.scratch.0.join("comment/comment.md")).unwrap();
    assert!(
        comment.contains("#### ❌ Indirect changes: 4 lines no longer covered\n\nOutside the changed lines, covered in `main`; at most 0: ❌."),
        "{comment}"
    );
    assert!(comment.contains("`src/b.rs`") && comment.contains("7–9, 13"), "{comment}");

    // The flag overrides the setting.
    let run = self::run(&repo, &standard_files(), &[&args[..], &["--max-indirect-lines", "4"]].concat());
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("Indirect gate: passed (4 lines lost coverage; at most 4)"), "{run:?}");
}

#[test]
fn a_line_covered_in_one_run_of_a_commit_and_not_in_another_is_unstable_never_lost() {
    let repo = workspace("indirect-unstable", "max-indirect-uncovered-lines = 3");
    // The base's second run, as two shards given as one pattern: base line 11 (head 13) not
    // covered there. It is unstable, and the three lines left lost pass a limit of 3.
    let second: Vec<(u32, u32)> = B_BASE_HITS.iter().map(|&(n, h)| (n, if n == 11 { 0 } else { h })).collect();
    let mut files = standard_files();
    files.push(("base2/coverage-1-of-2.xml", cobertura(&[("src/a.rs", &[(3, 1), (4, 1), (5, 1), (6, 1)])])));
    files.push(("base2/coverage-2-of-2.xml", cobertura(&[("src/b.rs", &second)])));
    let args = ["--file", "head.xml", "--diff", "main", "--base-report", "base.info", "--base-report", "base2/*.xml"];
    let run = run(&repo, &files, &args);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("Indirect: 3 lines outside the change lost their coverage"), "{run:?}");
    assert!(run.stdout.contains("  src/b.rs: 7–9\n"), "{run:?}");
    assert!(
        run.stdout.contains(
            "Unstable: 1 line whose coverage differs between runs of one commit (2 runs of the base, 1 of the \
             change): not counted\n  src/b.rs: 13\n"
        ),
        "{run:?}"
    );
    assert!(run.stdout.contains("Indirect gate: passed (3 lines lost coverage; at most 3)"), "{run:?}");

    // A second run of the change that covers head line 8: unstable too, and never lost.
    let again: Vec<(u32, u32)> = B_HEAD_HITS.iter().map(|&(n, h)| (n, if n == 8 { 1 } else { h })).collect();
    files.push(("again.xml", head_report(&again)));
    let run = self::run(&repo, &files, &[&args[..], &["--repeat-report", "again.xml", "--format", "json"]].concat());
    assert_eq!(run.code, 0, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    let i = &v["indirect"];
    assert_eq!((i["lost"].as_u64(), i["unstable"].as_u64()), (Some(2), Some(2)), "{i}");
    assert_eq!(i["files"][0]["lost"], serde_json::json!([[7, 7], [9, 9]]));
    assert_eq!(i["files"][0]["unstable"], serde_json::json!([[8, 8], [13, 13]]));
    assert_eq!(i["base_runs"], serde_json::json!(["base.info", "base2/*.xml (2 reports)"]));
    assert_eq!(i["head_runs"], serde_json::json!(["head.xml", "again.xml"]));
}

#[test]
fn unusable_base_reports_are_exit_2_naming_the_problem() {
    let repo = workspace("indirect-errors", "");
    let mut files = standard_files();
    files.push(("other.info", lcov(&[("/elsewhere/lib/other.rs", &[(1, 1)])])));
    files.push(("totals.xml", "<coverage lines-covered=\"1\" lines-valid=\"2\"><packages/></coverage>".to_owned()));
    let base = |report: &str| ["--file", "head.xml", "--diff", "main", "--base-report", report].map(str::to_owned);
    let cases: [(Vec<String>, &str); 5] = [
        (base("other.info").to_vec(), "none of the base report's files is a file of the merge base"),
        (base("missing.info").to_vec(), "--base-report missing.info: no such file"),
        (base("totals.xml").to_vec(), "--base-report totals.xml: the report has totals only"),
        (base("nothing/*.info").to_vec(), "--base-report nothing/*.info: no file matches this pattern"),
        (vec!["--file".into(), "head.xml".into(), "--base-report".into(), "base.info".into()], "--diff"),
    ];
    for (args, message) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = run(&repo, &files, &args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stderr.contains(message), "{args:?}: {run:?}");
    }
    let run = run(&repo, &files, &["--file", "head.xml", "--diff", "main", "--base-report", "other.info"]);
    assert!(run.stderr.contains("/elsewhere/lib/other.rs"), "the names it lists: {run:?}");
}

#[test]
fn a_renamed_file_keeps_its_lines_under_its_new_name() {
    let repo = workspace("indirect-rename", "");
    repo.git(&["mv", "src/b.rs", "src/describe.rs"]);
    repo.write("src/lib.rs", "mod a;\nmod describe;\n");
    repo.git(&["commit", "-q", "-m", "rename"]);
    let head = cobertura(&[("src/a.rs", &[(3, 1), (4, 1), (5, 1), (6, 1)]), ("src/describe.rs", &B_HEAD_HITS)]);
    let files = vec![("head.xml", head), ("base.info", base_report(&B_BASE_HITS))];
    let run = run(&repo, &files, &["--file", "head.xml", "--diff", "main", "--base-report", "base.info"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("  src/describe.rs: 7–9, 13\n"), "{run:?}");
}

/// The `base-report` setting: CI restores the merge base's report to a fixed path before the
/// gate, when its base's run kept one. There, `--diff` alone compares with it; missing, one
/// line says the indirect changes were not looked for, and the gate still judges the rest.
#[test]
fn the_base_report_setting_is_used_when_its_file_is_there_and_skipped_with_a_line_when_not() {
    let settings = "base-report = \"target/coverage/base/coverage.xml\"\nmax-indirect-uncovered-lines = 0";
    let repo = workspace("indirect-setting", settings);
    let head = [("head.xml", head_report(&B_HEAD_HITS))];
    let args = ["--file", "head.xml", "--diff", "main"];
    let mut git = Command::new("git");
    for var in GIT_LOCATION_VARS {
        git.env_remove(var);
    }
    let merge_base = git.args(["merge-base", "main", "HEAD"]).current_dir(&repo.root).output().unwrap().stdout;
    let merge_base = String::from_utf8(merge_base).unwrap();

    // Absent: the rest is judged, the indirect changes are not, and one line says why (exit 0).
    let run = run(&repo, &head, &args);
    assert_eq!(run.code, 0, "no base report is not a failure: {run:?}");
    assert!(run.stdout.contains("Patch: 100.00% of the changed lines covered (1 / 1)"), "{run:?}");
    assert!(!run.stdout.contains("Indirect"), "{run:?}");
    let said: Vec<&str> = run.stderr.lines().filter(|l| l.contains("indirect changes")).collect();
    assert_eq!(said.len(), 1, "one line: {run:?}");
    let expected = format!(
        "indirect changes: not looked for: no report of the merge base {} at repo/target/coverage/base/coverage.xml \
         (the `base-report` setting; ",
        &merge_base[..12]
    );
    assert!(said[0].starts_with(&expected), "names the commit and the file: {run:?}");
    // Nothing changed (the default branch's own run, against itself): nothing to say.
    let run = self::run(&repo, &head, &["--file", "head.xml", "--diff", "HEAD"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("nothing to judge") && !run.stderr.contains("indirect changes"), "{run:?}");

    // The merge base in full, as CI asks for it to restore the report kept under its id.
    let print = self::run(&repo, &[], &["--diff", "main", "--print-merge-base"]);
    assert_eq!((print.code, print.stdout.as_str()), (0, merge_base.as_str()), "{print:?}");
    // As CI's step runs it on a pull request: no BASE, the pull request's base branch fetched
    // as origin/<base>; stdout is the commit alone (it becomes the cache key).
    repo.git(&["update-ref", "refs/remotes/origin/main", "main"]);
    let mut c = gate(&repo, &[], &["--diff", "--print-merge-base"]);
    c.env("GITHUB_ACTIONS", "true").env("GITHUB_BASE_REF", "main").env("GITHUB_STEP_SUMMARY", "/dev/null");
    let print = support::run(c);
    assert_eq!((print.code, print.stdout.as_str()), (0, merge_base.as_str()), "{print:?}");
    let mut c = gate(&repo, &[], &["--diff", "--print-merge-base"]);
    c.env("GITHUB_ACTIONS", "true").env("GITHUB_BASE_REF", "gone");
    let print = support::run(c);
    assert_eq!(print.code, 2, "the step fails: {print:?}");
    assert!(!print.stdout.contains(merge_base.trim()), "no commit, so no key: {print:?}");
    assert!(print.stderr.contains("the base `origin/gone` (the pull request's base branch) is not in"), "{print:?}");

    // There (an LCOV report, as a CI artifact may be): compared, reported and gated as
    // `--base-report` would be, and named in the output.
    repo.write_untracked("target/coverage/base/coverage.xml", base_report(&B_BASE_HITS));
    let run = self::run(&repo, &head, &args);
    assert_eq!(run.code, 1, "4 lines lost, at most 0: {run:?}");
    assert!(run.stdout.contains("Lost coverage outside the change (most first):\n  src/b.rs: 7–9, 13\n"), "{run:?}");
    assert!(run.stdout.contains("Indirect gate: FAILED (4 lines lost coverage; at most 0)"), "{run:?}");
    assert!(!run.stderr.contains("not looked for"), "{run:?}");
    let json = self::run(&repo, &head, &[&args[..], &["--format", "json"]].concat());
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("one JSON document");
    assert_eq!(v["indirect"]["base_runs"], serde_json::json!(["repo/target/coverage/base/coverage.xml"]), "{json:?}");

    // Given on the command line, `--base-report` wins; a missing one is still exit 2.
    let run = self::run(&repo, &head, &[&args[..], &["--base-report", "missing.info"]].concat());
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--base-report missing.info: no such file"), "{run:?}");

    // Without --diff there is no change to compare: the setting is not read.
    let run = self::run(&repo, &head, &["--file", "head.xml"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stdout.contains("Indirect") && !run.stderr.contains("indirect changes"), "{run:?}");
}

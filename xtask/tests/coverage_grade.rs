//! `cargo xtask coverage --file`: the grade, the gate and the exit codes, through the real CLI.

mod support;

use support::{Scratch, cobertura, grade, percent_report};

#[test]
fn seed_runbook_bands_give_the_right_label_and_exit_code() {
    let dir = Scratch::new("bands");
    for (pct, label, code) in
        [(45, "❌ Poor", 1), (60, "⚠️ Low", 1), (75, "✅ Approved", 0), (85, "🌟 High", 0), (92, "🚀 Excellent", 0)]
    {
        let path = dir.write(&format!("{pct}.xml"), percent_report(pct, 100));
        let run = grade(&path, &[]);
        assert_eq!(run.code, code, "{pct}%: {run:?}");
        let expected = format!("Coverage: {label} — {pct}.00% ({pct} / 100 lines)");
        assert!(run.stdout.starts_with(&expected), "{pct}%: {run:?}");
        let verdict = if code == 0 { "Gate: passed" } else { "Gate: FAILED" };
        assert!(run.stdout.contains(verdict), "{pct}%: {run:?}");
    }
}

#[test]
fn just_below_the_gate_fails_and_is_shown_rounded_down() {
    let dir = Scratch::new("boundary");
    let path = dir.write("r.xml", percent_report(69_995, 100_000));
    let run = grade(&path, &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("69.99% (69,995 / 100,000 lines)"), "{run:?}");
    assert!(run.stdout.contains("cover 5 more lines to pass"), "{run:?}");

    let path = dir.write("r70.xml", percent_report(70_000, 100_000));
    let run = grade(&path, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("✅ Approved — 70.00% (70,000 / 100,000 lines)"), "{run:?}");
}

#[test]
fn issue_example_is_shown_with_its_counts() {
    // 75.00565% must read 75.00%, never 75.01%.
    let dir = Scratch::new("example");
    let path = dir.write("r.xml", percent_report(7_500_565 / 1_000, 10_000));
    let run = grade(&path, &[]);
    assert!(run.stdout.contains("75.00% (7,500 / 10,000 lines)"), "{run:?}");
}

#[test]
fn fail_under_overrides_the_threshold_exactly() {
    let dir = Scratch::new("fail-under");
    let path = dir.write("r.xml", percent_report(725, 1_000));
    assert_eq!(grade(&path, &["--fail-under", "72.5"]).code, 0);
    assert_eq!(grade(&path, &["--fail-under", "72.51"]).code, 1);
    assert_eq!(grade(&path, &["--fail-under", "0"]).code, 0);
    let bad = grade(&path, &["--fail-under", "101"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("between 0 and 100"), "{bad:?}");
}

#[test]
fn report_without_coverable_lines_is_an_error_not_a_pass() {
    let dir = Scratch::new("empty");
    let path = dir.write("empty.xml", cobertura(&[]));
    let run = grade(&path, &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("no coverable lines"), "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
}

#[test]
fn lines_are_deduplicated_across_classes_and_path_styles() {
    let dir = Scratch::new("dedup");
    let xml = cobertura(&[
        ("src\\a.rs", vec![(1, 0), (2, 0), (3, 1)]),
        ("src/a.rs", vec![(1, 5), (2, 0)]),
        ("./src/a.rs", vec![(4, 0)]),
        ("src/b.rs", vec![(1, 1), (1, 0)]),
    ]);
    let run = grade(&dir.write("r.xml", xml), &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!((v["totals"]["covered"].as_u64(), v["totals"]["valid"].as_u64()), (Some(3), Some(5)), "{run:?}");
    assert_eq!(v["files"], 2);
    assert_eq!(v["lowest_files"][0]["file"], "src/a.rs");
    assert_eq!(v["lowest_files"][0]["missed"], 2);
}

#[test]
fn lines_repeated_under_methods_do_not_count() {
    // cargo-llvm-cov repeats class lines under <methods>; a method-only line must not appear.
    let dir = Scratch::new("methods");
    let xml = r#"<?xml version="1.0"?>
<!DOCTYPE coverage SYSTEM "https://cobertura.sourceforge.net/xml/coverage-04.dtd">
<coverage lines-covered="1" lines-valid="2"><packages><package name="p"><classes>
<class name="c" filename="a.rs"><methods><method name="f" signature=""><lines>
<line number="1" hits="1"/><line number="50" hits="0"/></lines></method></methods>
<lines><line number="1" hits="1"/><line number="2" hits="0"/></lines></class>
</classes></package></packages></coverage>"#;
    let run = grade(&dir.write("r.xml", xml), &["--fail-under", "50"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("50.00% (1 / 2 lines)"), "{run:?}");
}

#[test]
fn root_totals_are_used_only_without_line_elements_and_say_so() {
    let dir = Scratch::new("root");
    let xml = r#"<coverage lines-covered="80" lines-valid="100" line-rate="0.8"><packages/></coverage>"#;
    let run = grade(&dir.write("r.xml", xml), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("🌟 High — 80.00% (80 / 100 lines)"), "{run:?}");
    assert!(run.stdout.contains("note: the report has no per-line lines data"), "{run:?}");
}

#[test]
fn branch_metric_counts_condition_coverage() {
    let dir = Scratch::new("branches");
    let xml = r#"<coverage><packages><package name="p"><classes><class name="c" filename="m.py"><lines>
<line number="1" hits="1"/>
<line number="2" hits="1" branch="true" condition-coverage="50% (1/2)"/>
<line number="5" hits="0" branch="true" condition-coverage="0% (0/2)"/>
</lines></class></classes></package></packages></coverage>"#;
    let path = dir.write("r.xml", xml);
    let run = grade(&path, &["--metric", "branches"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("25.00% (1 / 4 branches)"), "{run:?}");
    let run = grade(&path, &[]);
    assert!(run.stdout.contains("66.66% (2 / 3 lines)"), "{run:?}");

    let no_branches = dir.write("lines-only.xml", percent_report(3, 4));
    let run = grade(&no_branches, &["--metric", "branches"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("no branch data"), "{run:?}");
}

#[test]
fn lowest_files_list_is_limited_and_ordered() {
    let dir = Scratch::new("lowest");
    let files: Vec<(String, Vec<(u32, u64)>)> =
        (0..15u32).map(|i| (format!("src/f{i:02}.rs"), (1..=20).map(|n| (n, u64::from(n <= i))).collect())).collect();
    let refs: Vec<(&str, Vec<(u32, u64)>)> = files.iter().map(|(n, l)| (n.as_str(), l.clone())).collect();
    let path = dir.write("r.xml", cobertura(&refs));
    let run = grade(&path, &[]);
    let listed: Vec<&str> = run.stdout.lines().filter(|l| l.contains("src/f")).collect();
    assert_eq!(listed.len(), 10, "{run:?}");
    assert!(listed[0].ends_with("src/f00.rs") && listed[0].contains("0.00%"), "{run:?}");
    assert!(listed[9].ends_with("src/f09.rs"), "{run:?}");
    let run = grade(&path, &["--lowest", "3"]);
    assert_eq!(run.stdout.lines().filter(|l| l.contains("src/f")).count(), 3, "{run:?}");
}

#[test]
fn markdown_format_is_a_table() {
    let dir = Scratch::new("markdown");
    let run = grade(&dir.write("r.xml", percent_report(3, 4)), &["--format", "markdown"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("### ✅ Coverage: Approved (75.00%)\n"), "{run:?}");
    assert!(run.stdout.contains("| Lines | 3 | 4 | 75.00% | ✅ passed |"), "{run:?}");
}

#[test]
fn colour_follows_flag_and_environment() {
    let dir = Scratch::new("colour");
    let path = dir.write("r.xml", percent_report(3, 4));
    let esc = "\u{1b}[";
    assert!(!grade(&path, &[]).stdout.contains(esc), "not a terminal: no colour");
    assert!(grade(&path, &["--color", "always"]).stdout.contains(esc));
    let mut c = support::xtask();
    c.env("CLICOLOR_FORCE", "1").args(["coverage", "--file"]).arg(&path);
    assert!(support::run(c).stdout.contains(esc));
    let mut c = support::xtask();
    c.env("CLICOLOR_FORCE", "1").env("NO_COLOR", "1").args(["coverage", "--file"]).arg(&path);
    assert!(!support::run(c).stdout.contains(esc));
}

#[test]
fn github_actions_gets_a_step_summary_and_one_annotation_on_failure() {
    let dir = Scratch::new("github");
    let summary = dir.0.join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let path = dir.write("r.xml", percent_report(65, 100));
    let mut c = support::xtask();
    c.env("GITHUB_ACTIONS", "true").env("GITHUB_STEP_SUMMARY", &summary).args(["coverage", "--file"]).arg(&path);
    let run = support::run(c);
    assert_eq!(run.code, 1, "{run:?}");
    let annotations: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("::error")).collect();
    assert_eq!(annotations.len(), 1, "{run:?}");
    assert!(annotations[0].contains("65.00%25 is below the 70%25 gate"), "{run:?}");
    let written = std::fs::read_to_string(&summary).unwrap();
    assert!(written.starts_with("earlier step\n### ⚠️ Coverage: Low (65.00%)"), "{written}");
    assert!(written.contains("❌ failed: 5 more lines needed"), "{written}");

    // Passing: summary, no annotation.
    let path = dir.write("ok.xml", percent_report(95, 100));
    let mut c = support::xtask();
    c.env("GITHUB_ACTIONS", "true").env("GITHUB_STEP_SUMMARY", &summary).args(["coverage", "--file"]).arg(&path);
    let run = support::run(c);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stdout.contains("::error"), "{run:?}");
    assert!(std::fs::read_to_string(&summary).unwrap().contains("🚀 Coverage: Excellent"));
}

#[test]
fn help_explains_each_subcommand_and_the_exit_codes() {
    let mut c = support::xtask();
    c.arg("--help");
    let run = support::run(c);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("coverage"), "{run:?}");
    assert!(run.stdout.contains("Exit status: 0 passed, 1 gate failed, 2 usage"), "{run:?}");
    let mut c = support::xtask();
    c.args(["coverage", "--help"]);
    let run = support::run(c);
    assert!(run.stdout.contains("--fail-under <PERCENT>"), "{run:?}");
    assert!(run.stdout.contains("🚀 Excellent"), "{run:?}");
}

#[test]
fn usage_errors_exit_2() {
    let mut c = support::xtask();
    c.args(["coverage", "--format", "yaml"]);
    assert_eq!(support::run(c).code, 2);
    let mut c = support::xtask();
    c.arg("no-such-gate");
    assert_eq!(support::run(c).code, 2);
}

#[test]
fn json_stays_parseable_when_the_gate_fails_under_github_actions() {
    let dir = Scratch::new("github-json");
    let path = dir.write("r.xml", percent_report(40, 100));
    let mut c = support::xtask();
    c.env("GITHUB_ACTIONS", "true").args(["coverage", "--format", "json", "--file"]).arg(&path);
    let run = support::run(c);
    assert_eq!(run.code, 1, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("stdout is only the JSON document");
    assert_eq!(v["gate"]["passed"], false);
    assert_eq!(run.stderr.lines().filter(|l| l.starts_with("::error")).count(), 1, "{run:?}");
}

/// The docs' grading scale (docs/quality-gates.md's table, the README's list) is the default
/// bands, defined once in `grade::default_bands`.
#[test]
fn the_docs_list_the_default_grades() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let read = |path: &str| std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let bands = xtask::coverage::grade::default_bands();
    // Lowest first, each with the minimum of the band above it.
    let scale: Vec<(String, String, Option<String>)> = (0..bands.len())
        .rev()
        .map(|i| {
            let b = &bands[i];
            (format!("{} {}", b.emoji, b.label), b.min.to_string(), i.checked_sub(1).map(|a| bands[a].min.to_string()))
        })
        .collect();
    let below = |top: &str| top.parse::<u32>().map(|t| t - 1).expect("the default bands are whole numbers");

    let guide = read("docs/quality-gates.md");
    let table = guide.split("### Grading scale").nth(1).expect("docs/quality-gates.md: a Grading scale section");
    let rows: Vec<(String, String)> = (table.lines())
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].to_owned(), cells[2].to_owned())
        })
        .collect();
    let expected: Vec<(String, String)> = (scale.iter())
        .map(|(grade, min, top)| {
            let range = match top {
                None => format!("{min}% and above"),
                Some(top) if min == "0" => format!("below {top}%"),
                Some(top) => format!("{min}% to below {top}%"),
            };
            (grade.clone(), range)
        })
        .collect();
    assert_eq!(rows, expected, "docs/quality-gates.md, Grading scale");

    let readme = read("README.md").split_whitespace().collect::<Vec<_>>().join(" ");
    let list: Vec<String> = (scale.iter())
        .map(|(grade, min, top)| match top {
            None => format!("{grade} from {min}%"),
            Some(top) if min == "0" => format!("{grade} below {top}%"),
            Some(top) => format!("{grade} {min}–{}%", below(top)),
        })
        .collect();
    let sentence = format!("The first line is the grade: {}.", list.join(", "));
    assert!(readme.contains(&sentence), "README.md should say: {sentence}");
}

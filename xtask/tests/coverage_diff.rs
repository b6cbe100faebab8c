//! `cargo xtask coverage --file … --diff BASE`: patch coverage on throwaway git repositories
//! with real commits, branches and clones, and real Cobertura reports.

mod lint_support;
mod support;

use lint_support::Repo;
use support::Run;

/// A Cobertura report: `<sources>` and, per file, `(line, hits)`.
fn cobertura(sources: &[&str], files: &[(&str, Vec<(u32, u32)>)]) -> String {
    let sources: String = sources.iter().map(|s| format!("<source>{s}</source>")).collect();
    let mut classes = String::new();
    for (name, lines) in files {
        let lines: String = lines.iter().map(|(n, h)| format!("<line number=\"{n}\" hits=\"{h}\"/>")).collect();
        classes.push_str(&format!("<class name=\"c\" filename=\"{name}\"><methods/><lines>{lines}</lines></class>"));
    }
    format!(
        "<?xml version=\"1.0\"?>\n<coverage version=\"1\"><sources>{sources}</sources><packages><package name=\"p\">\
         <classes>{classes}</classes></package></packages></coverage>\n"
    )
}

/// `n` numbered lines of Rust-looking text.
fn lines(n: u32) -> String {
    (1..=n).map(|i| format!("let x{i} = {i};\n")).collect()
}

/// A repository with `src/a.rs` (20 lines) on main, and a branch `feature` that changes it.
fn repo_with_a_change(name: &str) -> Repo {
    let repo = Repo::new(name);
    repo.write("src/a.rs", lines(20));
    repo.write("README.md", "# r\n");
    repo.git(&["commit", "-q", "-m", "base"]);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    // Committed: lines 3–6 changed. Unstaged: line 12 changed. Staged: line 15 changed.
    let mut text: Vec<String> = lines(20).lines().map(str::to_owned).collect();
    for i in [3, 4, 5, 6] {
        text[i - 1] = format!("let changed{i} = {i};");
    }
    repo.write("src/a.rs", text.join("\n") + "\n");
    repo.git(&["commit", "-q", "-m", "change"]);
    text[14] = "let staged = 15;".into();
    repo.write("src/a.rs", text.join("\n") + "\n");
    text[11] = "let unstaged = 12;".into();
    repo.write_untracked("src/a.rs", text.join("\n") + "\n");
    repo
}

fn diff(repo: &Repo, report: &str, args: &[&str]) -> Run {
    let path = repo.scratch.0.join("coverage.xml");
    std::fs::write(&path, report).unwrap();
    let mut all = vec!["--file", path.to_str().unwrap()];
    all.extend_from_slice(args);
    support::run(repo.gate("coverage", &all))
}

#[test]
fn committed_staged_and_unstaged_lines_count_and_uncovered_ones_are_ranges() {
    let repo = repo_with_a_change("diff-ranges");
    // Every line coverable; covered: 1–20 but 4, 5 and 12 and 15.
    let hits: Vec<(u32, u32)> = (1..=20).map(|n| (n, u32::from(![4, 5, 12, 15].contains(&n)))).collect();
    let report = cobertura(&[], &[("src/a.rs", hits)]);
    let run = diff(&repo, &report, &["--diff", "main"]);
    // Changed: 3, 4, 5, 6, 12, 15 → covered 3 and 6: 2 / 6.
    assert_eq!(run.code, 1, "33% of the change is below the 70% patch gate: {run:?}");
    assert!(run.stdout.contains("Patch: 33.33% of the changed lines covered (2 / 6) against main"), "{run:?}");
    assert!(run.stdout.contains("  src/a.rs: 4–5, 12, 15\n"), "{run:?}");
    assert!(
        run.stdout.contains("Patch gate: FAILED (33.33% is below 70%: cover 3 more changed lines to pass)"),
        "{run:?}"
    );
    // The total passes (16 / 20): the patch alone fails the gate, and the total is still shown.
    assert!(run.stdout.contains("Gate: passed (80.00% ≥ 70%)"), "{run:?}");

    let run = diff(&repo, &report, &["--diff", "main", "--patch-fail-under", "33.33"]);
    assert_eq!(run.code, 0, "{run:?}");
    let run = diff(&repo, &report, &["--diff", "main", "--patch-fail-under", "0", "--max-uncovered-lines", "3"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("Uncovered-lines gate: FAILED (4 uncovered changed lines; at most 3)"), "{run:?}");
}

#[test]
fn the_patch_gate_rounds_exactly_69_995_fails_70() {
    let repo = Repo::new("diff-boundary");
    repo.write("README.md", "# r\n");
    repo.git(&["commit", "-q", "-m", "base"]);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("src/big.rs", lines(20_000));
    repo.git(&["commit", "-q", "-m", "big"]);
    let hits: Vec<(u32, u32)> = (1..=20_000).map(|n| (n, u32::from(n <= 13_999))).collect();
    let report = cobertura(&[], &[("src/big.rs", hits)]);
    let run = diff(&repo, &report, &["--diff", "main"]);
    assert_eq!(run.code, 1, "13,999 / 20,000 = 69.995% is below 70%: {run:?}");
    assert!(run.stdout.contains("Patch: 69.99% of the changed lines covered (13,999 / 20,000)"), "{run:?}");
    assert!(run.stdout.contains("  src/big.rs: 14000–20000\n"), "{run:?}");
    assert!(run.stdout.contains("cover 1 more changed line to pass"), "{run:?}");
    let run = diff(&repo, &report, &["--diff", "main", "--patch-fail-under", "69.995", "--fail-under", "0"]);
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn a_change_without_coverable_lines_passes_saying_so() {
    let repo = repo_with_a_change("diff-none");
    // The report lists only lines the change does not touch.
    let report = cobertura(&[], &[("src/a.rs", vec![(1, 1), (20, 0)])]);
    let run = diff(&repo, &report, &["--diff", "main"]);
    assert_eq!(run.code, 1, "the total (1 / 2) fails; the patch does not: {run:?}");
    assert!(run.stdout.contains("Patch: no coverable line changed (1 changed file)"), "{run:?}");
    assert!(run.stdout.contains("nothing to judge, passed"), "{run:?}");
    // Only a README changed: nothing to judge either.
    let repo = Repo::new("diff-docs");
    repo.write("src/a.rs", lines(3));
    repo.write("README.md", "# r\n");
    repo.git(&["commit", "-q", "-m", "base"]);
    repo.write_untracked("README.md", "# r\n\nmore\n");
    let report = cobertura(&[], &[("src/a.rs", vec![(1, 1), (2, 1), (3, 1)])]);
    let run = diff(&repo, &report, &["--diff", "HEAD"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("Patch: no coverable line changed (1 changed file)"), "{run:?}");
}

#[test]
fn report_paths_are_mapped_whatever_the_producer_wrote() {
    let repo = repo_with_a_change("diff-paths");
    let root = repo.root.canonicalize().unwrap();
    let hits = |_: &str| (1..=20).map(|n| (n, u32::from(n != 4))).collect::<Vec<_>>();
    for (sources, name) in [
        (vec![], "src/a.rs".to_owned()),
        (vec![], "./src/a.rs".to_owned()),
        (vec![], "src\\a.rs".to_owned()),
        (vec![], format!("{}/src/a.rs", root.display())),
        (vec![root.display().to_string()], "src/a.rs".to_owned()),
        (vec![format!("{}/src", root.display())], "a.rs".to_owned()),
        // Made in another checkout (CI's): matched on the trailing path components.
        (vec!["/home/runner/work/r/r".to_owned()], "src/a.rs".to_owned()),
    ] {
        let sources: Vec<&str> = sources.iter().map(String::as_str).collect();
        let report = cobertura(&sources, &[(&name, hits(&name))]);
        let run = diff(&repo, &report, &["--diff", "main", "--patch-fail-under", "0"]);
        assert_eq!(run.code, 0, "{name} under {sources:?}: {run:?}");
        assert!(run.stdout.contains("(5 / 6)"), "{name} under {sources:?}: {run:?}");
        assert!(run.stdout.contains("  src/a.rs: 4\n"), "{name} under {sources:?}: {run:?}");
    }
}

#[test]
fn changed_source_files_the_report_does_not_list_are_a_warning() {
    let repo = repo_with_a_change("diff-missing");
    repo.write("src/new.rs", lines(3));
    repo.write("tests/it.rs", lines(3));
    let report = cobertura(&[], &[("src/a.rs", (1..=20).map(|n| (n, 1)).collect())]);
    let run = diff(&repo, &report, &["--diff", "main"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("warning: changed source files the report does not list (not measured):\n  src/new.rs\n"),
        "{run:?}"
    );
    assert!(!run.stdout.contains("tests/it.rs"), "a folder the report never measures is not listed: {run:?}");
}

#[test]
fn a_report_of_another_tree_is_an_error_naming_what_was_tried() {
    let repo = repo_with_a_change("diff-other");
    let report = cobertura(&["/elsewhere/proj"], &[("lib/other.rs", vec![(1, 1)])]);
    let run = diff(&repo, &report, &["--diff", "main"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("the report and the change do not describe the same tree"), "{run:?}");
    assert!(run.stderr.contains("sources: /elsewhere/proj"), "{run:?}");
    assert!(run.stderr.contains("lib/other.rs (as "), "{run:?}");
}

#[test]
fn a_base_not_in_the_history_or_a_shallow_clone_is_exit_2_naming_the_fix() {
    let repo = repo_with_a_change("diff-base");
    let report = cobertura(&[], &[("src/a.rs", vec![(1, 1)])]);
    let run = diff(&repo, &report, &["--diff", "upstream/develop"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("the base `upstream/develop` (given with --diff) is not in this repository's history: `git fetch upstream develop`"),
        "{run:?}"
    );

    // A shallow clone of the feature branch: main's tip is there, their common commit is not.
    repo.git(&["commit", "-q", "-am", "all"]);
    let shallow = repo.scratch.0.join("shallow");
    let url = format!("file://{}", repo.root.display());
    let status = std::process::Command::new("git")
        .args(["clone", "-q", "--depth", "1", "--no-single-branch", "--branch", "feature", &url])
        .arg(&shallow)
        .status()
        .unwrap();
    assert!(status.success());
    let path = repo.scratch.0.join("coverage.xml");
    std::fs::write(&path, &report).unwrap();
    let mut c = support::xtask();
    c.args(["coverage", "--file", path.to_str().unwrap(), "--diff", "origin/main", "--root"]).arg(&shallow);
    let run = support::run(c);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("shallow"), "{run:?}");
    assert!(run.stderr.contains("git fetch --unshallow") && run.stderr.contains("fetch-depth: 0"), "{run:?}");
}

#[test]
fn json_carries_the_patch_and_actions_get_a_warning_per_uncovered_range() {
    let repo = Repo::new("diff-actions");
    repo.write("README.md", "# r\n");
    repo.git(&["commit", "-q", "-m", "base"]);
    repo.write("src/many.rs", lines(40));
    // Every other line covered: 20 uncovered one-line ranges.
    let report = cobertura(&[], &[("src/many.rs", (1..=40).map(|n| (n, n % 2)).collect())]);
    let run = diff(&repo, &report, &["--diff", "HEAD", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(v["patch"]["covered"], 20);
    assert_eq!(v["patch"]["valid"], 40);
    assert_eq!(v["patch"]["passed"], false);
    assert_eq!(v["patch"]["files"][0]["uncovered"][0], serde_json::json!([2, 2]));

    let summary = repo.scratch.0.join("summary.md");
    let path = repo.scratch.0.join("coverage.xml");
    let mut c = repo.gate("coverage", &["--file", path.to_str().unwrap(), "--diff", "HEAD"]);
    c.env("GITHUB_ACTIONS", "true").env("GITHUB_STEP_SUMMARY", &summary);
    let run = support::run(c);
    assert_eq!(run.code, 1, "{run:?}");
    let warnings: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("::warning")).collect();
    assert_eq!(warnings.len(), 11, "ten ranges, then one line for the rest: {run:?}");
    assert_eq!(
        warnings[0],
        "::warning file=src/many.rs,line=2,title=Uncovered changed lines::line 2 is changed and not covered by the tests"
    );
    assert!(warnings[10].contains("10 more uncovered changed ranges"), "{run:?}");
    assert!(
        run.stdout.contains(
            "::error title=Coverage gate::patch coverage 50.00%25 is below the 70%25 patch gate (against HEAD)"
        ),
        "{run:?}"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("#### Patch coverage against `HEAD`"), "{md}");
    assert!(md.contains("| `src/many.rs` | 2, 4, 6,"), "{md}");
}

#[test]
fn a_range_annotation_spans_its_lines() {
    let repo = Repo::new("diff-endline");
    repo.write("README.md", "# r\n");
    repo.git(&["commit", "-q", "-m", "base"]);
    repo.write("src/a.rs", lines(6));
    let report = cobertura(&[], &[("src/a.rs", vec![(1, 1), (2, 0), (3, 0), (4, 0), (5, 1), (6, 1)])]);
    let path = repo.scratch.0.join("coverage.xml");
    std::fs::write(&path, &report).unwrap();
    let mut c = repo.gate("coverage", &["--file", path.to_str().unwrap(), "--diff", "HEAD", "--patch-fail-under", "0"]);
    c.env("GITHUB_ACTIONS", "true");
    let run = support::run(c);
    assert_eq!(run.code, 1, "the total (3 / 6) fails: {run:?}");
    assert!(
        run.stdout.contains(
            "::warning file=src/a.rs,line=2,endLine=4,title=Uncovered changed lines::lines 2–4 are changed and not covered by the tests"
        ),
        "{run:?}"
    );
}

#[test]
fn without_a_base_the_setting_then_the_pull_request_decides() {
    let repo = repo_with_a_change("diff-default");
    let report = cobertura(&[], &[("src/a.rs", (1..=20).map(|n| (n, 1)).collect())]);
    // The workspace's setting: origin/main, which this repository does not have.
    let run = diff(&repo, &report, &["--diff"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("the base `origin/main` (the `base` setting)"), "{run:?}");
    // On a pull request under Actions, its base branch.
    repo.git(&["update-ref", "refs/remotes/origin/trunk", "main"]);
    let path = repo.scratch.0.join("coverage.xml");
    let mut c = repo.gate("coverage", &["--file", path.to_str().unwrap(), "--diff"]);
    c.env("GITHUB_ACTIONS", "true").env("GITHUB_BASE_REF", "trunk");
    let run = support::run(c);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("against origin/trunk (merge base "), "{run:?}");
    assert!(run.stdout.contains("the pull request's base branch)"), "{run:?}");
}

/// The report's file with the most coverable lines among those not fully covered, and its
/// counts, as the gate reads them (`lowest_files`).
fn partly_covered_file(report: &std::path::Path) -> (String, u64, u64) {
    let run = support::grade(report, &["--format", "json", "--lowest", "1000", "--fail-under", "0"]);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    let row = v["lowest_files"].as_array().unwrap().iter().max_by_key(|r| r["valid"].as_u64()).expect("a file");
    (row["file"].as_str().unwrap().to_owned(), row["covered"].as_u64().unwrap(), row["valid"].as_u64().unwrap())
}

#[test]
fn every_producers_report_maps_onto_a_checkout_of_its_sources() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/producers");
    for (fixture, sample) in [
        ("coveragepy", "python-sample"),
        ("coveragepy-branch", "python-sample"),
        ("llvmcov", "rust-sample"),
        ("grcov", "rust-sample"),
        ("c8", "node-sample"),
        ("nyc", "node-sample"),
    ] {
        let report = fixtures.join(format!("{fixture}.xml"));
        let (file, covered, valid) = partly_covered_file(&report);
        let xml = std::fs::read_to_string(&report).unwrap();
        let source = xml.split("<source>").nth(1).and_then(|s| s.split("</source>").next()).expect("a <source>");
        let last = source.rsplit('/').next().unwrap();
        // The report was made in a checkout at `source`: here the project is a repository of
        // its own (its names match as they are), then a folder of a larger one named like the
        // source's last folder (they match on their trailing components).
        for prefix in [String::new(), format!("{last}/")] {
            let repo = Repo::new(&format!("diff-{fixture}"));
            let src = fixtures.join("src").join(sample);
            for entry in walk(&src) {
                let rel = entry.strip_prefix(&src).unwrap().to_str().unwrap().to_owned();
                repo.write(&format!("{prefix}{rel}"), std::fs::read(&entry).unwrap());
            }
            repo.git(&["commit", "-q", "-m", "sample"]);
            // The change: every line of one file (a trailing space each).
            let path = format!("{prefix}{file}");
            let text = String::from_utf8(repo.read(&path)).unwrap();
            repo.write_untracked(&path, text.lines().map(|l| format!("{l} \n")).collect::<String>());

            let args =
                ["--file", report.to_str().unwrap(), "--diff", "HEAD", "--fail-under", "0", "--patch-fail-under", "0"];
            let run = support::run(repo.gate("coverage", &args));
            assert_eq!(run.code, 0, "{fixture} at {prefix:?}: {run:?}");
            let figure = format!("({covered} / {valid}) against HEAD");
            assert!(run.stdout.contains(&figure), "{fixture} at {prefix:?}: the whole file's counts {figure}: {run:?}");
            assert!(run.stdout.contains(&format!("\n  {path}: ")), "{fixture} at {prefix:?}: ranges: {run:?}");
            assert!(!run.stdout.contains("does not list"), "{fixture} at {prefix:?}: {run:?}");
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

//! Flaky tests, with the real cargo and the real cargo-nextest on a std-only scratch workspace
//! whose test fails on its first attempt only (a marker file in the scratch folder): retries
//! that report it as flaky, the history, `cargo xtask flaky`, and the quarantine.

mod support;

use std::path::Path;

use support::{Run, Scratch};

const WORKSPACE: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        "[workspace]\nmembers = [\"fl\"]\nexclude = [\"xtask\"]\nresolver = \"2\"\n\n[workspace.metadata.xtask.test]\n",
    ),
    // Where the xtask finds the workspace root (`CARGO_MANIFEST_DIR` naming a crate called xtask).
    ("xtask/Cargo.toml", "[package]\nname = \"xtask\"\nversion = \"0.0.0\"\nedition = \"2021\"\n"),
    ("fl/Cargo.toml", "[package]\nname = \"fl\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
    ("fl/src/lib.rs", "pub fn one() -> u32 {\n    1\n}\n"),
    (
        "fl/tests/flaky.rs",
        r#"#[test]
fn steady() {
    assert_eq!(fl::one(), 1);
}

#[test]
fn first_try_fails() {
    let marker = std::path::Path::new(&std::env::var("FLAKY_DIR").unwrap()).join("tried");
    if !marker.exists() {
        std::fs::write(&marker, "").unwrap();
        println!("printed by the failing attempt");
        panic!("the first attempt fails");
    }
}
"#,
    ),
];

/// The line of the `panic!` in fl/tests/flaky.rs.
const PANIC_LINE: usize = 12;
const FLAKY: &str = "fl::flaky::first_try_fails";

/// The scratch workspace, a repository of one commit (the history records it).
fn workspace() -> Scratch {
    let ws = Scratch::new("flaky");
    for (name, text) in WORKSPACE {
        ws.write(name, text);
    }
    ws.write(".gitignore", "/target\n");
    for args in
        [&["init", "-q"][..], &["add", "."], &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"]]
    {
        let out = std::process::Command::new("git").args(args).current_dir(&ws.0).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }
    ws
}

fn head(ws: &Scratch) -> String {
    let out = std::process::Command::new("git").args(["rev-parse", "HEAD"]).current_dir(&ws.0).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Writes the test table (after the workspace's other tables) and the quarantine file.
fn configure(ws: &Scratch, settings: &str, quarantine: Option<&str>) {
    let manifest = WORKSPACE[0].1;
    ws.write("Cargo.toml", format!("{manifest}{settings}\n"));
    match quarantine {
        Some(q) => drop(ws.write("tests-quarantine.toml", q)),
        None => {
            let _ = std::fs::remove_file(ws.path("tests-quarantine.toml"));
        }
    }
}

/// `cargo xtask ARGS` at the scratch root, with the marker removed first (the flaky test fails
/// once), in CI or not, under GitHub Actions with a step summary.
fn xtask(ws: &Scratch, args: &[&str], ci: bool) -> (Run, String) {
    let _ = std::fs::remove_file(ws.path("tried"));
    let summary = ws.path("summary.md");
    let _ = std::fs::remove_file(&summary);
    let mut c = support::xtask_on(&ws.0);
    c.args(args).env("FLAKY_DIR", &ws.0).env("GITHUB_ACTIONS", "true").env("GITHUB_STEP_SUMMARY", &summary);
    if ci {
        c.env("CI", "true");
    }
    let run = support::run(c);
    (run, std::fs::read_to_string(&summary).unwrap_or_default())
}

fn history(root: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(root.join("target/xtask-tests/history.jsonl")).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_test_that_passes_on_a_retry_is_flaky_remembered_and_judged_against_the_quarantine() {
    let ws = workspace();

    // Locally, with one retry: flaky, a warning, the gate passes.
    configure(&ws, "retries = 1", None);
    let (run, summary) = xtask(&ws, &["test"], false);
    assert_eq!(run.code, 0, "{run:?}");
    for text in [
        format!("FLAKY {FLAKY}: failed 1 attempt then passed at fl/tests/flaky.rs:{PANIC_LINE}"),
        "new flaky test (a warning here; it fails the gate in CI): fix it, or quarantine it in tests-quarantine.toml"
            .to_owned(),
        "| thread 'first_try_fails' ".to_owned(),
        "| the first attempt fails".to_owned(),
        "| printed by the failing attempt".to_owned(),
        "Tests: passed".to_owned(),
    ] {
        assert!(run.stderr.contains(&text), "{text}: {run:?}");
    }
    let annotation = format!("::warning file=fl/tests/flaky.rs,line={PANIC_LINE},title=Flaky test::{FLAKY} failed 1");
    assert!(run.stdout.contains(&annotation), "{annotation}: {run:?}");
    assert!(summary.contains("### Flaky tests"), "{summary}");
    assert!(summary.contains(&format!("| `{FLAKY}` | 1 | new flaky test")), "{summary}");
    let records = history(&ws.0);
    assert_eq!(records.len(), 2, "{records:?}");
    let flaky = records.iter().find(|r| r["test"] == FLAKY).unwrap();
    assert_eq!((flaky["outcome"].as_str(), flaky["commit"].as_str()), (Some("flaky"), Some(head(&ws).as_str())));
    assert!(flaky["output"][1].as_str().unwrap().contains("the first attempt fails"), "{flaky}");
    let steady = records.iter().find(|r| r["test"] == "fl::flaky::steady").unwrap();
    assert_eq!(steady["outcome"], "pass");
    assert!(steady["ms"].is_u64() && steady.get("output").is_none(), "{steady}");

    // In CI (2 retries by default) a new flaky test fails the gate.
    configure(&ws, "", None);
    let (run, _) = xtask(&ws, &["test"], true);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("NEW flaky test: fails the gate in CI"), "{run:?}");
    assert!(run.stderr.contains("Tests: FAILED"), "{run:?}");
    assert!(run.stdout.contains(&format!("::error file=fl/tests/flaky.rs,line={PANIC_LINE},title=Flaky test::")));

    // Quarantined: still run and reported, but it passes; an entry that matched nothing is unused.
    let quarantine = format!(
        "[[quarantine]]\ntest = \"{FLAKY}\"\nreason = \"races the marker\"\nexpires = 2099-01-01\n\n\
         [[quarantine]]\ntest = \"fl::flaky::steady\"\nreason = \"fixed last week\"\nexpires = 2099-01-01\n"
    );
    configure(&ws, "", Some(&quarantine));
    let (run, summary) = xtask(&ws, &["test"], true);
    assert_eq!(run.code, 0, "{run:?}");
    for text in [
        format!("FLAKY {FLAKY}: failed 1 attempt then passed"),
        "quarantined until 2099-01-01 (tests-quarantine.toml:1): races the marker".to_owned(),
        "note: tests-quarantine.toml:6: the quarantine of fl::flaky::steady (until 2099-01-01) matched no flaky test \
         in this run: unused"
            .to_owned(),
    ] {
        assert!(run.stderr.contains(&text), "{text}: {run:?}");
    }
    assert!(summary.contains("quarantined until 2099-01-01"), "{summary}");
    assert!(run.stdout.contains("::warning file=fl/tests/flaky.rs"), "{run:?}");

    // Past its expiry, the quarantine no longer holds: the gate fails again.
    configure(&ws, "", Some(&quarantine.replacen("2099-01-01", "2020-01-01", 1)));
    let (run, _) = xtask(&ws, &["test"], true);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("its quarantine expired on 2020-01-01 (tests-quarantine.toml:1)"), "{run:?}");

    // Without retries the first failure is final: a failed test.
    configure(&ws, "retries = 0", None);
    let (run, _) = xtask(&ws, &["test"], false);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(!run.stderr.contains("FLAKY"), "{run:?}");
    let last = history(&ws.0).into_iter().rev().find(|r| r["test"] == FLAKY).unwrap();
    assert_eq!(last["outcome"], "fail");

    // The record of the five runs: four flakes.
    let (run, _) = xtask(&ws, &["flaky", "--runs", "10"], false);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("1 test flaky in the last 5 runs (target/xtask-tests/history.jsonl):"), "{run:?}");
    assert!(
        run.stdout.contains(&format!("{FLAKY}  flaked in 4 of 5 runs (80%), last at {}", &head(&ws)[..12])),
        "{run:?}"
    );
    assert!(run.stdout.contains("      | the first attempt fails"), "{run:?}");
    let (run, _) = xtask(&ws, &["flaky", "--runs", "1"], false);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("No test flaked in the last 1 run"), "{run:?}");
}

#[test]
fn a_quarantine_file_with_problems_is_an_error_naming_every_one() {
    let ws = workspace();
    configure(&ws, "quarantine = \"ci/flaky.toml\"", None);
    ws.write(
        "ci/flaky.toml",
        "[[quarantine]]\ntest = \"fl::flaky::x\"\n\n[[quarantine]]\nreason = \"r\"\nexpires = 2099-01-01\n",
    );
    let (run, _) = xtask(&ws, &["test", "--", "steady"], false);
    assert_eq!(run.code, 2, "{run:?}");
    for text in [
        "ci/flaky.toml:1: quarantine of fl::flaky::x has no `reason`",
        "ci/flaky.toml:1: quarantine of fl::flaky::x has no `expires` date (YYYY-MM-DD)",
        "ci/flaky.toml:4: quarantine entry without a `test`",
    ] {
        assert!(run.stderr.contains(text), "{text}: {run:?}");
    }
    assert!(!run.stderr.contains("$ cargo nextest run"), "checked before the tests run: {run:?}");
    let (run, _) = xtask(&ws, &["flaky"], false);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("No test runs recorded yet in target/xtask-tests/history.jsonl"), "{run:?}");
}

/// The coverage gate's test run retries too, and judges its flaky tests as the test gate does.
#[test]
fn the_coverage_gate_retries_and_judges_flaky_tests_too() {
    let ws = workspace();
    configure(&ws, "", None);
    let (run, _) = xtask(&ws, &["coverage", "--no-install"], true);
    assert_eq!(run.code, 1, "{run:?}");
    for text in [
        format!("FLAKY {FLAKY}: failed 1 attempt then passed at fl/tests/flaky.rs:{PANIC_LINE}"),
        "NEW flaky test: fails the gate in CI".to_owned(),
        "the tests failed".to_owned(),
    ] {
        assert!(run.stderr.contains(&text), "{text}: {run:?}");
    }
    // Only the panic and what the test printed: not the harness's lines.
    assert!(!run.stderr.contains("| running 1 test") && !run.stderr.contains("| test result:"), "{run:?}");
    let quarantine = format!("[[quarantine]]\ntest = \"{FLAKY}\"\nreason = \"r\"\nexpires = 2099-01-01\n");
    configure(&ws, "", Some(&quarantine));
    let (run, _) = xtask(&ws, &["coverage", "--no-install"], true);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("quarantined until 2099-01-01 (tests-quarantine.toml:1): r"), "{run:?}");
    let flaky: Vec<_> = history(&ws.0).into_iter().filter(|r| r["test"] == FLAKY).collect();
    assert_eq!(flaky.len(), 2, "{flaky:?}");
    assert!(flaky.iter().all(|r| r["outcome"] == "flaky"), "{flaky:?}");
}

/// The repository's own quarantine file parses: every entry has a test, a reason and an expiry.
#[test]
fn this_repository_s_quarantine_file_is_valid() {
    let root = support::workspace_root();
    let settings = xtask::settings::Settings::load(env!("CARGO"), &root).unwrap();
    let file = root.join(&settings.test.quarantine);
    assert!(file.is_file(), "{} is committed (empty, or entries with a reason and expiry)", file.display());
    xtask::gates::flaky::quarantine::Quarantine::load(&file, "tests-quarantine.toml").unwrap();
}

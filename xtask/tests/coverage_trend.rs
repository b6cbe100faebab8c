//! The coverage trend: each graded run's totals in `target/coverage/history.jsonl`, the badge
//! and the chart beside it, and which runs add to the history under GitHub Actions; the real
//! CLI grading a real producer's report (coverage.py, lines and branches) in a scratch
//! workspace of one commit.

mod support;

use std::path::{Path, PathBuf};

use support::{Run, Scratch};

fn report() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/producers/coveragepy-branch.xml")
}

/// A workspace of one commit whose settings add a per-path gate on the report's package.
fn workspace() -> Scratch {
    let ws = Scratch::new("trend");
    ws.write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"p\"]\nexclude = [\"xtask\"]\nresolver = \"2\"\n\n\
         [[workspace.metadata.xtask.coverage.paths]]\nglob = \"minipkg/**\"\nthreshold = 50\n",
    );
    // Where the xtask finds the workspace root (`CARGO_MANIFEST_DIR` naming a crate called xtask).
    ws.write("xtask/Cargo.toml", "[package]\nname = \"xtask\"\nversion = \"0.0.0\"\nedition = \"2021\"\n");
    ws.write("p/Cargo.toml", "[package]\nname = \"p\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
    ws.write("p/src/lib.rs", "");
    ws.write(".gitignore", "/target\n");
    for args in
        [&["init", "-q"][..], &["add", "."], &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"]]
    {
        let out = std::process::Command::new("git").args(args).current_dir(&ws.0).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }
    ws
}

/// `cargo xtask coverage --file <the report> ARGS` at the scratch root, with the trend where
/// the settings put it (not the tests' folder), and `env` set.
fn grade(ws: &Scratch, args: &[&str], env: &[(&str, &Path)]) -> Run {
    let mut c = support::xtask_on(&ws.0);
    c.env_remove("XTASK_TREND_DIR").args(["coverage", "--file"]).arg(report()).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    support::run(c)
}

fn history(ws: &Scratch) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(ws.path("target/coverage/history.jsonl")).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn read(ws: &Scratch, name: &str) -> String {
    std::fs::read_to_string(ws.path(&format!("target/coverage/{name}"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn each_graded_run_adds_its_totals_and_redraws_the_badge_and_the_chart() {
    let ws = workspace();
    let head = {
        let out = std::process::Command::new("git").args(["rev-parse", "HEAD"]).current_dir(&ws.0).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };

    // Branches: 15 of 26, 57.69%, below the 70% gate. The run fails and is recorded all the same.
    let run = grade(&ws, &["--metric", "branches"], &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(
            "trend: this run recorded in target/coverage/history.jsonl (1 run kept); badge and chart: \
             target/coverage/coverage-badge.svg · target/coverage/coverage-trend.svg"
        ),
        "{run:?}"
    );
    let badge = read(&ws, "coverage-badge.svg");
    assert!(badge.contains(">57%</text>") && !badge.contains("58%"), "rounded down: {badge}");
    assert!(badge.contains("fill=\"#fe7d37\""), "⚠️ Low's colour: {badge}");
    // Lines: 29 of 46, 63.04%, passing a 60% gate.
    let run = grade(&ws, &["--fail-under", "60"], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("recorded in target/coverage/history.jsonl (2 runs kept)"), "{run:?}");

    let h = history(&ws);
    assert_eq!(h.len(), 2, "{h:?}");
    for entry in &h {
        assert_eq!(entry["commit"], head.as_str());
        assert_eq!(entry["lines"], serde_json::json!({"covered": 29, "valid": 46, "percent": 63.04}), "{entry}");
        assert!(entry["date"].as_str().is_some_and(|d| d.len() == 20 && d.ends_with('Z')), "{entry}");
    }
    assert_eq!((h[0]["metric"].as_str(), h[1]["metric"].as_str()), (Some("branches"), Some("lines")));
    assert_eq!(h[0]["branches"], serde_json::json!({"covered": 15, "valid": 26, "percent": 57.69}));
    assert_eq!(h[1].get("branches"), None, "a lines run does not count branches");
    assert_eq!(
        h[0]["paths"],
        serde_json::json!([{"glob": "minipkg/**", "covered": 15, "valid": 26, "percent": 57.69}])
    );
    assert_eq!(h[1]["paths"][0]["covered"], 29);

    // The badge is this run's; the chart draws both runs' lines, this one last.
    let badge = read(&ws, "coverage-badge.svg");
    assert!(badge.contains(">63%</text>") && badge.contains("fill=\"#fe7d37\""), "{badge}");
    let chart = read(&ws, "coverage-trend.svg");
    assert_eq!(chart.matches("<circle").count(), 2, "{chart}");
    assert!(chart.contains(&format!("{} · ", &head[..7])), "each point names its commit: {chart}");
    assert!(chart.contains(">63.04%</text>") && chart.contains("threshold 60%"), "{chart}");

    // Under Actions, a pull request's run is drawn but not recorded; its step summary says so.
    let summary = ws.path("summary.md");
    let actions = [("GITHUB_ACTIONS", Path::new("true")), ("GITHUB_STEP_SUMMARY", &summary)];
    let mut env = actions.to_vec();
    env.push(("GITHUB_REF", Path::new("refs/pull/3/merge")));
    let run = grade(&ws, &["--fail-under", "60"], &env);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(history(&ws).len(), 2);
    assert!(run.stderr.contains("trend: this run not recorded (under GitHub Actions only runs on main"), "{run:?}");
    assert_eq!(read(&ws, "coverage-trend.svg").matches("<circle").count(), 3);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("#### Coverage trend: ⚠️ 63% of lines"), "{md}");
    assert!(md.contains("over the last 3 runs (oldest first; threshold 60%), ±0.00 since the run before."), "{md}");
    assert!(
        md.contains("_This run is not in the history: under GitHub Actions only runs on main are recorded, and this is refs/pull/3/merge._"),
        "{md}"
    );

    // A push to the default branch, named by the event (not always main), is recorded.
    let event = ws.write("event.json", r#"{"repository": {"default_branch": "trunk"}}"#);
    let mut env = actions.to_vec();
    env.extend([("GITHUB_REF", Path::new("refs/heads/trunk")), ("GITHUB_EVENT_PATH", &event)]);
    let run = grade(&ws, &["--fail-under", "60"], &env);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(history(&ws).len(), 3, "{run:?}");
}

#[test]
fn the_history_keeps_the_last_runs_and_the_chart_the_last_of_those() {
    let ws = workspace();
    let manifest = std::fs::read_to_string(ws.path("Cargo.toml")).unwrap();
    let manifest = manifest.replace(
        "[[workspace.metadata.xtask.coverage.paths]]",
        "[workspace.metadata.xtask.coverage]\ntrend = \"out/trend\"\nhistory-runs = 3\ntrend-runs = 2\n\n\
         [[workspace.metadata.xtask.coverage.paths]]",
    );
    ws.write("Cargo.toml", manifest);
    for n in 1..=4 {
        let run = grade(&ws, &["--fail-under", "60"], &[]);
        assert_eq!(run.code, 0, "{run:?}");
        let kept = if n == 1 { "1 run".to_owned() } else { format!("{} runs", n.min(3)) };
        assert!(run.stderr.contains(&format!("recorded in out/trend/history.jsonl ({kept} kept)")), "{run:?}");
    }
    let text = std::fs::read_to_string(ws.path("out/trend/history.jsonl")).unwrap();
    assert_eq!(text.lines().count(), 3);
    let chart = std::fs::read_to_string(ws.path("out/trend/coverage-trend.svg")).unwrap();
    assert_eq!(chart.matches("<circle").count(), 2, "{chart}");
    assert!(ws.path("out/trend/coverage-badge.svg").exists());
    assert!(!ws.path("target/coverage").exists(), "the setting moves all three");
}

#[test]
fn a_trend_that_cannot_be_kept_is_a_warning_not_the_verdict() {
    let ws = workspace();
    // The folder is a file: nothing can be written there.
    ws.write("target/coverage", "not a folder");
    let run = grade(&ws, &["--fail-under", "60"], &[]);
    assert_eq!(run.code, 0, "the gate's verdict stands: {run:?}");
    assert!(run.stdout.contains("Gate: passed"), "{run:?}");
    assert!(run.stderr.contains("trend: not kept: "), "{run:?}");
    let run = grade(&ws, &[], &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("trend: not kept: "), "{run:?}");
}

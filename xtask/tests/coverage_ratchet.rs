//! The ratchet (`baseline`, `--update-baseline`, `--lower-baseline --reason`) and the per-path
//! gates (`[[…coverage.paths]]`), graded with `--file` under a scratch workspace's settings
//! (a stand-in `cargo` answers `cargo metadata` with them).

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{Run, Scratch};

const CARGO_STANDIN: &str = r#"#!/usr/bin/env bash
case "$1" in
  metadata) exec "$REAL_CARGO" metadata --format-version 1 --no-deps --offline --manifest-path "$STANDIN/ws/Cargo.toml" ;;
esac
echo "stand-in cargo: unexpected $*" >&2; exit 99
"#;

struct Ws {
    dir: Scratch,
}

impl Ws {
    fn new(settings: &str) -> Ws {
        let dir = Scratch::new("ratchet");
        let cargo = dir.write("bin/cargo", CARGO_STANDIN);
        std::fs::set_permissions(&cargo, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        dir.write(
            "ws/Cargo.toml",
            format!(
                "[package]\nname = \"standin\"\nversion = \"0.0.0\"\nedition = \"2021\"\n[workspace]\n\
                 [workspace.metadata.xtask.coverage]\n{settings}\n"
            ),
        );
        dir.write("ws/src/lib.rs", "");
        Ws { dir }
    }

    fn baseline(&self) -> PathBuf {
        self.dir.0.join("baseline.json")
    }

    /// Grades a report of `(file, covered, valid)` rows.
    fn grade(&self, files: &[(&str, u32, u32)], args: &[&str]) -> Run {
        let mut classes = String::new();
        for (name, covered, valid) in files {
            let lines: String =
                (1..=*valid).map(|n| format!("<line number=\"{n}\" hits=\"{}\"/>", u32::from(n <= *covered))).collect();
            classes.push_str(&format!("<class name=\"c\" filename=\"{name}\"><lines>{lines}</lines></class>"));
        }
        let report = self.dir.write(
            "report.xml",
            format!("<coverage><packages><package><classes>{classes}</classes></package></packages></coverage>"),
        );
        let mut c: Command = support::xtask();
        c.env("CARGO", self.dir.0.join("bin/cargo"))
            .env("REAL_CARGO", std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .env("STANDIN", &self.dir.0)
            .args(["coverage", "--file"])
            .arg(report)
            .args(args);
        support::run(c)
    }
}

#[test]
fn a_path_gate_fails_on_its_own_while_the_total_passes() {
    let ws = Ws::new("[[workspace.metadata.xtask.coverage.paths]]\nglob = \"app/src/auth/**\"\nthreshold = 90\n");
    let files = [("app/src/auth/login.rs", 5, 10), ("app/src/routes.rs", 90, 90)];
    let run = ws.grade(&files, &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("Gate: passed (95.00% ≥ 70%)"), "{run:?}");
    assert!(
        run.stdout.contains(
            "Path app/src/auth/**: FAILED (50.00% of 10 lines in 1 file is below 90%: cover 4 more lines to pass)"
        ),
        "{run:?}"
    );
    let run = ws.grade(&[("app/src/auth/login.rs", 9, 10), ("app/src/routes.rs", 90, 90)], &["--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["paths"][0]["glob"], "app/src/auth/**");
    assert_eq!((v["paths"][0]["covered"].as_u64(), v["paths"][0]["passed"].as_bool()), (Some(9), Some(true)));
}

#[test]
fn a_path_gate_that_matches_no_file_is_an_error() {
    let ws = Ws::new("[[workspace.metadata.xtask.coverage.paths]]\nglob = \"app/src/auht/**\"\nthreshold = 90\n");
    let run = ws.grade(&[("app/src/auth/login.rs", 5, 10)], &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("\"app/src/auht/**\" matches no file of the report"), "{run:?}");
    assert!(run.stderr.contains("app/src/auth/login.rs"), "says what the files read as: {run:?}");
    let ws = Ws::new("[[workspace.metadata.xtask.coverage.paths]]\nglob = \"!app/**\"\nthreshold = 90\n");
    let run = ws.grade(&[("app/src/auth/login.rs", 5, 10)], &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("cannot be negated"), "{run:?}");
}

#[test]
fn the_ratchet_holds_the_level_and_moves_only_as_told() {
    let ws = Ws::new("").with_own_baseline();
    let at = |covered| [("src/a.rs", covered, 500), ("src/b.rs", 400, 500)];

    // No baseline yet: passes, saying how to write one.
    let run = ws.grade(&at(400), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("Ratchet: no baseline yet"), "{run:?}");
    assert!(run.stdout.contains("--update-baseline"), "{run:?}");
    assert!(!ws.baseline().exists());

    // Written on request: 800 / 1,000 at this commit.
    let run = ws.grade(&at(400), &["--update-baseline"]);
    assert_eq!(run.code, 0, "{run:?}");
    let b: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(ws.baseline()).unwrap()).unwrap();
    assert_eq!(
        (b["covered"].as_u64(), b["valid"].as_u64(), b["metric"].as_str()),
        (Some(800), Some(1000), Some("lines"))
    );
    assert_eq!(b["files"]["src/a.rs"], serde_json::json!([400, 500]));
    assert_eq!(b["commit"].as_str().map(str::len), Some(40), "{b}");

    // 79.90%: within the 0.1-point tolerance. 79.80%: not, naming the file that lost lines.
    let run = ws.grade(&at(399), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let run = ws.grade(&at(398), &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("Ratchet: FAILED (79.80% fell from the baseline's 80.00%"), "{run:?}");
    assert!(run.stdout.contains("by more than 0.1 points"), "{run:?}");
    assert!(run.stdout.contains("    src/a.rs: 400 → 398 (−2)\n"), "{run:?}");

    // --update-baseline does not lower it; --lower-baseline needs a reason and keeps it.
    let before = std::fs::read_to_string(ws.baseline()).unwrap();
    let run = ws.grade(&at(398), &["--update-baseline"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("Baseline: not updated: coverage fell to 79.80%"), "{run:?}");
    assert_eq!(std::fs::read_to_string(ws.baseline()).unwrap(), before);
    let run = ws.grade(&at(398), &["--lower-baseline"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--reason"), "{run:?}");
    // The run that lowers it is judged against the lowered baseline: it passes, saying from
    // what to what and why, and which files lost lines.
    let run = ws.grade(&at(398), &["--lower-baseline", "--reason", "the legacy importer moved out"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("Ratchet: lowered from 80.00% (at ")
            && run.stdout.contains(") to 79.80% (reason: the legacy importer moved out)\n"),
        "{run:?}"
    );
    assert!(!run.stdout.contains("FAILED"), "{run:?}");
    assert!(run.stdout.contains("    src/a.rs: 400 → 398 (−2)\n"), "{run:?}");
    assert!(run.stdout.contains("lowered to 79.80%, the reason kept in it; commit it"), "{run:?}");
    let b: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(ws.baseline()).unwrap()).unwrap();
    assert_eq!(b["covered"], 798);
    assert_eq!(b["lowered"], serde_json::json!({"reason": "the legacy importer moved out", "from": [800, 1000]}));
    let run = ws.grade(&at(398), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("Ratchet: passed (79.80%; the baseline 79.80% at"), "{run:?}");
    // Lowering does not excuse the other gates: below the threshold it still fails, and the
    // JSON says what was lowered.
    let run =
        ws.grade(&at(10), &["--lower-baseline", "--reason", "a big rewrite", "--fail-under", "50", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["gate"]["passed"], false);
    assert_eq!(v["ratchet"]["passed"], true);
    assert_eq!(v["ratchet"]["before"]["covered"], 798);
    assert_eq!(v["ratchet"]["lowered"]["reason"], "a big rewrite");
    assert_eq!(
        (v["ratchet"]["lowered"]["covered"].as_u64(), v["ratchet"]["lowered"]["valid"].as_u64()),
        (Some(410), Some(1000))
    );
    let run = ws.grade(&at(398), &["--lower-baseline", "--reason", "back up"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("up from the baseline's 41.00%"), "raising is not lowering: {run:?}");

    // Rose: passes, and says how to lock it in.
    let run = ws.grade(&at(450), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("up from the baseline's 79.80%"), "{run:?}");
    assert!(run.stdout.contains("coverage rose: lock it in with `cargo xtask coverage --update-baseline`"), "{run:?}");
}

#[test]
fn a_baseline_that_is_not_one_is_an_error_and_left_alone() {
    let ws = Ws::new("").with_own_baseline();
    std::fs::write(ws.baseline(), "{\"covered\": 1}\n").unwrap();
    let run = ws.grade(&[("src/a.rs", 1, 2)], &["--update-baseline"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("not a coverage baseline"), "{run:?}");
    assert_eq!(std::fs::read_to_string(ws.baseline()).unwrap(), "{\"covered\": 1}\n");
    // Without the setting, the flags say what to set.
    let ws = Ws::new("");
    let run = ws.grade(&[("src/a.rs", 1, 2)], &["--update-baseline"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("baseline = \"coverage-baseline.json\""), "{run:?}");
}

impl Ws {
    /// Points the `baseline` setting at this scratch folder's `baseline.json`.
    fn with_own_baseline(self) -> Ws {
        let manifest = self.dir.0.join("ws/Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        let text: String = text.lines().filter(|l| !l.starts_with("baseline")).map(|l| format!("{l}\n")).collect();
        std::fs::write(&manifest, format!("{text}baseline = \"{}\"\n", self.baseline().display())).unwrap();
        self
    }
}

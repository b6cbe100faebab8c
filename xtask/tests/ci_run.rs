//! `cargo xtask ci`: the gates in order, one test run, the summary table, --keep-going and the
//! exit codes, against a stand-in `cargo` (rustfmt, clippy, cargo-llvm-cov) and stand-in linters.

mod lint_support;
mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{Run, Scratch, percent_report};

/// The stand-in stack: the image build fails; everything else succeeds.
const COMPOSE_SH: &str = r#"while [ $# -gt 0 ]; do case "$1" in -f|-p|--env-file) shift 2 ;; *) break ;; esac; done
case "$1" in
  config) echo '{"services": {"db": {}, "migrate": {}, "app": {}}}' ;;
  build) echo "failed to solve: rust:1.95-slim-trixie: not found" >&2; exit 1 ;;
esac
exit 0
"#;

const ZIZMOR_WORKFLOW_RUN: &str = r#"[{"ident":"dangerous-triggers","desc":"use of fundamentally insecure workflow trigger",
"determinations":{"severity":"High"},"locations":[{"symbolic":{"key":{"Local":{"verbatim_path":".github/workflows/cd.yml"}},
"annotation":"workflow_run","kind":"Primary"},"concrete":{"location":{"start_point":{"row":13,"column":2}}}}]},
{"ident":"dangerous-triggers","desc":"use of fundamentally insecure workflow trigger",
"determinations":{"severity":"High"},"locations":[{"symbolic":{"key":{"Local":{"verbatim_path":".github/workflows/coverage-comment.yml"}},
"annotation":"workflow_run","kind":"Primary"},"concrete":{"location":{"start_point":{"row":14,"column":2}}}}]}]"#;

struct Ci {
    dir: Scratch,
    tools: PathBuf,
}

impl Ci {
    fn new(covered: u32) -> Ci {
        let dir = Scratch::new("ci");
        lint_support::write_exe(&dir.0.join("bin/cargo"), support::CARGO_STANDIN);
        lint_support::write_exe(&dir.0.join("bin/rustup"), "#!/bin/sh\necho llvm-tools-x86_64-unknown-linux-gnu\n");
        // No Docker engine unless a test says so (`engine`): the smoke gate's stack is a
        // stand-in here, whose compose fails the image build. A throwaway stack's compose
        // gets none of our environment, so the stand-in carries its folder.
        let docker = support::DOCKER_STANDIN.replacen('\n', &format!("\nSTANDIN='{}'\n", dir.0.display()), 1);
        lint_support::write_exe(&dir.0.join("bin/docker"), &docker);
        dir.write("compose.sh", COMPOSE_SH);
        let root = dir.0.display();
        dir.write(
            "ws/Cargo.toml",
            format!(
                "[package]\nname = \"standin\"\nversion = \"0.0.0\"\nedition = \"2021\"\n[workspace]\n\
                 [workspace.metadata.xtask.coverage]\nreport = \"{root}/out/coverage.xml\"\n\
                 lcov = \"{root}/out/lcov.info\"\nhtml = \"{root}/out/html\"\n\
                 [workspace.metadata.xtask.lint]\nexclude = [\"xtask/tests/fixtures/producers/*.xml\"]\n"
            ),
        );
        dir.write("ws/src/lib.rs", "");
        dir.write("report.xml", percent_report(covered, 100));
        let tools = dir.0.join("tools");
        lint_support::fake_tools(&tools);
        // The security gate checks this repository: its security.toml suppresses zizmor's
        // `dangerous-triggers` on cd.yml and coverage-comment.yml, and an entry that matches
        // nothing fails the gate, so the stand-in zizmor reports those findings.
        lint_support::write_exe(
            &tools.join("venv/bin/zizmor"),
            &lint_support::standin("zizmor", ZIZMOR_WORKFLOW_RUN, 0),
        );
        support::advisory_db(&dir.0.join("advisory-db"), Some(&support::yesterday()));
        Ci { dir, tools }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = support::xtask();
        for var in lint_support::GIT_LOCATION_VARS {
            c.env_remove(var);
        }
        let path = format!("{}:{}", self.dir.0.join("bin").display(), std::env::var("PATH").unwrap_or_default());
        c.env("CARGO", self.dir.0.join("bin/cargo"))
            .env("REAL_CARGO", std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .env("STANDIN", &self.dir.0)
            // The per-test map and its index go to the test's folder, not the workspace's.
            .env("CARGO_TARGET_DIR", self.dir.0.join("target"))
            .env("XTASK_TOOLS_DIR", &self.tools)
            .env("XTASK_ADVISORY_DB", self.dir.0.join("advisory-db"))
            .env("XTASK_AUDIT_BIN", support::audit_bin())
            .env("PATH", path)
            .arg("ci")
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        support::run(self.command(args))
    }

    fn log(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.0.join("log")).unwrap_or_default();
        log.lines().filter(|l| !l.starts_with("metadata")).map(str::to_owned).collect()
    }

    /// The summary table's row for a gate, e.g. `lint FAILED 0.4s`, spaces collapsed.
    fn row(run: &Run, gate: &str) -> String {
        let table = run.stderr.split("CI summary").nth(1).unwrap_or_else(|| panic!("no summary table: {run:?}"));
        let line = table.lines().find(|l| l.trim_start().starts_with(&format!("{gate} "))).unwrap();
        line.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
    }
}

#[test]
fn all_gates_pass_with_one_test_run() {
    let ci = Ci::new(85);
    let run = ci.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    for gate in ["lint", "test", "coverage", "security"] {
        assert_eq!(Ci::row(&run, gate), format!("{gate} passed"), "{run:?}");
    }
    // No Docker engine answers: the smoke gate is skipped, saying why, and that is no failure.
    assert_eq!(Ci::row(&run, "smoke"), "smoke skipped", "{run:?}");
    assert!(
        run.stderr.contains("skipped    (no Docker engine)") || run.stderr.contains("(no Docker engine)"),
        "{run:?}"
    );
    assert!(run.stderr.contains("warning: smoke skipped: no Docker engine answers"), "{run:?}");
    let log = ci.log();
    let test_runs: Vec<&String> = log.iter().filter(|l| l.starts_with("llvm-cov nextest --workspace")).collect();
    assert_eq!(test_runs.len(), 1, "the suite runs once: {log:?}");
    // No second run of the suite (nextest is only asked for its version, as the coverage run's runner).
    assert!(!log.iter().any(|l| l.starts_with("nextest run") || l.starts_with("test ")), "{log:?}");
    let lint_at = log.iter().position(|l| l.starts_with("fmt --all --check")).expect("lint ran");
    let test_at = log.iter().position(|l| l.starts_with("llvm-cov nextest --workspace")).unwrap();
    assert!(lint_at < test_at, "lint runs before the tests: {log:?}");
    let security_at = log.iter().position(|l| l.starts_with("clippy --workspace --lib --bins")).expect("security ran");
    assert!(test_at < security_at, "security is the last gate: {log:?}");
    assert!(run.stdout.contains("security: passed"), "{run:?}");
}

#[test]
fn a_failing_gate_stops_the_run_and_exits_1() {
    let ci = Ci::new(85);
    ci.dir.write("fmt-fails", "");
    let run = ci.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(Ci::row(&run, "lint"), "lint FAILED");
    assert_eq!(Ci::row(&run, "test"), "test skipped");
    assert_eq!(Ci::row(&run, "coverage"), "coverage skipped");
    assert_eq!(Ci::row(&run, "security"), "security skipped");
    assert_eq!(Ci::row(&run, "smoke"), "smoke skipped");
    assert!(!ci.log().iter().any(|l| l.starts_with("llvm-cov nextest --workspace")), "{:?}", ci.log());
}

#[test]
fn keep_going_runs_every_gate_and_still_fails() {
    let ci = Ci::new(60);
    ci.dir.write("fmt-fails", "");
    let run = ci.run(&["--keep-going"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(Ci::row(&run, "lint"), "lint FAILED");
    assert_eq!(Ci::row(&run, "test"), "test passed");
    assert_eq!(Ci::row(&run, "coverage"), "coverage FAILED");
    assert_eq!(Ci::row(&run, "security"), "security passed");
    assert!(run.stdout.contains("⚠️ Low — 60.00%"), "the coverage summary is printed: {run:?}");
}

#[test]
fn github_actions_gets_groups_and_a_summary_table() {
    let ci = Ci::new(95);
    let summary = ci.dir.0.join("summary.md");
    let mut c = ci.command(&[]);
    c.env("GITHUB_ACTIONS", "true").env("GITHUB_STEP_SUMMARY", &summary);
    let run = support::run(c);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout.matches("::group::").count(), 3, "{run:?}");
    assert_eq!(run.stdout.matches("::endgroup::").count(), 3, "{run:?}");
    let written = std::fs::read_to_string(summary).unwrap();
    assert!(written.contains("### CI gates"), "{written}");
    assert!(written.contains("| `coverage` | ✅ passed |"), "{written}");
}

#[test]
fn without_a_docker_engine_the_smoke_gate_is_an_error_in_ci() {
    let ci = Ci::new(85);
    let mut c = ci.command(&[]);
    c.env("CI", "true");
    let run = support::run(c);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(Ci::row(&run, "smoke"), "smoke ERROR", "{run:?}");
    assert_eq!(Ci::row(&run, "security"), "security skipped", "a gate that could not run stops the others: {run:?}");
    assert!(run.stderr.contains("error: the smoke gate needs a Docker engine: no Docker engine answers"), "{run:?}");
    assert!(run.stderr.contains("error: smoke could not run"), "{run:?}");
}

#[test]
fn with_a_docker_engine_the_smoke_gate_runs_before_security_and_its_failure_fails_ci() {
    let ci = Ci::new(85);
    ci.dir.set("engine", true);
    ci.dir.set("compose-v2", true);
    let run = ci.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(Ci::row(&run, "smoke"), "smoke FAILED", "{run:?}");
    assert_eq!(Ci::row(&run, "security"), "security skipped", "{run:?}");
    assert!(run.stdout.contains("✗ image builds — `docker compose -f "), "{run:?}");
    assert!(run.stdout.contains("failed to solve: rust:1.95-slim-trixie: not found"), "{run:?}");
    assert!(!run.stdout.contains("security: "), "security does not run after a failed smoke gate: {run:?}");
    let docker_log = std::fs::read_to_string(ci.dir.0.join("log")).unwrap();
    assert!(docker_log.contains("--env-file /dev/null down --volumes --remove-orphans"), "removed: {docker_log}");
}

#[test]
fn a_fresh_machine_without_an_advisory_database_runs_ci_through() {
    let ci = Ci::new(85);
    // The machine's upstream: a git clone of the fixture database, committed today.
    let upstream = ci.dir.0.join("advisory-db");
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "."],
        &["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "db"],
    ] {
        let mut git = Command::new("git");
        for var in lint_support::GIT_LOCATION_VARS {
            git.env_remove(var);
        }
        assert!(git.args(args).current_dir(&upstream).status().unwrap().success(), "git {args:?}");
    }
    let mut c = ci.command(&[]);
    c.env_remove("XTASK_ADVISORY_DB")
        .env("CARGO_HOME", ci.dir.0.join("cargo-home"))
        .env("XTASK_ADVISORY_DB_URL", format!("file://{}", upstream.display()));
    let run = support::run(c);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(Ci::row(&run, "security"), "security passed", "{run:?}");
    assert!(run.stderr.contains("advisory database: cloning file://"), "fetched on first use: {run:?}");
    assert!(ci.dir.0.join("cargo-home/advisory-db/.git").is_dir());
}

#[test]
fn a_second_run_answers_each_gate_from_the_verdict_cache() {
    let ci = Ci::new(85);
    let cached_run = || {
        let mut c = ci.command(&[]);
        c.env_remove("XTASK_NO_CACHE").env("XTASK_CACHE_DIR", ci.dir.0.join("cache"));
        support::run(c)
    };
    let first = cached_run();
    assert_eq!(first.code, 0, "{first:?}");
    for gate in ["lint", "coverage", "security"] {
        assert!(first.stderr.contains(&format!("{gate}: not cached (no earlier run)")), "{first:?}");
    }
    let work = |ci: &Ci| {
        let log = ci.log();
        ["fmt --all --check", "llvm-cov nextest --workspace", "clippy --workspace --lib --bins"]
            .map(|w| log.iter().filter(|l| l.starts_with(w)).count())
    };
    assert_eq!(work(&ci), [1, 1, 1], "{:?}", ci.log());
    assert!(ci.dir.0.join("out/html/index.html").is_file(), "the reports go where the settings say");

    let second = cached_run();
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(work(&ci), [1, 1, 1], "no gate ran again: {:?}", ci.log());
    for gate in ["lint", "coverage", "security"] {
        assert!(second.stderr.contains(&format!("{gate}: passed (cached: same inputs as ")), "{second:?}");
    }
    let table = second.stderr.split("CI summary").nth(1).unwrap();
    for gate in ["lint", "test", "coverage", "security"] {
        assert_eq!(Ci::row(&second, gate), format!("{gate} passed"), "{second:?}");
        let line = table.lines().find(|l| l.trim_start().starts_with(&format!("{gate} "))).unwrap();
        assert!(line.ends_with("s (cached)"), "the recorded time, marked: {line}");
    }
    assert!(second.stdout.contains("Coverage: 🌟 High — 85.00%"), "the coverage report again: {second:?}");
    assert!(table.contains("(cached): answered from the verdict cache"), "{table}");
}

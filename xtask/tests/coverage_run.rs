//! `cargo xtask coverage` without --file, against stand-in `cargo` and `rustup` executables
//! that record their argv: the test run, the report writing, tool installation, exit codes.

mod support;

use std::path::Path;
use std::process::Command;

use support::standin::StandIn;
use support::{Run, Scratch, percent_report};

const CARGO_STANDIN: &str = r#"#!/usr/bin/env bash
# Stand-in cargo: records argv, answers like cargo and cargo-llvm-cov would.
printf '%s\n' "$*" >> "$STANDIN/log"
# cargo's own options before the subcommand (`--config KEY=VALUE`, as the installs pass).
while [ "${1:-}" = --config ]; do shift 2; done
case "$1" in
  metadata) exec "$REAL_CARGO" metadata --format-version 1 --no-deps --offline --manifest-path "$STANDIN/ws/Cargo.toml" ;;
  install) [ -e "$STANDIN/install-fails" ] && exit 101
           case "$*" in *cargo-nextest*) touch "$STANDIN/nextest-installed" ;; *) touch "$STANDIN/llvm-cov-installed" ;; esac
           exit 0 ;;
  nextest) [ -e "$STANDIN/nextest-installed" ] || { echo "error: no such command: nextest" >&2; exit 101; }
           echo "cargo-nextest 0.9.143"; exit 0 ;;
esac
[ "$1" = llvm-cov ] || { echo "stand-in cargo: unexpected $*" >&2; exit 99; }
# An enclosing cargo-llvm-cov's private variables would make the real one wrap itself forever.
[ -n "${__CARGO_LLVM_COV_RUSTC_WRAPPER:-}" ] && echo "leaked __CARGO_LLVM_COV_RUSTC_WRAPPER" >> "$STANDIN/log"
case "${RUSTC_WRAPPER:-}" in */cargo-llvm-cov) echo "leaked RUSTC_WRAPPER" >> "$STANDIN/log" ;; esac
shift
case "$1" in
  --version) [ -e "$STANDIN/llvm-cov-installed" ] || { echo "error: no such command: llvm-cov" >&2; exit 101; }
             echo "cargo-llvm-cov 0.9.1" ;;
  clean) [ -e "$STANDIN/clean-fails" ] && { echo "error: failed to remove target/llvm-cov-target: Permission denied" >&2; exit 1; }
         exit 0 ;;
  report)
    out=""; while [ $# -gt 0 ]; do case "$1" in --output-path|--output-dir) out="$2"; shift ;; esac; shift; done
    [ -e "$STANDIN/no-data" ] && { echo "error: no input files found" >&2; exit 1; }
    if grep -q -- '--html' <<<"$(tail -n 1 "$STANDIN/log")"; then mkdir -p "$out/html"; echo '<html/>' > "$out/html/index.html"
    elif grep -q -- '--lcov' <<<"$(tail -n 1 "$STANDIN/log")"; then printf 'TN:\nend_of_record\n' > "$out"
    else cp "$STANDIN/report.xml" "$out"; fi ;;
  *) echo "running tests"
     [ -e "$STANDIN/during.sh" ] && source "$STANDIN/during.sh"
     if [ -n "${DATABASE_URL:-}" ]; then
       pg_isready -q -d "$DATABASE_URL"; echo "$? $DATABASE_URL" > "$STANDIN/test-db"
     fi
     exit "$(cat "$STANDIN/test-exit" 2>/dev/null || echo 0)" ;;
esac
"#;

const RUSTUP_STANDIN: &str = r#"#!/usr/bin/env bash
printf 'rustup %s\n' "$*" >> "$STANDIN/log"
case "$*" in
  "component list --installed") echo "rustc-x86_64-unknown-linux-gnu"; [ -e "$STANDIN/llvm-tools-installed" ] && echo "llvm-tools-x86_64-unknown-linux-gnu"; exit 0 ;;
  "component add llvm-tools-preview") touch "$STANDIN/llvm-tools-installed" ;;
  *) exit 1 ;;
esac
"#;

/// Tools installed, tests passing, a report with `covered` of 100 lines.
fn standin(covered: u32) -> StandIn {
    with_settings(covered, "")
}

fn with_settings(covered: u32, extra_settings: &str) -> StandIn {
    let s = StandIn::new("standin")
        .cargo(CARGO_STANDIN)
        .program("bin/rustup", RUSTUP_STANDIN)
        .gate("coverage")
        // The per-test map and its index go to the test's folder, not the workspace's.
        .env_path("CARGO_TARGET_DIR", "target")
        .env_remove("LLVM_COV")
        .env_remove("LLVM_PROFDATA")
        // Without the `metadata` call.
        .log_view(|log| log.retain(|l| !l.starts_with("metadata")));
    let root = s.0.display().to_string();
    s.workspace(&format!(
        "[workspace.metadata.xtask.coverage]\nreport = \"{root}/out/coverage.xml\"\n\
         lcov = \"{root}/out/cov/lcov.info\"\nhtml = \"{root}/out/cov/html\"\n{extra_settings}"
    ));
    s.write("report.xml", percent_report(covered, 100));
    for installed in ["llvm-cov-installed", "llvm-tools-installed", "nextest-installed"] {
        s.set(installed, true);
    }
    s
}

/// [`StandIn::run`] with these variables too.
fn run_with(s: &StandIn, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = s.command(args);
    c.envs(env.iter().copied());
    support::run(c)
}

fn leftovers(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.contains(".tmp-") {
            found.push(name);
        }
        if entry.file_type().unwrap().is_dir() {
            found.extend(leftovers(&entry.path()));
        }
    }
    found
}

#[test]
fn one_test_run_then_three_reports_then_the_grade() {
    let s = standin(85);
    let run = s.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("🌟 High — 85.00% (85 / 100 lines)"), "{run:?}");
    let log = s.log();
    assert_eq!(log[0], "llvm-cov --version");
    assert_eq!(log[1], "rustup component list --installed");
    assert_eq!(log[2], "nextest --version");
    // The last run's profiles go first; every test binary runs even when one fails.
    assert_eq!(log[3], "llvm-cov clean --workspace");
    assert_eq!(log[4], "llvm-cov nextest --workspace --no-report --no-fail-fast");
    assert!(log[5].starts_with("llvm-cov report --cobertura --output-path "), "{log:?}");
    assert!(log[6].starts_with("llvm-cov report --lcov --output-path "), "{log:?}");
    assert!(log[7].starts_with("llvm-cov report --html --output-dir "), "{log:?}");
    assert_eq!(log.len(), 8, "{log:?}");
    assert_eq!(std::fs::read_to_string(s.path("out/coverage.xml")).unwrap(), percent_report(85, 100));
    assert!(s.path("out/cov/lcov.info").is_file());
    assert!(s.path("out/cov/html/index.html").is_file());
    assert_eq!(leftovers(&s.0), Vec::<String>::new());
}

/// Run from inside another coverage run (this suite's own, under `cargo xtask ci`), the gate
/// must not hand that run's private variables to its own cargo-llvm-cov.
#[test]
fn an_enclosing_coverage_runs_wrapper_does_not_reach_the_gates_own_run() {
    let s = standin(85);
    let run = run_with(
        &s,
        &[],
        &[("__CARGO_LLVM_COV_RUSTC_WRAPPER", "1"), ("RUSTC_WRAPPER", "/root/.cargo/bin/cargo-llvm-cov")],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let log = s.log();
    assert!(log.iter().any(|l| l.starts_with("llvm-cov nextest --workspace")), "{log:?}");
    assert!(!log.iter().any(|l| l.starts_with("leaked")), "{log:?}");
}

/// Run from a test of a recording run on the same target folder, the gate records no map:
/// the enclosing run's index of tests is left as it is.
#[test]
fn a_run_inside_a_recorded_test_leaves_the_enclosing_runs_index_alone() {
    let s = standin(85);
    let index = s.path("target/coverage/.test-map-index.tsv");
    std::fs::create_dir_all(index.parent().unwrap()).unwrap();
    std::fs::write(&index, "start\t1\txtask::outer\ta_test\n").unwrap();
    let run = run_with(&s, &[], &[("XTASK_MAP_INDEX", index.to_str().unwrap())]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("map: this run records no per-test map: this run is a test of a recording run"),
        "{run:?}"
    );
    assert_eq!(std::fs::read_to_string(&index).unwrap(), "start\t1\txtask::outer\ta_test\n");
}

#[test]
fn failing_gate_still_prints_the_summary_and_keeps_the_reports() {
    let s = standin(60);
    let run = s.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("⚠️ Low — 60.00%"), "{run:?}");
    assert!(run.stdout.contains("Gate: FAILED"), "{run:?}");
    assert!(s.path("out/coverage.xml").is_file());
    assert!(s.path("out/cov/lcov.info").is_file());
}

#[test]
fn a_whole_run_builds_the_compose_images_before_the_tests() {
    if !support::docker_engine("a_whole_run_builds_the_compose_images_before_the_tests") {
        return;
    }
    let _engine = support::docker_lock();
    let image = support::TestImage::new("xtask-images-coverage-test");
    let image = &image.0;
    // The stand-in's settings name the workspace's files by their full paths.
    let scratch = Scratch::new("images");
    scratch.write("Dockerfile", "FROM debian:trixie-slim\nRUN echo built > /built\n");
    let file =
        scratch.write("compose.yaml", "services:\n  app:\n    image: ${APP_IMAGE:?}\n    build:\n      context: .\n");
    let s = with_settings(
        95,
        &format!(
            "[workspace.metadata.xtask.test]\nbuild-images = true\n[workspace.metadata.xtask.compose]\n\
             file = \"{}\"\napp-service = \"app\"\nenv = {{ APP_IMAGE = \"{{image}}\" }}\n\
             [workspace.metadata.xtask.smoke]\nimage = \"{image}\"\n",
            file.display()
        ),
    );
    s.write("during.sh", format!("docker image inspect --format '{{{{.Id}}}}' {image} > \"$STANDIN/seen\" 2>&1\n"));
    let run = s.run(&["--no-cache"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains(&format!("images: {image} built in ")), "{run:?}");
    let seen = std::fs::read_to_string(s.path("seen")).unwrap();
    assert!(seen.starts_with("sha256:"), "the tests ran before the image was built: {seen}");
}

#[test]
fn failing_tests_fail_the_gate_but_the_coverage_is_still_reported() {
    let s = standin(95);
    s.write("test-exit", "101");
    let run = s.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("🚀 Excellent — 95.00%"), "{run:?}");
    assert!(run.stderr.contains("the tests failed"), "{run:?}");
}

#[test]
fn a_run_that_leaves_no_data_fails_and_keeps_the_previous_report() {
    let s = standin(95);
    let previous = s.write("out/coverage.xml", "previous report");
    s.write("test-exit", "101");
    s.set("no-data", true);
    let run = s.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("left no coverage data"), "{run:?}");
    assert_eq!(std::fs::read_to_string(previous).unwrap(), "previous report");
    assert_eq!(leftovers(&s.0), Vec::<String>::new());
}

#[test]
fn report_tool_failure_after_passing_tests_is_a_tool_error() {
    let s = standin(95);
    s.set("no-data", true);
    let run = s.run(&[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("could not write the Cobertura report"), "{run:?}");
    assert!(run.stderr.contains("no input files found"), "{run:?}");
}

#[test]
fn no_install_names_every_missing_tool_and_its_install_command() {
    let s = standin(95);
    s.set("llvm-cov-installed", false);
    s.set("llvm-tools-installed", false);
    s.set("nextest-installed", false);
    let run = s.run(&["--no-install"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("cargo install --locked cargo-llvm-cov --version 0.9.1"), "{run:?}");
    assert!(run.stderr.contains("cargo install --locked cargo-nextest --version 0.9.143"), "{run:?}");
    assert!(run.stderr.contains("rustup component add llvm-tools-preview"), "{run:?}");
    assert!(!s.log().iter().any(|l| l.starts_with("install") || l.contains("component add")), "{:?}", s.log());
    assert!(!s.log().iter().any(|l| l.contains("--no-report")), "nothing runs: {:?}", s.log());
}

#[test]
fn missing_tools_are_installed_pinned_and_announced() {
    let s = standin(95);
    s.set("llvm-cov-installed", false);
    s.set("llvm-tools-installed", false);
    s.set("nextest-installed", false);
    let run = s.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("installing it now (one-time"), "{run:?}");
    let log = s.log();
    // cargo-llvm-cov is built quickly: no LTO, unoptimised but for its report converters.
    let quick = "--config profile.release.lto=false --config profile.release.codegen-units=16 \
                 --config profile.release.opt-level=0 --config profile.release.package.lcov2cobertura.opt-level=3 \
                 --config profile.release.package.quick-xml.opt-level=3 \
                 --config profile.release.package.rustc-demangle.opt-level=3";
    assert!(log.contains(&format!("{quick} install --locked cargo-llvm-cov --version 0.9.1")), "{log:?}");
    assert!(log.contains(&"install --locked cargo-nextest --version 0.9.143".to_owned()), "{log:?}");
    assert!(log.contains(&"rustup component add llvm-tools-preview".to_owned()), "{log:?}");
}

#[test]
fn failed_install_is_a_tool_error_with_the_command() {
    let s = standin(95);
    s.set("llvm-cov-installed", false);
    s.set("install-fails", true);
    let run = s.run(&[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(
            "error: missing tools:\n  cargo-llvm-cov: could not be installed: `cargo install --locked cargo-llvm-cov \
             --version 0.9.1` failed\n    install: cargo install --locked cargo-llvm-cov --version 0.9.1"
        ),
        "{run:?}"
    );
}

#[test]
fn extra_arguments_and_the_branch_metric_reach_the_test_run() {
    let s = standin(95);
    let run = s.run(&["--metric", "lines", "--", "--exclude", "app"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        s.log().contains(&"llvm-cov nextest --workspace --no-report --no-fail-fast --exclude app".to_owned()),
        "{:?}",
        s.log()
    );
    let s = standin(95);
    let run = s.run(&["--metric", "branches"]);
    assert_eq!(run.code, 2, "the stand-in report has no branch data: {run:?}");
    assert!(
        s.log().contains(&"llvm-cov nextest --workspace --no-report --no-fail-fast --branch".to_owned()),
        "{:?}",
        s.log()
    );
    // Given again after `--`, it is not doubled (cargo would refuse it twice).
    let s = standin(95);
    let run = s.run(&["--", "--no-fail-fast"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(s.log().contains(&"llvm-cov nextest --workspace --no-report --no-fail-fast".to_owned()), "{:?}", s.log());
}

#[test]
fn data_from_the_last_run_that_cannot_be_removed_stops_the_gate_before_the_tests() {
    let s = standin(95);
    s.write("clean-fails", "");
    let run = s.run(&[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("cannot remove the last coverage run's data"), "{run:?}");
    assert!(run.stderr.contains("Permission denied"), "the tool's own words: {run:?}");
    assert!(!s.log().iter().any(|l| l.starts_with("llvm-cov nextest --workspace")), "{:?}", s.log());
}

#[test]
fn the_test_run_gets_a_live_database_when_the_suite_needs_one_and_it_is_stopped_after() {
    let s = with_settings(
        95,
        "[workspace.metadata.xtask.test]\ndatabase = true\n\
         env = { APP_DATABASE__PORT = \"{db.port}\", APP_DATABASE__NAME = \"{db.name}\", APP_MODE = \"test\" }\n",
    );
    // The database under the app's own names too (`env`), as the test gate gives it.
    s.write(
        "during.sh",
        "printf '%s\\n' \"$APP_DATABASE__PORT\" \"$APP_DATABASE__NAME\" \"$APP_MODE\" > \"$STANDIN/app-env\"\n",
    );
    let run = s.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    let seen = std::fs::read_to_string(s.path("test-db")).expect("the test run saw DATABASE_URL");
    let (ready, url) = seen.trim().split_once(' ').unwrap();
    assert_eq!(ready, "0", "the database answered during the test run: {seen}");
    let port = url.rsplit_once(':').unwrap().1.split('/').next().unwrap();
    assert_eq!(s.lines("app-env"), [port, "app_test", "test"], "{run:?}");
    let after = Command::new("pg_isready").args(["-q", "-d", url]).status().unwrap();
    assert!(!after.success(), "the throwaway database is stopped after the run");
    // Without the setting, no database is provisioned.
    let s = standin(95);
    assert_eq!(s.run(&[]).code, 0);
    assert!(!s.path("test-db").exists());
}

/// `--repeat`: every report of the first run is written, then the last run's profiles go, the
/// same tests run again and their report is compared with the first's: a line covered in one
/// run and not the other is unstable, never a loss outside the change.
#[test]
fn repeat_runs_the_tests_again_and_a_line_the_runs_disagree_on_is_unstable() {
    let s = standin(0);
    // The change, in a checkout of its own (`--root`): a README edit, so that every line of
    // src/a.rs is outside it.
    let repo = s.path("repo");
    std::fs::create_dir_all(repo.join("src")).unwrap();
    std::fs::write(repo.join("src/a.rs"), "fn a() {\n    one();\n    two();\n}\n").unwrap();
    std::fs::write(repo.join("README.md"), "# a\n").unwrap();
    let git = |args: &[&str]| {
        let mut c = Command::new("git");
        for var in ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR"] {
            c.env_remove(var);
        }
        let ok = c.args(["-c", "user.name=t", "-c", "user.email=t@example.com"]).args(args).current_dir(&repo);
        assert!(ok.status().unwrap().success(), "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "base"]);
    std::fs::write(repo.join("README.md"), "# a\n\nmore\n").unwrap();
    git(&["commit", "-q", "-am", "change"]);
    // The base covered every line. The first run leaves 2 and 3 uncovered; the second covers 2.
    s.write("base.xml", support::cobertura(&[("src/a.rs", vec![(1, 1), (2, 1), (3, 1), (4, 1)])]));
    s.write("report.xml", support::cobertura(&[("src/a.rs", vec![(1, 1), (2, 0), (3, 0), (4, 1)])]));
    s.write("report-2.xml", support::cobertura(&[("src/a.rs", vec![(1, 1), (2, 1), (3, 0), (4, 1)])]));
    s.write(
        "during.sh",
        "[ -e \"$STANDIN/ran\" ] && cp \"$STANDIN/report-2.xml\" \"$STANDIN/report.xml\"\ntouch \"$STANDIN/ran\"\n",
    );
    let base = s.path("base.xml");
    let args = ["--diff", "HEAD~1", "--root", repo.to_str().unwrap(), "--base-report", base.to_str().unwrap()];
    let run = s.run(&[&args[..], &["--repeat", "--fail-under", "0"]].concat());
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("Indirect: 1 line outside the change lost its coverage"), "{run:?}");
    assert!(run.stdout.contains("Lost coverage outside the change (most first):\n  src/a.rs: 3\n"), "{run:?}");
    assert!(
        run.stdout.contains(
            "Unstable: 1 line whose coverage differs between runs of one commit (1 run of the base, 2 of the \
             change): not counted\n  src/a.rs: 2\n"
        ),
        "{run:?}"
    );
    let log = s.log();
    let runs: Vec<usize> =
        log.iter().enumerate().filter(|(_, l)| l.starts_with("llvm-cov nextest ")).map(|(i, _)| i).collect();
    assert_eq!(runs.len(), 2, "every test, twice: {log:?}");
    let (first, second) = (runs[0], runs[1]);
    assert!(log[first..second].iter().any(|l| l.starts_with("llvm-cov report --html")), "reports first: {log:?}");
    assert_eq!(log[second - 1], "llvm-cov clean --profraw-only", "{log:?}");
    assert_eq!(log[second], "llvm-cov nextest --workspace --no-report --no-fail-fast", "{log:?}");
    assert!(log[second + 1].starts_with("llvm-cov report --cobertura --output-path "), "{log:?}");
    assert_eq!(log.len(), second + 2, "{log:?}");
    // The first run's report is the one graded and kept; the second's is beside it.
    let kept = std::fs::read_to_string(s.path("out/coverage.xml")).unwrap();
    assert!(kept.contains("<line number=\"2\" hits=\"0\"/>"), "{kept}");
    let again = std::fs::read_to_string(s.path("target/coverage/repeat.xml")).unwrap();
    assert!(again.contains("<line number=\"2\" hits=\"1\"/>"), "{again}");

    // Without --repeat, the same run has no second to compare with: both lines are lost.
    std::fs::remove_file(s.path("ran")).unwrap();
    s.write("report.xml", support::cobertura(&[("src/a.rs", vec![(1, 1), (2, 0), (3, 0), (4, 1)])]));
    let run = s.run(&[&args[..], &["--full", "--fail-under", "0"]].concat());
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("  src/a.rs: 2–3\n"), "{run:?}");
    assert!(!run.stdout.contains("Unstable"), "{run:?}");
}

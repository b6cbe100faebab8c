//! `cargo xtask mutants` for real: cargo-mutants lists the mutants of a small git workspace,
//! cargo-nextest runs their tests in the gate's copy, and the per-test map of a real coverage
//! run picks each mutant's tests. A weak test misses a boundary mutant, which the gate lists
//! exactly and fails on when `max-missed-mutants` says so; a stronger test catches it. A mutant
//! that loops forever is a timeout and one that does not compile is unviable, both counted
//! apart; the mutants of lines no test covers are not run. A run with nothing changed answers
//! from the verdicts the last one found. Then what stops the gate: tests that fail unmutated, a
//! missing tool with --no-install, and a settings error.

mod support;

use std::path::Path;
use std::process::Command;

use support::{Run, Scratch};

const FILES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        "[workspace]\nmembers = [\"cashback\"]\nexclude = [\"xtask\"]\nresolver = \"2\"\n\n\
         [workspace.metadata.xtask.coverage]\nbase = \"main\"\n\n\
         [workspace.metadata.xtask.test]\ndatabase = false\n\n\
         [workspace.metadata.xtask.mutants]\nmax-missed-mutants = 0\nminimum-timeout = 10\n\n\
         [profile.dev]\nincremental = false\n",
    ),
    ("xtask/Cargo.toml", "[package]\nname = \"xtask\"\nversion = \"0.0.0\"\nedition = \"2021\"\n"),
    (".gitignore", "/target/\n/coverage.xml\n"),
    ("cashback/Cargo.toml", "[package]\nname = \"cashback\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
    (
        "cashback/src/lib.rs",
        r#"/// Whether a purchase earns cashback: above 100 (cents), not at it.
pub fn earns(amount: u32) -> bool {
    amount > 100
}

/// Cashback in cents at `rate` basis points.
pub fn cashback(amount: u32, rate: u32) -> u32 {
    if earns(amount) {
        amount * rate / 10_000
    } else {
        0
    }
}

/// Counts up to `n`, one at a time.
pub fn steps_to(n: u32) -> u32 {
    let mut i = 0;
    while i < n {
        i += 1;
    }
    i
}

/// A rate in basis points; deliberately without `Default`.
pub struct Rate(pub u32);

pub fn standard() -> Rate {
    Rate(150)
}

pub fn never_tested(x: u32) -> u32 {
    x + 7
}

#[cfg(test)]
mod tests {
    #[test]
    fn weak() {
        assert!(super::earns(500));
        assert!(!super::earns(10));
    }
}
"#,
    ),
    (
        "cashback/tests/amounts.rs",
        r#"#[test]
fn pays_the_rate() {
    assert_eq!(cashback::cashback(20_000, 150), 300);
    assert_eq!(cashback::cashback(50, 150), 0);
    assert_eq!(cashback::standard().0, 150);
}

#[test]
fn counts() {
    assert_eq!(cashback::steps_to(3), 3);
}

/// A test that reads the repository, as a tool's tests do: its own file is one git tracks.
#[test]
fn in_a_git_checkout() {
    let out = std::process::Command::new("git")
        .args(["ls-files", "--error-unmatch", "tests/amounts.rs"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
"#,
    ),
];

/// The one mutant the weak test misses.
const BOUNDARY: &str = "cashback/src/lib.rs:3: replace > with >= in earns";

struct Fixture {
    dir: Scratch,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let dir = Scratch::new(name);
        for (path, text) in FILES {
            dir.write(path, text);
        }
        let fx = Fixture { dir };
        fx.git(&["init", "-q", "-b", "main"]);
        fx.commit("the fixture");
        fx
    }

    fn git(&self, args: &[&str]) -> String {
        support::git_in(&self.dir.0, args)
    }

    fn commit(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
    }

    fn xtask(&self, args: &[&str]) -> Command {
        let mut c = support::xtask_on(&self.dir.0);
        // The gate keeps a CARGO_INCREMENTAL of its caller's; these tests check its own choice.
        // Its remembered verdicts are the fixture's own.
        c.args(args)
            .env_remove("CARGO_INCREMENTAL")
            .env_remove("XTASK_NO_CACHE")
            .env("XTASK_CACHE_DIR", self.dir.path("target/xtask-cache"));
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        support::run(self.xtask(args))
    }

    fn report(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.dir.path("target/xtask-mutants/report.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

/// Each mutant's verdict in the report, by name.
fn verdicts(report: &serde_json::Value) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = report["mutants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_owned(), m["verdict"].as_str().unwrap().to_owned()))
        .collect();
    all.sort();
    all
}

fn named<'a>(all: &'a [(String, String)], verdict: &str) -> Vec<&'a str> {
    all.iter().filter(|(_, v)| v == verdict).map(|(n, _)| n.as_str()).collect()
}

#[test]
fn a_weak_test_misses_the_boundary_mutant_and_a_stronger_one_catches_it() {
    let fx = Fixture::new("mutants");

    // No map yet: each mutant would run its package's tests, and the gate says why.
    let list = fx.run(&["mutants", "--list"]);
    assert_eq!(list.code, 0, "{list:?}");
    assert!(
        list.stderr.contains("each mutant runs the tests of its package: there is no per-test map yet"),
        "{list:?}"
    );
    assert!(list.stdout.contains(&format!("{BOUNDARY} — would run the tests of cashback")), "{list:?}");
    // `--file`: only the files matching a glob, as cargo-mutants reads it.
    let some = fx.run(&["mutants", "--list", "--file", "cashback/src/*.rs"]);
    assert!(some.code == 0 && some.stdout.contains(BOUNDARY), "{some:?}");
    assert!(some.stderr.contains("of the workspace, in files matching `cashback/src/*.rs`"), "{some:?}");
    let none = fx.run(&["mutants", "--list", "-f", "other.rs"]);
    assert_eq!(none.code, 0, "{none:?}");
    assert!(none.stderr.contains("mutants: 0 mutants of the workspace, in files matching `other.rs`"), "{none:?}");
    assert!(!none.stdout.contains("cashback/src/lib.rs"), "{none:?}");
    // `--re`: only the mutants whose name matches, as cargo-mutants reads it.
    let one = fx.run(&["mutants", "--list", "--re", "with >= in earns"]);
    assert!(one.stderr.contains("mutants: 1 mutant of the workspace, named as `with >= in earns`"), "{one:?}");
    assert_eq!(one.stdout.lines().filter(|l| l.starts_with("cashback/")).count(), 1, "{one:?}");
    assert!(one.stdout.contains(BOUNDARY), "{one:?}");

    // A full coverage run records the map; each mutant then runs the tests that cover it.
    let coverage = fx.run(&["coverage"]);
    assert_eq!(coverage.code, 0, "{coverage:?}");
    let summary = fx.dir.path("target/summary.md");
    let mut gate = fx.xtask(&["mutants"]);
    gate.env("GITHUB_ACTIONS", "true").env("GITHUB_STEP_SUMMARY", &summary);
    let run = support::run(gate);
    assert_eq!(run.code, 1, "max-missed-mutants = 0 and one is missed: {run:?}");
    assert!(run.stderr.contains("each mutant runs the tests that cover its lines (map of"), "{run:?}");
    assert!(run.stdout.contains(&format!("  {BOUNDARY} — no test failed\n")), "{run:?}");
    assert!(run.stdout.contains("1 missed, more than `max-missed-mutants` = 0"), "{run:?}");
    assert!(
        run.stdout.contains(
            "::error file=cashback/src/lib.rs,line=3,title=Missed mutant::replace > with >= in earns: no test failed"
        ),
        "{run:?}"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("### Mutants: **failed**") && md.contains(&format!("| `{BOUNDARY}` | 2 tests |")), "{md}");

    let report = fx.report();
    let all = verdicts(&report);
    assert_eq!(named(&all, "missed"), [BOUNDARY], "{report:#}");
    assert_eq!(named(&all, "timeout"), ["cashback/src/lib.rs:19: replace += with *= in steps_to"], "{report:#}");
    assert_eq!(named(&all, "unviable"), ["cashback/src/lib.rs:28: replace standard -> Rate with Default::default()"]);
    assert!(named(&all, "caught").contains(&"cashback/src/lib.rs:3: replace > with < in earns"), "{report:#}");
    // Lines no test covers: listed, not run, and in no count but their own.
    let uncovered: Vec<&str> = report["uncovered"].as_array().unwrap().iter().map(|u| u.as_str().unwrap()).collect();
    assert!(!uncovered.is_empty() && uncovered.iter().all(|u| u.contains("never_tested")), "{report:#}");
    assert!(!all.iter().any(|(n, _)| n.contains("never_tested")), "{report:#}");
    let counts = &report["counts"];
    assert_eq!(
        (counts["missed"].as_u64(), counts["timeouts"].as_u64(), counts["unviable"].as_u64()),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(counts["uncovered"].as_u64(), Some(uncovered.len() as u64));
    let caught = counts["caught"].as_u64().unwrap();
    assert!(
        run.stdout.contains(&format!("{caught} caught, 1 missed, 1 timed out, 1 unviable")),
        "timeouts and unviable mutants are counted apart: {run:?}"
    );
    // The checkout itself was never written: the mutants went into the copy, a worktree of its
    // repository at its HEAD (where the test that reads the repository passes).
    assert_eq!(fx.git(&["diff", "HEAD", "--name-only"]), "", "the checkout is untouched");
    let copy = fx.dir.path("target/xtask-mutants/tree");
    let worktrees = fx.git(&["worktree", "list"]);
    assert!(worktrees.contains(&copy.to_string_lossy().into_owned()), "a worktree: {worktrees}");
    assert_eq!(support::git_in(&copy, &["rev-parse", "HEAD"]), fx.git(&["rev-parse", "HEAD"]));
    let status = |dir: &Path| support::git_in(dir, &["status", "--porcelain"]);
    assert_eq!(status(&copy), status(&fx.dir.0), "the copy is the checkout, the mutants taken out");
    // Each mutant is a rebuild of the copy after a one-line change: compiled incrementally there,
    // though the workspace's profile turns that off for its own (cold) builds.
    let incremental = std::fs::read_dir(copy.join("target/debug/incremental"))
        .map(|d| d.filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().starts_with("cashback-")).count());
    assert!(incremental.as_ref().is_ok_and(|n| *n > 0), "the copy's builds are incremental: {incremental:?}");

    // Nothing changed since: a caught or missed mutant keeps the verdict this run found, and the
    // run that has only such mutants builds nothing. Timeouts and unviable mutants run again.
    let list = fx.run(&["mutants", "--list"]);
    assert!(list.stdout.contains(&format!("{BOUNDARY} — remembered: missed (found ")), "{list:?}");
    assert!(list.stdout.contains("in steps_to — would run"), "a timeout is tried again: {list:?}");
    let fresh = fx.run(&["--no-cache", "mutants", "--list"]);
    assert!(fresh.stdout.contains(&format!("{BOUNDARY} — would run 2 tests")), "{fresh:?}");
    let again = fx.run(&["mutants", "--re", "in earns"]);
    assert_eq!(again.code, 1, "the missed mutant, remembered, still fails the gate: {again:?}");
    assert!(again.stderr.contains("keep the verdicts of earlier runs"), "{again:?}");
    assert!(!again.stderr.contains("baseline"), "nothing to build: {again:?}");
    assert!(again.stdout.contains(&format!("  {BOUNDARY} — no test failed\n")), "{again:?}");
    let remembered = fx.report();
    let earns: Vec<(String, String)> = all.iter().filter(|(n, _)| n.contains(" in earns")).cloned().collect();
    assert_eq!(verdicts(&remembered), earns, "the same verdicts");
    let flags: Vec<bool> =
        (remembered["mutants"].as_array().unwrap().iter()).map(|m| m["remembered"].as_bool().unwrap()).collect();
    assert!(flags.len() > 1 && flags.iter().all(|r| *r), "{remembered:#}");
    assert!(again.stdout.contains(&format!("({} of these verdicts remembered", earns.len())), "{again:?}");

    // A stronger test, in another file: the map's lines still hold for lib.rs, and the test that
    // changed since the map's run is added to every mutant's tests. The boundary is caught.
    support::edit(
        &fx.dir.path("cashback/tests/amounts.rs"),
        "#[test]\nfn counts()",
        "#[test]\nfn earns_above_100_only() {\n    assert!(!cashback::earns(100));\n    assert!(cashback::earns(101));\n}\n\n#[test]\nfn counts()",
    );
    let run = fx.run(&["mutants"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("cashback/tests/amounts.rs changed since the map's run"), "{run:?}");
    assert!(!run.stdout.contains("no test failed"), "{run:?}");
    assert!(run.stdout.contains("Mutants gate: passed"), "{run:?}");
    let all = verdicts(&fx.report());
    assert!(named(&all, "caught").contains(&BOUNDARY), "{all:?}");
    assert_eq!(named(&all, "missed"), Vec::<&str>::new());

    // `--diff`: only the change's mutants, with the same verdicts.
    fx.commit("a stronger test");
    fx.git(&["checkout", "-q", "-b", "change"]);
    support::edit(
        &fx.dir.path("cashback/src/lib.rs"),
        "pub fn never_tested",
        "pub fn frequent(count: u32) -> bool {\n    count >= 3\n}\n\npub fn never_tested",
    );
    support::edit(
        &fx.dir.path("cashback/tests/amounts.rs"),
        "#[test]\nfn counts()",
        "#[test]\nfn frequent() {\n    assert!(cashback::frequent(10));\n}\n\n#[test]\nfn counts()",
    );
    fx.commit("frequent buyers");
    let run = fx.run(&["mutants", "--diff", "main"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("mutants: 3 mutants of the change since"), "{run:?}");
    assert!(
        run.stdout.contains("  cashback/src/lib.rs:32: replace frequent -> bool with true — no test failed\n"),
        "{run:?}"
    );
    assert_eq!(verdicts(&fx.report()).len(), 3, "only the change's mutants");
    assert_eq!(fx.git(&["diff", "HEAD", "--name-only"]), "");
}

#[test]
fn a_change_with_no_mutant_passes_with_nothing_to_run() {
    let fx = Fixture::new("mutants-none");
    fx.git(&["checkout", "-q", "-b", "tests-only"]);
    support::edit(&fx.dir.path("cashback/tests/amounts.rs"), "steps_to(3), 3)", "steps_to(4), 4)");
    fx.commit("a test only");
    let run = fx.run(&["mutants", "--diff", "main"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("mutants: 0 mutants of the change since"), "{run:?}");
    assert!(!run.stderr.contains("baseline"), "nothing to run, nothing built: {run:?}");
    assert!(run.stdout.contains("0 caught, 0 missed; no viable mutant to score"), "{run:?}");
    assert_eq!(fx.report()["mutants"].as_array().map(Vec::len), Some(0));
}

#[test]
fn tests_that_fail_unmutated_stop_the_gate_naming_them() {
    let fx = Fixture::new("mutants-baseline");
    support::edit(&fx.dir.path("cashback/tests/amounts.rs"), "steps_to(3), 3)", "steps_to(3), 4)");
    fx.commit("a failing test");
    let run = fx.run(&["mutants"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("the tests fail without any mutant in the copy of the checkout"), "{run:?}");
    assert!(run.stderr.contains("  cashback::amounts::counts"), "{run:?}");
    assert!(!fx.dir.path("target/xtask-mutants/report.json").exists(), "no verdict without a baseline");
}

#[test]
fn a_missing_tool_with_no_install_names_the_install_command() {
    let fx = Fixture::new("mutants-tool");
    // A cargo home and PATH in which no cargo-mutants can be found.
    let home = fx.dir.path("cargo-home");
    std::fs::create_dir_all(&home).unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).filter(|d| !d.join("cargo-mutants").exists());
    let mut gate = fx.xtask(&["mutants", "--no-install"]);
    gate.env("CARGO_HOME", &home).env("PATH", std::env::join_paths(dirs).unwrap()).env("CARGO", cargo());
    let run = support::run(gate);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("cargo install --locked cargo-mutants --version 27.1.0"), "{run:?}");
}

#[test]
fn a_settings_error_names_the_key() {
    let fx = Fixture::new("mutants-settings");
    support::edit(&fx.dir.path("Cargo.toml"), "minimum-timeout = 10", "minimum-timeout = 0\nmutants-threshold = 120");
    let run = fx.run(&["mutants", "--list"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("[workspace.metadata.xtask.mutants]"), "{run:?}");
    assert!(run.stderr.contains("mutants-threshold"), "{run:?}");
}

/// The real cargo (not a rustup proxy, which would need the cargo home).
fn cargo() -> std::path::PathBuf {
    let cargo = std::env::var_os("CARGO").map(std::path::PathBuf::from).unwrap_or_else(|| "cargo".into());
    assert!(Path::new(&cargo).is_absolute(), "nextest and cargo test set CARGO: {cargo:?}");
    cargo
}

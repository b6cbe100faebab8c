//! `cargo xtask coverage --partition M/N` for real: cargo-llvm-cov and cargo-nextest run a
//! small workspace's suite unsharded, as 2 shards and as 3, and the merged shards give exactly
//! the unsharded counts. Then the ways a split goes wrong: a missing shard, a failing shard.

mod support;

use std::path::Path;
use std::process::Command;

use support::{Run, Scratch};

/// Two crates; a test binary with one test (so some shards never run it), code one crate
/// reaches through the other, and a function no test calls.
const FILES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        "[workspace]\nmembers = [\"alpha\", \"beta\"]\nexclude = [\"xtask\"]\nresolver = \"2\"\n\n\
         [workspace.metadata.xtask.test]\ndatabase = false\n",
    ),
    // Where the xtask finds the workspace root (`CARGO_MANIFEST_DIR` naming a crate called xtask).
    ("xtask/Cargo.toml", "[package]\nname = \"xtask\"\nversion = \"0.0.0\"\nedition = \"2021\"\n"),
    ("alpha/Cargo.toml", "[package]\nname = \"alpha\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
    (
        "alpha/src/lib.rs",
        r#"pub fn classify(n: i64) -> &'static str {
    if n < 0 {
        "negative"
    } else if n == 0 {
        "zero"
    } else {
        "positive"
    }
}

pub fn never_called(x: u32) -> u32 {
    x.wrapping_mul(3) + 1
}

#[cfg(test)]
mod tests {
    #[test]
    fn negative() {
        assert_eq!(super::classify(-1), "negative");
    }

    #[test]
    fn zero() {
        assert_eq!(super::classify(0), "zero");
    }

    #[test]
    fn fails_on_request() {
        assert!(std::env::var_os("FIXTURE_FAIL").is_none(), "FIXTURE_FAIL is set");
    }
}
"#,
    ),
    ("alpha/tests/only.rs", "#[test]\nfn positive() {\n    assert_eq!(alpha::classify(5), \"positive\");\n}\n"),
    (
        "beta/Cargo.toml",
        "[package]\nname = \"beta\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nalpha = { path = \"../alpha\" }\n",
    ),
    (
        "beta/src/lib.rs",
        r#"pub fn describe(values: &[i64]) -> String {
    let mut out = Vec::new();
    for v in values {
        out.push(alpha::classify(*v));
    }
    out.join(",")
}

pub fn total(values: &[i64]) -> i64 {
    values.iter().sum()
}

pub fn largest(values: &[i64]) -> Option<i64> {
    values.iter().copied().max()
}

#[cfg(test)]
mod tests {
    #[test]
    fn describes() {
        assert_eq!(super::describe(&[1, -1]), "positive,negative");
    }

    #[test]
    fn totals() {
        assert_eq!(super::total(&[1, 2]), 3);
    }

    #[test]
    fn largest() {
        assert_eq!(super::largest(&[1, 2]), Some(2));
    }
}
"#,
    ),
];

struct Fixture {
    dir: Scratch,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = Scratch::new("shards");
        for (name, text) in FILES {
            dir.write(name, text);
        }
        Fixture { dir }
    }

    /// `cargo xtask coverage <args>` on the fixture (see `support::xtask_on`).
    fn coverage(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c: Command = support::xtask_on(&self.dir.0);
        c.arg("coverage").args(args).envs(env.iter().copied());
        support::run(c)
    }

    /// Runs shard `m` of `n`; its own `(covered, coverable)`.
    fn shard(&self, m: u32, n: u32) -> (u64, u64) {
        let run = self.coverage(&["--partition", &format!("{m}/{n}")], &[]);
        assert_eq!(run.code, 0, "shard {m}/{n}: {run:?}");
        assert!(run.stdout.contains(&format!("Shard {m}/{n}: ")), "{run:?}");
        assert!(run.stdout.contains("Not graded alone"), "a shard grades nothing unless asked: {run:?}");
        assert!(!run.stdout.contains("Gate:"), "{run:?}");
        assert!(self.shard_path(m, n).is_file(), "shard {m}/{n} wrote its report: {run:?}");
        let json = self.coverage(&["--partition", &format!("{m}/{n}"), "--format", "json"], &[]);
        let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("{e}: {json:?}"));
        assert_eq!(doc["shard"]["index"], m, "{json:?}");
        (doc["covered"].as_u64().unwrap(), doc["valid"].as_u64().unwrap())
    }

    fn shard_path(&self, m: u32, n: u32) -> std::path::PathBuf {
        self.dir.path(&format!("target/coverage/shards/coverage-{m}-of-{n}.xml"))
    }
}

/// `(covered, coverable)` of the graded report, from `--format json`.
fn totals(run: &Run) -> (u64, u64) {
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    (doc["totals"]["covered"].as_u64().unwrap(), doc["totals"]["valid"].as_u64().unwrap())
}

#[test]
fn merged_shards_give_exactly_the_unsharded_counts() {
    let fx = Fixture::new();
    let whole = fx.coverage(&["--format", "json"], &[]);
    assert_eq!(whole.code, 0, "unsharded run: {whole:?}");
    let expected = totals(&whole);
    assert!(expected.0 > 0 && expected.0 < expected.1, "the fixture leaves code uncovered: {expected:?}");

    for n in [2u32, 3] {
        let mut partial = false;
        for m in 1..=n {
            let (covered, coverable) = fx.shard(m, n);
            assert_eq!(coverable, expected.1, "shard {m}/{n} lists every coverable line, run or not");
            partial |= covered < expected.0;
        }
        assert!(partial, "with {n} shards some shard covers less than the whole suite: the split is real");
        if n == 3 {
            assert!(!fx.shard_path(1, 2).exists(), "a new split removes the files of the earlier one");
        }
        let merged = fx.coverage(&["--file", "target/coverage/shards/*.xml", "--format", "json"], &[]);
        assert_eq!(merged.code, 0, "{merged:?}");
        assert_eq!(totals(&merged), expected, "{n} shards merged give the unsharded counts exactly");
    }
}

#[test]
fn an_incomplete_split_is_refused_and_a_failing_shard_fails_but_keeps_its_report() {
    let fx = Fixture::new();
    for m in [1, 3] {
        fx.shard(m, 3);
    }
    let merged = fx.coverage(&["--file", "target/coverage/shards/*.xml"], &[]);
    assert_eq!(merged.code, 2, "{merged:?}");
    assert!(merged.stderr.contains("shard 2 of 3 is missing (given: 1, 3)"), "{merged:?}");

    let failing = fx.coverage(&["--partition", "1/1"], &[("FIXTURE_FAIL", "1")]);
    assert_eq!(failing.code, 1, "{failing:?}");
    assert!(failing.stderr.contains("the tests of shard 1/1 failed"), "{failing:?}");
    assert!(fx.shard_path(1, 1).is_file(), "the failing shard's report is still written");
    assert!(!fx.shard_path(1, 3).exists(), "{failing:?}");

    // Asked to grade, a shard is graded like any report.
    let graded = fx.coverage(&["--partition", "1/1", "--grade", "--fail-under", "100"], &[]);
    assert_eq!(graded.code, 1, "{graded:?}");
    assert!(graded.stdout.contains("Gate: FAILED"), "{graded:?}");
}

#[test]
fn partition_flags_are_checked_before_anything_runs() {
    let fx = Fixture::new();
    for (args, says) in [
        (&["--partition", "0/2"][..], "does not exist"),
        (&["--partition", "1/2", "--file", "x.xml"][..], "cannot be used with"),
        (&["--grade"][..], "--partition"),
    ] {
        let run = fx.coverage(args, &[]);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stderr.contains(says), "{args:?}: {run:?}");
    }
    assert!(!Path::new(&fx.dir.path("target")).exists(), "nothing was built");
}

/// A nested xtask (`support::xtask_on`) keeps an enclosing coverage run's `LLVM_PROFILE_FILE`:
/// its profile goes where that run collects profiles, not to `default_*.profraw` in the folder
/// it works on. The run's build settings stay out. (Under `cargo xtask coverage` the xtask
/// binary is instrumented and this test's process has the variable: the run below shows it for
/// real.)
#[test]
fn a_nested_xtask_writes_its_profile_where_the_enclosing_coverage_run_collects_them() {
    assert!(!support::leaks_from_an_enclosing_run("LLVM_PROFILE_FILE"));
    let build = ["RUSTFLAGS", "RUSTC_WRAPPER", "CARGO_LLVM_COV", "__CARGO_LLVM_COV_RUSTC_WRAPPER", "CARGO_TARGET_DIR"];
    for var in build {
        assert!(support::leaks_from_an_enclosing_run(var), "{var}");
    }
    let dir = Scratch::new("nested-profile");
    let mut c = support::xtask_on(&dir.0);
    assert!(!c.get_envs().any(|(var, _)| var == "LLVM_PROFILE_FILE"), "inherited as it is: {c:?}");
    c.arg("--help");
    let run = support::run(c);
    assert_eq!(run.code, 0, "{run:?}");
    let profiles: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name.to_string_lossy().ends_with(".profraw"))
        .collect();
    assert_eq!(profiles, Vec::<std::ffi::OsString>::new());
    if cfg!(coverage) {
        assert!(std::env::var_os("LLVM_PROFILE_FILE").is_some(), "a coverage run names where profiles go");
    }
}

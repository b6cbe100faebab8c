//! The instrumented build kept between coverage runs, for real: cargo-llvm-cov and nextest on a
//! small git workspace. After an edit that moves and adds lines, renames a test target and
//! changes a package's features (so its test binaries get new hashes and the old ones stay in
//! the target folder), the next run rebuilds only the package that changed and reports exactly
//! what a run from a clean build reports: the new lines, never an old binary's.

mod support;

use std::collections::BTreeMap;
use std::process::Command;

use support::{Run, Scratch};

const FILES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        "[workspace]\nmembers = [\"alpha\", \"beta\"]\nexclude = [\"xtask\"]\nresolver = \"2\"\n\n\
         [workspace.metadata.xtask.test]\ndatabase = false\n",
    ),
    ("xtask/Cargo.toml", "[package]\nname = \"xtask\"\nversion = \"0.0.0\"\nedition = \"2021\"\n"),
    (".gitignore", "/target/\n/coverage.xml\n"),
    ("alpha/Cargo.toml", "[package]\nname = \"alpha\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
    (
        "alpha/src/lib.rs",
        "pub fn sign(n: i64) -> i64 {\n    if n < 0 {\n        -1\n    } else {\n        1\n    }\n}\n\n\
         pub fn untested(n: i64) -> i64 {\n    n * 2\n}\n\n\
         #[cfg(test)]\nmod tests {\n    #[test]\n    fn negative() {\n        assert_eq!(super::sign(-3), -1);\n    }\n}\n",
    ),
    ("alpha/tests/old_name.rs", "#[test]\nfn positive() {\n    assert_eq!(alpha::sign(3), 1);\n}\n"),
    ("beta/Cargo.toml", "[package]\nname = \"beta\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
    (
        "beta/src/lib.rs",
        "pub fn twice(n: u32) -> u32 {\n    n * 2\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn twice() {\n        \
         assert_eq!(super::twice(2), 4);\n    }\n}\n",
    ),
    ("alpha/tests/tool.rs", "#[test]\nfn zero_counts_as_positive() {\n    assert_eq!(alpha::sign(0), 1);\n}\n"),
];

fn coverage(dir: &Scratch) -> Run {
    let mut c = support::xtask_on(&dir.0);
    c.args(["coverage", "--format", "json"]);
    let run = support::run(c);
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    run
}

/// Every line of the Cobertura report, by repository path: whether it is covered.
fn lines_of(dir: &Scratch) -> BTreeMap<String, Vec<(u32, bool)>> {
    let file = std::fs::File::open(dir.path("coverage.xml")).unwrap();
    let report = xtask::coverage::parse_any_file(std::io::BufReader::new(file), Default::default()).unwrap();
    let root = dir.0.canonicalize().unwrap().to_string_lossy().into_owned();
    report
        .files
        .iter()
        .map(|f| (xtask::coverage::patch::repo_key(&f.name, &report.sources, &root), f.line_table.iter().collect()))
        .collect()
}

/// The test binaries in the instrumented build's deps folder, by name (hash included).
fn test_binaries(dir: &Scratch) -> Vec<String> {
    let deps = dir.path("target/llvm-cov-target/debug/deps");
    let mut names: Vec<String> = std::fs::read_dir(deps)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| ["alpha-", "old_name-", "new_name-", "tool-"].iter().any(|p| n.starts_with(p)) && !n.contains('.'))
        .collect();
    names.sort();
    names
}

#[test]
fn a_run_after_an_edit_rebuilds_only_what_changed_and_reports_what_a_clean_build_reports() {
    let dir = Scratch::new("cov-incremental");
    for (path, text) in FILES {
        dir.write(path, text);
    }
    let first = coverage(&dir);
    assert!(first.stderr.contains("Compiling beta"), "the first run builds everything: {first:?}");
    let before = test_binaries(&dir);
    assert_eq!(before.len(), 3, "alpha's unit tests, old_name and tool: {before:?}");

    // Lines move (three new lines on top), a function and its test are added, a test target is
    // renamed, and a feature changes the hash of alpha's binaries.
    let lib = std::fs::read_to_string(dir.path("alpha/src/lib.rs")).unwrap();
    let lib = lib.replace("#[cfg(test)]\nmod tests {\n", "pub fn added(n: i64) -> i64 {\n    n + 1\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() {\n        assert_eq!(super::added(1), 2);\n    }\n\n");
    dir.write("alpha/src/lib.rs", format!("// Moved down\n// by three\n// lines.\n{lib}"));
    std::fs::rename(dir.path("alpha/tests/old_name.rs"), dir.path("alpha/tests/new_name.rs")).unwrap();
    dir.write(
        "alpha/Cargo.toml",
        "[package]\nname = \"alpha\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[features]\ndefault = [\"extra\"]\nextra = []\n",
    );

    let second = coverage(&dir);
    assert!(second.stderr.contains("Compiling alpha"), "{second:?}");
    assert!(!second.stderr.contains("Compiling beta"), "beta did not change and is not rebuilt: {second:?}");
    let removed = second.stderr.lines().find(|l| l.starts_with("coverage: removed ")).unwrap_or_else(|| {
        panic!("the old binaries are removed, and the run says so: {second:?}");
    });
    // alpha's unit tests and its test target `tool` get new hashes: the old binaries are named
    // after targets that still exist, and would be reported on. old_name's is named after none,
    // and cargo-llvm-cov passes it by.
    let old_alpha = before.iter().find(|b| b.starts_with("alpha-")).unwrap();
    let old_tool = before.iter().find(|b| b.starts_with("tool-")).unwrap();
    let listed = removed.strip_prefix("coverage: removed 2 stale instrumented binaries: ").unwrap_or_else(|| {
        panic!("{removed}");
    });
    let mut listed: Vec<&str> = listed.split(", ").collect();
    listed.sort();
    assert_eq!(listed, [old_alpha.as_str(), old_tool.as_str()]);
    let after = test_binaries(&dir);
    assert_eq!(after.iter().filter(|b| b.starts_with("alpha-") && *b != old_alpha).count(), 1, "{after:?}");
    assert!(after.iter().any(|b| b.starts_with("new_name-")), "{after:?}");
    let kept = lines_of(&dir);
    let alpha = &kept["alpha/src/lib.rs"];
    assert!(
        alpha.iter().all(|&(line, _)| line > 3),
        "no line of the old binary (lines 1–3 are comments now): {alpha:?}"
    );
    assert!(alpha.contains(&(17, true)), "the added function's body, covered: {alpha:?}");
    assert!(alpha.contains(&(13, false)), "untested()'s body, moved from line 10: {alpha:?}");

    // The same tree from a clean instrumented build.
    let mut clean = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    clean.args(["llvm-cov", "clean", "--workspace"]).current_dir(&dir.0);
    for (var, _) in std::env::vars_os() {
        let var = var.to_string_lossy();
        if var.starts_with("CARGO_LLVM_COV") || var.starts_with("NEXTEST") || var == "CARGO_TARGET_DIR" {
            clean.env_remove(&*var);
        }
    }
    assert!(clean.status().unwrap().success());
    let third = coverage(&dir);
    assert!(third.stderr.contains("Compiling beta"), "a clean build: {third:?}");
    assert_eq!(kept, lines_of(&dir), "the kept build's report is the clean build's, line by line");
    assert_eq!(second.code, third.code);
}

#[test]
fn a_build_that_fails_reports_nothing_from_the_build_before_it() {
    let dir = Scratch::new("cov-incremental-broken");
    for (path, text) in FILES {
        dir.write(path, text);
    }
    // A build script runs, instrumented, before its package compiles: the broken build leaves
    // a profile of it, which a report from the old objects would gladly read.
    dir.write("alpha/build.rs", "fn main() {\n    println!(\"cargo:rustc-env=BUILT=1\");\n}\n");
    coverage(&dir);
    let report = std::fs::read(dir.path("coverage.xml")).unwrap();

    let lib = std::fs::read_to_string(dir.path("alpha/src/lib.rs")).unwrap();
    dir.write("alpha/src/lib.rs", lib.replace("n * 2", "n * "));
    let broken = coverage(&dir);
    assert_eq!(broken.code, 1, "{broken:?}");
    assert!(broken.stderr.contains("left no coverage data, so no report was written"), "{broken:?}");
    assert_eq!(std::fs::read(dir.path("coverage.xml")).unwrap(), report, "the last report is left as it was");
}

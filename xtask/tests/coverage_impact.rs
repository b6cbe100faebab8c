//! Impact-aware coverage for real: cargo-llvm-cov and cargo-nextest run a small git workspace.
//! A full run records the per-test map; `--why` reads it; after each kind of change,
//! `coverage --diff` runs only the tests the change can affect and comes out with the same
//! patch verdict, uncovered ranges and totals as `--diff --full` (which runs everything);
//! `test --changed` runs the same selection without coverage. Then the ways a map goes wrong:
//! missing, corrupt, from another lockfile, and a run killed half-way.

mod support;

use std::path::Path;
use std::process::Command;

use support::{Run, Scratch};

const FILES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        "[workspace]\nmembers = [\"alpha\", \"beta\"]\nexclude = [\"xtask\"]\nresolver = \"2\"\n\n\
         [workspace.metadata.xtask.coverage]\nbase = \"main\"\n\n\
         [workspace.metadata.xtask.test]\ndatabase = false\n\n\
         [[workspace.metadata.xtask.test.inputs]]\nglob = \"fixtures/*.txt\"\ntests = \"binary_id(=beta::reads)\"\n",
    ),
    ("xtask/Cargo.toml", "[package]\nname = \"xtask\"\nversion = \"0.0.0\"\nedition = \"2021\"\n"),
    (".gitignore", "/target/\n/coverage.xml\n"),
    ("notes.md", "# Notes\n"),
    ("fixtures/words.txt", "alpha beta\n"),
    ("alpha/Cargo.toml", "[package]\nname = \"alpha\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
    (
        "alpha/src/lib.rs",
        r#"/// Below this, a number is negative.
pub const ZERO: i64 = 0;

/// More values than this make a large input.
pub const SMALL: usize = 5;

pub fn classify(n: i64) -> &'static str {
    if n < ZERO {
        "negative"
    } else if n == ZERO {
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
    fn slow_on_request() {
        if let Some(s) = std::env::var_os("FIXTURE_SLEEP") {
            std::thread::sleep(std::time::Duration::from_secs(s.to_str().unwrap().parse().unwrap()));
        }
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
    let mut large = 0;
    if values.len() > alpha::SMALL {
        large = 1;
    }
    values.iter().sum::<i64>() + large - large
}

pub fn count_words(text: &str) -> usize {
    text.split_whitespace().count()
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
}
"#,
    ),
    (
        "beta/tests/reads.rs",
        "#[test]\nfn the_fixture_has_words() {\n    let text = std::fs::read_to_string(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/../fixtures/words.txt\")).unwrap();\n    assert!(beta::count_words(&text) >= 2);\n}\n",
    ),
];

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

    fn git(&self, args: &[&str]) {
        support::git_in(&self.dir.0, args);
    }

    fn commit(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
    }

    fn edit(&self, path: &str, old: &str, new: &str) {
        support::edit(&self.dir.path(path), old, new);
    }

    /// `cargo xtask <gate> <args>` on the fixture.
    fn xtask(&self, gate: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut c = support::xtask_on(&self.dir.0);
        c.arg(gate).args(args).envs(env.iter().copied());
        c
    }

    fn coverage(&self, args: &[&str]) -> Run {
        support::run(self.xtask("coverage", args, &[]))
    }

    fn map_path(&self) -> std::path::PathBuf {
        self.dir.path("target/coverage/test-map.json")
    }
}

/// What a full run and an impact-aware run must agree on: the totals, the gate, and the patch
/// (verdict, counts and the uncovered ranges of every changed file).
fn verdict(run: &Run) -> serde_json::Value {
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    assert!(doc["patch"].is_object() && doc["totals"].is_object() && doc["gate"].is_object(), "{doc}");
    serde_json::json!({ "totals": doc["totals"], "gate": doc["gate"], "patch": doc["patch"], "lowest": doc["lowest_files"] })
}

/// Every line of the gate's Cobertura report, by repository path: whether it is covered.
fn lines_of(fx: &Fixture) -> std::collections::BTreeMap<String, Vec<(u32, bool)>> {
    lines_in(fx, "coverage.xml")
}

/// Every line of a Cobertura report of the fixture, by repository path: whether it is covered.
fn lines_in(fx: &Fixture, report: &str) -> std::collections::BTreeMap<String, Vec<(u32, bool)>> {
    let file = std::fs::File::open(fx.dir.path(report)).unwrap();
    let report = xtask::coverage::parse_any_file(std::io::BufReader::new(file), Default::default()).unwrap();
    let root = fx.dir.0.canonicalize().unwrap().to_string_lossy().into_owned();
    report
        .files
        .iter()
        .map(|f| (xtask::coverage::patch::repo_key(&f.name, &report.sources, &root), f.line_table.iter().collect()))
        .collect()
}

/// How many tests the impact-aware run ran (its `impact: N tests ran` line).
fn ran(run: &Run) -> usize {
    let line = run.stderr.lines().find(|l| l.contains(" tests ran")).unwrap_or_else(|| panic!("no count: {run:?}"));
    line.trim_start_matches("impact: ").split(' ').next().unwrap().parse().unwrap()
}

/// `--diff main` selected, then `--diff main --full`: the same verdict, fewer tests.
fn same_verdict_as_the_full_run(fx: &Fixture, what: &str) -> (Run, Run) {
    let selected = fx.coverage(&["--diff", "main", "--format", "json"]);
    assert!(selected.code == 0 || selected.code == 1, "{what}: {selected:?}");
    assert!(selected.stderr.contains(" tests ran"), "{what}: an impact-aware run: {selected:?}");
    let selected_lines = lines_of(fx);
    let full = fx.coverage(&["--diff", "main", "--full", "--format", "json"]);
    assert_eq!(full.code, selected.code, "{what}: {full:?}");
    assert!(full.stderr.contains("map: "), "{what}: the full run records the next map: {full:?}");
    assert_eq!(verdict(&selected), verdict(&full), "{what}: the selected run agrees with the full run");
    assert_eq!(selected_lines, lines_of(fx), "{what}: line by line, the same report");
    (selected, full)
}

#[test]
fn impact_aware_runs_agree_with_the_full_run_after_each_kind_of_change() {
    let fx = Fixture::new("impact");
    let first = fx.coverage(&[]);
    assert_eq!(first.code, 0, "{first:?}");
    assert!(first.stderr.contains("map: 7 tests"), "the full run records the map: {first:?}");
    let size = std::fs::metadata(fx.map_path()).unwrap().len();
    assert!(size > 0 && size < 64 * 1024, "a small map: {size} bytes");

    // `--why`: the line of the `negative` branch is covered by its test alone; the file by more.
    let why = fx.coverage(&["--why", "alpha/src/lib.rs:9"]);
    assert_eq!(why.code, 0, "{why:?}");
    assert!(why.stdout.contains("alpha/src/lib.rs:9: covered by 2 tests"), "{why:?}");
    assert!(why.stdout.contains("alpha tests::negative") && why.stdout.contains("beta tests::describes"), "{why:?}");
    assert!(!why.stdout.contains("tests::zero"), "{why:?}");
    let file = fx.coverage(&["--why", "alpha/src/lib.rs"]);
    assert!(file.stdout.contains("alpha tests::zero") && file.stdout.contains("alpha::only positive"), "{file:?}");
    let none = fx.coverage(&["--why", "alpha/src/lib.rs:18"]);
    assert!(none.stdout.contains("no test covers it"), "never_called is never called: {none:?}");
    let unknown = fx.coverage(&["--why", "nowhere.rs:3"]);
    assert_eq!(unknown.code, 2, "{unknown:?}");

    // A function body: only the tests that run beta's lib.rs.
    fx.git(&["checkout", "-q", "-b", "change"]);
    fx.edit("beta/src/lib.rs", "values.iter().sum::<i64>()", "values.iter().copied().sum::<i64>()");
    fx.commit("body");
    let (selected, _) = same_verdict_as_the_full_run(&fx, "a body change");
    assert!(selected.stderr.contains("beta/src/lib.rs (function bodies only)"), "{selected:?}");
    assert_eq!(ran(&selected), 3, "describes, totals and reads run beta/src/lib.rs: {selected:?}");

    // An item outside any body (a constant beta's `totals` reads without running a line of
    // alpha): every test of alpha and of what depends on it. Narrower, `totals` would keep the
    // map's lines and miss the branch it now takes.
    fx.edit("alpha/src/lib.rs", "pub const SMALL: usize = 5;", "pub const SMALL: usize = 1;");
    fx.commit("item");
    let (selected, _) = same_verdict_as_the_full_run(&fx, "an item change");
    assert!(selected.stderr.contains("rdeps(=alpha)"), "{selected:?}");
    assert_eq!(ran(&selected), 7, "{selected:?}");

    // Comments only: the tests that run the file, nothing wider.
    fx.edit("alpha/src/lib.rs", "/// Below this, a number is negative.", "/// Numbers below this are negative.");
    fx.commit("comment");
    let (selected, _) = same_verdict_as_the_full_run(&fx, "a comment");
    assert!(selected.stderr.contains("alpha/src/lib.rs (comments or layout only)"), "{selected:?}");
    assert!(!selected.stderr.contains("rdeps"), "{selected:?}");

    // A declared input: its tests only; an undeclared file outside packages: nothing.
    fx.edit("fixtures/words.txt", "alpha beta", "alpha beta gamma");
    fx.edit("notes.md", "# Notes", "# Notes, more");
    fx.commit("data");
    let (selected, _) = same_verdict_as_the_full_run(&fx, "data files");
    assert!(selected.stderr.contains("binary_id(=beta::reads) (declared for `fixtures/*.txt`)"), "{selected:?}");
    assert!(selected.stderr.contains("notes.md (not Rust): no test covers or declares it"), "{selected:?}");
    assert_eq!(ran(&selected), 1, "{selected:?}");

    // A new test, and an uncovered change: the new test runs; the patch agrees with the full run.
    std::fs::write(
        fx.dir.path("alpha/tests/only.rs"),
        "#[test]\nfn positive() {\n    assert_eq!(alpha::classify(5), \"positive\");\n}\n\n\
         #[test]\nfn big() {\n    assert_eq!(alpha::classify(500), \"positive\");\n}\n",
    )
    .unwrap();
    fx.edit("alpha/src/lib.rs", "x.wrapping_mul(3) + 1", "x.wrapping_mul(3) + 2");
    fx.commit("new test");
    let (selected, full) = same_verdict_as_the_full_run(&fx, "a new test");
    assert!(selected.stderr.contains("binary_id(=alpha::only)"), "{selected:?}");
    let patch = &verdict(&full)["patch"];
    assert!(patch.to_string().contains("alpha/src/lib.rs"), "the uncovered change is in the patch: {patch}");

    // `test --changed`: the same rules without coverage.
    fx.edit("beta/src/lib.rs", "text.split_whitespace().count()", "text.split_ascii_whitespace().count()");
    let test = support::run(fx.xtask("test", &["--changed"], &[]));
    assert_eq!(test.code, 0, "{test:?}");
    assert!(test.stderr.contains("beta/src/lib.rs (function bodies only)"), "{test:?}");
    assert!(test.stderr.contains("Starting 3 tests"), "the tests that run beta/src/lib.rs: {test:?}");
}

/// The instrumented build is kept between runs (only what an edit touched is compiled again),
/// yet a report never holds the lines of an older build: after an edit that moves every line
/// of a file and adds new ones, with a leftover program of that file's old build beside the
/// new one, the kept build's report is the clean build's, line for line, and so is the union
/// of its shards. A target that goes starts from a clean build.
#[test]
fn a_kept_build_reports_the_code_as_it_is_now() {
    let fx = Fixture::new("kept-build");
    let first = fx.coverage(&[]);
    assert_eq!(first.code, 0, "{first:?}");
    assert!(first.stderr.contains("build: the workspace is built again for coverage (no build kept"), "{first:?}");

    // A leftover of the build before the edit: alpha's unit tests under another hash, as an
    // older build or a test's own cargo leaves one. cargo-llvm-cov reads every program whose
    // name is a target's, so this one would put the old line numbers in the report.
    let deps = fx.dir.path("target/llvm-cov-target/debug/deps");
    let harness = std::fs::read_dir(&deps)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("alpha-") && p.extension().is_none()
        })
        .expect("alpha's unit tests were built");
    let leftover = deps.join("alpha-00000000deadbeef");
    std::fs::copy(&harness, &leftover).unwrap();
    let mut dep_info = harness.clone().into_os_string();
    dep_info.push(".d");
    std::fs::copy(&dep_info, deps.join("alpha-00000000deadbeef.d")).unwrap();
    let built = std::fs::metadata(&harness).unwrap().modified().unwrap();
    for p in [leftover.clone(), deps.join("alpha-00000000deadbeef.d")] {
        std::fs::File::options().write(true).open(&p).unwrap().set_modified(built).unwrap();
    }

    // Every line of alpha's lib.rs moves down 7 lines; the new function has a covered branch
    // and an uncovered one, and its test lives in the same file (no target comes or goes).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let lib = fx.dir.path("alpha/src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    let added = "pub fn doubled(x: i64) -> i64 {\n    if x > 100 {\n        return x;\n    }\n    x * 2\n}\n\n";
    std::fs::write(&lib, format!("{added}{text}")).unwrap();
    fx.edit(
        "alpha/src/lib.rs",
        "    #[test]\n    fn negative() {",
        "    #[test]\n    fn doubles() {\n        assert_eq!(super::doubled(2), 4);\n    }\n\n    #[test]\n    fn negative() {",
    );
    let kept = fx.coverage(&[]);
    assert_eq!(kept.code, 0, "{kept:?}");
    assert!(kept.stderr.contains("build: the instrumented build is kept"), "{kept:?}");
    assert!(
        kept.stderr.contains("build: removed 1 program built before its sources changed")
            && kept.stderr.contains("alpha-00000000deadbeef"),
        "{kept:?}"
    );
    assert!(!leftover.exists(), "the leftover is gone");
    let kept_lines = lines_of(&fx);
    let alpha: std::collections::BTreeMap<u32, bool> = kept_lines["alpha/src/lib.rs"].iter().copied().collect();
    assert_eq!((alpha.get(&1), alpha.get(&3), alpha.get(&5)), (Some(&true), Some(&false), Some(&true)), "{alpha:?}");
    assert_eq!(alpha.get(&25), Some(&false), "never_called's body, 7 lines down: {alpha:?}");
    assert_eq!(alpha.get(&7), None, "a blank line now, where classify began: {alpha:?}");
    let length = std::fs::read_to_string(&lib).unwrap().lines().count() as u32;
    assert!(alpha.keys().all(|&n| n <= length), "no line past the file's end ({length}): {alpha:?}");

    // Shards on the kept build: their union is the whole run.
    for part in ["1/2", "2/2"] {
        let shard = fx.coverage(&["--partition", part]);
        assert_eq!(shard.code, 0, "{shard:?}");
        assert!(shard.stderr.contains("build: the instrumented build is kept"), "{shard:?}");
    }
    let merged = fx.coverage(&["--file", "target/coverage/shards/*.xml", "--output", "merged.xml"]);
    assert_eq!(merged.code, 0, "{merged:?}");
    assert_eq!(lines_in(&fx, "merged.xml"), kept_lines, "the union of the shards is the whole run");

    // The same checkout from a clean build: the same report, line for line.
    std::fs::remove_dir_all(fx.dir.path("target/llvm-cov-target")).unwrap();
    let clean = fx.coverage(&[]);
    assert_eq!(clean.code, 0, "{clean:?}");
    assert!(clean.stderr.contains("build: the workspace is built again for coverage"), "{clean:?}");
    assert_eq!(lines_of(&fx), kept_lines, "the kept build's report is the clean build's");

    // A target that goes: a clean build, saying why.
    std::fs::remove_file(fx.dir.path("alpha/tests/only.rs")).unwrap();
    let gone = fx.coverage(&[]);
    assert_eq!(gone.code, 0, "{gone:?}");
    assert!(gone.stderr.contains("targets came or went: alpha/tests/only.rs"), "{gone:?}");
    assert!(!lines_of(&fx).is_empty());
}

#[test]
fn without_a_usable_map_everything_runs_and_says_why() {
    let fx = Fixture::new("impact-fallback");
    fx.git(&["checkout", "-q", "-b", "change"]);
    fx.edit("beta/src/lib.rs", "values.iter().sum::<i64>()", "values.iter().copied().sum::<i64>()");
    fx.commit("body");

    let missing = fx.coverage(&["--diff", "main"]);
    assert_eq!(missing.code, 0, "{missing:?}");
    assert!(missing.stderr.contains("impact: running every test: there is no per-test map yet"), "{missing:?}");
    assert!(missing.stderr.contains("map: 7 tests"), "the full run records one: {missing:?}");

    std::fs::write(fx.map_path(), "{\"format\": 1, \"tests\": [").unwrap();
    let corrupt = fx.coverage(&["--diff", "main"]);
    assert_eq!(corrupt.code, 0, "{corrupt:?}");
    assert!(corrupt.stderr.contains("impact: running every test: the per-test map is unusable"), "{corrupt:?}");

    // A map of another lockfile.
    let text = std::fs::read_to_string(fx.map_path()).unwrap();
    let mut map: serde_json::Value = serde_json::from_str(&text).unwrap();
    map["validity"]["lockfile"] = "0000".into();
    std::fs::write(fx.map_path(), map.to_string()).unwrap();
    let other = fx.coverage(&["--diff", "main"]);
    assert!(other.stderr.contains("impact: running every test: Cargo.lock changed since the map's run"), "{other:?}");

    // A map whose tests do not account for every covered line of its run.
    let mut map: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fx.map_path()).unwrap()).unwrap();
    map["unattributed"] = 3.into();
    std::fs::write(fx.map_path(), map.to_string()).unwrap();
    let partial = fx.coverage(&["--diff", "main"]);
    assert!(
        partial
            .stderr
            .contains("impact: running every test: the map's run covered 3 lines no recorded test accounts for"),
        "{partial:?}"
    );

    // A changed manifest runs everything, whatever the map.
    fx.edit("beta/Cargo.toml", "edition = \"2021\"", "edition = \"2021\"\ndescription = \"b\"");
    let manifest = fx.coverage(&["--diff", "main"]);
    assert!(
        manifest.stderr.contains("impact: running every test: beta/Cargo.toml changed (a manifest)"),
        "{manifest:?}"
    );
}

#[test]
fn a_run_killed_half_way_leaves_the_last_map_as_it_was() {
    let fx = Fixture::new("impact-killed");
    let first = fx.coverage(&[]);
    assert_eq!(first.code, 0, "{first:?}");
    let before = std::fs::read(fx.map_path()).unwrap();

    // A slow test keeps the next run busy; kill the whole run while the tests are running.
    let mut c = fx.xtask("coverage", &[], &[("FIXTURE_SLEEP", "60")]);
    std::os::unix::process::CommandExt::process_group(&mut c, 0);
    c.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut child = c.spawn().unwrap();
    let index = fx.dir.path("target/coverage/.test-map-index.tsv");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    while !std::fs::read_to_string(&index).is_ok_and(|t| t.contains("slow_on_request")) {
        assert!(std::time::Instant::now() < deadline, "the tests never started");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before the slow test");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let group = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process_group(group, rustix::process::Signal::KILL).unwrap();
    child.wait().unwrap();
    // nextest gave the sleeping test a process group of its own: it outlives the run. Stop it.
    kill_processes_under(&fx.dir.0);

    assert_eq!(std::fs::read(fx.map_path()).unwrap(), before, "the map is the last complete run's");
    // …and still usable: a body change selects from it.
    fx.git(&["checkout", "-q", "-b", "change"]);
    fx.edit("beta/src/lib.rs", "values.iter().sum::<i64>()", "values.iter().copied().sum::<i64>()");
    fx.commit("body");
    let selected = fx.coverage(&["--diff", "main"]);
    assert_eq!(selected.code, 0, "{selected:?}");
    assert_eq!(ran(&selected), 3, "{selected:?}");
}

/// SIGKILL to every process whose command line names a path under `dir`.
fn kill_processes_under(dir: &Path) {
    let needle = dir.to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&needle)
            && let Some(pid) = rustix::process::Pid::from_raw(pid)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

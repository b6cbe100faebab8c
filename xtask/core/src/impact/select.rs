//! Which tests a change can affect: the rules of an impact-aware run, applied to what changed
//! since the per-test map's run. The result is either "run everything", with the one reason,
//! or a selection: tests named from the map, plus nextest filtersets for what the map cannot
//! name (every test of a crate, the tests declared for a file, tests the map has never seen).
//!
//! The rules, per changed path (docs/quality-gates.md has them for users):
//! - A manifest, `Cargo.lock`, a build script, cargo's `.cargo/config.toml`, `rust-toolchain*`
//!   or the nextest configuration: everything runs.
//! - A Rust file: the tests whose recorded lines touch it; and when more than function bodies
//!   changed (`skeleton.rs`), every test that can see its items: for library code, every test
//!   of every package that depends on its package (`rdeps`); for test code, the tests of its
//!   test binary (or of the package's tests, for a shared test module). A proc-macro crate's
//!   code runs while others compile: any change to it selects its reverse dependencies.
//! - Any file: the tests declared for it (`[[workspace.metadata.xtask.test.inputs]]`), and,
//!   when Rust code embeds it (`include_str!`, `include_bytes!`), what a change to that code's
//!   items would select.
//! - Another file, neither declared nor embedded: inside a package, every test that can see
//!   that package (its tests may read it); outside packages, none, said so.
//! - Always: the tests that failed or did not finish in the map's run.
//!
//! A test the map does not know is always in a changed file: a new test binary is a new
//! target (everything runs), and a new or renamed test changes its file's items, which selects
//! its whole test binary, or for a unit test its package's unit tests.

use std::collections::{BTreeMap, BTreeSet};

use super::map::Map;
use super::skeleton::{Fingerprint, RustChange};
use super::workspace::Workspace;
use crate::settings::TestInput;
use crate::snapshot::{Changes, Snapshot};

/// What an impact-aware run does.
#[derive(Debug)]
pub enum Plan {
    /// Run every test, for this reason.
    Everything(String),
    Selected(Selection),
}

#[derive(Debug)]
pub struct Selection {
    pub changes: Changes,
    /// Tests of the map to run, by index.
    pub tests: BTreeSet<usize>,
    /// Filtersets for the rest (each with why), any of which selects a test.
    pub filters: Vec<(String, String)>,
    /// One line per changed path: what it selects and why.
    pub reasons: Vec<String>,
}

/// The rules of the module docs, for a change from `map.tree` to `now` (plus `extra` paths, e.g.
/// those changed since a base, which count as changed too).
pub fn plan(
    map: &Map,
    now: &Snapshot,
    extra: &[String],
    workspace: &Workspace,
    inputs: &[TestInput],
    read: &dyn Fn(&str) -> Option<String>,
) -> Plan {
    let embedded = embedded_files(now, read);
    let mut changes = map.tree.changes(now);
    for path in extra {
        let known = changes.paths().contains(&path.as_str());
        if !known && now.files.contains_key(path) {
            changes.modified.push(path.clone());
        }
    }
    changes.modified.sort();
    changes.modified.dedup();

    let mut tests: BTreeSet<usize> = BTreeSet::new();
    let mut filters: Vec<(String, String)> = Vec::new();
    let mut reasons = Vec::new();
    let removed: BTreeSet<&str> = changes.removed.iter().map(String::as_str).collect();
    let added_or_removed: BTreeSet<&str> = changes.added.iter().chain(&changes.removed).map(String::as_str).collect();
    for path in changes.paths() {
        if let Some(why) = everything_for(path, workspace) {
            return Plan::Everything(format!("{path} changed ({why})"));
        }
        // The instrumented build is kept between impact-aware runs; a target that comes or goes
        // would leave a stale binary in it. A full run starts from a clean one.
        if added_or_removed.contains(path) && defines_target(path, workspace) {
            let verb = if removed.contains(path) { "removed" } else { "added" };
            return Plan::Everything(format!("{path} was {verb} (a test or program target)"));
        }
        let touching: Vec<usize> = map.tests_touching(path).collect();
        tests.extend(&touching);
        let covered = match touching.len() {
            0 => String::new(),
            n => format!("the {n} tests that cover it"),
        };
        let mut wide: Vec<(String, String)> = Vec::new();
        // Declared readers, whatever the file; and the code that embeds it while compiling.
        let declared: Vec<(&TestInput, &String)> = inputs
            .iter()
            .filter_map(|i| i.globs.iter().find(|g| crate::repo::glob::matches(g, path)).map(|g| (i, g)))
            .collect();
        for (i, glob) in &declared {
            wide.push((i.tests.clone(), format!("declared for `{glob}`")));
        }
        for by in embedded.get(path).into_iter().flatten() {
            if let Some((filter, _)) = rust_scope(by, RustChange::Items, workspace, now) {
                wide.push((filter, format!("embedded by {by}")));
            }
        }
        let how;
        if path.ends_with(".rs") && workspace.owner(path).is_some() {
            let before = map.rust.get(path);
            let after = if removed.contains(path) { None } else { read(path).map(|t| Fingerprint::of(&t)) };
            let change = match (before, &after) {
                (Some(b), Some(a)) => b.change(a),
                _ => RustChange::Items, // added or removed: the crate's items changed
            };
            how = match change {
                RustChange::Layout => "comments or layout only",
                RustChange::Bodies => "function bodies only",
                RustChange::TestsOnly => "test-only code",
                RustChange::Items => "items outside function bodies",
            };
            if let Some(scope) = rust_scope(path, change, workspace, now) {
                wide.push(scope);
            }
        } else {
            how = "not Rust";
            if declared.is_empty()
                && !embedded.contains_key(path)
                && let Some(p) = workspace.owner(path)
            {
                wide.push((format!("rdeps(={})", p.name), format!("inside package {}, undeclared", p.name)));
            }
        }
        let mut parts: Vec<String> = Vec::new();
        if !covered.is_empty() {
            parts.push(covered);
        }
        parts.extend(wide.iter().map(|(f, why)| format!("{f} ({why})")));
        let what = if parts.is_empty() {
            if how == "not Rust" { "no test covers or declares it".to_owned() } else { "no test covers it".to_owned() }
        } else {
            parts.join(", ")
        };
        reasons.push(format!("{path} ({how}): {what}"));
        filters.extend(wide);
    }

    let unfinished: Vec<usize> = map.tests.iter().enumerate().filter(|(_, t)| !t.passed).map(|(i, _)| i).collect();
    if !unfinished.is_empty() {
        reasons.push(format!("{} tests that failed or did not finish in the map's run", unfinished.len()));
        tests.extend(unfinished);
    }
    filters.sort();
    filters.dedup();
    Plan::Selected(Selection { changes, tests, filters, reasons })
}

/// Files the tree's Rust code embeds while compiling (`include_str!`, `include_bytes!` with a
/// literal path, relative to the including file), with the files that embed them.
fn embedded_files(now: &Snapshot, read: &dyn Fn(&str) -> Option<String>) -> BTreeMap<String, Vec<String>> {
    let mut embedded: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in now.files.keys().filter(|p| p.ends_with(".rs")) {
        let Some(text) = read(path) else { continue };
        if !text.contains("include_") {
            continue;
        }
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        for mac in ["include_str!(", "include_bytes!("] {
            for (at, _) in text.match_indices(mac) {
                let rest = text[at + mac.len()..].trim_start();
                let Some(literal) = rest.strip_prefix('"').and_then(|r| r.split_once('"')).map(|(l, _)| l) else {
                    continue;
                };
                if let Some(target) = join(dir, literal) {
                    embedded.entry(target).or_default().push(path.clone());
                }
            }
        }
    }
    embedded
}

/// `dir/relative` with `.` and `..` resolved, or `None` when it leaves the repository.
fn join(dir: &str, relative: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// Whether `path` is a file cargo makes a target of by its place (`src/lib.rs`, `src/main.rs`,
/// `src/bin/*.rs`, `tests/*.rs`, `benches/*.rs`, `examples/*.rs`, or `*/main.rs` in those).
fn defines_target(path: &str, workspace: &Workspace) -> bool {
    let Some(p) = workspace.owner(path) else { return false };
    let inner = if p.dir.is_empty() { path } else { &path[p.dir.len() + 1..] };
    let parts: Vec<&str> = inner.split('/').collect();
    match parts.as_slice() {
        ["src", "lib.rs" | "main.rs"] => true,
        ["src", "bin", file] | ["tests" | "benches" | "examples", file] => file.ends_with(".rs"),
        ["src", "bin", _, "main.rs"] | ["tests" | "benches" | "examples", _, "main.rs"] => true,
        _ => false,
    }
}

/// Why a change to `path` makes everything run, if it does.
fn everything_for(path: &str, workspace: &Workspace) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name == "Cargo.toml" {
        Some("a manifest")
    } else if path == "Cargo.lock" {
        Some("the lockfile")
    } else if workspace.packages.iter().any(|p| p.build_script.as_deref() == Some(path)) {
        Some("a build script")
    } else if matches!(path.rsplit('/').nth(1), Some(".cargo")) && matches!(name, "config.toml" | "config") {
        // Not the other files under .cargo/ (cargo-mutants' mutants.toml): cargo reads none.
        Some("cargo's configuration")
    } else if !path.contains('/') && name.starts_with("rust-toolchain") {
        Some("the toolchain file")
    } else if path == ".config/nextest.toml" {
        Some("the test runner's configuration")
    } else {
        None
    }
}

/// The tests a Rust change can reach beyond those that run its lines, as a filterset.
fn rust_scope(path: &str, change: RustChange, workspace: &Workspace, now: &Snapshot) -> Option<(String, String)> {
    let p = workspace.owner(path)?;
    if change == RustChange::Layout {
        return None;
    }
    if p.proc_macro {
        return Some((format!("rdeps(={})", p.name), "a proc-macro crate runs while others compile".into()));
    }
    if change == RustChange::Bodies {
        return None;
    }
    let inner = if p.dir.is_empty() { path } else { &path[p.dir.len() + 1..] };
    if let Some(rest) = inner.strip_prefix("tests/") {
        let binary = match rest.split_once('/') {
            None => rest.strip_suffix(".rs").map(str::to_owned),
            Some((dir, _)) => {
                let main = if p.dir.is_empty() {
                    format!("tests/{dir}/main.rs")
                } else {
                    format!("{}/tests/{dir}/main.rs", p.dir)
                };
                now.files.contains_key(&main).then(|| dir.to_owned())
            }
        };
        return Some(match binary {
            Some(b) => (format!("binary_id(={}::{b})", p.name), "its test binary".into()),
            None => (format!("package(={}) & kind(test)", p.name), "a module the package's tests share".into()),
        });
    }
    if inner.starts_with("benches/") || inner.starts_with("examples/") {
        return Some((format!("package(={})", p.name), "a bench or example".into()));
    }
    Some(match change {
        RustChange::TestsOnly => {
            (format!("package(={}) & (kind(lib) | kind(bin))", p.name), "the package's unit tests".into())
        }
        _ => (format!("rdeps(={})", p.name), format!("every package that depends on {}", p.name)),
    })
}

impl Selection {
    /// Whether it selects no test at all (nothing to run, no database to start).
    pub fn is_empty(&self) -> bool {
        self.tests.is_empty() && self.filters.is_empty()
    }

    /// The nextest arguments that run the selection: one `-E` per filterset (nextest runs the
    /// tests any of them selects), the map's tests grouped by binary (a binary whose every
    /// test is selected by its id alone).
    pub fn nextest_args(&self, map: &Map) -> Vec<String> {
        let mut by_binary: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for &t in &self.tests {
            let id = &map.tests[t].id;
            by_binary.entry(&id.binary).or_default().push(&id.name);
        }
        let mut args = Vec::new();
        let tests = |names: &[&str]| names.iter().map(|n| format!("test(={n})")).collect::<Vec<_>>().join(" | ");
        for (binary, names) in by_binary {
            let all: Vec<&str> =
                map.tests.iter().filter(|t| t.id.binary == binary).map(|t| t.id.name.as_str()).collect();
            let left_out: Vec<&str> = all.iter().filter(|n| !names.contains(n)).copied().collect();
            args.push("-E".to_owned());
            // The shorter of the two: the tests selected, or all but those left out (a test the
            // map does not know is then selected too, which is only wider).
            args.push(if left_out.is_empty() {
                format!("binary_id(={binary})")
            } else if left_out.len() < names.len() {
                format!("binary_id(={binary}) & not ({})", tests(&left_out))
            } else {
                format!("binary_id(={binary}) & ({})", tests(&names))
            });
        }
        for (filter, _) in &self.filters {
            args.push("-E".to_owned());
            args.push(filter.clone());
        }
        if args.is_empty() {
            // No filter at all would be every test.
            args.extend(["-E".to_owned(), "none()".to_owned()]);
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impact::map::{TestEntry, TestId, Validity};
    use crate::impact::workspace::Package;

    fn workspace() -> Workspace {
        let pkg = |name: &str, dir: &str, deps: &[&str]| Package {
            name: name.into(),
            dir: dir.into(),
            bins: vec![],
            build_script: None,
            proc_macro: false,
            deps: deps.iter().map(|d| (*d).to_owned()).collect(),
        };
        let mut app = pkg("app", "app", &[]);
        app.build_script = Some("app/build.rs".into());
        Workspace {
            packages: vec![
                pkg("xtask-coverage", "xtask/coverage", &[]),
                pkg("xtask", "xtask", &["xtask-coverage"]),
                app,
            ],
            settings_json: String::new(),
        }
    }

    const BODY: &str = "pub fn rate() -> u32 {\n    5\n}\n";

    fn map() -> Map {
        let tree = Snapshot {
            files: [
                ("app/src/cashback.rs", "a1"),
                ("app/tests/api/main.rs", "b1"),
                ("Dockerfile", "c1"),
                ("docs/x.md", "d1"),
                ("app/openapi.json", "e1"),
            ]
            .into_iter()
            .map(|(p, id)| (p.to_owned(), id.to_owned()))
            .collect(),
        };
        let test = |binary: &str, name: &str, passed: bool| TestEntry {
            id: TestId { binary: binary.into(), name: name.into() },
            passed,
        };
        Map {
            format: crate::impact::map::FORMAT,
            validity: Validity::default(),
            recorded: 0,
            commit: "c".into(),
            tree,
            rust: [("app/src/cashback.rs".to_owned(), Fingerprint::of(BODY))].into_iter().collect(),
            tests: vec![
                test("app::api", "users::register", true),
                test("app::api", "cashback::rate", true),
                test("xtask::smoke_run", "smoke", false),
            ],
            files: [("app/src/cashback.rs".to_owned(), [(1, "2".to_owned())].into_iter().collect())]
                .into_iter()
                .collect(),
            unattributed: 0,
        }
    }

    fn with(map: &Map, path: &str, id: &str) -> Snapshot {
        let mut now = map.tree.clone();
        now.files.insert(path.into(), id.into());
        now
    }

    fn selected(plan: Plan) -> Selection {
        match plan {
            Plan::Selected(s) => s,
            Plan::Everything(why) => panic!("everything: {why}"),
        }
    }

    #[test]
    fn a_body_change_selects_the_tests_that_cover_the_file() {
        let m = map();
        let now = with(&m, "app/src/cashback.rs", "a2");
        let s = selected(plan(&m, &now, &[], &workspace(), &[], &|_| Some(BODY.replace('5', "6"))));
        // cashback::rate covers it; smoke failed in the map's run.
        assert_eq!(s.tests, [1, 2].into_iter().collect());
        assert!(!s.filters.iter().any(|(f, _)| f.contains("rdeps")), "{:?}", s.filters);
        assert!(s.reasons[0].contains("function bodies only"), "{:?}", s.reasons);
    }

    #[test]
    fn an_item_change_selects_every_test_that_can_see_the_crate() {
        let m = map();
        let now = with(&m, "app/src/cashback.rs", "a2");
        let s = selected(plan(&m, &now, &[], &workspace(), &[], &|_| Some(format!("const X: u8 = 1;\n{BODY}"))));
        assert!(s.filters.iter().any(|(f, _)| f == "rdeps(=app)"), "{:?}", s.filters);
        let layout = selected(plan(&m, &now, &[], &workspace(), &[], &|_| Some(format!("// note\n{BODY}"))));
        assert!(!layout.filters.iter().any(|(f, _)| f.contains("rdeps")));
    }

    #[test]
    fn test_files_select_their_binary() {
        let m = map();
        let now = with(&m, "app/tests/api/users.rs", "f1");
        let s = selected(plan(&m, &now, &[], &workspace(), &[], &|_| Some("fn x() {}".into())));
        assert!(s.filters.iter().any(|(f, _)| f == "binary_id(=app::api)"), "{:?}", s.filters);
        let shared = with(&m, "app/tests/support/mod.rs", "g1");
        let s = selected(plan(&m, &shared, &[], &workspace(), &[], &|_| Some("fn x() {}".into())));
        assert!(s.filters.iter().any(|(f, _)| f == "package(=app) & kind(test)"), "{:?}", s.filters);
    }

    #[test]
    fn other_files_follow_the_declared_inputs_then_their_package() {
        let m = map();
        let inputs = [TestInput { globs: vec!["Dockerfile".into()], tests: "binary(smoke_run)".into() }];
        let s = selected(plan(&m, &with(&m, "Dockerfile", "c2"), &[], &workspace(), &inputs, &|_| None));
        assert!(s.filters.iter().any(|(f, _)| f == "binary(smoke_run)"), "{:?}", s.filters);
        assert!(!s.filters.iter().any(|(f, _)| f.contains("rdeps")));
        let s = selected(plan(&m, &with(&m, "app/openapi.json", "e2"), &[], &workspace(), &inputs, &|_| None));
        assert!(s.filters.iter().any(|(f, _)| f == "rdeps(=app)"), "{:?}", s.filters);
        let s = selected(plan(&m, &with(&m, "docs/x.md", "d2"), &[], &workspace(), &inputs, &|_| None));
        assert!(s.reasons[0].contains("no test covers or declares it"), "{:?}", s.reasons);
    }

    #[test]
    fn embedded_files_select_what_embeds_them_and_declared_readers_count_for_rust_files_too() {
        let m = map();
        let mut now = with(&m, "app/tests/api/main.rs", "b1");
        now.files.insert(".env.example".into(), "x2".into());
        let mut old = m.clone();
        old.tree.files.insert(".env.example".into(), "x1".into());
        let read = |p: &str| {
            (p == "app/tests/api/main.rs")
                .then(|| "const E: &str = include_str!(\"../../../.env.example\");".to_owned())
        };
        let s = selected(plan(&old, &now, &[], &workspace(), &[], &read));
        assert!(
            s.filters.iter().any(|(f, why)| f == "binary_id(=app::api)" && why.contains("embedded by")),
            "{:?}",
            s.filters
        );
        assert_eq!(join("a/b", "../../x"), Some("x".into()));
        assert_eq!(join("a", "../../x"), None);

        let inputs =
            [TestInput { globs: vec!["app/src/cashback.rs".into()], tests: "binary_id(=xtask::wiring)".into() }];
        let now = with(&m, "app/src/cashback.rs", "a2");
        let s = selected(plan(&m, &now, &[], &workspace(), &inputs, &|_| Some(BODY.replace('5', "6"))));
        assert!(s.filters.iter().any(|(f, _)| f == "binary_id(=xtask::wiring)"), "{:?}", s.filters);
    }

    #[test]
    fn manifests_lockfile_build_scripts_and_cargo_config_run_everything() {
        let m = map();
        for path in [
            "Cargo.lock",
            "app/Cargo.toml",
            "app/build.rs",
            ".cargo/config.toml",
            "rust-toolchain.toml",
            ".config/nextest.toml",
        ] {
            match plan(&m, &with(&m, path, "z"), &[], &workspace(), &[], &|_| Some(String::new())) {
                Plan::Everything(why) => assert!(why.starts_with(path), "{why}"),
                Plan::Selected(_) => panic!("{path} selected"),
            }
        }
        // cargo-mutants' settings beside cargo's: cargo reads none of them.
        let other = with(&m, ".cargo/mutants.toml", "z");
        assert!(matches!(plan(&m, &other, &[], &workspace(), &[], &|_| None), Plan::Selected(_)));
    }

    #[test]
    fn a_target_that_comes_or_goes_runs_everything() {
        let m = map();
        for path in ["app/tests/new.rs", "app/src/bin/tool.rs", "app/tests/other/main.rs"] {
            match plan(&m, &with(&m, path, "n"), &[], &workspace(), &[], &|_| Some(String::new())) {
                Plan::Everything(why) => assert!(why.contains("was added (a test or program target)"), "{why}"),
                Plan::Selected(_) => panic!("{path} selected"),
            }
        }
        let mut gone = m.tree.clone();
        gone.files.remove("app/tests/api/main.rs");
        assert!(matches!(plan(&m, &gone, &[], &workspace(), &[], &|_| None), Plan::Everything(_)));
        // A module file is not a target.
        let module = with(&m, "app/tests/api/extra.rs", "n");
        assert!(matches!(plan(&m, &module, &[], &workspace(), &[], &|_| Some("fn f() {}".into())), Plan::Selected(_)));
    }

    #[test]
    fn nothing_changed_runs_what_failed_and_a_whole_binary_is_named_by_its_id() {
        let mut passing = map();
        passing.tests[2].passed = true;
        let s = selected(plan(&passing, &passing.tree, &[], &workspace(), &[], &|_| None));
        assert_eq!(s.nextest_args(&passing), ["-E", "none()"], "nothing to run is not everything");
        let m = map();
        let s = selected(plan(&m, &m.tree, &[], &workspace(), &[], &|_| None));
        assert_eq!(s.tests, [2].into_iter().collect(), "the test that failed in the map's run");
        assert!(s.filters.is_empty(), "{:?}", s.filters);
        assert_eq!(s.nextest_args(&m), ["-E", "binary_id(=xtask::smoke_run)"]);
        let now = with(&m, "app/src/cashback.rs", "a2");
        let s = selected(plan(&m, &now, &[], &workspace(), &[], &|_| Some(BODY.replace('5', "6"))));
        assert_eq!(s.nextest_args(&m)[1], "binary_id(=app::api) & (test(=cashback::rate))");
        let mut three = m.clone();
        three.tests.push(TestEntry { id: TestId { binary: "app::api".into(), name: "other".into() }, passed: true });
        three.files.get_mut("app/src/cashback.rs").unwrap().insert(3, "2".into());
        let s = selected(plan(&three, &now, &[], &workspace(), &[], &|_| Some(BODY.replace('5', "6"))));
        assert_eq!(
            s.nextest_args(&three)[1],
            "binary_id(=app::api) & not (test(=users::register))",
            "the shorter form"
        );
    }
}

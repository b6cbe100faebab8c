//! Which tests a change can affect: the rules of an impact-aware run, applied to what changed
//! since the per-test map's run. The result is either "run everything", with the one reason,
//! or a selection: tests named from the map, plus nextest filtersets for what the map cannot
//! name (every test of a crate, the tests declared for a file, tests the map has never seen).
//!
//! The rules, per changed path (docs/quality-gates.md has them for users):
//! - A manifest, `Cargo.lock`, a build script, `.cargo/`, `rust-toolchain*` or the nextest
//!   configuration: everything runs.
//! - A Rust file: the tests whose recorded lines touch it; and when more than function bodies
//!   changed (`skeleton.rs`), every test that can see its items: for library code, every test
//!   of every package that depends on its package (`rdeps`); for test code, the tests of its
//!   test binary (or of the package's tests, for a shared test module). A proc-macro crate's
//!   code runs while others compile: any change to it selects its reverse dependencies.
//! - Another file: the tests declared for it (`[[workspace.metadata.xtask.test.inputs]]`);
//!   undeclared, inside a package, every test that can see that package (it may be embedded
//!   with `include_str!`, or read by its tests); undeclared outside packages, none, said so.
//! - Always: the tests that failed or did not finish in the map's run, and tests the map does
//!   not know (new, or renamed).

use std::collections::{BTreeMap, BTreeSet};

use super::map::{Map, TestId};
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
    for path in changes.paths() {
        if let Some(why) = everything_for(path, workspace) {
            return Plan::Everything(format!("{path} changed ({why})"));
        }
        let touching: Vec<usize> = map.tests_touching(path).collect();
        tests.extend(&touching);
        let covered = match touching.len() {
            0 => String::new(),
            n => format!("the {n} tests that cover it"),
        };
        let mut wide: Vec<(String, String)> = Vec::new();
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
            let declared: Vec<&TestInput> =
                inputs.iter().filter(|i| crate::lint::glob::matches(&i.glob, path)).collect();
            if !declared.is_empty() {
                for i in declared {
                    wide.push((i.tests.clone(), format!("declared for `{}`", i.glob)));
                }
            } else if let Some(p) = workspace.owner(path) {
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
    filters.extend(unknown_tests(&map.tests.iter().map(|t| &t.id).collect::<Vec<_>>()));
    filters.sort();
    filters.dedup();
    Plan::Selected(Selection { changes, tests, filters, reasons })
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
    } else if path.starts_with(".cargo/") {
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

/// Filtersets that select every test not in `known`: new tests of known binaries, and every
/// test of a binary the map has never seen.
fn unknown_tests(known: &[&TestId]) -> Vec<(String, String)> {
    let mut by_binary: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for t in known {
        by_binary.entry(&t.binary).or_default().push(&t.name);
    }
    let mut filters = Vec::new();
    for (binary, names) in &by_binary {
        let names: Vec<String> = names.iter().map(|n| format!("test(={n})")).collect();
        filters.push((
            format!("binary_id(={binary}) & not ({})", names.join(" | ")),
            "tests the map does not know".into(),
        ));
    }
    if by_binary.is_empty() {
        filters.push(("all()".into(), "the map knows no test".into()));
    } else {
        let binaries: Vec<String> = by_binary.keys().map(|b| format!("binary_id(={b})")).collect();
        filters.push((format!("not ({})", binaries.join(" | ")), "test binaries the map does not know".into()));
    }
    filters
}

impl Selection {
    /// The nextest arguments that run the selection: one `-E` per filterset (nextest runs the
    /// tests any of them selects), the map's tests grouped by binary.
    pub fn nextest_args(&self, map: &Map) -> Vec<String> {
        let mut by_binary: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for &t in &self.tests {
            let id = &map.tests[t].id;
            by_binary.entry(&id.binary).or_default().push(&id.name);
        }
        let mut args = Vec::new();
        for (binary, names) in by_binary {
            let names: Vec<String> = names.iter().map(|n| format!("test(={n})")).collect();
            args.push("-E".to_owned());
            args.push(format!("binary_id(={binary}) & ({})", names.join(" | ")));
        }
        for (filter, _) in &self.filters {
            args.push("-E".to_owned());
            args.push(filter.clone());
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impact::map::{TestEntry, Validity};
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
        let inputs = [TestInput { glob: "Dockerfile".into(), tests: "binary(smoke_run)".into() }];
        let s = selected(plan(&m, &with(&m, "Dockerfile", "c2"), &[], &workspace(), &inputs, &|_| None));
        assert!(s.filters.iter().any(|(f, _)| f == "binary(smoke_run)"), "{:?}", s.filters);
        assert!(!s.filters.iter().any(|(f, _)| f.contains("rdeps")));
        let s = selected(plan(&m, &with(&m, "app/openapi.json", "e2"), &[], &workspace(), &inputs, &|_| None));
        assert!(s.filters.iter().any(|(f, _)| f == "rdeps(=app)"), "{:?}", s.filters);
        let s = selected(plan(&m, &with(&m, "docs/x.md", "d2"), &[], &workspace(), &inputs, &|_| None));
        assert!(s.reasons[0].contains("no test covers or declares it"), "{:?}", s.reasons);
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
    }

    #[test]
    fn new_tests_are_selected_by_what_the_map_does_not_know() {
        let m = map();
        let s = selected(plan(&m, &m.tree, &[], &workspace(), &[], &|_| None));
        let filters: Vec<&str> = s.filters.iter().map(|(f, _)| f.as_str()).collect();
        assert!(
            filters.contains(&"binary_id(=app::api) & not (test(=users::register) | test(=cashback::rate))"),
            "{filters:?}"
        );
        assert!(filters.contains(&"not (binary_id(=app::api) | binary_id(=xtask::smoke_run))"), "{filters:?}");
        let args = s.nextest_args(&m);
        assert_eq!(args[0], "-E");
        assert_eq!(args[1], "binary_id(=xtask::smoke_run) & (test(=smoke))");
    }
}

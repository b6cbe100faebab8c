//! Which tests each mutant runs, from the per-test map of the last full coverage run.
//!
//! - With a usable map, a mutant runs the tests that covered a line of its span. A mutant that
//!   no test covers is not run: its lines are uncovered, which is the patch gate's business.
//! - What changed since the map's run can make new tests reach a line (a test added or
//!   edited), and moves the lines of a changed file. So every mutant also runs what an
//!   impact-aware run would select for that change (`impact::select`), and a mutant in a
//!   file changed since the map runs that selection alone: its lines are not the map's. A
//!   mutant of an unchanged file that no test of the map covers stays unrun: a new test may
//!   cover it, which the next full coverage run tells (the gate says the map is older).
//! - Without a usable map (none yet, another toolchain or lockfile, or a change that an
//!   impact-aware run answers with "everything"), a mutant runs every test of its package, as
//!   cargo-mutants does, and the run says why.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;

use super::list::Mutant;
use crate::Context;
use crate::impact::map::{Map, TestId};
use crate::impact::select::{Plan as ImpactPlan, Selection};
use crate::impact::workspace::Workspace;
use crate::impact::{self, Decision};

/// The tests one run executes: tests of the map, nextest filtersets, whole packages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestSet {
    pub tests: BTreeSet<usize>,
    pub filters: BTreeSet<String>,
    pub packages: BTreeSet<String>,
    /// The packages the filtersets are limited to (they name no test outside them); empty:
    /// a filterset may name any test of the workspace.
    pub filters_within: BTreeSet<String>,
}

impl TestSet {
    pub fn is_empty(&self) -> bool {
        self.tests.is_empty() && self.filters.is_empty() && self.packages.is_empty()
    }

    pub fn extend(&mut self, other: &TestSet) {
        let unlimited = |s: &TestSet| !s.filters.is_empty() && s.filters_within.is_empty();
        if unlimited(self) || unlimited(other) {
            self.filters_within.clear();
        } else {
            self.filters_within.extend(other.filters_within.iter().cloned());
        }
        self.tests.extend(other.tests.iter().copied());
        self.filters.extend(other.filters.iter().cloned());
        self.packages.extend(other.packages.iter().cloned());
    }

    /// "3 tests", "the tests of app", "2 tests and 1 filterset": for a progress line.
    pub fn brief(&self) -> String {
        let mut parts = Vec::new();
        match self.tests.len() {
            0 => {}
            1 => parts.push("1 test".to_owned()),
            n => parts.push(format!("{n} tests")),
        }
        match self.filters.len() {
            0 => {}
            1 => parts.push("1 filterset".to_owned()),
            n => parts.push(format!("{n} filtersets")),
        }
        if !self.packages.is_empty() {
            let names: Vec<&str> = self.packages.iter().map(String::as_str).collect();
            parts.push(format!("the tests of {}", names.join(", ")));
        }
        parts.join(" and ")
    }

    /// nextest's `-E` arguments that select these tests (any of them).
    pub fn filter_args(&self, map: Option<&Map>) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(map) = map
            && !(self.tests.is_empty() && self.filters.is_empty())
        {
            let selection = Selection {
                changes: Default::default(),
                tests: self.tests.clone(),
                filters: self.filters.iter().map(|f| (f.clone(), String::new())).collect(),
                reasons: Vec::new(),
            };
            args.extend(selection.nextest_args(map));
        }
        for package in &self.packages {
            args.push("-E".to_owned());
            args.push(format!("package(={package})"));
        }
        args
    }

    /// cargo's package and target arguments that build what the tests need, and little else:
    /// the test binaries of the map's tests when that is all; whole packages otherwise (those
    /// the filtersets are limited to among them); the workspace when a filterset may name any
    /// test.
    pub fn build_args(&self, map: Option<&Map>, exclusions: &[String]) -> Vec<String> {
        let anywhere = !self.filters.is_empty() && self.filters_within.is_empty();
        if anywhere || self.is_empty() {
            let mut args = vec!["--workspace".to_owned()];
            args.extend(exclusions.iter().cloned());
            return args;
        }
        let mut packages: BTreeSet<&str> = self.packages.iter().map(String::as_str).collect();
        if !self.filters.is_empty() {
            packages.extend(self.filters_within.iter().map(String::as_str));
        }
        let mut targets: BTreeSet<String> = BTreeSet::new();
        let whole = !packages.is_empty();
        for &t in &self.tests {
            let Some(entry) = map.and_then(|m| m.tests.get(t)) else { continue };
            // nextest's binary ids: `pkg` (unit tests), `pkg::bin/name`, `pkg::name` (a test target).
            let (package, target) = match entry.id.binary.split_once("::") {
                None => (entry.id.binary.as_str(), "--lib".to_owned()),
                Some((p, t)) => match t.split_once('/') {
                    Some((kind, name)) => (p, format!("--{kind}={name}")),
                    None => (p, format!("--test={t}")),
                },
            };
            packages.insert(package);
            targets.insert(target);
        }
        let mut args: Vec<String> = packages.iter().map(|p| format!("--package={p}")).collect();
        if !whole {
            args.extend(targets);
        }
        args
    }
}

/// The mutants to run, each with its tests, and those that no test covers.
pub struct Planned {
    pub run: Vec<(Mutant, TestSet)>,
    pub uncovered: Vec<Mutant>,
    /// How the tests were chosen, as one line.
    pub how: String,
    /// More about it (the files changed since the map), a line each.
    pub notes: Vec<String>,
    pub map: Option<Map>,
}

/// Each mutant's tests (module docs).
pub fn plan(cx: &Context, mutants: Vec<Mutant>) -> Result<Planned> {
    let Decision { map, plan } = impact::decide(cx, &[])?;
    let (map, change) = match (map, plan) {
        (Some(map), ImpactPlan::Selected(s)) => (map, s),
        (_, ImpactPlan::Everything(why)) => return Ok(by_package(mutants, &why)),
        (None, ImpactPlan::Selected(_)) => unreachable!("a selection comes from a map"),
    };
    let workspace = Workspace::load(&cx.cargo, &cx.root)?;
    Ok(from_map(map, &change, mutants, &|package: &str| dependents(&workspace, package)))
}

/// The package and every workspace package that depends on it, directly or not: the packages
/// whose tests can run its code.
pub fn dependents(workspace: &Workspace, package: &str) -> BTreeSet<String> {
    let mut found: BTreeSet<String> = [package.to_owned()].into();
    loop {
        let more: Vec<String> = (workspace.packages.iter())
            .filter(|p| !found.contains(&p.name) && p.deps.iter().any(|d| found.contains(d)))
            .map(|p| p.name.clone())
            .collect();
        if more.is_empty() {
            return found;
        }
        found.extend(more);
    }
}

/// Every mutant runs its package's tests, because the map cannot say (`why`).
fn by_package(mutants: Vec<Mutant>, why: &str) -> Planned {
    let run = mutants
        .into_iter()
        .map(|m| {
            let tests = TestSet { packages: [m.package.clone()].into(), ..TestSet::default() };
            (m, tests)
        })
        .collect();
    Planned {
        run,
        uncovered: Vec::new(),
        how: format!("each mutant runs the tests of its package: {why}"),
        notes: Vec::new(),
        map: None,
    }
}

/// The map's tests for each mutant, widened by what changed since the map's run: by the tests
/// that change selects among those that can run the mutant's package (`dependents`).
fn from_map(
    map: Map,
    change: &Selection,
    mutants: Vec<Mutant>,
    dependents: &dyn Fn(&str) -> BTreeSet<String>,
) -> Planned {
    let changed: BTreeSet<&str> = change.changes.paths().into_iter().collect();
    let since = TestSet {
        tests: change.tests.clone(),
        filters: change.filters.iter().map(|(f, _)| f.clone()).collect(),
        packages: BTreeSet::new(),
        filters_within: BTreeSet::new(),
    };
    let mut narrowed: BTreeMap<String, TestSet> = BTreeMap::new();
    let mut run = Vec::new();
    let mut uncovered = Vec::new();
    let mut stale_files = BTreeSet::new();
    for m in mutants {
        let mut tests = (narrowed.entry(m.package.clone()))
            .or_insert_with(|| {
                let can_run = dependents(&m.package);
                let package_of = |t: &usize| map.tests[*t].id.binary.split("::").next().unwrap_or_default().to_owned();
                let rdeps: Vec<String> = can_run.iter().map(|p| format!("package(={p})")).collect();
                // A filterset that can name no test of these packages is left out.
                let filters: BTreeSet<String> = (since.filters.iter())
                    .filter(|f| filter_reach(f, dependents).is_none_or(|r| !r.is_disjoint(&can_run)))
                    .map(|f| format!("({f}) & ({})", rdeps.join(" | ")))
                    .collect();
                TestSet {
                    tests: since.tests.iter().filter(|t| can_run.contains(&package_of(t))).copied().collect(),
                    filters_within: if filters.is_empty() { BTreeSet::new() } else { can_run.clone() },
                    filters,
                    packages: BTreeSet::new(),
                }
            })
            .clone();
        if changed.contains(m.file.as_str()) {
            stale_files.insert(m.file.clone());
        } else {
            let lines = m.lines();
            let covering: Vec<usize> = map
                .tests_touching(&m.file)
                .filter(|&t| map.lines(&m.file, t).iter().any(|l| lines.contains(l)))
                .collect();
            if covering.is_empty() {
                uncovered.push(m);
                continue;
            }
            tests.tests.extend(covering);
        }
        if tests.is_empty() {
            uncovered.push(m);
        } else {
            run.push((m, tests));
        }
    }
    let mut notes = Vec::new();
    if !change.changes.is_empty() {
        notes.push(format!(
            "{} changed since the map's run: every mutant also runs {} (what an impact-aware run selects; \
             a full `cargo xtask coverage` records the map again)",
            change.changes.brief(3),
            if since.is_empty() { "no more tests".to_owned() } else { since.brief() }
        ));
    }
    for file in &stale_files {
        notes.push(format!("{file} changed since the map's run: its mutants run that selection alone"));
    }
    let how = format!(
        "each mutant runs the tests that cover its lines (map of {}, {}, {} tests)",
        map.commit,
        impact::ago(map.recorded),
        map.tests.len()
    );
    Planned { run, uncovered, how, notes, map: Some(map) }
}

/// The packages whose tests a nextest filterset can name, when its text bounds them: a
/// `package(=P)`, `binary_id(=P…)` or `rdeps(=P)` (P and its `dependents`) predicate, combined
/// by union, intersection (bounded by any bounded side) or difference (by its left side).
/// `None` when it may name any test: another predicate, `not`, a matcher that is not `=`.
pub fn filter_reach(filter: &str, dependents: &dyn Fn(&str) -> BTreeSet<String>) -> Option<BTreeSet<String>> {
    let f = without_outer_parens(filter.trim());
    let union = split_top(f, &["|", "+", " or "]);
    if union.len() > 1 {
        let mut all = BTreeSet::new();
        for part in union {
            all.extend(filter_reach(part, dependents)?);
        }
        return Some(all);
    }
    let both = split_top(f, &["&", " and "]);
    if both.len() > 1 {
        return both.iter().filter_map(|part| filter_reach(part, dependents)).reduce(|a, b| &a & &b);
    }
    let minus = split_top(f, &[" - "]);
    if minus.len() > 1 {
        return filter_reach(minus[0], dependents);
    }
    let (name, rest) = f.split_once("(=")?;
    let arg = rest.strip_suffix(')').filter(|a| !a.contains([')', '(', ' ']))?;
    match name {
        "package" => Some([arg.to_owned()].into()),
        "binary_id" => Some([arg.split("::").next().unwrap_or(arg).to_owned()].into()),
        "rdeps" => Some(dependents(arg)),
        _ => None,
    }
}

/// Whether a nextest filterset names `test`, as far as its text tells: `Some` for the
/// predicates a binary id and a test name decide (`package`, `binary_id`, `rdeps` and `test`
/// with `=`, `rdeps` naming P and its `dependents`; `kind` where the binary id shows it;
/// `all()`, `none()`), combined by `|`, `&`, `-` and `not`; `None` when it cannot tell, which a
/// caller takes as "it may".
pub fn filter_names(filter: &str, test: &TestId, dependents: &dyn Fn(&str) -> BTreeSet<String>) -> Option<bool> {
    let f = without_outer_parens(filter.trim());
    let union = split_top(f, &["|", "+", " or "]);
    if union.len() > 1 {
        let each: Vec<Option<bool>> = union.iter().map(|part| filter_names(part, test, dependents)).collect();
        return decided(&each, true);
    }
    let both = split_top(f, &["&", " and "]);
    if both.len() > 1 {
        let each: Vec<Option<bool>> = both.iter().map(|part| filter_names(part, test, dependents)).collect();
        return decided(&each, false);
    }
    let minus = split_top(f, &[" - "]);
    if minus.len() > 1 {
        let rest = minus[1..].join(" | ");
        return match (filter_names(minus[0], test, dependents), filter_names(&rest, test, dependents)) {
            (Some(false), _) | (_, Some(true)) => Some(false),
            (Some(true), Some(false)) => Some(true),
            _ => None,
        };
    }
    if let Some(inner) = f.strip_prefix("not ").or_else(|| f.strip_prefix("!")) {
        return filter_names(inner, test, dependents).map(|named| !named);
    }
    match f {
        "all()" => return Some(true),
        "none()" => return Some(false),
        _ => {}
    }
    let (name, rest) = f.split_once('(')?;
    let arg = rest.strip_suffix(')')?;
    let (package, kind) = match test.binary.split_once("::") {
        None => (test.binary.as_str(), None),
        Some((p, rest)) => (p, Some(rest.split_once('/').map_or("test", |(k, _)| k))),
    };
    if name == "kind" {
        // A binary id without `::` is a library's (or a proc-macro's: nextest tells them apart).
        return match (kind, arg) {
            (Some(k), _) => Some(k == arg),
            (None, "lib" | "proc-macro") => None,
            (None, _) => Some(false),
        };
    }
    let exact = arg.strip_prefix('=')?;
    match name {
        "package" => Some(package == exact),
        "binary_id" => Some(test.binary == exact),
        "rdeps" => Some(dependents(exact).contains(package)),
        "test" => Some(test.name == exact),
        _ => None,
    }
}

/// A union's (`wins` true) or an intersection's (`wins` false) answer: `wins` when any part
/// says so, `None` when a part cannot tell, else the other way.
fn decided(each: &[Option<bool>], wins: bool) -> Option<bool> {
    if each.contains(&Some(wins)) {
        Some(wins)
    } else if each.contains(&None) {
        None
    } else {
        Some(!wins)
    }
}

/// `text` without parentheses that enclose all of it.
fn without_outer_parens(text: &str) -> &str {
    let mut t = text;
    while let Some(inner) = t.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
        if inner_closes_early(inner) {
            break;
        }
        t = inner.trim();
    }
    t
}

/// Whether a `)` in `inner` closes the outer `(`: `(a) & (b)` is not wrapped whole.
fn inner_closes_early(inner: &str) -> bool {
    let mut depth = 0i32;
    for c in inner.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// `text` split at each of `operators` outside parentheses.
fn split_top<'t>(text: &'t str, operators: &[&str]) -> Vec<&'t str> {
    let mut parts = Vec::new();
    let (mut depth, mut start, mut i) = (0i32, 0, 0);
    let bytes = text.as_bytes();
    while i < bytes.len() {
        match bytes[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            _ if depth == 0 && text.is_char_boundary(i) => {
                if let Some(op) = operators.iter().find(|op| text[i..].starts_with(**op)) {
                    parts.push(text[start..i].trim());
                    i += op.len();
                    start = i;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(text[start..].trim());
    parts
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::impact::map::{FORMAT, TestEntry, TestId, Validity};
    use crate::snapshot::Changes;

    fn map() -> Map {
        let test = |binary: &str, name: &str| TestEntry {
            id: TestId { binary: binary.into(), name: name.into() },
            passed: true,
        };
        let mut files = BTreeMap::new();
        files.insert("a/src/lib.rs".to_owned(), [(0, "1-5".to_owned()), (1, "4-9".to_owned())].into_iter().collect());
        Map {
            format: FORMAT,
            validity: Validity::default(),
            recorded: 0,
            commit: "abc".into(),
            tree: Default::default(),
            rust: BTreeMap::new(),
            tests: vec![test("a", "tests::weak"), test("a::it", "strong"), test("b::bin/b", "runs")],
            files,
            unattributed: 0,
        }
    }

    fn mutant(file: &str, lines: (u32, u32)) -> Mutant {
        use super::super::list::Position;
        Mutant {
            package: "a".into(),
            file: file.into(),
            start: Position { line: lines.0, column: 1 },
            end: Position { line: lines.1, column: 2 },
            replacement: "x".into(),
            what: "replace".into(),
            genre: "FnValue".into(),
        }
    }

    fn no_change() -> Selection {
        Selection { changes: Changes::default(), tests: BTreeSet::new(), filters: Vec::new(), reasons: Vec::new() }
    }

    #[test]
    fn a_mutant_runs_the_tests_that_cover_its_lines_and_an_uncovered_one_none() {
        let planned = from_map(
            map(),
            &no_change(),
            vec![
                mutant("a/src/lib.rs", (2, 2)),
                mutant("a/src/lib.rs", (4, 4)),
                mutant("a/src/lib.rs", (12, 14)),
                mutant("a/src/other.rs", (1, 1)),
            ],
            &dependents_of_a,
        );
        let tests: Vec<Vec<usize>> = planned.run.iter().map(|(_, t)| t.tests.iter().copied().collect()).collect();
        assert_eq!(tests, vec![vec![0], vec![0, 1]]);
        let uncovered: Vec<String> = planned.uncovered.iter().map(|m| format!("{}:{}", m.file, m.start.line)).collect();
        assert_eq!(uncovered, ["a/src/lib.rs:12", "a/src/other.rs:1"]);
        assert!(planned.notes.is_empty(), "{:?}", planned.notes);
    }

    #[test]
    fn a_change_since_the_map_widens_every_mutant_and_replaces_a_changed_files_lines() {
        let change = Selection {
            changes: Changes { modified: vec!["a/src/lib.rs".into()], ..Changes::default() },
            tests: [2].into(),
            filters: vec![("binary_id(=a::it)".into(), "why".into())],
            reasons: Vec::new(),
        };
        let planned = from_map(
            map(),
            &change,
            vec![mutant("a/src/lib.rs", (12, 14)), mutant("a/src/other.rs", (1, 1)), mutant("a/src/b.rs", (1, 1))],
            &dependents_of_a,
        );
        // lib.rs changed: the selection alone. b.rs did not, and no test of the map covers it.
        let uncovered: Vec<&str> = planned.uncovered.iter().map(|m| m.file.as_str()).collect();
        assert_eq!(uncovered, ["a/src/other.rs", "a/src/b.rs"]);
        assert_eq!(planned.run.len(), 1);
        let (_, tests) = &planned.run[0];
        assert_eq!(tests.tests, [2].into());
        // Narrowed to the tests that can run package a's code: a's and its dependent b's.
        assert_eq!(tests.filters, ["(binary_id(=a::it)) & (package(=a) | package(=b))".to_owned()].into());
        assert!(planned.notes.iter().any(|n| n.contains("a/src/lib.rs changed since")), "{:?}", planned.notes);
        // An unchanged file's covered mutant: its covering tests and the selection.
        let mut change = change;
        change.changes.modified = vec!["a/src/other.rs".into()];
        let planned = from_map(map(), &change, vec![mutant("a/src/lib.rs", (2, 2))], &dependents_of_a);
        assert_eq!(planned.run[0].1.tests, [0, 2].into());
        // A package nothing else depends on: b's test cannot run its code, and is left out; so is
        // the filterset, which names a test of package a only.
        let mut m = mutant("a/src/lib.rs", (2, 2));
        m.package = "alone".into();
        let planned = from_map(map(), &change, vec![m], &dependents_of_a);
        assert_eq!(planned.run[0].1.tests, [0].into());
        assert!(planned.run[0].1.filters.is_empty(), "{:?}", planned.run[0].1.filters);
    }

    #[test]
    fn a_filtersets_reach_is_the_packages_it_can_name_or_none() {
        let reach = |f: &str| filter_reach(f, &dependents_of_a).map(|r| r.into_iter().collect::<Vec<_>>());
        let some = |names: &[&str]| Some(names.iter().map(|n| n.to_string()).collect::<Vec<_>>());
        assert_eq!(reach("package(=x-core)"), some(&["x-core"]));
        assert_eq!(reach("binary_id(=b::bin/b)"), some(&["b"]));
        assert_eq!(reach("rdeps(=a)"), some(&["a", "b"]));
        // Each form the impact rules write (select.rs).
        assert_eq!(reach("package(=c) & (kind(lib) | kind(bin))"), some(&["c"]));
        assert_eq!(reach("binary_id(=c::it) & not (test(=x) | test(=y))"), some(&["c"]));
        assert_eq!(reach("package(=c) & kind(test)"), some(&["c"]));
        // As the plan narrows them: the intersection.
        assert_eq!(reach("(rdeps(=a)) & (package(=b) | package(=c))"), some(&["b"]));
        assert_eq!(reach("(rdeps(=c)) & (package(=a) | package(=b))"), some(&[]));
        assert_eq!(reach("((package(=c)))"), some(&["c"]));
        assert_eq!(reach("package(=a) | binary_id(=c::it)"), some(&["a", "c"]));
        assert_eq!(reach("package(=a) - test(=x)"), some(&["a"]));
        // Anything else may name any test.
        for open in [
            "test(=x)",
            "kind(lib)",
            "not package(=a)",
            "package(a)",
            "package(=a) | test(=x)",
            "(package(=a)) | (kind(bin))",
            "all()",
            "test(=é) | package(=a)",
        ] {
            assert_eq!(reach(open), None, "{open}");
        }
    }

    #[test]
    fn a_filterset_names_a_test_by_its_binary_id_and_name_or_cannot_tell() {
        let id = |binary: &str, name: &str| TestId { binary: binary.into(), name: name.into() };
        let names = |f: &str, t: &TestId| filter_names(f, t, &dependents_of_a);
        let (unit, it, bin) = (id("a", "m::unit"), id("a::it", "strong"), id("b::bin/b", "runs"));
        // The impact rules' forms (select.rs).
        let unit_tests = "package(=a) & (kind(lib) | kind(bin))";
        assert_eq!(names(unit_tests, &it), Some(false), "an integration test is neither");
        assert_eq!(names(unit_tests, &bin), Some(false), "another package's");
        assert_eq!(names(unit_tests, &unit), None, "a library's or a proc-macro's unit test");
        assert_eq!(names("binary_id(=a::it) & not (test(=weak) | test(=other))", &it), Some(true));
        assert_eq!(names("binary_id(=a::it) & not (test(=strong))", &it), Some(false));
        assert_eq!(names("package(=a) & kind(test)", &it), Some(true));
        assert_eq!(names("rdeps(=a)", &bin), Some(true));
        assert_eq!(names("(rdeps(=a)) & (package(=a))", &bin), Some(false));
        assert_eq!(names("binary_id(=a::it) | (binary_id(=b::bin/b) & test(=runs))", &bin), Some(true));
        assert_eq!(names("binary_id(=a::it) | (binary_id(=b::bin/b) & test(=x))", &bin), Some(false));
        assert_eq!(names("package(=a) - test(=strong)", &it), Some(false));
        assert_eq!(names("all() - package(=b)", &it), Some(true));
        assert_eq!(names("none()", &it), Some(false));
        // What the text does not decide: a matcher other than `=`, an unknown predicate.
        assert_eq!(names("test(strong)", &it), None);
        assert_eq!(names("test(/^str/)", &it), None);
        assert_eq!(names("binary_id(=b::bin/b) & test(/^str/)", &it), Some(false));
        assert_eq!(names("package(=b) | platform(target)", &it), None);
        assert_eq!(names("package(=b) & platform(target)", &it), Some(false));
        assert_eq!(names("not platform(target)", &it), None);
    }

    #[test]
    fn a_change_s_filterset_that_can_name_no_test_of_the_mutant_s_package_is_left_out() {
        let change = Selection {
            changes: Changes { modified: vec!["c/src/lib.rs".into()], ..Changes::default() },
            tests: BTreeSet::new(),
            filters: vec![("rdeps(=c)".into(), "why".into()), ("test(=t)".into(), "declared".into())],
            reasons: Vec::new(),
        };
        let planned = from_map(map(), &change, vec![mutant("a/src/lib.rs", (2, 2))], &dependents_of_a);
        assert_eq!(planned.run[0].1.filters, ["(test(=t)) & (package(=a) | package(=b))".to_owned()].into());
    }

    /// b depends on a.
    fn dependents_of_a(package: &str) -> BTreeSet<String> {
        if package == "a" { ["a".to_owned(), "b".to_owned()].into() } else { [package.to_owned()].into() }
    }

    #[test]
    fn the_build_is_narrowed_to_the_test_binaries_when_it_can_be() {
        let map = map();
        let set = TestSet { tests: [0, 2].into(), ..TestSet::default() };
        assert_eq!(set.build_args(Some(&map), &[]), ["--package=a", "--package=b", "--bin=b", "--lib"]);
        let set = TestSet { tests: [1].into(), packages: ["c".into()].into(), ..TestSet::default() };
        assert_eq!(set.build_args(Some(&map), &[]), ["--package=a", "--package=c"]);
        let set = TestSet { filters: ["rdeps(=a)".into()].into(), ..TestSet::default() };
        let excl = ["--exclude".to_owned(), "xtask".to_owned()];
        assert_eq!(set.build_args(Some(&map), &excl), ["--workspace", "--exclude", "xtask"]);
        // Filtersets limited to packages (a change since the map, narrowed): those packages whole.
        let limited = TestSet {
            tests: [2].into(),
            filters: ["(rdeps(=a)) & (package(=a))".into()].into(),
            filters_within: ["a".into()].into(),
            ..TestSet::default()
        };
        assert_eq!(limited.build_args(Some(&map), &excl), ["--package=a", "--package=b"]);
        // A union with an unlimited filterset may name any test again.
        let mut union = limited.clone();
        union.extend(&set);
        assert_eq!(union.build_args(Some(&map), &excl), ["--workspace", "--exclude", "xtask"]);
        let mut union = limited.clone();
        union.extend(&TestSet { tests: [0].into(), ..TestSet::default() });
        assert_eq!(union.filters_within, ["a".to_owned()].into());
        let set = TestSet { tests: [1].into(), packages: ["c".into()].into(), ..TestSet::default() };
        assert_eq!(set.filter_args(Some(&map)), ["-E", "binary_id(=a::it)", "-E", "package(=c)"]);
        assert_eq!(set.brief(), "1 test and the tests of c");
    }
}

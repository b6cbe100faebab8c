//! Reports written by real coverage tools (see fixtures/producers/README.md), graded through
//! the CLI and checked against each producer's own totals.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn producers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/producers")
}

/// `key=value` lines of a `.expected` file.
fn expected(name: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(producers().join(format!("{name}.expected"))).unwrap();
    text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

fn number(map: &BTreeMap<String, String>, key: &str) -> u64 {
    map[key].parse().unwrap_or_else(|_| panic!("{key} is a number"))
}

/// The totals we must report: the producer's own, unless the `.expected` file documents
/// (in `note=`) why its summary counts differ from the unique lines in its XML.
fn want(map: &BTreeMap<String, String>, metric: &str) -> (u64, u64) {
    let unique = format!("xml_unique_{metric}_covered");
    if map.contains_key(&unique) {
        assert!(map.contains_key("note"), "a difference from the producer's totals must be explained");
        (number(map, &unique), number(map, &format!("xml_unique_{metric}_valid")))
    } else {
        (number(map, &format!("{metric}_covered")), number(map, &format!("{metric}_valid")))
    }
}

fn graded(name: &str, metric: &str) -> serde_json::Value {
    let path = producers().join(format!("{name}.xml"));
    let run = support::grade(&path, &["--format", "json", "--metric", metric, "--fail-under", "0"]);
    assert_eq!(run.code, 0, "{name}: {run:?}");
    serde_json::from_str(&run.stdout).unwrap()
}

fn check(name: &str) {
    let map = expected(name);
    let v = graded(name, "lines");
    let got = (v["totals"]["covered"].as_u64().unwrap(), v["totals"]["valid"].as_u64().unwrap());
    assert_eq!(got, want(&map, "lines"), "{name} lines ({})", map["producer"]);
    assert_eq!(v["source"], "line-elements", "{name}");
    if map.contains_key("branches_valid") {
        let v = graded(name, "branches");
        let got = (v["totals"]["covered"].as_u64().unwrap(), v["totals"]["valid"].as_u64().unwrap());
        assert_eq!(got, want(&map, "branches"), "{name} branches ({})", map["producer"]);
    }
}

#[test]
fn coverage_py_line_mode() {
    check("coveragepy");
}

#[test]
fn coverage_py_branch_mode() {
    check("coveragepy-branch");
    // coverage.py's terminal TOTAL mixes statements and branches, so it differs from the line rate.
    let map = expected("coveragepy-branch");
    let mixed = (number(&map, "lines_covered") + number(&map, "branches_covered")) * 100
        / (number(&map, "lines_valid") + number(&map, "branches_valid"));
    assert_eq!(
        mixed,
        number(&map, "report_total_percent"),
        "TOTAL = (statements + branches) hit / (statements + branches)"
    );
    let lines = graded("coveragepy-branch", "lines");
    assert_ne!(lines["totals"]["percent"].as_f64().unwrap().floor() as u64, mixed);
}

#[test]
fn cargo_llvm_cov() {
    check("llvmcov");
}

#[test]
fn grcov() {
    check("grcov");
}

#[test]
fn istanbul_c8() {
    check("c8");
}

#[test]
fn istanbul_nyc() {
    check("nyc");
}

#[test]
fn every_fixture_is_checked() {
    let mut names: Vec<String> = std::fs::read_dir(producers())
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".xml")).map(str::to_owned))
        .collect();
    names.sort();
    for name in &names {
        assert!(producers().join(format!("{name}.expected")).exists(), "{name}.xml has no .expected file");
    }
    let tested = ["c8", "coveragepy", "coveragepy-branch", "grcov", "llvmcov", "nyc"];
    for name in &names {
        assert!(tested.contains(&name.as_str()), "{name}.xml is not checked by a test here");
    }
}

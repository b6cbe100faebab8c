//! The xtask copied into another workspace keeps its own formatting: `xtask/rustfmt.toml`
//! governs `xtask/`, the host's `rustfmt.toml` governs the rest, and neither leaks into the
//! other's files. Real rustfmt (a rustup component, there whenever the suite builds); no cargo.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::Scratch;

/// A host whose style is far from the xtask's.
const HOST_RUSTFMT: &str = "max_width = 60\nhard_tabs = true\n";

/// A host file as the host's rustfmt writes it: tabs, and a chain too long for 60 columns.
const HOST_FORMATTED: &str = "pub fn doubled_total(prices: &[u32]) -> u32 {
\tprices
\t\t.iter()
\t\t.filter(|price| **price > 0)
\t\t.map(|price| price * 2)
\t\t.sum()
}
";

/// The same function as the xtask's style writes it.
const XTASK_FORMATTED: &str = "pub fn doubled_total(prices: &[u32]) -> u32 {
    prices.iter().filter(|price| **price > 0).map(|price| price * 2).sum()
}
";

/// `rustfmt --check` from the host's root over `files`: its exit code and what it reported.
fn rustfmt_check(host: &Path, files: &[PathBuf]) -> (i32, String) {
    let out = Command::new("rustfmt")
        .args(["--check", "--edition", "2024", "--color", "never"])
        .args(files)
        .current_dir(host)
        .output()
        .expect("rustfmt runs (rustup component add rustfmt)");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), report)
}

/// The files a `rustfmt --check` report would change (relative to `host`), each once: the whole
/// diff of a copied xtask is thousands of lines.
fn changed(report: &str, host: &Path) -> Vec<String> {
    let files: std::collections::BTreeSet<String> = report
        .lines()
        .filter_map(|l| l.strip_prefix("Diff in ")?.trim_end_matches(':').rsplit_once(':'))
        .map(|(file, _line)| Path::new(file).strip_prefix(host).unwrap_or(Path::new(file)).display().to_string())
        .collect();
    files.into_iter().collect()
}

/// The xtask's Rust files under `dir` (relative to `host`), leaving out the crates that are a
/// workspace of their own (a benchmark's reference, a coverage fixture): `cargo fmt --all`
/// never reaches them, in this repository or in a host.
fn xtask_sources(host: &Path, dir: &Path, found: &mut Vec<PathBuf>) {
    let manifest = std::fs::read_to_string(host.join(dir).join("Cargo.toml")).unwrap_or_default();
    if dir != Path::new("xtask") && manifest.lines().any(|l| l.trim() == "[workspace]") {
        return;
    }
    for entry in std::fs::read_dir(host.join(dir)).unwrap() {
        let entry = entry.unwrap();
        let path = dir.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            xtask_sources(host, &path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn a_copied_xtask_keeps_its_style_and_the_host_keeps_its_own() {
    let host = Scratch::new("own-style");
    host.write("rustfmt.toml", HOST_RUSTFMT);
    host.write("src/lib.rs", HOST_FORMATTED);
    support::copy_files(&host.0, &["xtask"]);
    let mut sources = Vec::new();
    xtask_sources(&host.0, Path::new("xtask"), &mut sources);
    assert!(sources.len() > 50, "the xtask's sources were copied: {sources:?}");

    let (code, report) = rustfmt_check(&host.0, &sources);
    let files = changed(&report, &host.0);
    assert!(
        code == 0 && report.is_empty(),
        "the copied xtask follows xtask/rustfmt.toml, not the host's; rustfmt (exit {code}) would change {} files:\n{}\n{}",
        files.len(),
        files.join("\n"),
        if files.is_empty() { &report } else { "" }
    );

    // The host's files stay under the host's settings: its own formatting passes, the
    // xtask's is reported.
    let host_file = [PathBuf::from("src/lib.rs")];
    assert_eq!(rustfmt_check(&host.0, &host_file), (0, String::new()), "the host's file, formatted as the host says");
    host.write("src/lib.rs", XTASK_FORMATTED);
    let (code, report) = rustfmt_check(&host.0, &host_file);
    assert_eq!(code, 1, "the host's rustfmt.toml governs src/: {report}");

    // Without xtask/rustfmt.toml, the host's settings would reformat the xtask.
    std::fs::remove_file(host.path("xtask/rustfmt.toml")).expect("xtask/rustfmt.toml is in the copy");
    let (code, report) = rustfmt_check(&host.0, &sources);
    assert_eq!(code, 1, "the host's settings differ from the xtask's: {report}");
}

//! One cargo-llvm-cov 0.9.1 run of `xtask/tests/fixtures/producers/src/rust-sample`, written
//! both as LCOV (`--lcov`) and as Cobertura (`report --cobertura`), with the build folder
//! replaced by `/build/rust-sample`: both formats must give the same files and line tables.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use xtask_coverage::cobertura::{Counts, ParseOptions, Report};
use xtask_coverage::merge::{Merger, merge};
use xtask_coverage::write::write_cobertura;
use xtask_coverage::{Format, detect, parse_any, parse_any_file};

const ROOT: &str = "/build/rust-sample";

fn fixture(name: &str) -> Report {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let file = BufReader::new(File::open(&path).unwrap());
    parse_any_file(file, ParseOptions { branches: true }).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_formats_are_detected_by_content() {
    for (name, format) in [("llvmcov.info", Format::Lcov), ("llvmcov.xml", Format::Cobertura)] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
        let mut file = BufReader::new(File::open(path).unwrap());
        assert_eq!(detect(&mut file).unwrap(), (format, 0));
    }
}

#[test]
fn lcov_and_cobertura_of_one_run_give_the_same_lines() {
    let lcov = fixture("llvmcov.info");
    let xml = fixture("llvmcov.xml");
    assert_eq!(lcov.totals().0, Counts { covered: 61, valid: 79 });
    assert_eq!(lcov.totals().0, xml.totals().0);
    assert_eq!(xml.root.lines, Some(Counts { covered: 61, valid: 79 }));
    assert_eq!(lcov.files.len(), 4);
    for (l, x) in lcov.files.iter().zip(&xml.files) {
        assert_eq!(l.name, format!("{ROOT}/{}", x.name));
        assert_eq!(l.line_table, x.line_table, "{}", x.name);
    }

    // Merged, they are one tree: every file shared, the union equal to either.
    let m = merge(vec![("lcov.info".into(), lcov.clone()), ("cov.xml".into(), xml)], ROOT);
    assert_eq!(m.report.totals().0, Counts { covered: 61, valid: 79 });
    let names: Vec<_> = m.report.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["src/grading.rs", "src/lib.rs", "src/shapes.rs", "src/text.rs"]);
    assert!(m.inputs.iter().all(|i| (i.files, i.shared_files) == (4, 4)), "{:?}", m.inputs);
}

#[test]
fn lcov_split_into_shards_merges_back_and_round_trips_through_cobertura() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llvmcov.info")).unwrap();
    // Shard i keeps the i-th `DA:` of every three (all `SF:` records, so every file is shared).
    let mut merger = Merger::new(ROOT);
    for shard in 0..3 {
        let mut n = 0;
        let lines: String = text
            .lines()
            .filter(|line| {
                !line.starts_with("DA:") || {
                    n += 1;
                    n % 3 == shard
                }
            })
            .map(|line| format!("{line}\n"))
            .collect();
        let report = parse_any(lines.as_bytes(), ParseOptions { branches: true }).unwrap();
        merger.add(format!("shard-{shard}"), report);
    }
    let merged = merger.finish();
    let whole = fixture("llvmcov.info");
    assert_eq!(merged.report.totals(), whole.totals());
    for (m, w) in merged.report.files.iter().zip(&whole.files) {
        assert_eq!(format!("{ROOT}/{}", m.name), w.name);
        assert_eq!(m.line_table, w.line_table);
    }
    let valid: u64 = merged.inputs.iter().map(|i| i.lines.valid).sum();
    assert_eq!(valid, 79);

    let mut xml = Vec::new();
    write_cobertura(&merged.report, &mut xml).unwrap();
    let back = parse_any(xml.as_slice(), ParseOptions { branches: true }).unwrap();
    assert_eq!(back.files, merged.report.files);
    assert_eq!(back.root.lines, Some(Counts { covered: 61, valid: 79 }));
}

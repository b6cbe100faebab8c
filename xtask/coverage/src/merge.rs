//! Merging several reports (shards of one test run, or a Cobertura and an LCOV of one tree)
//! into one [`Report`].
//!
//! - **Files are keyed by repository path** ([`crate::patch::repo_key`]): a relative name
//!   joined with the report's first `<source>` that puts it under the repository root, an
//!   absolute name under the root made relative, `\` read as `/`, `./` dropped; otherwise the
//!   normalised name as written. So `src/lib.rs` under the source `/repo/app` and the LCOV
//!   `SF:/repo/app/src/lib.rs` are one file, `app/src/lib.rs`.
//! - **Lines are a union**: a line is listed when any input lists it, covered when any input
//!   covers it (one vote per line, as within one report).
//! - **Branches per line take the maximum** of each input's covered and total counts. A
//!   Cobertura report says how many of a line's branches were taken, not which, so two inputs
//!   that each took one of two branches may have taken the same one or both: the maximum is
//!   the exact answer when the inputs agree and a lower bound otherwise. Branch data comes from
//!   [`FileCoverage::branch_lines`], so parse with [`crate::cobertura::ParseOptions::branches`]
//!   to merge branches.
//! - The merged report has no root attributes (its counts come from its lines) and no
//!   sources (its names are the keys); `line_elements` is its number of distinct lines and
//!   `branch_elements` its number of lines with branch data.
//!
//! Memory is bounded by the distinct lines of the union plus a few words per input and per
//! file, not by the inputs' sizes: [`Merger::add`] folds one report in and drops it, so a
//! caller can parse and add one input at a time.

use std::collections::{BTreeMap, HashMap};

use crate::cobertura::{BranchLine, Counts, FileCoverage, LineTable, Report, branch_counts};
use crate::patch::repo_key;

/// What one input brought.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputSummary {
    /// The name the caller gave it (its path, say).
    pub name: String,
    /// Its own totals, as it would be graded alone.
    pub lines: Counts,
    pub branches: Counts,
    /// Its distinct file keys.
    pub files: usize,
    /// How many of those files at least one *other* input also has. 0 when there are several
    /// inputs means this one shares no file with the others: a shard of another tree?
    pub shared_files: usize,
}

/// The merged report and what each input brought, in the order they were added.
#[derive(Clone, Debug)]
pub struct Merged {
    pub report: Report,
    pub inputs: Vec<InputSummary>,
}

#[derive(Default)]
struct MergeFile {
    line_table: LineTable,
    /// line → (covered, total), the highest of each seen.
    branches: BTreeMap<u32, (u32, u32)>,
    /// The first and the latest input that has this file, and whether two inputs have it.
    first_input: usize,
    last_input: usize,
    shared: bool,
}

/// Merges reports one at a time.
pub struct Merger {
    repo_root: String,
    files: HashMap<String, MergeFile>,
    inputs: Vec<InputSummary>,
}

impl Merger {
    /// `repo_root` is the repository's absolute path.
    pub fn new(repo_root: &str) -> Merger {
        Merger { repo_root: repo_root.to_owned(), files: HashMap::new(), inputs: Vec::new() }
    }

    /// Folds `report` in.
    pub fn add(&mut self, name: impl Into<String>, report: Report) {
        let index = self.inputs.len();
        let (lines, branches) = report.totals();
        self.inputs.push(InputSummary { name: name.into(), lines, branches, files: 0, shared_files: 0 });
        for file in report.files {
            let key = repo_key(&file.name, &report.sources, &self.repo_root);
            let merged = match self.files.get_mut(&key) {
                Some(merged) => {
                    if merged.last_input != index {
                        self.inputs[index].files += 1;
                        // Now in two inputs at least: this input's file is shared, and so is
                        // the first input's, the first time it happens.
                        self.inputs[index].shared_files += 1;
                        if !merged.shared {
                            merged.shared = true;
                            self.inputs[merged.first_input].shared_files += 1;
                        }
                        merged.last_input = index;
                    }
                    merged
                }
                None => {
                    self.inputs[index].files += 1;
                    self.files.entry(key).or_insert(MergeFile {
                        first_input: index,
                        last_input: index,
                        ..MergeFile::default()
                    })
                }
            };
            merged.line_table.union(&file.line_table);
            for b in &file.branch_lines {
                let slot = merged.branches.entry(b.line).or_default();
                slot.0 = slot.0.max(b.covered);
                slot.1 = slot.1.max(b.total);
            }
        }
    }

    pub fn finish(self) -> Merged {
        let mut files: Vec<FileCoverage> = self
            .files
            .into_iter()
            .map(|(name, f)| {
                let line_table = f.line_table;
                let branch_lines: Vec<BranchLine> = f
                    .branches
                    .into_iter()
                    .map(|(line, (covered, total))| BranchLine { line, covered: covered.min(total), total })
                    .collect();
                FileCoverage {
                    name,
                    lines: line_table.counts(),
                    branches: branch_counts(&branch_lines),
                    line_table,
                    branch_lines,
                }
            })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        let line_elements = files.iter().map(|f| f.lines.valid).sum();
        let branch_elements = files.iter().map(|f| f.branch_lines.len() as u64).sum();
        let report = Report { files, line_elements, branch_elements, ..Report::default() };
        Merged { report, inputs: self.inputs }
    }
}

/// Merges `inputs` (name, report) in order; see the module docs. With many or large inputs,
/// prefer [`Merger`], which lets each report be dropped once added.
pub fn merge(inputs: Vec<(String, Report)>, repo_root: &str) -> Merged {
    let mut merger = Merger::new(repo_root);
    for (name, report) in inputs {
        merger.add(name, report);
    }
    merger.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cobertura::{self, ParseOptions};
    use crate::lcov;

    const ROOT: &str = "/work/repo";

    fn cobertura(sources: &[&str], files: &[(&str, &[(u32, u32)])]) -> Report {
        let sources: String = sources.iter().map(|s| format!("<source>{s}</source>")).collect();
        let classes: String = files
            .iter()
            .map(|(name, lines)| {
                let lines: String = lines
                    .iter()
                    .map(|&(n, hits)| {
                        // Lines from 100 on carry two branches, `hits` of them taken (at most 2).
                        if n >= 100 {
                            let c = hits.min(2);
                            format!(
                                r#"<line number="{n}" hits="{hits}" branch="true" condition-coverage="{}% ({c}/2)"/>"#,
                                c * 50
                            )
                        } else {
                            format!(r#"<line number="{n}" hits="{hits}"/>"#)
                        }
                    })
                    .collect();
                format!(r#"<class filename="{name}"><lines>{lines}</lines></class>"#)
            })
            .collect();
        let xml = format!(
            "<coverage lines-covered=\"0\" lines-valid=\"99\"><sources>{sources}</sources><packages><package><classes>{classes}</classes></package></packages></coverage>"
        );
        cobertura::parse(xml.as_bytes(), ParseOptions { branches: true }).unwrap()
    }

    fn table(f: &FileCoverage) -> Vec<(u32, bool)> {
        f.line_table.iter().collect()
    }

    #[test]
    fn two_shards_that_split_the_lines_of_one_file_are_a_union() {
        let a = cobertura(&[], &[("src/lib.rs", &[(1, 1), (2, 0), (3, 0), (100, 1)])]);
        let b = cobertura(&[], &[("./src\\lib.rs", &[(2, 5), (4, 0), (100, 2), (101, 0)])]);
        let m = merge(vec![("a.xml".into(), a), ("b.xml".into(), b)], ROOT);
        let f = &m.report.files[0];
        assert_eq!((m.report.files.len(), f.name.as_str()), (1, "src/lib.rs"));
        assert_eq!(table(f), [(1, true), (2, true), (3, false), (4, false), (100, true), (101, false)]);
        assert_eq!(f.lines, Counts { covered: 3, valid: 6 });
        // Line 100: 1/2 and 2/2 → 2/2 (the maximum); 101: 0/2.
        assert_eq!(
            f.branch_lines,
            [BranchLine { line: 100, covered: 2, total: 2 }, BranchLine { line: 101, covered: 0, total: 2 }]
        );
        assert_eq!(m.report.totals(), (Counts { covered: 3, valid: 6 }, Counts { covered: 2, valid: 4 }));
        assert_eq!(m.report.root, Default::default());
        assert!(m.report.sources.is_empty());
        assert_eq!((m.report.line_elements, m.report.branch_elements), (6, 2));
        let a = &m.inputs[0];
        assert_eq!(
            (a.name.as_str(), a.lines, a.branches),
            ("a.xml", Counts { covered: 2, valid: 4 }, Counts { covered: 1, valid: 2 })
        );
        assert_eq!((a.files, a.shared_files), (1, 1));
        assert_eq!((m.inputs[1].files, m.inputs[1].shared_files), (1, 1));
    }

    #[test]
    fn a_relative_cobertura_with_a_source_and_an_absolute_lcov_name_one_file() {
        let xml = cobertura(&["/work/repo/app"], &[("src/lib.rs", &[(1, 0), (2, 1)])]);
        let info = "TN:\nSF:/work/repo/app/src/lib.rs\nDA:1,3\nDA:7,0\nend_of_record\n\
                    SF:/elsewhere/gen.rs\nDA:1,1\nend_of_record\n";
        let info = lcov::parse(info.as_bytes(), ParseOptions { branches: true }).unwrap();
        let m = merge(vec![("cov.xml".into(), xml), ("lcov.info".into(), info)], ROOT);
        let names: Vec<_> = m.report.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["/elsewhere/gen.rs", "app/src/lib.rs"]);
        assert_eq!(table(&m.report.files[1]), [(1, true), (2, true), (7, false)]);
        assert_eq!(m.inputs.iter().map(|i| (i.files, i.shared_files)).collect::<Vec<_>>(), [(1, 1), (2, 1)]);
    }

    #[test]
    fn shared_files_are_counted_per_input_over_three_inputs() {
        let a = cobertura(&[], &[("a.rs", &[(1, 1)]), ("b.rs", &[(1, 0)]), ("only_a.rs", &[(1, 0)])]);
        // One report naming one file twice (relative and absolute) counts it once.
        let b = cobertura(&[], &[("b.rs", &[(2, 1)]), ("/work/repo/b.rs", &[(3, 1)])]);
        let c = cobertura(&["/other/tree"], &[("x.rs", &[(1, 1)]), ("a.rs", &[(9, 0)])]);
        let d = cobertura(&[], &[("elsewhere.rs", &[(1, 1)])]);
        let m = merge(vec![("a".into(), a), ("b".into(), b), ("c".into(), c), ("d".into(), d)], ROOT);
        let per_input: Vec<_> = m.inputs.iter().map(|i| (i.name.as_str(), i.files, i.shared_files)).collect();
        // c's names stay relative (its source is outside the root): `a.rs` is shared with a.
        assert_eq!(per_input, [("a", 3, 2), ("b", 1, 1), ("c", 2, 1), ("d", 1, 0)]);
        let b = m.report.files.iter().find(|f| f.name == "b.rs").unwrap();
        assert_eq!(table(b), [(1, false), (2, true), (3, true)]);
        assert_eq!(m.report.totals().0, Counts { covered: 5, valid: 8 });
    }

    #[test]
    fn merging_nothing_or_one_input_changes_nothing() {
        let m = merge(Vec::new(), ROOT);
        assert!(m.report.files.is_empty() && m.inputs.is_empty());
        let a = cobertura(&[], &[("z.rs", &[(1, 1), (100, 1)]), ("a.rs", &[(5, 0)])]);
        let before = a.clone();
        let m = merge(vec![("a".into(), a)], ROOT);
        assert_eq!(m.report.files, before.files);
        assert_eq!(m.inputs[0].shared_files, 0);
    }
}

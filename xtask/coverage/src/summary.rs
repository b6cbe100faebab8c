//! A parsed report + the gate settings → the verdict and everything shown about it.

use super::cobertura::{Counts, Report};
use super::grade::{self, Band, Percent};
use crate::Metric;

/// Where the totals came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Recomputed from the `<line>` elements (the normal case).
    Elements,
    /// The root `lines-covered`/`lines-valid` (or `branches-*`) attributes: no `<line>` elements.
    RootCounts,
    /// The root `line-rate` (or `branch-rate`) alone: no elements and no counts.
    RootRate,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRow {
    pub name: String,
    pub counts: Counts,
}

#[derive(Clone, Debug)]
pub struct Summary {
    /// The report as the user named it.
    pub report: String,
    pub metric: Metric,
    pub counts: Counts,
    pub source: Source,
    pub band: Band,
    pub threshold: Percent,
    pub passed: bool,
    /// Extra covered lines (or branches) the gate needs; 0 when it passes.
    pub shortfall: u64,
    pub files: usize,
    pub lowest: Vec<FileRow>,
}

/// Why a report cannot be graded (exit 2, never a pass).
#[derive(Debug, PartialEq, Eq)]
pub struct Ungradable(pub String);

pub struct GradeOptions<'a> {
    pub metric: Metric,
    pub threshold: Percent,
    pub bands: &'a [Band],
    pub lowest: usize,
}

impl Summary {
    pub fn build(report_name: &str, report: &Report, o: &GradeOptions<'_>) -> Result<Summary, Ungradable> {
        let (lines, branches) = report.totals();
        let noun = o.metric.noun();
        let (elements, from_elements, root_counts, root_rate) = match o.metric {
            Metric::Lines => (report.line_elements, lines, report.root.lines, report.root.line_rate.as_deref()),
            Metric::Branches => {
                (report.branch_elements, branches, report.root.branches, report.root.branch_rate.as_deref())
            }
        };
        let (counts, source) = if elements > 0 {
            (from_elements, Source::Elements)
        } else if let Some(c) = root_counts {
            (c, Source::RootCounts)
        } else if let Some(rate) = root_rate {
            let attr = if o.metric == Metric::Lines { "line-rate" } else { "branch-rate" };
            let c = rate_as_counts(rate).ok_or_else(|| {
                Ungradable(format!("{report_name}: the root {attr} {rate:?} is not a number between 0 and 1"))
            })?;
            (c, Source::RootRate)
        } else {
            (Counts::default(), Source::Elements)
        };
        if counts.valid == 0 {
            let hint = match o.metric {
                Metric::Lines => "nothing was measured: did the tests run, and is this the right report?",
                Metric::Branches => {
                    "the report has no branch data (cargo llvm-cov needs --branch on nightly; coverage.py needs `coverage run --branch`)"
                }
            };
            return Err(Ungradable(format!("{report_name} has no coverable {noun}: {hint}")));
        }
        let passed = o.threshold.reached_by(counts);
        let mut lowest: Vec<FileRow> = if source == Source::Elements {
            report
                .files
                .iter()
                .map(|f| FileRow {
                    name: f.name.clone(),
                    counts: if o.metric == Metric::Lines { f.lines } else { f.branches },
                })
                .filter(|r| r.counts.valid > r.counts.covered)
                .collect()
        } else {
            Vec::new()
        };
        // Most uncovered first; then the lower percentage; then by name for a stable order.
        lowest.sort_by(|a, b| {
            let missed = |r: &FileRow| r.counts.valid - r.counts.covered;
            missed(b)
                .cmp(&missed(a))
                .then_with(|| {
                    (u128::from(a.counts.covered) * u128::from(b.counts.valid))
                        .cmp(&(u128::from(b.counts.covered) * u128::from(a.counts.valid)))
                })
                .then_with(|| a.name.cmp(&b.name))
        });
        lowest.truncate(o.lowest);
        Ok(Summary {
            report: report_name.to_owned(),
            metric: o.metric,
            counts,
            source,
            band: grade::band(o.bands, counts).clone(),
            threshold: o.threshold,
            passed,
            shortfall: o.threshold.shortfall(counts),
            files: report.files.len(),
            lowest,
        })
    }

    /// A note for the reader when the totals are not recomputed from line elements.
    pub fn source_note(&self) -> Option<String> {
        let noun = self.metric.noun();
        match self.source {
            Source::Elements => None,
            Source::RootCounts => {
                Some(format!("the report has no per-line {noun} data; using the totals on its <coverage> element"))
            }
            Source::RootRate => Some(format!(
                "the report has no per-line {noun} data and no counts; using the rate on its <coverage> element"
            )),
        }
    }
}

/// `0.7512` → 7512/10000 exactly.
fn rate_as_counts(rate: &str) -> Option<Counts> {
    let p: Percent = rate.parse().ok()?;
    // A rate is a fraction of 1: scale the exact decimal to counts over a power of ten.
    let (int, frac) = rate.trim().split_once('.').unwrap_or((rate.trim(), ""));
    if p.less_than(Percent::ZERO) || int.len() > 1 || frac.len() > 12 {
        return None;
    }
    let valid = 10u64.pow(frac.len() as u32);
    let covered: u64 = format!("{int}{frac}").parse().ok()?;
    (covered <= valid).then_some(Counts { covered, valid })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cobertura::{FileCoverage, RootAttributes};

    fn bands() -> Vec<Band> {
        crate::grade::default_bands()
    }

    fn opts(bands: &[Band]) -> GradeOptions<'_> {
        GradeOptions { metric: Metric::Lines, threshold: Percent::whole(70), bands, lowest: 2 }
    }

    fn file(name: &str, covered: u64, valid: u64) -> FileCoverage {
        FileCoverage {
            name: name.into(),
            lines: Counts { covered, valid },
            branches: Counts::default(),
            line_table: Default::default(),
            branch_lines: Vec::new(),
        }
    }

    #[test]
    fn lowest_files_are_ranked_by_uncovered_lines() {
        let report = Report {
            files: vec![file("a", 90, 100), file("b", 1, 5), file("c", 0, 20), file("d", 10, 10)],
            line_elements: 135,
            ..Report::default()
        };
        let b = bands();
        let s = Summary::build("r.xml", &report, &opts(&b)).unwrap();
        let names: Vec<_> = s.lowest.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["c", "a"]);
        assert_eq!(s.counts, Counts { covered: 101, valid: 135 });
        assert_eq!(s.band.label, "Approved");
        assert!(s.passed);
    }

    #[test]
    fn root_attributes_are_used_only_without_line_elements() {
        let root = RootAttributes {
            lines: Some(Counts { covered: 1, valid: 4 }),
            line_rate: Some("0.25".into()),
            ..RootAttributes::default()
        };
        let b = bands();
        let s = Summary::build("r.xml", &Report { root: root.clone(), ..Report::default() }, &opts(&b)).unwrap();
        assert_eq!((s.source, s.counts, s.passed), (Source::RootCounts, Counts { covered: 1, valid: 4 }, false));
        assert_eq!(s.shortfall, 2);
        let only_rate = RootAttributes { lines: None, ..root };
        let s = Summary::build("r.xml", &Report { root: only_rate, ..Report::default() }, &opts(&b)).unwrap();
        assert_eq!((s.source, s.counts), (Source::RootRate, Counts { covered: 25, valid: 100 }));
        assert!(s.source_note().unwrap().contains("rate"));
    }

    #[test]
    fn a_report_without_coverable_lines_is_never_a_pass() {
        let b = bands();
        let e = Summary::build("r.xml", &Report::default(), &opts(&b)).unwrap_err();
        assert!(e.0.contains("no coverable lines"));
        let zero = Report {
            root: RootAttributes {
                lines: Some(Counts::default()),
                line_rate: Some("1".into()),
                ..RootAttributes::default()
            },
            ..Report::default()
        };
        assert!(Summary::build("r.xml", &zero, &opts(&b)).is_err());
    }

    fn with_branches(name: &str, covered: u64, valid: u64) -> FileCoverage {
        FileCoverage {
            name: name.into(),
            lines: Counts { covered: 10, valid: 10 },
            branches: Counts { covered, valid },
            line_table: Default::default(),
            branch_lines: Vec::new(),
        }
    }

    #[test]
    fn the_branch_metric_grades_and_ranks_branches_not_lines() {
        // Every line is covered, half of the branches are not: the branch gate must fail.
        let report = Report {
            files: vec![with_branches("a.rs", 1, 4), with_branches("b.rs", 3, 4), with_branches("c.rs", 0, 0)],
            line_elements: 30,
            branch_elements: 4,
            ..Report::default()
        };
        let b = bands();
        let s = Summary::build("r.xml", &report, &GradeOptions { metric: Metric::Branches, ..opts(&b) }).unwrap();
        assert_eq!((s.source, s.counts), (Source::Elements, Counts { covered: 4, valid: 8 }));
        assert!(!s.passed);
        assert_eq!(s.band.label, "Low");
        // 70% of 8 branches is 5.6: two more covered branches pass, one does not.
        assert_eq!(s.shortfall, 2);
        // A file without branches is not listed, however its lines are covered.
        let lowest: Vec<_> = s.lowest.iter().map(|r| (r.name.as_str(), r.counts)).collect();
        assert_eq!(lowest, [("a.rs", Counts { covered: 1, valid: 4 }), ("b.rs", Counts { covered: 3, valid: 4 })]);
        assert_eq!(s.files, 3);
        assert_eq!(s.source_note(), None);
        // The same report graded on lines passes at 100%.
        let s = Summary::build("r.xml", &report, &opts(&b)).unwrap();
        assert_eq!((s.counts, s.passed, s.band.label.as_str()), (Counts { covered: 30, valid: 30 }, true, "Excellent"));
        assert!(s.lowest.is_empty());
    }

    #[test]
    fn branches_without_branch_data_are_ungradable_unless_the_root_has_them() {
        let b = bands();
        let branches = GradeOptions { metric: Metric::Branches, ..opts(&b) };
        let lines_only = Report { files: vec![file("a.rs", 5, 10)], line_elements: 10, ..Report::default() };
        let e = Summary::build("cov.xml", &lines_only, &branches).unwrap_err();
        assert!(e.0.starts_with("cov.xml has no coverable branches: "), "{}", e.0);
        assert!(e.0.contains("--branch"), "the hint says how to get branch data: {}", e.0);
        // Without branch elements, the root's branch totals (then its branch-rate) are used.
        let root = RootAttributes {
            branches: Some(Counts { covered: 3, valid: 4 }),
            branch_rate: Some("0.5".into()),
            ..RootAttributes::default()
        };
        let s = Summary::build("cov.xml", &Report { root: root.clone(), ..lines_only.clone() }, &branches).unwrap();
        assert_eq!((s.source, s.counts, s.passed), (Source::RootCounts, Counts { covered: 3, valid: 4 }, true));
        assert_eq!(
            s.source_note().as_deref(),
            Some("the report has no per-line branches data; using the totals on its <coverage> element")
        );
        assert!(s.lowest.is_empty(), "per-file rows would be line counts, not branches: {:?}", s.lowest);
        let rate_only = Report { root: RootAttributes { branches: None, ..root }, ..lines_only };
        let s = Summary::build("cov.xml", &rate_only, &branches).unwrap();
        assert_eq!((s.source, s.counts, s.passed), (Source::RootRate, Counts { covered: 5, valid: 10 }, false));
        assert_eq!(
            s.source_note().as_deref(),
            Some("the report has no per-line branches data and no counts; using the rate on its <coverage> element")
        );
    }

    #[test]
    fn a_root_rate_that_is_not_a_fraction_of_one_is_ungradable() {
        let b = bands();
        // "75.12" is a percentage where a fraction belongs: never read as 7512%, or as a pass.
        for rate in ["75.12", "10", "1.5", "-0.5", "NaN", ""] {
            let root = RootAttributes { line_rate: Some(rate.into()), ..RootAttributes::default() };
            let e = Summary::build("r.xml", &Report { root, ..Report::default() }, &opts(&b)).unwrap_err();
            assert_eq!(e.0, format!("r.xml: the root line-rate {rate:?} is not a number between 0 and 1"));
        }
        let root = RootAttributes { branch_rate: Some("2".into()), ..RootAttributes::default() };
        let branches = GradeOptions { metric: Metric::Branches, ..opts(&b) };
        let e = Summary::build("r.xml", &Report { root, ..Report::default() }, &branches).unwrap_err();
        assert!(e.0.contains("the root branch-rate \"2\""), "{}", e.0);
    }

    #[test]
    fn the_verdict_is_exact_and_never_rounded_up() {
        let b = bands();
        let report = |covered, valid| Report {
            files: vec![file("a", covered, valid)],
            line_elements: valid,
            ..Report::default()
        };
        // 69.995% is shown as 69.99% and fails a 70% gate: one more line passes it.
        let s = Summary::build("r.xml", &report(69_995, 100_000), &opts(&b)).unwrap();
        assert_eq!((s.passed, s.shortfall, s.band.label.as_str()), (false, 5, "Low"));
        assert_eq!(crate::grade::percent_text(s.counts), "69.99");
        let s = Summary::build("r.xml", &report(70_000, 100_000), &opts(&b)).unwrap();
        assert_eq!((s.passed, s.shortfall, s.band.label.as_str()), (true, 0, "Approved"));
        // A fractional threshold is compared exactly too.
        let t: Percent = "72.5".parse().unwrap();
        let o = GradeOptions { threshold: t, ..opts(&b) };
        let s = Summary::build("r.xml", &report(724, 1_000), &o).unwrap();
        assert_eq!((s.passed, s.shortfall, s.threshold), (false, 1, t));
        assert!(Summary::build("r.xml", &report(725, 1_000), &o).unwrap().passed);
    }

    #[test]
    fn ties_in_uncovered_lines_go_to_the_lower_percentage_then_the_name() {
        let report = Report {
            files: vec![
                file("x.rs", 5, 10),
                file("y.rs", 95, 100),
                file("b.rs", 5, 10),
                file("full.rs", 7, 7),
                file("a.rs", 5, 10),
                file("z.rs", 994, 1_000),
            ],
            line_elements: 1_137,
            ..Report::default()
        };
        let b = bands();
        let order = |lowest| {
            let s = Summary::build("r.xml", &report, &GradeOptions { lowest, ..opts(&b) }).unwrap();
            s.lowest.into_iter().map(|r| r.name).collect::<Vec<_>>()
        };
        assert_eq!(order(10), ["z.rs", "a.rs", "b.rs", "x.rs", "y.rs"]);
        assert_eq!(order(3), ["z.rs", "a.rs", "b.rs"]);
        assert_eq!(order(0), Vec::<String>::new());
    }

    #[test]
    fn rates_convert_exactly() {
        assert_eq!(rate_as_counts("0.7512"), Some(Counts { covered: 7512, valid: 10_000 }));
        assert_eq!(rate_as_counts("1"), Some(Counts { covered: 1, valid: 1 }));
        assert_eq!(rate_as_counts("1.5"), None);
        assert_eq!(rate_as_counts("NaN"), None);
        assert_eq!(rate_as_counts("1.0"), Some(Counts { covered: 10, valid: 10 }));
        assert_eq!(rate_as_counts(" 0.5 "), Some(Counts { covered: 5, valid: 10 }));
        assert_eq!(rate_as_counts("0.000000000001"), Some(Counts { covered: 1, valid: 1_000_000_000_000 }));
        assert_eq!(rate_as_counts("0.0000000000001"), None);
    }
}

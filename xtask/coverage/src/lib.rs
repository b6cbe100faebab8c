//! Coverage grading: pure code that takes reports and gives numbers (grades, the summary, the
//! patch, the indirect changes, the merge, the writers). It knows nothing about processes,
//! colours or GitHub, so it can be tested, fuzzed and benchmarked on its own. Reading the
//! reports is `xtask-reader`'s.

pub mod grade;
pub mod indirect;
pub mod merge;
pub mod patch;
pub mod patch_view;
pub mod summary;
pub mod write;

/// The report model and its readers live in `xtask-reader`, the one part built optimised.
pub use xtask_reader::{Format, cobertura, detect, lcov, parse_any, parse_any_file, parse_lcov_bytes};

use serde::Deserialize;

/// Which count the coverage gate is decided on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Lines with at least one hit (Cobertura `<line hits>`).
    Lines,
    /// Branch outcomes taken (Cobertura `condition-coverage`).
    Branches,
}

impl std::str::FromStr for Metric {
    type Err = String;

    fn from_str(s: &str) -> Result<Metric, String> {
        match s {
            "lines" => Ok(Metric::Lines),
            "branches" => Ok(Metric::Branches),
            other => Err(format!("unknown metric {other:?}: expected lines or branches")),
        }
    }
}

impl Metric {
    pub fn singular(self) -> &'static str {
        match self {
            Metric::Lines => "line",
            Metric::Branches => "branch",
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            Metric::Lines => "lines",
            Metric::Branches => "branches",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_named_lines_or_branches_and_nothing_else() {
        assert_eq!("lines".parse::<Metric>(), Ok(Metric::Lines));
        assert_eq!("branches".parse::<Metric>(), Ok(Metric::Branches));
        for bad in ["line", "branch", "Lines", "statements", ""] {
            let e = bad.parse::<Metric>().unwrap_err();
            assert_eq!(e, format!("unknown metric {bad:?}: expected lines or branches"));
        }
        assert_eq!((Metric::Lines.singular(), Metric::Lines.noun()), ("line", "lines"));
        assert_eq!((Metric::Branches.singular(), Metric::Branches.noun()), ("branch", "branches"));
    }
}

//! Coverage grading: pure code that takes bytes and gives numbers. It knows nothing about
//! processes, colours or GitHub, so it can be tested, fuzzed and benchmarked on its own.

pub mod cobertura;
pub mod grade;
pub mod patch;
pub mod summary;

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

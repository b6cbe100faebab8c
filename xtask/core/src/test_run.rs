//! What every test run shares, the test gate's and the coverage gate's: a part `M/N` of the
//! suite (`--partition`), and what a run depends on outside the checkout (for the verdict
//! cache).

use std::fmt;

use crate::Context;
use crate::cache::Inputs;

/// Part `index` of `count` (both from 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    pub index: u32,
    pub count: u32,
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// `M/N` with 1 ≤ M ≤ N.
pub fn parse_partition(text: &str) -> Result<Partition, String> {
    let usage = "expected M/N with 1 ≤ M ≤ N, e.g. 2/3 for the second of three parts";
    let (m, n) = text.split_once('/').ok_or_else(|| usage.to_owned())?;
    let (Ok(index), Ok(count)) = (m.trim().parse::<u32>(), n.trim().parse::<u32>()) else {
        return Err(usage.to_owned());
    };
    if index == 0 || count == 0 || index > count {
        return Err(format!("part {index} of {count} does not exist: {usage}"));
    }
    Ok(Partition { index, count })
}

/// What a test run (the test gate's, the coverage gate's) depends on outside the checkout:
/// also the nextest profile the flaky record's JUnit report is asked under (xtask's
/// `gates/flaky/`; whether `CI` is set, which decides the retries and whether a new flaky test
/// fails the run, is in every gate's key).
pub fn test_inputs(inputs: Inputs) -> Inputs {
    let engine = if crate::docker::docker().is_ok() { "answers" } else { "down" };
    inputs
        .env_presence("DATABASE_URL")
        .env("XTASK_PG_BIN")
        .env("XTASK_TOOLS_DIR")
        .env("NEXTEST_PROFILE")
        .extra("Docker engine", engine)
}

/// `--exclude NAME` for each of the xtask's own packages, unless `xtask-tests` is on: in a
/// workspace that copied `xtask/`, the gates test the workspace's code, not the xtask's (whose
/// tests are about the repository it is developed in).
pub fn exclusions(cx: &Context) -> Vec<String> {
    if cx.settings.test.xtask_tests {
        return Vec::new();
    }
    cx.settings.xtask_packages.iter().flat_map(|p| ["--exclude".to_owned(), p.clone()]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions() {
        assert_eq!(parse_partition("2/3"), Ok(Partition { index: 2, count: 3 }));
        assert_eq!(parse_partition("1/1").unwrap().to_string(), "1/1");
        for bad in ["0/3", "4/3", "x", "1/0", "1/", "/3", "-1/3", "1/3/5", "count:1/3"] {
            assert!(parse_partition(bad).is_err(), "{bad}");
        }
    }
}

//! Per-path gates (`[[workspace.metadata.xtask.coverage.paths]]`): each glob graded on the
//! report files it matches, failing the gate on its own.

use std::path::Path;

use anyhow::{Result, bail};

use crate::coverage::cobertura::{Counts, Report};
use crate::coverage::grade::Percent;
use crate::settings::{Metric, PathGate};

pub struct PathVerdict {
    pub glob: String,
    pub threshold: Percent,
    pub counts: Counts,
    pub files: usize,
    pub passed: bool,
}

/// Grades every path gate; a glob that matches no file of the report is an error.
pub fn judge(report: &Report, metric: Metric, gates: &[PathGate], root: &Path) -> Result<Vec<PathVerdict>> {
    let names: Vec<String> = report.files.iter().map(|f| repo_name(&f.name, &report.sources, root)).collect();
    let mut verdicts = Vec::new();
    for gate in gates {
        let mut counts = Counts::default();
        let mut files = 0;
        for (file, name) in report.files.iter().zip(&names) {
            if crate::repo::glob::matches(&gate.glob, name) {
                let c = if metric == Metric::Lines { file.lines } else { file.branches };
                counts.covered += c.covered;
                counts.valid += c.valid;
                files += 1;
            }
        }
        if files == 0 {
            let examples: Vec<&str> = names.iter().take(3).map(String::as_str).collect();
            bail!(
                "coverage path gate {:?} matches no file of the report (its files read as {}{}): fix the glob in \
                 [[workspace.metadata.xtask.coverage.paths]]",
                gate.glob,
                examples.join(", "),
                if names.len() > 3 { ", …" } else { "" }
            );
        }
        let passed = counts.valid == 0 || gate.threshold.reached_by(counts);
        verdicts.push(PathVerdict { glob: gate.glob.clone(), threshold: gate.threshold, counts, files, passed });
    }
    Ok(verdicts)
}

/// A report filename as a path relative to the repository root: the key merged reports use
/// (`patch::repo_key`: joined with a `<source>` that puts it under the root, else as written,
/// an absolute path under the root made relative).
pub fn repo_name(name: &str, sources: &[String], root: &Path) -> String {
    crate::coverage::patch::repo_key(name, sources, &root.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_names_read_as_repository_paths() {
        let root = Path::new("/repo");
        let sources = vec!["/repo/app".to_owned()];
        assert_eq!(repo_name("src/lib.rs", &sources, root), "app/src/lib.rs");
        assert_eq!(repo_name("/repo/xtask/src/main.rs", &[], root), "xtask/src/main.rs");
        assert_eq!(repo_name(".\\src\\a.rs", &[], root), "src/a.rs");
        assert_eq!(repo_name("src/a.rs", &["/elsewhere".to_owned()], root), "src/a.rs");
        assert_eq!(repo_name("/elsewhere/a.rs", &[], root), "/elsewhere/a.rs");
    }
}

//! The gate's result as data, ordered for people (by check, worst first), with its counts. The
//! xtask renders it (text, JSON, Markdown, SARIF: `gates/security/`); the derives give JSON its
//! fields.

use serde::Serialize;

use crate::{Check, Finding, Severity};

/// What one check did besides its findings: what it looked at, what it skipped and why.
#[derive(Clone, Debug, Serialize)]
pub struct CheckRun {
    pub check: Check,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub checks: Vec<CheckRun>,
    pub findings: Vec<Finding>,
}

impl Report {
    /// Sorts the findings: by check, then worst severity first, then by place.
    pub fn new(checks: Vec<CheckRun>, mut findings: Vec<Finding>) -> Report {
        findings.sort_by(|a, b| {
            (a.check, std::cmp::Reverse(a.severity), &a.path, a.line, &a.rule).cmp(&(
                b.check,
                std::cmp::Reverse(b.severity),
                &b.path,
                b.line,
                &b.rule,
            ))
        });
        Report { checks, findings }
    }

    pub fn failed(&self) -> bool {
        self.findings.iter().any(Finding::fails)
    }

    /// Findings that count, per severity, worst first.
    pub fn counts(&self) -> Vec<(Severity, usize)> {
        let mut out = Vec::new();
        for s in [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Warning] {
            let n = self.findings.iter().filter(|f| f.severity == s && f.suppressed.is_none()).count();
            if n > 0 {
                out.push((s, n));
            }
        }
        out
    }

    pub fn suppressed(&self) -> usize {
        self.findings.iter().filter(|f| f.suppressed.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let mut suppressed = Finding::new(Check::Secrets, "secrets/x", Severity::Critical, "s").at("a", Some(1), None);
        suppressed.suppressed = Some("fixture".into());
        Report::new(
            vec![],
            vec![
                Finding::new(Check::Source, "source/a", Severity::Medium, "m").at("b.rs", Some(2), Some(1)),
                Finding::new(Check::Advisories, "RUSTSEC-1", Severity::Warning, "w"),
                Finding::new(Check::Advisories, "RUSTSEC-2", Severity::High, "h|pipe"),
                suppressed,
            ],
        )
    }

    #[test]
    fn findings_are_grouped_by_check_worst_first() {
        let r = report();
        let order: Vec<_> = r.findings.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(order, ["RUSTSEC-2", "RUSTSEC-1", "source/a", "secrets/x"]);
        assert!(r.failed());
        assert_eq!(r.counts(), [(Severity::High, 1), (Severity::Medium, 1), (Severity::Warning, 1)]);
        assert_eq!(r.suppressed(), 1);
    }
}

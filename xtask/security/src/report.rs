//! The gate's result, ordered for people (by check, worst first) and rendered as JSON or as
//! the Markdown of a GitHub step summary. Text with colours is printed by the xtask.

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

    /// One line: `failed: 1 high, 2 warning (1 suppressed)`.
    pub fn verdict_line(&self) -> String {
        let counts = self.counts();
        let mut line = if counts.is_empty() {
            "no findings".to_owned()
        } else {
            counts.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ")
        };
        if self.suppressed() > 0 {
            line.push_str(&format!(" ({} suppressed)", self.suppressed()));
        }
        line
    }

    pub fn json(&self) -> String {
        #[derive(Serialize)]
        struct Json<'a> {
            verdict: &'a str,
            threshold: Severity,
            counts: std::collections::BTreeMap<&'a str, usize>,
            suppressed: usize,
            checks: &'a [CheckRun],
            findings: &'a [Finding],
        }
        let j = Json {
            verdict: if self.failed() { "failed" } else { "passed" },
            threshold: Severity::THRESHOLD,
            counts: self.counts().into_iter().map(|(s, n)| (s.as_str(), n)).collect(),
            suppressed: self.suppressed(),
            checks: &self.checks,
            findings: &self.findings,
        };
        serde_json::to_string_pretty(&j).expect("the report serialises") + "\n"
    }

    /// The GitHub step summary: verdict, then a table of the findings.
    pub fn markdown(&self) -> String {
        let mut md = format!(
            "### Security: {} {}\n\n{}\n",
            if self.failed() { "❌" } else { "✅" },
            if self.failed() { "failed" } else { "passed" },
            self.verdict_line()
        );
        if !self.findings.is_empty() {
            md.push_str("\n| Severity | Check | Rule | Where | Finding |\n| --- | --- | --- | --- | --- |\n");
            for f in &self.findings {
                let severity = match &f.suppressed {
                    Some(_) => format!("{} (suppressed)", f.severity),
                    None => f.severity.to_string(),
                };
                let title = match &f.suppressed {
                    Some(r) => format!("{} — suppressed: {r}", f.title),
                    None => f.title.clone(),
                };
                md.push_str(&format!(
                    "| {severity} | {} | `{}` | {} | {} |\n",
                    f.check,
                    f.rule,
                    f.location().map(|l| format!("`{l}`")).unwrap_or_default(),
                    title.replace('|', "\\|")
                ));
            }
        }
        md
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
        assert_eq!(r.verdict_line(), "1 high, 1 medium, 1 warning (1 suppressed)");
    }

    #[test]
    fn json_and_markdown_carry_the_verdict() {
        let r = report();
        let v: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(v["verdict"], "failed");
        assert_eq!(v["counts"]["high"], 1);
        assert_eq!(v["findings"][3]["suppressed"], "fixture");
        let md = r.markdown();
        assert!(md.contains("❌ failed") && md.contains("h\\|pipe") && md.contains("suppressed: fixture"), "{md}");
        let clean = Report::new(vec![], vec![Finding::new(Check::Advisories, "RUSTSEC-1", Severity::Warning, "w")]);
        assert!(!clean.failed() && clean.markdown().contains("✅ passed"));
    }
}

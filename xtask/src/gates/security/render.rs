//! The security report as text (the terminal, with colours), JSON (`--format json`) and the
//! Markdown of a GitHub step summary; `--list-rules` as text. SARIF is `sarif.rs`. The engine
//! (`xtask-security`) gives the data: the report, its findings, their order and counts.

use std::fmt::Write as _;

use colored::Colorize;
use serde::Serialize;

use crate::security::report::{CheckRun, Report};
use crate::security::suppress::Suppressions;
use crate::security::{Finding, Severity, external, secrets, source};

/// One line: `1 high, 2 warning (1 suppressed)`.
pub fn verdict_line(report: &Report) -> String {
    let counts = report.counts();
    let mut line = if counts.is_empty() {
        "no findings".to_owned()
    } else {
        counts.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ")
    };
    if report.suppressed() > 0 {
        line.push_str(&format!(" ({} suppressed)", report.suppressed()));
    }
    line
}

fn colored_severity(s: Severity) -> colored::ColoredString {
    let text = format!("{:<8}", s.as_str().to_uppercase());
    match s {
        Severity::Critical | Severity::High => text.red().bold(),
        Severity::Medium => text.red(),
        Severity::Low => text.yellow(),
        Severity::Warning => text.yellow().dimmed(),
    }
}

/// The terminal's report: each check with its notes and findings, then the verdict.
pub fn text(report: &Report, suppressions: &[Suppressions]) -> String {
    let mut out = String::new();
    for run in &report.checks {
        let mine: Vec<&Finding> = report.findings.iter().filter(|f| f.check == run.check).collect();
        let failing = mine.iter().filter(|f| f.fails()).count();
        let mark = if failing > 0 { "✗".red().bold() } else { "✓".green() };
        let _ = writeln!(out, "{mark} {} ({})", run.check.title().bold(), run.check);
        for note in &run.notes {
            let _ = writeln!(out, "    {}", note.dimmed());
        }
        for f in mine {
            let place = f.location().map(|l| format!("{l}: ")).unwrap_or_default();
            let _ = writeln!(out, "  {} {place}{} [{}]", colored_severity(f.severity), f.title, f.rule.cyan());
            if let Some(reason) = &f.suppressed {
                let _ = writeln!(out, "           {}", format!("suppressed: {reason}").dimmed());
            } else if let Some(help) = &f.help {
                let _ = writeln!(out, "           {}", help.dimmed());
            }
        }
    }
    let files: Vec<String> = suppressions
        .iter()
        .filter(|s| !s.entries.is_empty())
        .map(|s| format!("{} in {}", s.entries.len(), s.path))
        .collect();
    if !files.is_empty() {
        let _ = writeln!(out, "{}", format!("suppressions: {}", files.join(", ")).dimmed());
    }
    let line = verdict_line(report);
    if report.failed() {
        let _ = writeln!(
            out,
            "{} {line} (the gate fails at {} and above)",
            "security: failed —".red().bold(),
            Severity::THRESHOLD
        );
    } else {
        let _ = writeln!(out, "{} {line}", "security: passed —".green().bold());
    }
    out
}

/// `--format json`: the verdict, the threshold, the counts, then the checks and findings.
pub fn json(report: &Report) -> String {
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
        verdict: if report.failed() { "failed" } else { "passed" },
        threshold: Severity::THRESHOLD,
        counts: report.counts().into_iter().map(|(s, n)| (s.as_str(), n)).collect(),
        suppressed: report.suppressed(),
        checks: &report.checks,
        findings: &report.findings,
    };
    serde_json::to_string_pretty(&j).expect("the report serialises") + "\n"
}

/// The GitHub step summary: verdict, then a table of the findings.
pub fn markdown(report: &Report) -> String {
    let mut md = format!(
        "### Security: {} {}\n\n{}\n",
        if report.failed() { "❌" } else { "✅" },
        if report.failed() { "failed" } else { "passed" },
        verdict_line(report)
    );
    if !report.findings.is_empty() {
        md.push_str("\n| Severity | Check | Rule | Where | Finding |\n| --- | --- | --- | --- | --- |\n");
        for f in &report.findings {
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

/// `--list-rules`: every rule the gate applies, with its severity and rationale.
pub fn rules() -> String {
    let mut out = format!("{:<42} {:<9} rationale\n", "rule", "severity");
    let mut rows: Vec<(String, Severity, String)> = Vec::new();
    rows.extend(source::rules().iter().map(|r| (r.id.to_owned(), r.severity, r.rationale.to_owned())));
    rows.extend(external::CLIPPY_LINTS.iter().map(|(l, why)| ((*l).to_owned(), Severity::Medium, (*why).to_owned())));
    rows.extend(secrets::rules().iter().map(|r| (r.id.to_owned(), r.severity, r.rationale.to_owned())));
    rows.extend(external::HADOLINT_RULES.iter().map(|(c, s, why)| (format!("hadolint/{c}"), *s, (*why).to_owned())));
    rows.push((
        "zizmor/*".to_owned(),
        Severity::Medium,
        "zizmor's audits, at zizmor's severity (see https://docs.zizmor.sh/audits/)".to_owned(),
    ));
    for (id, severity, why) in rows {
        let _ = writeln!(out, "{id:<42} {:<9} {why}", severity.as_str());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::Check;

    /// A failing report: an advisory, a warning of the source rules, a suppressed secret.
    fn report() -> Report {
        let mut quiet = Finding::new(Check::Secrets, "secrets/x", Severity::Low, "s").at("a", Some(1), None);
        quiet.suppressed = Some("fixture".into());
        let warning = Finding::new(Check::Source, "source/w", Severity::Warning, "w").at("b.rs", Some(2), Some(1));
        let high = Finding::new(Check::Advisories, "RUSTSEC-2", Severity::High, "h|pipe");
        Report::new(vec![], vec![quiet, warning, high])
    }

    #[test]
    fn the_verdict_line_counts_what_fails_and_what_is_suppressed() {
        assert_eq!(verdict_line(&report()), "1 high, 1 warning (1 suppressed)");
        assert_eq!(verdict_line(&Report::new(vec![], vec![])), "no findings");
    }

    #[test]
    fn json_and_markdown_carry_the_verdict() {
        let r = report();
        let v: serde_json::Value = serde_json::from_str(&json(&r)).unwrap();
        assert_eq!(v["verdict"], "failed");
        assert_eq!(v["counts"]["high"], 1);
        assert_eq!(v["findings"][2]["suppressed"], "fixture");
        assert_eq!(v["findings"][1]["line"], 2);
        let md = markdown(&r);
        assert!(md.contains("❌ failed") && md.contains("h\\|pipe") && md.contains("suppressed: fixture"), "{md}");
        let clean = Report::new(vec![], vec![Finding::new(Check::Advisories, "RUSTSEC-1", Severity::Warning, "w")]);
        assert!(!clean.failed() && markdown(&clean).contains("✅ passed"));
    }
}

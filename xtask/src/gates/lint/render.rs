//! The lint's reports as the Markdown of a GitHub step summary: one row per check, then the
//! findings. The terminal's text and the annotations are printed by the gate (`mod.rs`); the
//! engine (`xtask-lint`) gives the reports.

use crate::lint::checks::{Report, Status, plural};

/// Findings listed in the step summary.
const MAX_SUMMARY_FINDINGS: usize = 100;

/// The step summary: one row per check, then the findings.
pub fn markdown(reports: &[Report], errors: &[String], total: usize) -> String {
    let head = if !errors.is_empty() {
        "❌ could not run every check".to_owned()
    } else if total > 0 {
        format!("❌ failed, {}", plural(total, "finding"))
    } else {
        "✅ passed".to_owned()
    };
    let mut s = format!("### Lint: {head}\n\n| Check | Result |\n| --- | --- |\n");
    for r in reports {
        let result = match &r.status {
            Status::Passed => "✅ passed".to_owned(),
            Status::Failed => format!("❌ {}", plural(r.findings.len(), "finding")),
            Status::NotApplicable(why) => format!("➖ not applicable ({why})"),
            Status::Skipped { reason, .. } => format!("⚠️ skipped ({reason})"),
            Status::Error(e) => format!("❌ could not run: {}", e.lines().next().unwrap_or("")),
        };
        s.push_str(&format!("| {} | {} |\n", r.title().replace('|', "\\|"), result.replace('|', "\\|")));
    }
    let findings: Vec<String> =
        reports.iter().flat_map(|r| r.findings.iter().map(move |f| format!("{}: {f}", r.name))).collect();
    if !findings.is_empty() {
        s.push_str("\n```text\n");
        for f in findings.iter().take(MAX_SUMMARY_FINDINGS) {
            s.push_str(f);
            s.push('\n');
        }
        if findings.len() > MAX_SUMMARY_FINDINGS {
            s.push_str(&format!("… and {} more in the log\n", findings.len() - MAX_SUMMARY_FINDINGS));
        }
        s.push_str("```\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::Finding;

    #[test]
    fn the_summary_has_a_row_per_check_and_caps_the_findings() {
        let mut failed = Report::new("hygiene", "3 files", Status::Failed);
        failed.findings = (1..=101).map(|n| Finding::at("a.md", n, "trailing whitespace")).collect();
        let reports = [
            Report::new("rustfmt", "", Status::Passed),
            failed,
            Report::new("shellcheck", "", Status::NotApplicable("no shell script".into())),
            Report::new("a|b", "", Status::Error("gone\nmore".into())),
        ];
        let md = markdown(&reports, &[], 101);
        assert!(md.starts_with("### Lint: ❌ failed, 101 findings\n\n| Check | Result |\n| --- | --- |\n"), "{md}");
        assert!(md.contains("| hygiene (3 files) | ❌ 101 findings |\n"), "{md}");
        assert!(md.contains("| shellcheck | ➖ not applicable (no shell script) |\n"), "{md}");
        assert!(md.contains("| a\\|b | ❌ could not run: gone |\n"), "{md}");
        assert!(md.contains("hygiene: a.md:100: trailing whitespace\n… and 1 more in the log\n```\n"), "{md}");
        assert!(!md.contains("a.md:101:"), "{md}");
        let errors = ["clippy: gone".to_owned()];
        assert!(markdown(&[], &errors, 0).starts_with("### Lint: ❌ could not run every check\n"));
        assert!(markdown(&[], &[], 0).starts_with("### Lint: ✅ passed\n"));
    }
}

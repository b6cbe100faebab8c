//! The security engine behind `cargo xtask security`: the production source rules, the secret
//! scanner, the parsers of clippy's, zizmor's and hadolint's output, the suppression file and
//! the report as data (`report`). Everything here works on given inputs and returns data;
//! running tools and rendering the report (text, JSON, Markdown, SARIF) are done by the xtask
//! (`gates/security/`). The advisories check is a program of its own, `xtask/audit/`, built when
//! the gate first needs it.
pub mod audit;
pub mod date;
pub mod external;
pub mod report;
pub mod secrets;
pub mod source;
pub mod suppress;

use std::fmt;

use serde::{Deserialize, Serialize};

/// How bad a finding is. The gate fails on `Medium` and above (bandit's `-ll`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Reported, never fails the gate (unmaintained or yanked crates, informational notes).
    Warning,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Findings at or above this fail the gate.
    pub const THRESHOLD: Severity = Severity::Medium;

    pub fn fails(self) -> bool {
        self >= Self::THRESHOLD
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// CVSS qualitative rating of a base score (0.1–3.9 low, 4–6.9 medium, 7–8.9 high, 9+ critical).
    pub fn from_cvss(score: f64) -> Severity {
        match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            _ => Severity::Low,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The five checks of the gate, in the order they are reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Check {
    /// Crates in Cargo.lock against the RustSec advisory database.
    Advisories,
    /// Production Rust code: unsafe, the curated clippy set, dangerous APIs.
    Source,
    /// Credentials in tracked files.
    Secrets,
    /// GitHub workflows (zizmor) and Dockerfiles (hadolint).
    Infra,
    /// The service's binary inside the image the smoke gate built, against the RustSec
    /// advisory database (the dependency list `cargo auditable` embedded in it).
    Image,
}

impl Check {
    pub const ALL: [Check; 5] = [Check::Advisories, Check::Source, Check::Secrets, Check::Infra, Check::Image];

    pub fn as_str(self) -> &'static str {
        match self {
            Check::Advisories => "advisories",
            Check::Source => "source",
            Check::Secrets => "secrets",
            Check::Infra => "infra",
            Check::Image => "image",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Check::Advisories => "Dependency advisories",
            Check::Source => "Production source rules",
            Check::Secrets => "Secrets in tracked files",
            Check::Infra => "Workflows and container files",
            Check::Image => "The image's binary",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding of one check. `rule` is what a suppression names: an advisory id
/// (`RUSTSEC-2023-0071`), a built-in rule (`source/shell-command-string`,
/// `secrets/aws-access-key`), a tool's rule (`clippy::dbg_macro`, `zizmor/artipacked`,
/// `hadolint/DL3002`) or a gate rule (`advisory-db/stale`, `suppression/expired`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub check: Check,
    pub rule: String,
    pub severity: Severity,
    /// One line: what is wrong.
    pub title: String,
    /// Why it matters or what to do: a rule's rationale, an advisory's URL and fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Relative to the project root, with `/` separators.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// 1-based.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// Other names a suppression may use (an advisory's CVE and GHSA aliases).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The reason of the suppression entry that matched: the finding is listed, not counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
}

impl Finding {
    pub fn new(check: Check, rule: impl Into<String>, severity: Severity, title: impl Into<String>) -> Finding {
        Finding {
            check,
            rule: rule.into(),
            severity,
            title: title.into(),
            help: None,
            path: None,
            line: None,
            column: None,
            aliases: Vec::new(),
            suppressed: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Finding {
        self.help = Some(help.into());
        self
    }

    pub fn at(mut self, path: impl Into<String>, line: Option<usize>, column: Option<usize>) -> Finding {
        self.path = Some(path.into());
        self.line = line;
        self.column = column;
        self
    }

    /// Counts against the gate: at or above the threshold and not suppressed.
    pub fn fails(&self) -> bool {
        self.suppressed.is_none() && self.severity.fails()
    }

    /// `path:line:col` as far as known.
    pub fn location(&self) -> Option<String> {
        let path = self.path.as_deref()?;
        Some(match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{path}:{l}:{c}"),
            (Some(l), None) => format!("{path}:{l}"),
            _ => path.to_owned(),
        })
    }
}

/// Today's date in UTC: the reference for the database's age and for suppression expiry.
pub fn today() -> date::Date {
    date::Date::today()
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = 1 + before.matches('\n').count();
    let col = 1 + before.rfind('\n').map_or(before.chars().count(), |nl| before[nl + 1..].chars().count());
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss_bands_follow_the_specification() {
        assert_eq!(Severity::from_cvss(3.9), Severity::Low);
        assert_eq!(Severity::from_cvss(4.0), Severity::Medium);
        assert_eq!(Severity::from_cvss(6.9), Severity::Medium);
        assert_eq!(Severity::from_cvss(7.0), Severity::High);
        assert_eq!(Severity::from_cvss(9.0), Severity::Critical);
        assert!(!Severity::Low.fails() && Severity::Medium.fails());
    }

    #[test]
    fn line_col_counts_from_one() {
        let text = "ab\ncdé f";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (2, 1));
        assert_eq!(line_col(text, text.find('f').unwrap()), (2, 5));
    }
}

//! The suppression file (`security.toml`): one schema for every kind of finding.
//!
//! ```toml
//! [[suppress]]
//! id = "secrets/password-in-url"   # an advisory id or alias, or a rule id
//! path = "xtask/tests/**"          # optional: only findings under these files
//! reason = "fake credentials of the redaction tests"   # required
//! expires = 2027-05-01             # required: review it again by then
//! ```
//!
//! An entry without a reason or an expiry date is a configuration error. A suppressed finding
//! is still listed, with its reason, and does not count. An expired entry suppresses nothing
//! and is itself a finding; so is an entry that matched nothing (once its check has run).

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use jiff::civil::Date;
use serde::Deserialize;

use crate::{Check, Finding, Severity};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub path: Option<String>,
    pub reason: String,
    pub expires: Date,
    /// 1-based line of the entry's `[[suppress]]` header, for findings about it.
    pub line: usize,
}

impl Entry {
    /// The check whose findings this entry can match, from the id's form.
    pub fn check(&self) -> Option<Check> {
        let id = self.id.as_str();
        if ["RUSTSEC-", "CVE-", "GHSA-"].iter().any(|p| id.starts_with(p)) || id.starts_with("advisories/") {
            Some(Check::Advisories)
        } else if id.starts_with("source/") || id.starts_with("clippy::") {
            Some(Check::Source)
        } else if id.starts_with("secrets/") {
            Some(Check::Secrets)
        } else if id.starts_with("zizmor/") || id.starts_with("hadolint/") || id.starts_with("infra/") {
            Some(Check::Infra)
        } else {
            None
        }
    }

    fn matches(&self, f: &Finding) -> bool {
        (f.rule == self.id || f.aliases.contains(&self.id))
            && match (&self.path, &f.path) {
                (None, _) => true,
                (Some(glob), Some(path)) => xtask_lint::glob::matches(glob, path),
                (Some(_), None) => false,
            }
    }
}

/// The parsed file, as shown in reports (`path`).
#[derive(Clone, Debug, Default)]
pub struct Suppressions {
    pub path: String,
    pub entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    suppress: Vec<toml::Spanned<RawEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: Option<String>,
    path: Option<String>,
    reason: Option<String>,
    expires: Option<toml::Value>,
}

impl Suppressions {
    /// Read `file` (shown as `shown`); a missing file is an empty list.
    pub fn load(file: &Path, shown: &str) -> Result<Suppressions> {
        match std::fs::read_to_string(file) {
            Ok(text) => Suppressions::parse(&text, shown),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Suppressions { path: shown.to_owned(), entries: vec![] })
            }
            Err(e) => Err(e).with_context(|| format!("{shown}: cannot be read")),
        }
    }

    pub fn parse(text: &str, shown: &str) -> Result<Suppressions> {
        let file: File = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| format!(":{}", crate::line_col(text, s.start).0)).unwrap_or_default();
            anyhow::anyhow!("{shown}{at}: {}", e.message())
        })?;
        let mut entries = Vec::new();
        for spanned in file.suppress {
            let line = crate::line_col(text, spanned.span().start).0;
            let raw = spanned.into_inner();
            let at = format!("{shown}:{line}");
            let Some(id) = raw.id.filter(|s| !s.trim().is_empty()) else {
                bail!("{at}: suppression without an `id` (an advisory id such as RUSTSEC-2023-0071, or a rule id)");
            };
            let Some(reason) = raw.reason.filter(|s| !s.trim().is_empty()) else {
                bail!("{at}: suppression of {id} has no `reason`: say why it is safe to ignore");
            };
            let expires = match raw.expires {
                None => {
                    bail!("{at}: suppression of {id} has no `expires` date (YYYY-MM-DD): when is it reviewed again?")
                }
                Some(v) => parse_expiry(&v).with_context(|| format!("{at}: suppression of {id}: bad `expires`"))?,
            };
            if let Some(glob) = &raw.path {
                xtask_lint::glob::check(glob).map_err(|e| anyhow::anyhow!("{at}: path {glob:?}: {e}"))?;
            }
            let entry = Entry { id, path: raw.path, reason: reason.trim().to_owned(), expires, line };
            if entry.check().is_none() {
                bail!(
                    "{at}: unknown id {:?}: expected an advisory (RUSTSEC-…, CVE-…, GHSA-…) or a rule id \
                     starting with advisories/, source/, clippy::, secrets/, zizmor/, hadolint/ or infra/",
                    entry.id
                );
            }
            entries.push(entry);
        }
        Ok(Suppressions { path: shown.to_owned(), entries })
    }

    /// Mark the findings the live entries match, then add a finding for each expired entry and
    /// for each live entry of a check that ran (`ran`) and matched nothing.
    pub fn apply(&self, findings: &mut Vec<Finding>, ran: &[Check], today: Date) {
        let mut used = vec![false; self.entries.len()];
        for f in findings.iter_mut() {
            for (i, e) in self.entries.iter().enumerate() {
                if e.expires >= today && e.matches(f) {
                    used[i] = true;
                    f.suppressed.get_or_insert_with(|| e.reason.clone());
                }
            }
        }
        for (e, used) in self.entries.iter().zip(used) {
            let Some(check) = e.check() else { continue };
            let (rule, title) = if e.expires < today {
                ("suppression/expired", format!("the suppression of {} expired on {}", e.id, e.expires))
            } else if !used && ran.contains(&check) {
                ("suppression/unused", format!("the suppression of {} matches no finding", e.id))
            } else {
                continue;
            };
            let help = if rule == "suppression/expired" {
                "review it: fix the finding, or renew the entry with a new date and a reason that still holds"
            } else {
                "remove the entry: what it suppressed is gone"
            };
            findings.push(Finding::new(check, rule, Severity::Medium, title).help(help).at(
                &self.path,
                Some(e.line),
                None,
            ));
        }
    }
}

fn parse_expiry(v: &toml::Value) -> Result<Date> {
    let text = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) if d.time.is_none() && d.offset.is_none() => d.to_string(),
        other => bail!("expected a date such as 2027-01-31, found {other}"),
    };
    text.trim().parse::<Date>().map_err(|_| anyhow::anyhow!("expected a date such as 2027-01-31, found {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        jiff::civil::date(2026, 11, 22)
    }

    fn finding(rule: &str, path: Option<&str>) -> Finding {
        let f = Finding::new(Check::Secrets, rule, Severity::High, "x");
        match path {
            Some(p) => f.at(p, Some(1), None),
            None => f,
        }
    }

    #[test]
    fn an_entry_needs_a_reason_and_an_expiry() {
        let no_reason = "[[suppress]]\nid = \"secrets/github-token\"\nexpires = 2027-01-01\n";
        let e = Suppressions::parse(no_reason, "security.toml").unwrap_err().to_string();
        assert!(e.contains("security.toml:1") && e.contains("no `reason`"), "{e}");
        let blank = "[[suppress]]\nid = \"secrets/github-token\"\nreason = \"  \"\nexpires = 2027-01-01\n";
        assert!(Suppressions::parse(blank, "s").is_err());
        let no_expiry = "[[suppress]]\nid = \"RUSTSEC-2020-0001\"\nreason = \"r\"\n";
        assert!(Suppressions::parse(no_expiry, "s").unwrap_err().to_string().contains("no `expires`"));
        let bad_date = "[[suppress]]\nid = \"RUSTSEC-2020-0001\"\nreason = \"r\"\nexpires = \"next year\"\n";
        assert!(format!("{:#}", Suppressions::parse(bad_date, "s").unwrap_err()).contains("next year"));
        let unknown = "[[suppress]]\nid = \"B101\"\nreason = \"r\"\nexpires = 2027-01-01\n";
        assert!(Suppressions::parse(unknown, "s").unwrap_err().to_string().contains("unknown id"));
        let typo = "[[suppress]]\nid = \"RUSTSEC-2020-0001\"\nreasons = \"r\"\nexpires = 2027-01-01\n";
        assert!(Suppressions::parse(typo, "s").unwrap_err().to_string().contains("reasons"));
    }

    #[test]
    fn dates_may_be_toml_dates_or_strings() {
        let text = "[[suppress]]\nid = \"CVE-2024-1\"\nreason = \"r\"\nexpires = \"2027-01-31\"\n\n\
                    [[suppress]]\nid = \"GHSA-x\"\nreason = \"r\"\nexpires = 2027-02-01\n";
        let s = Suppressions::parse(text, "s").unwrap();
        assert_eq!(s.entries[0].expires, jiff::civil::date(2027, 1, 31));
        assert_eq!(s.entries[1].line, 6);
    }

    #[test]
    fn live_entries_suppress_by_id_alias_and_path() {
        let text = "[[suppress]]\nid = \"secrets/password-in-url\"\npath = \"tests/**\"\nreason = \"fixtures\"\nexpires = 2027-01-01\n\n\
                    [[suppress]]\nid = \"CVE-2023-1\"\nreason = \"not reachable\"\nexpires = 2027-01-01\n";
        let s = Suppressions::parse(text, "security.toml").unwrap();
        let mut advisory = Finding::new(Check::Advisories, "RUSTSEC-2023-0001", Severity::High, "x");
        advisory.aliases = vec!["CVE-2023-1".into()];
        let mut fs = vec![
            finding("secrets/password-in-url", Some("tests/a.rs")),
            finding("secrets/password-in-url", Some("src/a.rs")),
            advisory,
        ];
        s.apply(&mut fs, &Check::ALL, today());
        assert_eq!(fs[0].suppressed.as_deref(), Some("fixtures"));
        assert!(fs[1].suppressed.is_none() && fs[1].fails());
        assert_eq!(fs[2].suppressed.as_deref(), Some("not reachable"));
        assert_eq!(fs.len(), 3, "no unused or expired entries: {fs:?}");
    }

    #[test]
    fn expired_and_unused_entries_fail() {
        let text = "[[suppress]]\nid = \"secrets/github-token\"\nreason = \"old\"\nexpires = 2026-11-21\n\n\
                    [[suppress]]\nid = \"RUSTSEC-2099-0001\"\nreason = \"gone\"\nexpires = 2027-01-01\n";
        let s = Suppressions::parse(text, "security.toml").unwrap();
        let mut fs = vec![finding("secrets/github-token", Some("a"))];
        s.apply(&mut fs, &Check::ALL, today());
        assert!(fs[0].suppressed.is_none(), "an expired entry suppresses nothing");
        let rules: Vec<_> = fs.iter().map(|f| (f.rule.as_str(), f.line, f.fails())).collect();
        assert_eq!(
            rules,
            [
                ("secrets/github-token", Some(1), true),
                ("suppression/expired", Some(1), true),
                ("suppression/unused", Some(6), true)
            ]
        );
        // An entry that expires today still holds.
        let mut fs = vec![finding("secrets/github-token", Some("a"))];
        s.apply(&mut fs, &[Check::Secrets], jiff::civil::date(2026, 11, 21));
        assert!(fs[0].suppressed.is_some() && fs.len() == 1, "{fs:?}");
    }
}

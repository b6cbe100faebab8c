//! The quarantine file (`tests-quarantine.toml`, the test table's `quarantine`): flaky tests
//! whose flake does not fail the gate until a date, as the security suppressions do.
//!
//! ```toml
//! [[quarantine]]
//! test = "app::api::timeouts"          # binary::test, as nextest and `cargo xtask flaky` name it
//! reason = "races the server's shutdown; issue 41"   # required
//! expires = 2027-01-31                 # required: fixed, or looked at again, by then
//! ```
//!
//! `test` may hold `*`, which matches any run of characters but `/`. Every problem of the file
//! is reported at once; a test with no reason or no expiry is one of them.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

use crate::security::date::Date;
use crate::security::suppress::parse_expiry;

/// One `[[quarantine]]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `binary::test`, or a glob over it.
    pub test: String,
    pub reason: String,
    pub expires: Date,
    /// 1-based line of the entry's `[[quarantine]]` header.
    pub line: usize,
}

impl Entry {
    /// Whether the entry names the test `id` (`binary::test`).
    pub fn matches(&self, id: &str) -> bool {
        self.test == id || (self.test.contains('*') && xtask_repo::glob::matches(&self.test, id))
    }

    /// Past its date: it quarantines nothing any more.
    pub fn expired(&self, today: Date) -> bool {
        self.expires < today
    }
}

/// The parsed file, as shown in messages (`path`).
#[derive(Clone, Debug, Default)]
pub struct Quarantine {
    pub path: String,
    pub entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    quarantine: Vec<toml::Spanned<RawEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    test: Option<String>,
    reason: Option<String>,
    expires: Option<toml::Value>,
}

impl Quarantine {
    /// Reads `file` (shown as `shown`); a missing file quarantines nothing.
    pub fn load(file: &Path, shown: &str) -> Result<Quarantine> {
        match std::fs::read_to_string(file) {
            Ok(text) => Quarantine::parse(&text, shown),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Quarantine { path: shown.to_owned(), entries: Vec::new() })
            }
            Err(e) => Err(e).with_context(|| format!("{shown}: cannot be read")),
        }
    }

    /// The entries, or every problem with them (one line each).
    pub fn parse(text: &str, shown: &str) -> Result<Quarantine> {
        let file: File = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| format!(":{}", crate::security::line_col(text, s.start).0)).unwrap_or_default();
            anyhow::anyhow!("{shown}{at}: {}", e.message())
        })?;
        let mut entries = Vec::new();
        let mut problems = Vec::new();
        for spanned in file.quarantine {
            let line = crate::security::line_col(text, spanned.span().start).0;
            let raw = spanned.into_inner();
            let at = format!("{shown}:{line}");
            let test = raw.test.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
            let named = test.as_deref().unwrap_or("an entry");
            if test.is_none() {
                problems.push(format!(
                    "{at}: quarantine entry without a `test` (binary::test, as `cargo xtask flaky` names it)"
                ));
            } else if let Some(t) = &test
                && !t.contains("::")
            {
                problems.push(format!(
                    "{at}: `test` = {t:?}: name the test binary, then the test: \"app::module::test\" (as \
                     `cargo xtask flaky` names it)"
                ));
            }
            let reason = raw.reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
            if reason.is_none() {
                problems
                    .push(format!("{at}: quarantine of {named} has no `reason`: say why it flakes, and who fixes it"));
            }
            let expires = match raw.expires {
                None => {
                    problems.push(format!(
                        "{at}: quarantine of {named} has no `expires` date (YYYY-MM-DD): when must it be fixed?"
                    ));
                    None
                }
                Some(v) => match parse_expiry(&v) {
                    Ok(d) => Some(d),
                    Err(e) => {
                        problems.push(format!("{at}: quarantine of {named}: bad `expires`: {e}"));
                        None
                    }
                },
            };
            if let (Some(test), Some(reason), Some(expires)) = (test, reason, expires) {
                if let Some(first) = entries.iter().find(|e: &&Entry| e.test == test) {
                    problems.push(format!("{at}: {test} is quarantined twice (first at line {})", first.line));
                } else {
                    entries.push(Entry { test, reason, expires, line });
                }
            }
        }
        if !problems.is_empty() {
            bail!("{}", problems.join("\n"));
        }
        Ok(Quarantine { path: shown.to_owned(), entries })
    }

    /// The first entry that names the test `id`.
    pub fn entry_for(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.matches(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_with_reason_and_expiry_and_globs() {
        let q = Quarantine::parse(
            "[[quarantine]]\ntest = \"app::api::slow\"\nreason = \"r\"\nexpires = 2027-01-31\n\n\
             [[quarantine]]\ntest = \"app::db::*\"\nreason = \"r2\"\nexpires = \"2020-01-01\"\n",
            "q.toml",
        )
        .unwrap();
        assert_eq!(q.entries.len(), 2);
        assert_eq!((q.entries[0].line, q.entries[1].line), (1, 6));
        assert_eq!(q.entry_for("app::api::slow").unwrap().reason, "r");
        assert_eq!(q.entry_for("app::db::pool::ok").unwrap().reason, "r2");
        assert!(q.entry_for("app::api::fast").is_none());
        let today = Date::new(2026, 12, 6).unwrap();
        assert!(!q.entries[0].expired(today) && q.entries[1].expired(today));
        assert!(!q.entries[0].expired(Date::new(2027, 1, 31).unwrap()));
        assert!(Quarantine::parse("", "q.toml").unwrap().entries.is_empty());
    }

    #[test]
    fn every_problem_at_once() {
        let text = "[[quarantine]]\nreason = \"r\"\nexpires = 2027-01-01\n\
                    [[quarantine]]\ntest = \"app::a\"\n\
                    [[quarantine]]\ntest = \"lonely\"\nreason = \" \"\nexpires = \"2027-02-30\"\n\
                    [[quarantine]]\ntest = \"app::b\"\nreason = \"r\"\nexpires = 2027-01-01\n\
                    [[quarantine]]\ntest = \"app::b\"\nreason = \"r\"\nexpires = 2027-01-01T10:00:00\n";
        let err = Quarantine::parse(text, "q.toml").unwrap_err().to_string();
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(
            lines,
            [
                "q.toml:1: quarantine entry without a `test` (binary::test, as `cargo xtask flaky` names it)",
                "q.toml:4: quarantine of app::a has no `reason`: say why it flakes, and who fixes it",
                "q.toml:4: quarantine of app::a has no `expires` date (YYYY-MM-DD): when must it be fixed?",
                "q.toml:6: `test` = \"lonely\": name the test binary, then the test: \"app::module::test\" (as \
                 `cargo xtask flaky` names it)",
                "q.toml:6: quarantine of lonely has no `reason`: say why it flakes, and who fixes it",
                "q.toml:6: quarantine of lonely: bad `expires`: expected a date such as 2027-01-31, found \
                 \"2027-02-30\"",
                "q.toml:14: quarantine of app::b: bad `expires`: expected a date such as 2027-01-31, found \
                 2027-01-01T10:00:00 (a date and time)",
            ],
            "{err}"
        );
        let unknown = Quarantine::parse("[[quarantine]]\ntets = \"x\"\n", "q.toml").unwrap_err().to_string();
        assert!(unknown.starts_with("q.toml:2: unknown field `tets`"), "{unknown}");
        let twice = "[[quarantine]]\ntest = \"a::b\"\nreason = \"r\"\nexpires = 2027-01-01\n\
                     [[quarantine]]\ntest = \"a::b\"\nreason = \"r\"\nexpires = 2027-01-01\n";
        let err = Quarantine::parse(twice, "q.toml").unwrap_err().to_string();
        assert_eq!(err, "q.toml:5: a::b is quarantined twice (first at line 1)");
    }
}

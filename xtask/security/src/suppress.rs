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
use serde::Deserialize;

use crate::date::Date;
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
                (Some(glob), Some(path)) => xtask_repo::glob::matches(glob, path),
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
                // The lint's globs allow `!` (to take files back out of a list); an entry has one
                // glob, and `!…` would match no file at all.
                if glob.starts_with('!') {
                    bail!("{at}: path {glob:?}: a suppression's path cannot be negated: name the files it applies to");
                }
                xtask_repo::glob::check(glob).map_err(|e| anyhow::anyhow!("{at}: path {glob:?}: {e}"))?;
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

/// An `expires` value: a TOML date (`2027-01-31`) or the same as a string (the suppressions'
/// and the flaky tests' quarantine's).
pub fn parse_expiry(v: &toml::Value) -> Result<Date> {
    let text = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) if d.time.is_none() && d.offset.is_none() => d.to_string(),
        // Shown without `toml::Value`'s Display, which needs a toml feature this crate does not enable.
        toml::Value::Datetime(d) => bail!("expected a date such as 2027-01-31, found {d} (a date and time)"),
        toml::Value::Integer(n) => bail!("expected a date such as 2027-01-31, found {n}"),
        other => bail!("expected a date such as 2027-01-31, found {}", other.type_str()),
    };
    text.trim().parse::<Date>().map_err(|_| anyhow::anyhow!("expected a date such as 2027-01-31, found {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        Date::new(2026, 11, 22).unwrap()
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
        assert_eq!(s.entries[0].expires, Date::new(2027, 1, 31).unwrap());
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
        s.apply(&mut fs, &[Check::Secrets], Date::new(2026, 11, 21).unwrap());
        assert!(fs[0].suppressed.is_some() && fs.len() == 1, "{fs:?}");
    }

    /// One `[[suppress]]` entry with the given extra lines.
    fn entry(id: &str, extra: &str) -> String {
        format!("[[suppress]]\nid = \"{id}\"\nreason = \"r\"\nexpires = 2027-01-01\n{extra}")
    }

    fn parse_err(text: &str) -> String {
        format!("{:#}", Suppressions::parse(text, "security.toml").unwrap_err())
    }

    #[test]
    fn an_entry_needs_an_id() {
        let no_id = "\n[[suppress]]\nreason = \"r\"\nexpires = 2027-01-01\n";
        let e = parse_err(no_id);
        assert!(e.starts_with("security.toml:2: suppression without an `id`"), "{e}");
        let blank = "[[suppress]]\nid = \" \"\nreason = \"r\"\nexpires = 2027-01-01\n";
        assert!(parse_err(blank).contains("without an `id`"));
    }

    #[test]
    fn the_id_decides_which_check_an_entry_belongs_to() {
        let check = |id: &str| Suppressions::parse(&entry(id, ""), "s").unwrap().entries[0].check();
        for id in ["RUSTSEC-2023-0071", "CVE-2023-1234", "GHSA-abcd-efgh-ijkl", "advisories/stale-db"] {
            assert_eq!(check(id), Some(Check::Advisories), "{id}");
        }
        for id in ["source/weak-hash", "clippy::unwrap_used"] {
            assert_eq!(check(id), Some(Check::Source), "{id}");
        }
        assert_eq!(check("secrets/aws-access-key"), Some(Check::Secrets));
        for id in ["zizmor/artipacked", "hadolint/DL3002", "infra/tool"] {
            assert_eq!(check(id), Some(Check::Infra), "{id}");
        }
        // bandit ids, lower-case advisory ids and bare rule names are not ids of this gate.
        for id in ["B101", "rustsec-2023-0071", "weak-hash", "suppression/unused", "clippy:unwrap_used"] {
            let e = parse_err(&entry(id, ""));
            assert!(e.contains(&format!("security.toml:1: unknown id {id:?}")), "{id}: {e}");
        }
    }

    #[test]
    fn a_path_glob_limits_an_entry_to_the_files_it_matches() {
        let s = Suppressions::parse(&entry("secrets/password-in-url", "path = \"app/tests/**\"\n"), "s").unwrap();
        let mut fs = vec![
            finding("secrets/password-in-url", Some("app/tests/api/config.rs")),
            finding("secrets/password-in-url", Some("app/tests/stack.rs")),
            finding("secrets/password-in-url", Some("app/src/config.rs")),
            finding("secrets/password-in-url", Some("xtask/app/tests/x.rs")),
            // A finding without a file (a whole-repository finding) is never in the glob's files.
            finding("secrets/password-in-url", None),
            // Another rule in the same files is not suppressed.
            finding("secrets/github-token", Some("app/tests/api/config.rs")),
        ];
        s.apply(&mut fs, &Check::ALL, today());
        let suppressed: Vec<bool> = fs.iter().map(|f| f.suppressed.is_some()).collect();
        assert_eq!(suppressed, [true, true, false, false, false, false]);
        assert_eq!(fs.len(), 6, "the entry was used: {fs:?}");
        // `*` stays within one folder.
        let s = Suppressions::parse(&entry("source/weak-hash", "path = \"app/src/*.rs\"\n"), "s").unwrap();
        let mut fs = vec![finding("source/weak-hash", Some("app/src/routes/users.rs"))];
        s.apply(&mut fs, &[Check::Source], today());
        assert!(fs[0].suppressed.is_none());
        assert_eq!(fs[1].rule, "suppression/unused");
    }

    #[test]
    fn an_unusable_path_glob_is_a_configuration_error() {
        for (glob, why) in [
            ("", "empty"),
            ("/app/src/**", "relative"),
            ("app\\\\src\\\\x.rs", "relative"),
            ("app/src**", "whole path segment"),
            ("!app/tests/**", "cannot be negated"),
        ] {
            let e = parse_err(&entry("secrets/password-in-url", &format!("path = \"{glob}\"\n")));
            assert!(e.starts_with("security.toml:1: path "), "{glob}: {e}");
            assert!(e.contains(why), "{glob}: {e}");
        }
    }

    #[test]
    fn expires_must_be_a_plain_date() {
        for (value, shown) in [
            ("2027-01-01T12:00:00", "2027-01-01T12:00:00"),
            ("2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            ("20270101", "20270101"),
            ("\"2027-02-30\"", "2027-02-30"),
            ("[2027, 1, 1]", "found array"),
        ] {
            let text = format!("[[suppress]]\nid = \"CVE-2024-1\"\nreason = \"r\"\nexpires = {value}\n");
            let e = parse_err(&text);
            assert!(e.starts_with("security.toml:1: suppression of CVE-2024-1: bad `expires`"), "{value}: {e}");
            assert!(e.contains("expected a date such as 2027-01-31") && e.contains(shown), "{value}: {e}");
        }
    }

    #[test]
    fn the_file_itself_must_be_valid_and_use_known_tables() {
        let e = parse_err("[[suppress]]\nid = \"CVE-2024-1\"\nreason = \"r\nexpires = 2027-01-01\n");
        assert!(e.starts_with("security.toml:3: "), "{e}");
        // A misspelt table would otherwise suppress nothing, silently.
        let e = parse_err(&entry("CVE-2024-1", "").replace("[[suppress]]", "[[suppression]]"));
        assert!(e.starts_with("security.toml:1: ") && e.contains("suppression"), "{e}");
        assert!(Suppressions::parse("", "s").unwrap().entries.is_empty());
        let s = Suppressions::parse(&entry("CVE-2024-1", "").replace("\"r\"", "\"  not reachable \""), "s").unwrap();
        assert_eq!(s.entries[0].reason, "not reachable");
    }

    #[test]
    fn a_missing_file_suppresses_nothing_and_an_unreadable_one_is_an_error() {
        let dir = std::env::temp_dir().join(format!("xtask-suppress-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let s = Suppressions::load(&dir.join("security.toml"), "security.toml").unwrap();
        assert_eq!((s.path.as_str(), s.entries.len()), ("security.toml", 0));
        // A folder where the file should be cannot be read: an error, never "no suppressions".
        let e = format!("{:#}", Suppressions::load(&dir, "security.toml").unwrap_err());
        assert!(e.starts_with("security.toml: cannot be read"), "{e}");
        std::fs::write(dir.join("security.toml"), entry("CVE-2024-1", "")).unwrap();
        let s = Suppressions::load(&dir.join("security.toml"), "conf/security.toml").unwrap();
        assert_eq!((s.path.as_str(), s.entries[0].id.as_str()), ("conf/security.toml", "CVE-2024-1"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unused_is_judged_only_for_checks_that_ran_but_expired_always_counts() {
        let text = format!(
            "{}\n{}",
            entry("RUSTSEC-2099-0001", ""),
            entry("secrets/github-token", "").replace("2027-01-01", "2026-01-01")
        );
        let s = Suppressions::parse(&text, "security.toml").unwrap();
        // `--check source`: neither entry's check ran.
        let mut fs = Vec::new();
        s.apply(&mut fs, &[Check::Source], today());
        assert_eq!(fs.len(), 1, "{fs:?}");
        let f = &fs[0];
        assert_eq!(
            (f.check, f.rule.as_str(), f.severity, f.path.as_deref(), f.line),
            (Check::Secrets, "suppression/expired", Severity::Medium, Some("security.toml"), Some(6))
        );
        assert_eq!(f.title, "the suppression of secrets/github-token expired on 2026-01-01");
        assert!(f.help.as_deref().is_some_and(|h| h.starts_with("review it")), "{f:?}");
        // Once the advisories ran, the advisory entry that matched nothing is a finding too.
        let mut fs = Vec::new();
        s.apply(&mut fs, &[Check::Advisories], today());
        let unused = fs.iter().find(|f| f.rule == "suppression/unused").expect("an unused finding");
        assert_eq!(
            (unused.check, unused.line, unused.title.as_str()),
            (Check::Advisories, Some(1), "the suppression of RUSTSEC-2099-0001 matches no finding")
        );
        assert!(unused.fails() && unused.help.as_deref() == Some("remove the entry: what it suppressed is gone"));
    }

    #[test]
    fn two_entries_for_one_finding_are_both_used_and_the_first_reason_is_shown() {
        let text = format!(
            "{}\n{}",
            entry("secrets/github-token", "path = \"tests/**\"\n").replace("\"r\"", "\"fixtures\""),
            entry("secrets/github-token", "").replace("\"r\"", "\"everywhere\"")
        );
        let s = Suppressions::parse(&text, "security.toml").unwrap();
        let mut fs = vec![finding("secrets/github-token", Some("tests/a.rs"))];
        s.apply(&mut fs, &[Check::Secrets], today());
        assert_eq!(fs.len(), 1, "neither entry is unused: {fs:?}");
        assert_eq!(fs[0].suppressed.as_deref(), Some("fixtures"));
        assert!(!fs[0].fails());
    }
}

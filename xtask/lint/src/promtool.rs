//! promtool (Prometheus's own checker) on the repository's Prometheus files: `check config` on
//! a server configuration, `check rules` on a rule file, `test rules` on a rule file's unit
//! tests. The files are told apart by what they hold (their top-level keys), so a rule file
//! needs no naming scheme. Findings keep the file and line promtool gives; a failing unit test
//! is reported at its `name:` line, with promtool's expected and actual alerts as notes.

use std::path::Path;

use xtask_process::Cmd;

use crate::{Finding, yaml};

/// What a Prometheus file is, by its top-level keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A server configuration (`scrape_configs`, `global`, …): `promtool check config`.
    Config,
    /// Alerting and recording rules (`groups`): `promtool check rules`.
    Rules,
    /// Rule unit tests (`tests` and `rule_files`): `promtool test rules`.
    Tests,
}

impl Kind {
    /// promtool's subcommand for this kind.
    pub fn command(self) -> [&'static str; 2] {
        match self {
            Kind::Config => ["check", "config"],
            Kind::Rules => ["check", "rules"],
            Kind::Tests => ["test", "rules"],
        }
    }
}

/// A YAML file promtool may read: `prometheus.yml` anywhere, or any YAML file under a folder
/// named `prometheus`.
pub fn is_candidate(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let yaml = name.ends_with(".yml") || name.ends_with(".yaml");
    yaml && (matches!(name, "prometheus.yml" | "prometheus.yaml")
        || path.split('/').rev().skip(1).any(|d| d == "prometheus"))
}

/// The kind of a candidate file from its text; `None` for other YAML (an Alertmanager
/// configuration, say) and for text that is not YAML (the hygiene check reports that).
pub fn kind(path: &str, text: &str) -> Option<Kind> {
    let docs = yaml::parse(text).ok()?;
    let top = docs.first()?;
    let has = |key: &str| top.get(key).is_some();
    if has("tests") && has("rule_files") {
        Some(Kind::Tests)
    } else if has("groups") {
        Some(Kind::Rules)
    } else if has("scrape_configs")
        || has("global")
        || path.ends_with("prometheus.yml")
        || path.ends_with("prometheus.yaml")
    {
        Some(Kind::Config)
    } else {
        None
    }
}

/// promtool's complaints, as findings, each at the path promtool names (relative to where it
/// ran: the linted root, so a rule file a configuration or a test reads is named from there
/// too). Three shapes carry a place:
///
/// - `deploy/prometheus/rules/a.yml: 5:15: group "x", rule 1, "A": could not parse expression: …`
/// - `… a.yml: yaml: line 6: did not find expected key` (`FAILED: parsing YAML file …` before it)
/// - `… a.yml: yaml: unmarshal errors:` then `  line 6: field foo not found in type …`
///
/// Lines promtool indents or prefixes with `FAILED:` are read the same; the same finding
/// given twice (a configuration's rule file checked through it and on its own) counts once.
pub fn findings(output: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    let mut unmarshal: Option<String> = None;
    for raw in output.lines() {
        let line = raw.trim();
        let line = line.strip_prefix("FAILED:").map_or(line, str::trim_start);
        let line = line.strip_prefix("parsing YAML file ").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if let (Some(file), Some(rest)) = (&unmarshal, line.strip_prefix("line "))
            && let Some((n, message)) = rest.split_once(": ")
            && let Ok(n) = n.parse::<usize>()
        {
            found.push(Finding::at(file, n, format!("yaml: {message}")));
            continue;
        }
        unmarshal = None;
        let Some((file, rest)) = line.split_once(": ") else { continue };
        if file.contains(' ') || !(file.ends_with(".yml") || file.ends_with(".yaml")) {
            continue;
        }
        if rest.trim_end() == "yaml: unmarshal errors:" {
            unmarshal = Some(file.to_owned());
        } else if let Some(at) = rest.strip_prefix("yaml: line ")
            && let Some((n, message)) = at.split_once(": ")
            && let Ok(n) = n.parse::<usize>()
        {
            found.push(Finding::at(file, n, format!("yaml: {message}")));
        } else if let Some((place, message)) = rest.split_once(": ")
            && let Some((n, column)) = place.split_once(':')
            && let (Ok(n), true) = (n.parse::<usize>(), column.bytes().all(|b| b.is_ascii_digit()))
        {
            found.push(Finding::at(file, n, message));
        } else {
            found.push(Finding::file(file, rest));
        }
    }
    found.sort_by(|a: &Finding, b| (&a.path, a.line, &a.message).cmp(&(&b.path, b.line, &b.message)));
    found.dedup();
    found
}

/// The unit tests `promtool test rules` reports as failed, by name (`    name: <name>,`).
pub fn failed_tests(output: &str) -> Vec<String> {
    let mut names: Vec<String> =
        output.lines().filter_map(|l| l.trim().strip_prefix("name: ")?.strip_suffix(',').map(str::to_owned)).collect();
    names.dedup();
    names
}

/// The line of the test named `name` in a rule test file (its `name:` key), else 1.
pub fn test_line(text: &str, name: &str) -> usize {
    let Ok(docs) = yaml::parse(text) else { return 1 };
    let tests = docs.first().and_then(|d| d.get("tests")).map(yaml::Node::items).unwrap_or_default();
    tests
        .iter()
        .find(|t| t.get("name").and_then(yaml::Node::scalar) == Some(name))
        .map_or(1, |t| t.key_line("name").unwrap_or(t.line))
}

/// What one promtool run found.
pub struct Outcome {
    pub findings: Vec<Finding>,
    /// promtool's own account of a failed unit test (expected and actual alerts or samples).
    pub notes: Vec<String>,
}

/// Runs promtool on `file` (relative to `root`, where it runs) as its `kind` says; `Err` when
/// promtool fails without saying where (it could not run, or its output is not understood).
pub fn run(promtool: &Path, root: &Path, file: &str, kind: Kind) -> Result<Outcome, String> {
    let [group, command] = kind.command();
    let what = format!("promtool {group} {command}");
    let out = Cmd::new(promtool)
        .args([group, command, file])
        .current_dir(root)
        .shown(&what)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        return Ok(Outcome { findings: Vec::new(), notes: Vec::new() });
    }
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let mut findings = findings(&text);
    let mut notes = Vec::new();
    if kind == Kind::Tests {
        let failed = failed_tests(&text);
        if !failed.is_empty() {
            let source = std::fs::read_to_string(root.join(file)).unwrap_or_default();
            for name in failed {
                findings.push(Finding::at(file, test_line(&source, &name), format!("rule test failed: {name}")));
            }
            notes.push(format!("{what} {file}:\n{}", text.trim_end()));
        }
    }
    if findings.is_empty() { Err(xtask_process::failure(&what, &out)) } else { Ok(Outcome { findings, notes }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_prometheus_yml_or_yaml_under_a_prometheus_folder() {
        assert!(is_candidate("deploy/prometheus/prometheus.yml") && is_candidate("prometheus.yaml"));
        assert!(is_candidate("deploy/prometheus/rules/a.yml") && is_candidate("prometheus/tests/a.test.yaml"));
        assert!(!is_candidate("deploy/prometheus/README.md") && !is_candidate("deploy/prometheusish/a.yml"));
        assert!(!is_candidate("deploy/other/a.yml") && !is_candidate("deploy/prometheus"));
    }

    #[test]
    fn the_kind_is_told_by_the_top_level_keys() {
        assert_eq!(kind("p/a.yml", "groups:\n  - name: x\n    rules: []\n"), Some(Kind::Rules));
        assert_eq!(kind("p/a.yml", "rule_files: [r.yml]\ntests: []\n"), Some(Kind::Tests));
        assert_eq!(kind("p/a.yml", "scrape_configs: []\n"), Some(Kind::Config));
        assert_eq!(kind("p/prometheus.yml", "alerting: {}\n"), Some(Kind::Config));
        assert_eq!(kind("p/alertmanager.yml", "route:\n  receiver: x\n"), None);
        assert_eq!(kind("p/a.yml", "groups: [\n"), None, "not YAML: the hygiene check says so");
    }

    #[test]
    fn promtool_errors_become_findings_at_their_line() {
        let out = "Checking d/p/rules/bad.yml\n  FAILED:\n\
                   d/p/rules/bad.yml: 5:15: group \"x\", rule 1, \"A\": could not parse expression: 1:6: parse error\n\
                   d/p/rules/bad2.yml: yaml: unmarshal errors:\n  line 6: field foo not found in type rulefmt.RuleNode\n\
                   \x20 line 9: field bar not found\n\
                   \x20 FAILED: parsing YAML file d/p/prometheus.yml: yaml: line 6: did not find expected ',' or ']'\n\
                   \x20 FAILED: parsing YAML file d/p/p2.yml: not a valid duration string: \"15x\"\n\
                   \x20 FAILED:\n     d/p/rules/bad.yml: 5:15: group \"x\", rule 1, \"A\": could not parse expression: 1:6: parse error\n";
        let found: Vec<String> = findings(out).iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            [
                "d/p/p2.yml: not a valid duration string: \"15x\"",
                "d/p/prometheus.yml:6: yaml: did not find expected ',' or ']'",
                "d/p/rules/bad.yml:5: group \"x\", rule 1, \"A\": could not parse expression: 1:6: parse error",
                "d/p/rules/bad2.yml:6: yaml: field foo not found in type rulefmt.RuleNode",
                "d/p/rules/bad2.yml:9: yaml: field bar not found",
            ]
        );
    }

    #[test]
    fn a_failed_unit_test_is_found_at_its_name() {
        let out = "Unit Testing:  t.yml\n  FAILED:\n    name: fires after 5m,\n    alertname: A, time: 6m, \n\
                   \x20       exp:[\n            ], \n        got:[]\n    name: two,\n    expr: \"up\", time: 1m,\n";
        assert_eq!(failed_tests(out), ["fires after 5m", "two"]);
        let text = "rule_files: [r.yml]\ntests:\n  - interval: 1m\n    name: one\n  - name: fires after 5m\n    \
                    interval: 1m\n";
        assert_eq!(test_line(text, "fires after 5m"), 5);
        assert_eq!(test_line(text, "one"), 4);
        assert_eq!(test_line(text, "missing"), 1);
    }
}

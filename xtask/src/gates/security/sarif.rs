//! The report as SARIF 2.1.0, the format GitHub code scanning uploads (`--sarif PATH`): one
//! run, one rule per finding rule, suppressed findings carried with their justification.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::security::report::Report;
use crate::security::{Finding, Severity};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Failing findings are errors, low ones warnings, the rest notes.
fn level(s: Severity) -> &'static str {
    match s {
        s if s.fails() => "error",
        Severity::Low => "warning",
        _ => "note",
    }
}

/// GitHub's `security-severity` (a CVSS-like number) of each level.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        Severity::Warning => "0.0",
    }
}

fn result(f: &Finding, rule_index: usize) -> Value {
    let mut r = json!({
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": { "text": f.title },
    });
    if let Some(path) = &f.path {
        let mut region = serde_json::Map::new();
        if let Some(l) = f.line {
            region.insert("startLine".into(), l.into());
        }
        if let Some(c) = f.column {
            region.insert("startColumn".into(), c.into());
        }
        let mut physical = json!({ "artifactLocation": { "uri": path, "uriBaseId": "%SRCROOT%" } });
        if !region.is_empty() {
            physical["region"] = Value::Object(region);
        }
        r["locations"] = json!([{ "physicalLocation": physical }]);
    }
    if let Some(reason) = &f.suppressed {
        r["suppressions"] = json!([{ "kind": "external", "justification": reason }]);
    }
    r
}

pub fn render(report: &Report, tool_version: &str) -> String {
    let mut rules: BTreeMap<&str, &Finding> = BTreeMap::new();
    for f in &report.findings {
        let e = rules.entry(f.rule.as_str()).or_insert(f);
        if f.severity > e.severity {
            *e = f;
        }
    }
    let index: BTreeMap<&str, usize> = rules.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let rules: Vec<Value> = rules
        .values()
        .map(|f| {
            let mut rule = json!({
                "id": f.rule,
                "shortDescription": { "text": f.rule },
                "defaultConfiguration": { "level": level(f.severity) },
                "properties": { "security-severity": security_severity(f.severity), "tags": ["security", f.check.as_str()] },
            });
            if let Some(help) = &f.help {
                rule["help"] = json!({ "text": help });
                if help.starts_with("https://") {
                    rule["helpUri"] = json!(help.split([';', ' ']).next().unwrap_or(help));
                }
            }
            rule
        })
        .collect();
    let results: Vec<Value> = report.findings.iter().map(|f| result(f, index[f.rule.as_str()])).collect();
    let doc = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "cargo xtask security",
                "version": tool_version,
                "informationUri": "https://github.com/rustsec/advisory-db",
                "rules": rules,
            }},
            "originalUriBaseIds": { "%SRCROOT%": { "description": { "text": "The repository root" } } },
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&doc).expect("SARIF serialises") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::Check;

    #[test]
    fn results_point_at_their_rules_and_places() {
        let mut quiet = Finding::new(Check::Secrets, "secrets/x", Severity::High, "s").at("t/a.rs", Some(3), Some(7));
        quiet.suppressed = Some("fixture".into());
        let report = Report::new(
            vec![],
            vec![
                Finding::new(Check::Advisories, "RUSTSEC-2020-0001", Severity::Critical, "bad")
                    .help("https://rustsec.org/advisories/RUSTSEC-2020-0001; upgrade to >=1.2")
                    .at("Cargo.lock", Some(10), None),
                quiet,
                Finding::new(Check::Advisories, "advisory-db/stale", Severity::Medium, "old"),
            ],
        );
        let v: Value = serde_json::from_str(&render(&report, "0.1.0")).unwrap();
        assert_eq!(v["version"], "2.1.0");
        let run = &v["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 3);
        for r in run["results"].as_array().unwrap() {
            let i = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[i]["id"], r["ruleId"]);
        }
        let first = &run["results"][0];
        assert_eq!(first["level"], "error");
        assert_eq!(first["locations"][0]["physicalLocation"]["region"]["startLine"], 10);
        let advisory_rule = rules.iter().find(|r| r["id"] == "RUSTSEC-2020-0001").unwrap();
        assert_eq!(advisory_rule["helpUri"], "https://rustsec.org/advisories/RUSTSEC-2020-0001");
        assert_eq!(advisory_rule["properties"]["security-severity"], "9.5");
        let sup = run["results"].as_array().unwrap().iter().find(|r| r["ruleId"] == "secrets/x").unwrap();
        assert_eq!(sup["suppressions"][0]["justification"], "fixture");
        assert!(run["results"].as_array().unwrap().iter().any(|r| r["locations"].is_null()));
    }

    #[test]
    fn a_rule_takes_its_worst_finding_and_each_result_keeps_its_own_level() {
        // The same unsound crate: a warning where only tests link it, medium where the app does.
        let unsound = |severity, path: &str| {
            Finding::new(Check::Advisories, "RUSTSEC-2021-0145", severity, "unsound").at(path, Some(1), None)
        };
        // In this order (the warning first), not the report's worst-first order: the rule's level
        // must not depend on which finding comes first.
        let report = Report {
            checks: vec![],
            findings: vec![
                unsound(Severity::Warning, "a/Cargo.lock"),
                unsound(Severity::Medium, "b/Cargo.lock"),
                Finding::new(Check::Advisories, "RUSTSEC-2024-0001", Severity::Low, "cvss 3.1"),
            ],
        };
        let v: Value = serde_json::from_str(&render(&report, "0.1.0")).unwrap();
        let run = &v["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        let rule = |id: &str| rules.iter().find(|r| r["id"] == id).unwrap();
        let unsound_rule = rule("RUSTSEC-2021-0145");
        assert_eq!(unsound_rule["defaultConfiguration"]["level"], "error");
        assert_eq!(unsound_rule["properties"]["security-severity"], "5.5");
        let low_rule = rule("RUSTSEC-2024-0001");
        assert_eq!(low_rule["defaultConfiguration"]["level"], "warning");
        assert_eq!(low_rule["properties"]["security-severity"], "2.0");
        let levels: Vec<&str> =
            run["results"].as_array().unwrap().iter().map(|r| r["level"].as_str().unwrap()).collect();
        assert_eq!(levels, ["note", "error", "warning"]);
        // A rule with only warnings is a note, at security severity 0.0.
        let only_warning = Report::new(vec![], vec![unsound(Severity::Warning, "Cargo.lock")]);
        let v: Value = serde_json::from_str(&render(&only_warning, "0.1.0")).unwrap();
        let rule = &v["runs"][0]["tool"]["driver"]["rules"][0];
        assert_eq!(
            (rule["defaultConfiguration"]["level"].as_str(), rule["properties"]["security-severity"].as_str()),
            (Some("note"), Some("0.0"))
        );
    }
}

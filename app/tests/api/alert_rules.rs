//! The alert rules (deploy/prometheus/rules/) watch metrics the app really exports: the real
//! app, on a real database, answers a few requests, its `/metrics` is scraped, and every metric
//! the rules' expressions name must be there, with every label they match on. A metric renamed
//! in app/src/metrics.rs, or a rule written over one that does not exist, fails here (promtool's
//! unit tests cannot see that: they make up their own series). `up` is Prometheus's own, and
//! `job` and `instance` are the labels Prometheus adds to every series it scrapes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::helpers::{TestDb, client, test_config};
use crate::metrics::serve;

/// Written by Prometheus, not the app.
const PROMETHEUS_METRICS: [&str; 1] = ["up"];
const PROMETHEUS_LABELS: [&str; 2] = ["job", "instance"];

fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/prometheus/rules")
}

/// The `expr:` values of a rule file: on the key's line, or a block scalar (`|`, `>`, with
/// `-` or `+`) on the lines indented below it.
fn expressions(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let Some(rest) = trimmed.strip_prefix("expr:") else { continue };
        let rest = rest.trim();
        if rest.starts_with('|') || rest.starts_with('>') {
            let indent = line.len() - trimmed.len();
            let block: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
                .map(|l| l.trim())
                .collect();
            out.push(block.join(" "));
        } else {
            out.push(rest.trim_matches(|c| c == '\'' || c == '"').to_owned());
        }
    }
    out
}

const AGGREGATIONS: [&str; 12] =
    ["sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile"];
const GROUPING: [&str; 6] = ["by", "without", "on", "ignoring", "group_left", "group_right"];
const KEYWORDS: [&str; 8] = ["and", "or", "unless", "bool", "offset", "atan2", "Inf", "NaN"];

/// The metrics a PromQL expression selects, each with the labels its matchers name: every
/// identifier that is not a function or aggregation (followed by `(`), a keyword, or inside a
/// grouping list (`by (…)`), a matcher (`{…}`) or a range (`[…]`).
fn selectors(expr: &str) -> BTreeMap<String, BTreeSet<String>> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut i = 0;
    let next_non_space = |mut j: usize| {
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        j
    };
    // The index after the bracket that closes the one at `open`, skipping quoted strings.
    let close = |open: usize, end: char| {
        let mut j = open + 1;
        while j < chars.len() && chars[j] != end {
            if chars[j] == '"' || chars[j] == '\'' {
                let quote = chars[j];
                j += 1;
                while j < chars.len() && chars[j] != quote {
                    j += if chars[j] == '\\' { 2 } else { 1 };
                }
            }
            j += 1;
        }
        j + 1
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let after = next_non_space(i);
            let called = chars.get(after) == Some(&'(');
            if GROUPING.contains(&word.as_str()) {
                if called {
                    i = close(after, ')');
                }
            } else if !called && !AGGREGATIONS.contains(&word.as_str()) && !KEYWORDS.contains(&word.as_str()) {
                let labels = out.entry(word).or_default();
                if chars.get(after) == Some(&'{') {
                    let end = close(after, '}');
                    let inside: String = chars[after + 1..end - 1].iter().collect();
                    labels.extend(matcher_labels(&inside));
                    i = end;
                }
            }
        } else if c.is_ascii_digit() || c == '.' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c == '{' {
            // A selector without a metric name (`{__name__=~"…"}`) is not used by these rules.
            panic!("a selector without a metric name is not checked here: {expr}");
        } else if c == '[' {
            i = close(i, ']');
        } else if c == '"' || c == '\'' {
            i = close(i, c);
        } else {
            i += 1;
        }
    }
    out
}

/// The label names of the matchers inside `{…}`: `route!~"/health/.*", status=~"5.."`.
fn matcher_labels(inside: &str) -> Vec<String> {
    let mut labels = Vec::new();
    let mut in_string = None;
    let mut current = String::new();
    for c in inside.chars().chain([',']) {
        match (in_string, c) {
            (Some(q), c) if c == q => in_string = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => in_string = Some(c),
            (None, ',') => {
                let name: String =
                    current.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    labels.push(name);
                }
                current.clear();
                continue;
            }
            (None, c) => current.push(c),
        }
    }
    labels
}

/// The label names on the samples of `metric` in a text exposition.
fn exported_labels(scrape: &str, metric: &str) -> Option<BTreeSet<String>> {
    let mut found = None;
    for line in scrape.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(metric) else { continue };
        if let Some(inside) = rest.strip_prefix('{') {
            let inside = &inside[..inside.rfind('}').unwrap_or(inside.len())];
            found.get_or_insert_with(BTreeSet::new).extend(matcher_labels(inside));
        } else if rest.starts_with(' ') {
            found.get_or_insert_with(BTreeSet::new);
        }
    }
    found
}

#[test]
fn the_selector_reader_finds_metrics_and_their_labels_only() {
    let expr = r#"histogram_quantile(0.95, sum by (job, le) (rate(a_bucket{job="x", route!~"/h/{a}.*"}[1m]))) > 0.2
        and on (instance) (b - c) / ignoring(d) group_left(e) max(f offset 5m) unless sum without (z) (g{}) > bool 1"#;
    let found = selectors(expr);
    let names: Vec<&str> = found.keys().map(String::as_str).collect();
    assert_eq!(names, ["a_bucket", "b", "c", "f", "g"]);
    assert_eq!(found["a_bucket"].iter().collect::<Vec<_>>(), ["job", "route"]);
    let rules = "      - alert: A\n        expr: up == 0\n        for: 1m\n      - alert: B\n        expr: >-\n          \
                 x\n            / y\n        for: 5m\n";
    assert_eq!(expressions(rules), ["up == 0", "x / y"]);
}

#[tokio::test]
async fn every_metric_and_label_the_alert_rules_use_is_exported() {
    let mut rules = BTreeMap::<String, BTreeSet<String>>::new();
    let mut files = 0;
    for entry in std::fs::read_dir(rules_dir()).expect("deploy/prometheus/rules/") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            files += 1;
            for expr in expressions(&std::fs::read_to_string(&path).unwrap()) {
                for (metric, labels) in selectors(&expr) {
                    rules.entry(metric).or_default().extend(labels);
                }
            }
        }
    }
    assert!(files > 0, "no rule file in {}", rules_dir().display());
    for expected in ["up", "http_requests_total", "http_request_duration_seconds_bucket", "app_ready"] {
        assert!(rules.contains_key(expected), "the rules no longer read {expected}? {rules:?}");
    }

    // The real app on a migrated database: a page, a 404, a passing readiness probe.
    let db = TestDb::migrated().await;
    let served = serve(test_config(&db)).await;
    let client = client();
    for path in ["/api/v1/merchants", "/api/v1/nowhere", "/health/ready", "/health/live"] {
        client.get(format!("{}{path}", served.api)).send().await.unwrap();
    }
    let scrape = client.get(&served.metrics).send().await.unwrap().text().await.unwrap();

    for (metric, labels) in &rules {
        if PROMETHEUS_METRICS.contains(&metric.as_str()) {
            continue;
        }
        let exported = exported_labels(&scrape, metric)
            .unwrap_or_else(|| panic!("the rules use {metric}, which the app does not export:\n{scrape}"));
        for label in labels.iter().filter(|l| !PROMETHEUS_LABELS.contains(&l.as_str())) {
            assert!(
                exported.contains(label),
                "the rules match {metric} on `{label}`, which it does not have: {exported:?}"
            );
        }
    }
}

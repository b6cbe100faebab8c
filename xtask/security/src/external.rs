//! The tools' output, as findings: clippy's curated security lints, zizmor (workflows) and
//! hadolint (Dockerfiles). All three are read as JSON.

use std::path::Path;

use anyhow::{Context as _, Result};
use cargo_metadata::Message;
use serde::Deserialize;
use xtask_repo::span;

use crate::{Check, Finding, Severity};

/// The curated clippy set run over production targets (`--lib --bins`, so tests are out),
/// each with why it is a security matter. All are medium: they fail the gate.
pub const CLIPPY_LINTS: &[(&str, &str)] = &[
    ("clippy::dbg_macro", "dbg! prints values (tokens, passwords, personal data) to stderr in release builds"),
    ("clippy::todo", "a todo!() left in production code panics at run time: a denial of service"),
    ("clippy::unimplemented", "unimplemented!() panics at run time: a denial of service"),
    ("clippy::unwrap_used", "unwrap() panics on bad input; request paths must return errors instead"),
    ("clippy::mem_forget", "mem::forget skips destructors: leaked locks, guards and zeroizing buffers"),
    ("clippy::undocumented_unsafe_blocks", "every unsafe block must state why it is sound (a SAFETY: comment)"),
    ("clippy::allow_attributes_without_reason", "a silenced lint must say why, like a suppression"),
];

/// The clippy arguments that turn the curated set on (after `--`).
pub fn clippy_args() -> Vec<String> {
    CLIPPY_LINTS.iter().map(|(lint, _)| format!("--warn={lint}")).collect()
}

/// Findings of the curated lints in `cargo clippy --message-format=json` output, for files
/// `keep` accepts (relative paths). Other diagnostics are the lint gate's business. A lint
/// inside a macro's expansion is placed at the macro's call in the workspace under `root`
/// (`xtask_repo::span::site`).
pub fn clippy(stdout: &str, root: &Path, keep: impl Fn(&str) -> bool) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    for message in Message::parse_stream(stdout.as_bytes()) {
        let Ok(Message::CompilerMessage(m)) = message else { continue };
        let d = m.message;
        let Some(code) = &d.code else { continue };
        let Some((lint, why)) = CLIPPY_LINTS.iter().find(|(l, _)| *l == code.code) else { continue };
        let Some(site) = span::site(&d, root) else { continue };
        let path = site.span.file_name.replace('\\', "/");
        if !keep(&path) {
            continue;
        }
        let title = format!("{}{}", d.message, site.note());
        let f = Finding::new(Check::Source, *lint, Severity::Medium, title).help(*why).at(
            path,
            Some(site.span.line_start),
            Some(site.span.column_start),
        );
        // A generic function instantiated twice is reported twice.
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

#[derive(Deserialize)]
struct ZizmorFinding {
    ident: String,
    desc: String,
    url: Option<String>,
    determinations: Determinations,
    #[serde(default)]
    locations: Vec<ZizmorLocation>,
}

#[derive(Deserialize)]
struct Determinations {
    severity: String,
}

#[derive(Deserialize)]
struct ZizmorLocation {
    symbolic: Symbolic,
    concrete: Concrete,
}

#[derive(Deserialize)]
struct Symbolic {
    key: serde_json::Value,
    #[serde(default)]
    annotation: String,
    kind: String,
}

#[derive(Deserialize)]
struct Concrete {
    location: ConcreteLocation,
}

#[derive(Deserialize)]
struct ConcreteLocation {
    start_point: Point,
}

#[derive(Deserialize)]
struct Point {
    row: usize,
    column: usize,
}

/// `zizmor --format json` output. zizmor's own `# zizmor: ignore` comments are not honoured:
/// suppressions live in one place, with a reason and an expiry.
pub fn zizmor(stdout: &str) -> Result<Vec<Finding>> {
    let list: Vec<ZizmorFinding> =
        serde_json::from_str(stdout).context("zizmor printed something that is not its JSON report")?;
    Ok(list
        .into_iter()
        .map(|z| {
            let severity = match z.determinations.severity.as_str() {
                "High" => Severity::High,
                "Medium" => Severity::Medium,
                "Low" => Severity::Low,
                _ => Severity::Warning,
            };
            let primary = z.locations.iter().find(|l| l.symbolic.kind == "Primary").or(z.locations.first());
            let mut title = z.desc.clone();
            if let Some(note) = primary.map(|l| l.symbolic.annotation.trim()).filter(|a| !a.is_empty()) {
                title = format!("{title}: {note}");
            }
            let mut f = Finding::new(Check::Infra, format!("zizmor/{}", z.ident), severity, title);
            if let Some(url) = z.url {
                f = f.help(url);
            }
            if let Some(loc) = primary {
                let path =
                    loc.symbolic.key.pointer("/Local/verbatim_path").or(loc.symbolic.key.pointer("/Local/given_path"));
                if let Some(path) = path.and_then(|p| p.as_str()) {
                    let p = loc.concrete.location.start_point.row + 1;
                    f = f.at(
                        path.trim_start_matches("./"),
                        Some(p),
                        Some(loc.concrete.location.start_point.column + 1),
                    );
                }
            }
            f
        })
        .collect())
}

/// The hadolint rules that are security matters, with their severity here.
pub const HADOLINT_RULES: &[(&str, Severity, &str)] = &[
    ("DL3002", Severity::High, "the container runs as root: a compromise of the app is a compromise of the container"),
    ("DL3004", Severity::Medium, "sudo in a Dockerfile: unpredictable privileges; use USER and root-owned build steps"),
    ("DL3006", Severity::Medium, "an untagged base image is whatever `latest` is at build time"),
    ("DL3007", Severity::Medium, "`latest` is a moving base image: builds are neither reproducible nor reviewable"),
    ("DL3020", Severity::Low, "ADD fetches and unpacks implicitly; COPY says what it does"),
];

#[derive(Deserialize)]
struct HadolintFinding {
    code: String,
    file: String,
    line: usize,
    column: Option<usize>,
    message: String,
}

/// `hadolint --format json` output, keeping the security rules (paths made relative by `rel`).
pub fn hadolint(stdout: &str, rel: impl Fn(&str) -> String) -> Result<Vec<Finding>> {
    let list: Vec<HadolintFinding> =
        serde_json::from_str(stdout).context("hadolint printed something that is not its JSON report")?;
    Ok(list
        .into_iter()
        .filter_map(|h| {
            let (code, severity, why) = HADOLINT_RULES.iter().find(|(c, _, _)| *c == h.code)?;
            Some(Finding::new(Check::Infra, format!("hadolint/{code}"), *severity, h.message).help(*why).at(
                rel(&h.file),
                Some(h.line),
                h.column,
            ))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clippy_keeps_the_curated_lints_in_kept_files_once() {
        // As cargo prints them: the diagnostic's primary span first, a child's after it.
        let msg = |code: &str, file: &str| {
            let span = |primary: bool, line: usize| {
                serde_json::json!({"file_name": file, "byte_start": 51, "byte_end": 58, "line_start": line,
                    "line_end": line, "column_start": 5, "column_end": 12, "is_primary": primary, "text": [],
                    "label": null, "suggested_replacement": null, "suggestion_applicability": null, "expansion": null})
            };
            serde_json::json!({"reason": "compiler-message", "package_id": "path+file:///w/app#0.1.0",
                "manifest_path": "/w/app/Cargo.toml",
                "target": {"kind": ["bin"], "crate_types": ["bin"], "name": "app", "src_path": "/w/app/src/main.rs"},
                "message": {"message": format!("m {code}"), "code": {"code": code, "explanation": null},
                    "level": "warning", "spans": [span(false, 1), span(true, 3)], "rendered": "warning: m",
                    "children": [{"message": "remove it", "code": null, "level": "help", "spans": [span(true, 9)],
                        "children": [], "rendered": null}]}})
            .to_string()
        };
        let out = [
            msg("clippy::dbg_macro", "app/src/a.rs"),
            msg("clippy::dbg_macro", "app/src/a.rs"),
            msg("clippy::needless_return", "app/src/a.rs"),
            msg("clippy::unwrap_used", "/home/x/.cargo/registry/dep/src/lib.rs"),
            r#"{"reason":"build-finished","success":true}"#.to_owned(),
            "Checking app".to_owned(),
        ]
        .join("\n");
        let found = clippy(&out, Path::new("/w"), |p| p.starts_with("app/"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].rule.as_str(), found[0].line, found[0].column), ("clippy::dbg_macro", Some(3), Some(5)));
        assert!(found[0].fails());
    }

    #[test]
    fn clippy_places_a_lint_in_a_dependencys_macro_at_the_call() {
        // Real clippy output (xtask-repo's span tests say what it is): the workspace is `/w`,
        // `forget!(v)` is called at src/lib.rs:36:5 and `forget_twice!(v)`, which calls
        // `forget!` twice, at 44:5.
        let out = include_str!("../../repo/tests/fixtures/clippy-macros.jsonl");
        let found = clippy(out, Path::new("/w"), |p| p.starts_with("src/"));
        let at: Vec<_> = found.iter().map(|f| (f.rule.as_str(), f.location())).collect();
        assert_eq!(
            at,
            [
                ("clippy::mem_forget", Some("src/lib.rs:36:5".to_owned())),
                ("clippy::mem_forget", Some("src/lib.rs:44:5".to_owned()))
            ]
        );
        assert_eq!(found[0].title, "usage of `mem::forget` on `Drop` type");
        // Called from a registry crate's code instead: no span in the workspace, no finding.
        let registry = out.replace(r#""file_name":"src/lib.rs""#, r#""file_name":"/c/registry/src/x/lib.rs""#);
        assert_eq!(clippy(&registry, Path::new("/w"), |p| p.starts_with("src/")), []);
    }

    #[test]
    fn every_curated_lint_becomes_an_argument() {
        assert!(clippy_args().contains(&"--warn=clippy::unwrap_used".to_owned()));
        assert_eq!(clippy_args().len(), CLIPPY_LINTS.len());
    }

    #[test]
    fn zizmor_findings_keep_severity_and_one_based_position() {
        let json = r#"[{"ident":"artipacked","desc":"credential persistence","url":"https://docs.zizmor.sh/audits/#artipacked",
            "determinations":{"confidence":"Low","severity":"Medium","persona":"Regular"},
            "locations":[{"symbolic":{"key":{"Local":{"verbatim_path":".github/workflows/ci.yml"}},"annotation":"does not set persist-credentials: false","kind":"Primary"},
            "concrete":{"location":{"start_point":{"row":6,"column":8},"end_point":{"row":6,"column":33}}}}],"ignored":false},
            {"ident":"x","desc":"d","determinations":{"severity":"Informational"},"locations":[]}]"#;
        let found = zizmor(json).unwrap();
        assert_eq!(found[0].rule, "zizmor/artipacked");
        assert_eq!(found[0].severity, Severity::Medium);
        assert_eq!(found[0].location().as_deref(), Some(".github/workflows/ci.yml:7:9"));
        assert!(found[0].title.contains("persist-credentials"));
        assert_eq!(found[1].severity, Severity::Warning);
        assert!(zizmor("error: no such file").is_err());
    }

    #[test]
    fn hadolint_keeps_security_rules_only() {
        let json = r#"[{"code":"DL3002","column":1,"file":"/repo/Dockerfile","level":"warning","line":9,"message":"Last USER should not be root"},
                       {"code":"DL3008","column":1,"file":"/repo/Dockerfile","level":"warning","line":4,"message":"Pin versions in apt get install"}]"#;
        let found = hadolint(json, |p| p.trim_start_matches("/repo/").to_owned()).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].rule.as_str(), found[0].severity), ("hadolint/DL3002", Severity::High));
        assert_eq!(found[0].location().as_deref(), Some("Dockerfile:9:1"));
    }
}

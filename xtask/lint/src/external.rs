//! Parsers of the external linters' output into findings (`path:line: message`), so every
//! check prints, counts and annotates the same way. Pure functions: the tools are run by
//! `checks::Runner`.

use std::path::Path;

use cargo_metadata::Message;
use cargo_metadata::diagnostic::DiagnosticLevel;
use serde::Deserialize;
use xtask_repo::{relative, span};

use super::Finding;

/// `path:line[:col] [error ]RULE/name description` lines (markdownlint-cli2's default
/// formatter, on stderr); other lines (its banner, the summary) are ignored.
pub fn markdownlint(output: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for line in output.lines() {
        let Some((location, message)) = line.split_once(' ') else { continue };
        let mut parts = location.split(':');
        let (Some(path), Some(n)) = (parts.next(), parts.next()) else { continue };
        let Ok(n) = n.parse::<usize>() else { continue };
        let message = message.strip_prefix("error ").or_else(|| message.strip_prefix("warning ")).unwrap_or(message);
        out.push(Finding::at(path, n, message));
    }
    out
}

/// `path:line:col: level: message [SCxxxx]` (shellcheck `--format=gcc`).
pub fn gcc(output: &str, root: &Path) -> Vec<Finding> {
    let mut out = Vec::new();
    for line in output.lines() {
        let mut parts = line.splitn(4, ':');
        let (Some(path), Some(n), Some(_col), Some(message)) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Ok(n) = n.parse::<usize>() else { continue };
        out.push(Finding::at(&relative(path, root), n, message.trim()));
    }
    out
}

#[derive(Deserialize)]
struct HadolintItem {
    code: String,
    file: String,
    level: String,
    line: usize,
    message: String,
}

/// hadolint `--format json`: an array of `{code, file, level, line, message}`.
pub fn hadolint(stdout: &str) -> Result<Vec<Finding>, String> {
    let items: Vec<HadolintItem> =
        serde_json::from_str(stdout.trim()).map_err(|e| format!("unexpected hadolint output ({e}): {stdout}"))?;
    Ok(items
        .into_iter()
        .map(|i| Finding::at(&i.file, i.line.max(1), format!("{} {}: {}", i.code, i.level, i.message)))
        .collect())
}

#[derive(Deserialize)]
struct SchemaReport {
    #[serde(default)]
    errors: Vec<SchemaError>,
    #[serde(default)]
    parse_errors: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct SchemaError {
    filename: String,
    path: String,
    message: String,
    #[serde(default)]
    best_deep_match: Option<SchemaMatch>,
}

#[derive(Deserialize)]
struct SchemaMatch {
    path: String,
    message: String,
}

/// check-jsonschema `--output-format json`. Its errors name a JSON path (`$.jobs.a.steps[0]`),
/// not a line; `line_at(file, path)` finds the line in the YAML when it can. For an error with
/// sub-errors (`anyOf`, `oneOf`) the deepest best match is the useful one.
pub fn check_jsonschema(stdout: &str, line_at: impl Fn(&str, &str) -> Option<usize>) -> Result<Vec<Finding>, String> {
    let report: SchemaReport = serde_json::from_str(stdout.trim())
        .map_err(|e| format!("unexpected check-jsonschema output ({e}): {stdout}"))?;
    let mut out = Vec::new();
    for e in report.errors {
        let (path, message) = match e.best_deep_match {
            Some(m) => (m.path, m.message),
            None => (e.path, e.message),
        };
        let text = format!("{path}: {message}");
        out.push(match line_at(&e.filename, &path) {
            Some(line) => Finding::at(&e.filename, line, text),
            None => Finding::file(&e.filename, text),
        });
    }
    for p in report.parse_errors {
        let file = p.get("filename").and_then(|f| f.as_str()).unwrap_or("?").to_owned();
        let message = p.get("message").and_then(|f| f.as_str()).unwrap_or("cannot be parsed").to_owned();
        out.push(Finding::file(&file, format!("cannot be parsed: {message}")));
    }
    Ok(out)
}

/// `cargo fmt --check` output: a `Diff in /abs/path.rs:LINE:` header per hunk (older rustfmt:
/// `Diff in /abs/path.rs at line LINE:`). Without any (a file rustfmt cannot parse), the
/// error's ` --> path:line:col` or, failing that, its first line.
pub fn rustfmt(stdout: &str, stderr: &str, root: &Path) -> Vec<Finding> {
    let mut out = Vec::new();
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("Diff in ") else { continue };
        let rest = rest.trim_end_matches(':');
        let (path, n) = match rest.rsplit_once(" at line ") {
            Some((p, n)) => (p, n),
            None => rest.rsplit_once(':').unwrap_or((rest, "1")),
        };
        let n = n.parse().unwrap_or(1);
        out.push(Finding::at(
            &relative(path, root),
            n,
            "not formatted as rustfmt would (run `cargo xtask lint --fix`)",
        ));
    }
    if out.is_empty() {
        let error = stderr.lines().find(|l| l.starts_with("error")).unwrap_or("rustfmt failed").to_owned();
        let at = stderr.lines().find_map(|l| l.trim().strip_prefix("--> "));
        let located = at.and_then(|a| {
            let mut p = a.split(':');
            Some((p.next()?, p.next()?.parse::<usize>().ok()?))
        });
        out.push(match located {
            Some((path, n)) => Finding::at(&relative(path, root), n, format!("rustfmt: {error}")),
            None => Finding::general(format!("rustfmt: {}", stderr.trim())),
        });
    }
    out
}

/// `cargo clippy --message-format=json`: one finding per warning or error with a primary
/// span (paths relative to the workspace root), plus the rendered diagnostics to print. A
/// finding inside a macro's expansion is placed at the macro's call in the workspace under
/// `root` (`xtask_repo::span::site`).
pub fn clippy(stdout: &str, root: &Path) -> (Vec<Finding>, Vec<String>) {
    let (mut findings, mut rendered) = (Vec::new(), Vec::new());
    for message in Message::parse_stream(stdout.as_bytes()) {
        let Ok(Message::CompilerMessage(m)) = message else { continue };
        let d = m.message;
        let level = match d.level {
            DiagnosticLevel::Error => "error",
            DiagnosticLevel::Warning => "warning",
            _ => continue,
        };
        let Some(site) = span::site(&d, root) else { continue };
        let code = d.code.as_ref().map(|c| format!(" [{}]", c.code)).unwrap_or_default();
        let message = format!("{level}: {}{}{code}", d.message, site.note());
        findings.push(Finding::at(&site.span.file_name, site.span.line_start, message));
        if let Some(r) = &d.rendered {
            rendered.push(r.trim_end().to_owned());
        }
    }
    (findings, rendered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdownlint_lines() {
        let out = "markdownlint-cli2 v0.22.1 (markdownlint v0.40.0)\nFinding: :a.md\nLinting: 1 file(s)\nSummary: 2 error(s)\n\
                   docs/a.md:3:1 error MD018/no-missing-space-atx No space after hash on atx style heading [Context: \"#B\"]\n\
                   docs/a.md:6 error MD012/no-multiple-blanks Multiple consecutive blank lines [Expected: 1; Actual: 2]\n";
        let f: Vec<String> = markdownlint(out).iter().map(ToString::to_string).collect();
        assert_eq!(
            f,
            [
                "docs/a.md:3: MD018/no-missing-space-atx No space after hash on atx style heading [Context: \"#B\"]",
                "docs/a.md:6: MD012/no-multiple-blanks Multiple consecutive blank lines [Expected: 1; Actual: 2]"
            ]
        );
    }

    #[test]
    fn shellcheck_gcc_lines() {
        let out = "/r/s.sh:2:6: note: Double quote to prevent globbing and word splitting. [SC2086]\nnoise\n";
        let f = gcc(out, Path::new("/r"));
        assert_eq!(f, [Finding::at("s.sh", 2, "note: Double quote to prevent globbing and word splitting. [SC2086]")]);
    }

    #[test]
    fn hadolint_json_items() {
        let out = r#"[{"code":"DL3002","column":1,"file":"Dockerfile","level":"warning","line":3,"message":"Last USER should not be root"}]"#;
        assert_eq!(
            hadolint(out).unwrap(),
            [Finding::at("Dockerfile", 3, "DL3002 warning: Last USER should not be root")]
        );
        assert!(hadolint("[]").unwrap().is_empty());
        assert!(hadolint("boom").is_err());
    }

    #[test]
    fn check_jsonschema_errors_get_lines_from_their_path() {
        let out = r#"{"status":"fail","errors":[{"filename":"w/ci.yml","path":"$.jobs.a","message":"not valid under any",
            "has_sub_errors":true,"best_deep_match":{"path":"$.jobs.a.steps[0]","message":"Additional properties are not allowed ('bogus' was unexpected)"}},
            {"filename":"w/x.yml","path":"$","message":"'on' is a required property"}],"parse_errors":[]}"#;
        let f = check_jsonschema(out, |file, path| (file == "w/ci.yml" && path == "$.jobs.a.steps[0]").then_some(6))
            .unwrap();
        assert_eq!(
            f,
            [
                Finding::at(
                    "w/ci.yml",
                    6,
                    "$.jobs.a.steps[0]: Additional properties are not allowed ('bogus' was unexpected)"
                ),
                Finding::file("w/x.yml", "$: 'on' is a required property"),
            ]
        );
        assert!(check_jsonschema(r#"{"status":"ok","errors":[],"parse_errors":[]}"#, |_, _| None).unwrap().is_empty());
    }

    #[test]
    fn rustfmt_diffs_and_parse_errors() {
        let f = rustfmt("Diff in /r/src/main.rs:12:\n-a\n+b\nDiff in /r/src/x.rs at line 3:\n", "", Path::new("/r"));
        assert_eq!(f[0].to_string(), "src/main.rs:12: not formatted as rustfmt would (run `cargo xtask lint --fix`)");
        assert_eq!(f[1].line, Some(3));
        let f =
            rustfmt("", "error: this file contains an unclosed delimiter\n --> /r/src/main.rs:1:12\n", Path::new("/r"));
        assert_eq!(f, [Finding::at("src/main.rs", 1, "rustfmt: error: this file contains an unclosed delimiter")]);
    }

    /// A compiler message as cargo prints it, with one primary span when `file` is given.
    fn compiler_message(level: &str, message: &str, code: Option<&str>, file: Option<(&str, usize)>) -> String {
        let spans: Vec<serde_json::Value> = file
            .into_iter()
            .map(|(file, line)| {
                serde_json::json!({"file_name": file, "byte_start": 40, "byte_end": 46, "line_start": line,
                    "line_end": line, "column_start": 5, "column_end": 11, "is_primary": true, "text": [],
                    "label": null, "suggested_replacement": null, "suggestion_applicability": null, "expansion": null})
            })
            .collect();
        let rendered = match file {
            Some((file, line)) => format!("{level}: {message}\n --> {file}:{line}:5\n"),
            None => format!("{level}: {message}"),
        };
        serde_json::json!({"reason": "compiler-message", "package_id": "path+file:///r#demo@0.1.0",
            "manifest_path": "/r/Cargo.toml",
            "target": {"kind": ["lib"], "crate_types": ["lib"], "name": "demo", "src_path": "/r/src/lib.rs"},
            "message": {"rendered": rendered, "$message_type": "diagnostic", "children": [],
                "code": code.map(|c| serde_json::json!({"code": c, "explanation": null})),
                "level": level, "message": message, "spans": spans}})
        .to_string()
    }

    #[test]
    fn clippy_messages() {
        let out = [
            compiler_message("error", "this looks like a bug", Some("clippy::eq_op"), Some(("src/lib.rs", 4))),
            compiler_message("error", "aborting due to 1 previous error", None, None),
            compiler_message("note", "a note", None, Some(("src/lib.rs", 2))),
            r#"{"reason":"build-finished","success":false}"#.to_owned(),
            "Checking demo".to_owned(),
        ]
        .join("\n");
        let (f, r) = clippy(&out, Path::new("/r"));
        assert_eq!(f, [Finding::at("src/lib.rs", 4, "error: this looks like a bug [clippy::eq_op]")]);
        assert_eq!(r, ["error: this looks like a bug\n --> src/lib.rs:4:5"]);
    }

    #[test]
    fn clippy_findings_in_a_dependencys_macro_land_at_the_call() {
        // Real clippy output (xtask-repo's span tests say what it is): the workspace is `/w`.
        let out = include_str!("../../repo/tests/fixtures/clippy-macros.jsonl");
        let (f, r) = clippy(out, Path::new("/w"));
        let forget = "warning: usage of `mem::forget` on `Drop` type [clippy::mem_forget]";
        assert_eq!(
            f,
            [
                Finding::at(
                    "src/lib.rs",
                    32,
                    "warning: use of deprecated function `other_crate::old`: old [deprecated]"
                ),
                Finding::at("src/lib.rs", 36, forget),
                Finding::at(
                    "src/lib.rs",
                    40,
                    "error: this public function might dereference a raw pointer but is not marked `unsafe` \
                     [clippy::not_unsafe_ptr_arg_deref]"
                ),
                Finding::at("src/lib.rs", 44, forget),
                Finding::at("src/lib.rs", 44, forget),
                Finding::at("src/lib.rs", 40, "error: mismatched types [E0308]"),
            ]
        );
        assert_eq!(r.len(), f.len());
        // The error as though `typed!` had been called from a registry crate's code: the label
        // in the workspace, and the macro named.
        let called = r#""file_name":"src/lib.rs","is_primary":false,"label":null"#;
        let error =
            out.lines().last().unwrap().replace(called, &called.replace("src/lib.rs", "/c/registry/src/x/lib.rs"));
        let (f, _) = clippy(&error, Path::new("/w"));
        assert_eq!(
            f,
            [Finding::at(
                "src/lib.rs",
                40,
                "error: mismatched types (in the expansion of `other_crate::typed!`) [E0308]"
            )]
        );
    }
}

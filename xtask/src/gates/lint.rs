//! `cargo xtask lint`: rustfmt, clippy, file hygiene, Markdown, schemas, shell scripts,
//! Dockerfiles and the project policies, over one checkout. Every check runs, even after one
//! fails; then one summary. Plain `lint` never changes a file; `--fix` applies the safe
//! fixes first and lists each file it changed.
//!
//! Order of work: list the files (git), decide which checks apply, make sure their tools are
//! installed (installing pinned, project-local copies on demand), apply `--fix`, then run the
//! checks in parallel and print their results in a fixed order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context as _, Result, bail};
use colored::Colorize;

use crate::lint::files::{self, Tree};
use crate::lint::policy::{self, Verdict};
use crate::lint::{Finding, external, hygiene, yaml};
use crate::tools::{self, Provided, Tool};
use crate::{Context, Outcome};

/// Flags of `cargo xtask lint` (its help text is on the subcommand in main.rs).
#[derive(Debug, Default, clap::Args)]
pub struct LintArgs {
    /// Apply the safe fixes first (rustfmt, trailing whitespace, final newline, CRLF → LF),
    /// list each changed file, then lint
    #[arg(long)]
    pub fix: bool,
    /// Do not install missing tools; fail (exit 2) with the commands that install them
    #[arg(long)]
    pub no_install: bool,
    /// Lint another checkout (a git work tree) with this workspace's settings and tools
    #[arg(long, value_name = "PATH")]
    pub root: Option<PathBuf>,
}

/// GitHub shows at most 10 error annotations per step; more are dropped, so say so instead.
const MAX_ANNOTATIONS: usize = 10;
/// Findings listed in the step summary.
const MAX_SUMMARY_FINDINGS: usize = 100;

/// The schemas check-jsonschema validates against (bundled with it, so no network).
const SCHEMAS: [&str; 4] =
    ["vendor.github-workflows", "vendor.github-actions", "vendor.dependabot", "vendor.compose-spec"];

#[derive(Debug)]
enum Status {
    Passed,
    Failed,
    NotApplicable(String),
    /// A tool is missing and could not be installed; locally this is a warning.
    Skipped {
        reason: String,
        install: String,
    },
    /// The check could not run (a missing tool in CI or with --no-install, a tool that crashed).
    Error(String),
}

#[derive(Debug)]
struct Report {
    /// `rustfmt`, `hygiene`, `policy env-not-committed`, …
    name: String,
    /// What was looked at, e.g. `66 files`.
    detail: String,
    status: Status,
    findings: Vec<Finding>,
    /// Printed under the findings when the check fails (clippy's rendered diagnostics).
    notes: Vec<String>,
    /// For a policy: the rule, printed with its failure.
    rule: Option<&'static str>,
}

impl Report {
    fn new(name: impl Into<String>, detail: impl Into<String>, status: Status) -> Report {
        Report { name: name.into(), detail: detail.into(), status, findings: Vec::new(), notes: Vec::new(), rule: None }
    }

    fn from_findings(name: &str, detail: String, findings: Vec<Finding>) -> Report {
        let status = if findings.is_empty() { Status::Passed } else { Status::Failed };
        Report { findings, ..Report::new(name, detail, status) }
    }

    fn title(&self) -> String {
        if self.detail.is_empty() { self.name.clone() } else { format!("{} ({})", self.name, self.detail) }
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// What one external check needs: its tool, the files, and the tool's program once ready.
struct Plan {
    rust: bool,
    markdown: Vec<String>,
    schemas: Vec<(&'static str, Vec<String>)>,
    shell: Vec<String>,
    dockerfiles: Vec<String>,
}

impl Plan {
    fn new(tree: &Tree) -> Plan {
        let markdown = owned(tree.select(|p| p.ends_with(".md")));
        let workflows = tree.select(files::is_workflow);
        let (workflows, actions): (Vec<&str>, Vec<&str>) =
            workflows.into_iter().partition(|p| p.starts_with(".github/workflows/"));
        let dependabot = tree.select(|p| p == ".github/dependabot.yml" || p == ".github/dependabot.yaml");
        let compose = tree.select(files::is_compose);
        let schemas = SCHEMAS
            .into_iter()
            .zip([workflows, actions, dependabot, compose])
            .filter(|(_, f)| !f.is_empty())
            .map(|(schema, f)| (schema, owned(f)))
            .collect();
        let shell = tree.files.iter().filter(|p| is_shell_script(p, &head(&tree.root.join(p)))).cloned().collect();
        let dockerfiles = owned(tree.select(files::is_dockerfile));
        Plan { rust: tree.root.join("Cargo.toml").is_file(), markdown, schemas, shell, dockerfiles }
    }

    fn tools(&self) -> Vec<Tool> {
        let mut t = Vec::new();
        if self.rust {
            t.extend([Tool::Rustfmt, Tool::Clippy]);
        }
        let wanted = [
            (Tool::MarkdownlintCli2, !self.markdown.is_empty()),
            (Tool::CheckJsonschema, !self.schemas.is_empty()),
            (Tool::Shellcheck, !self.shell.is_empty()),
            (Tool::Hadolint, !self.dockerfiles.is_empty()),
        ];
        t.extend(wanted.into_iter().filter(|(_, w)| *w).map(|(tool, _)| tool));
        t
    }
}

fn owned(v: Vec<&str>) -> Vec<String> {
    v.into_iter().map(str::to_owned).collect()
}

/// The first bytes of a file (for its `#!` line).
fn head(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut buf = vec![0; 128];
    let n = std::fs::File::open(path).and_then(|mut f| f.read(&mut buf)).unwrap_or(0);
    buf.truncate(n);
    buf
}

/// A shell script: named `*.sh` or `*.bash`, or starting with a `#!` line for sh, bash, dash
/// or ksh (`#!/bin/sh`, `#!/usr/bin/env bash`). zsh is not something shellcheck reads.
pub fn is_shell_script(path: &str, head: &[u8]) -> bool {
    if path.ends_with(".sh") || path.ends_with(".bash") {
        return true;
    }
    let Some(rest) = head.strip_prefix(b"#!") else { return false };
    let line = String::from_utf8_lossy(rest.split(|&b| b == b'\n').next().unwrap_or_default()).into_owned();
    let mut words = line.split_whitespace();
    let mut program = words.next().unwrap_or("").rsplit('/').next().unwrap_or("");
    if program == "env" {
        program = words.find(|w| !w.starts_with('-')).unwrap_or("");
    }
    matches!(program, "sh" | "bash" | "dash" | "ksh")
}

impl LintArgs {
    pub fn run(self, cx: &Context) -> Result<Outcome> {
        let root = match &self.root {
            Some(r) => r.canonicalize().with_context(|| format!("--root {}: no such folder", r.display()))?,
            None => cx.root.clone(),
        };
        if !root.is_dir() {
            bail!("--root {}: not a folder", root.display());
        }
        let settings = &cx.settings.lint;
        let tree = Tree::list(&root, &settings.exclude)?;
        if self.root.is_some() {
            println!("linting {}", root.display());
        }
        let plan = Plan::new(&tree);

        // Tools first (installing is sequential and talks to the user), then fixes, then checks.
        let provided: BTreeMap<&'static str, Provided> = tools::provide(cx, &plan.tools(), !self.no_install)?
            .into_iter()
            .map(|(tool, p)| (tool.name(), p))
            .collect();
        let strict = cx.out.ci || self.no_install;
        let runner = Runner { cargo: cx.cargo.clone(), root: root.clone(), color: cx.out.color };
        let tools_dir = tools::tools_dir(&cx.root);
        let missing = |tool: Tool| -> Option<Status> {
            match provided.get(tool.name())? {
                Provided::Ready => None,
                Provided::Missing { reason, install } if strict => {
                    Some(Status::Error(format!("{reason}; install it with: {install}")))
                }
                Provided::Missing { reason, install } => {
                    Some(Status::Skipped { reason: reason.clone(), install: install.clone() })
                }
            }
        };
        let program = |tool: Tool| tool.local_program(&tools_dir).unwrap_or_default();

        if self.fix {
            let mut changed = Vec::new();
            if plan.rust && missing(Tool::Rustfmt).is_none() {
                changed.extend(runner.rustfmt_fix());
            }
            changed.extend(fix_hygiene(&tree)?);
            if changed.is_empty() {
                println!("--fix: nothing to fix");
            }
            for (path, what) in changed {
                println!("fixed {path} ({what})");
            }
        }

        let reports: Vec<Report> = std::thread::scope(|s| {
            let rustfmt = s.spawn(|| match (plan.rust, missing(Tool::Rustfmt)) {
                (false, _) => Report::new("rustfmt", "", Status::NotApplicable("no Cargo.toml".into())),
                (true, Some(status)) => Report::new("rustfmt", "", status),
                (true, None) => runner.rustfmt_check(),
            });
            let clippy = s.spawn(|| match (plan.rust, missing(Tool::Clippy)) {
                (false, _) => Report::new("clippy", "", Status::NotApplicable("no Cargo.toml".into())),
                (true, Some(status)) => Report::new("clippy", "", status),
                (true, None) => runner.clippy(),
            });
            let markdown = s.spawn(|| match (&plan.markdown[..], missing(Tool::MarkdownlintCli2)) {
                ([], _) => Report::new("markdownlint", "", Status::NotApplicable("no Markdown file".into())),
                (f, Some(status)) => Report::new("markdownlint", plural(f.len(), "file"), status),
                (f, None) => runner.markdownlint(&program(Tool::MarkdownlintCli2), f),
            });
            let schemas = s.spawn(|| match (&plan.schemas[..], missing(Tool::CheckJsonschema)) {
                ([], _) => Report::new(
                    "check-jsonschema",
                    "",
                    Status::NotApplicable("no workflow, action, dependabot.yml or compose file".into()),
                ),
                (groups, Some(status)) => {
                    Report::new("check-jsonschema", plural(groups.iter().map(|g| g.1.len()).sum(), "file"), status)
                }
                (groups, None) => runner.check_jsonschema(&program(Tool::CheckJsonschema), groups),
            });
            let shell = s.spawn(|| match (&plan.shell[..], missing(Tool::Shellcheck)) {
                ([], _) => Report::new("shellcheck", "", Status::NotApplicable("no shell script".into())),
                (f, Some(status)) => Report::new("shellcheck", plural(f.len(), "file"), status),
                (f, None) => runner.shellcheck(&program(Tool::Shellcheck), f),
            });
            let hadolint = s.spawn(|| match (&plan.dockerfiles[..], missing(Tool::Hadolint)) {
                ([], _) => Report::new("hadolint", "", Status::NotApplicable("no Dockerfile yet".into())),
                (f, Some(status)) => Report::new("hadolint", plural(f.len(), "file"), status),
                (f, None) => runner.hadolint(&program(Tool::Hadolint), f),
            });
            let hygiene = check_hygiene(&tree, settings.max_file_size_kb * 1024);
            let policies = check_policies(&tree, &settings.cors_paths);
            let join = |h: std::thread::ScopedJoinHandle<'_, Report>| {
                h.join().unwrap_or_else(|_| Report::new("?", "", Status::Error("a check panicked".into())))
            };
            // The order they are printed in: Rust, hygiene, the other linters, the policies.
            let mut reports = vec![join(rustfmt), join(clippy), hygiene];
            reports.extend([markdown, schemas, shell, hadolint].map(join));
            reports.extend(policies);
            reports
        });

        finish(cx, &reports)
    }
}

/// `--fix` on the hygiene rules: rewrites each file that needs it, returns (path, what).
fn fix_hygiene(tree: &Tree) -> Result<Vec<(String, String)>> {
    let mut changed = Vec::new();
    for path in &tree.files {
        let Ok(bytes) = tree.read(path) else { continue };
        if let Some((new, what)) = hygiene::fix(&bytes) {
            std::fs::write(tree.root.join(path), new).with_context(|| format!("--fix: cannot write {path}"))?;
            changed.push((path.clone(), what.join(", ")));
        }
    }
    Ok(changed)
}

fn check_hygiene(tree: &Tree, max_bytes: u64) -> Report {
    let mut findings = Vec::new();
    for path in &tree.files {
        match tree.read(path) {
            Ok(bytes) => findings.extend(hygiene::check(path, &bytes, max_bytes)),
            Err(e) => findings.push(Finding::file(path, format!("cannot read: {e}"))),
        }
    }
    let mut detail = plural(tree.files.len(), "file");
    if tree.excluded > 0 {
        detail.push_str(&format!(", {} excluded", tree.excluded));
    }
    Report::from_findings("hygiene", detail, findings)
}

fn check_policies(tree: &Tree, cors_paths: &[String]) -> Vec<Report> {
    policy::check_all(tree, cors_paths)
        .into_iter()
        .map(|(p, verdict)| {
            let name = format!("policy {}", p.id);
            let mut r = match verdict {
                Verdict::Passed(_) => Report::new(name, "", Status::Passed),
                Verdict::NotApplicable(why) => Report::new(name, "", Status::NotApplicable(why)),
                Verdict::Failed(findings) => Report::from_findings(&name, String::new(), findings),
            };
            r.rule = Some(p.rule);
            r
        })
        .collect()
}

/// Runs the external programs in the linted root (shareable across threads).
struct Runner {
    cargo: String,
    root: PathBuf,
    color: bool,
}

impl Runner {
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.current_dir(&self.root);
        c.env("CARGO_TERM_COLOR", if self.color { "always" } else { "never" });
        c
    }

    fn output(&self, c: &mut Command, what: &str) -> Result<Output, String> {
        c.output().map_err(|e| format!("cannot run {what}: {e}"))
    }

    fn rustfmt_check(&self) -> Report {
        let out = self
            .output(self.command(&self.cargo).args(["fmt", "--all", "--check", "--", "--color", "never"]), "cargo fmt");
        match out {
            Err(e) => Report::new("rustfmt", "", Status::Error(e)),
            Ok(o) if o.status.success() => Report::new("rustfmt", "", Status::Passed),
            Ok(o) => Report::from_findings(
                "rustfmt",
                String::new(),
                external::rustfmt(&String::from_utf8_lossy(&o.stdout), &String::from_utf8_lossy(&o.stderr), &self.root),
            ),
        }
    }

    /// `cargo fmt --all` listing the files it changed. When rustfmt cannot format (a syntax
    /// error), nothing is changed and the check that follows reports why.
    fn rustfmt_fix(&self) -> Vec<(String, String)> {
        let out =
            self.command(&self.cargo).args(["fmt", "--all", "--", "--color", "never", "--files-with-diff"]).output();
        match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| (external::relative(l.trim(), &self.root), "rustfmt".to_owned()))
                .collect(),
            _ => {
                println!("--fix: rustfmt could not format the workspace (see the rustfmt check below)");
                Vec::new()
            }
        }
    }

    fn clippy(&self) -> Report {
        let format =
            if self.color { "--message-format=json-diagnostic-rendered-ansi" } else { "--message-format=json" };
        let out = self.output(
            self.command(&self.cargo).args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                format,
                "--",
                "-D",
                "warnings",
            ]),
            "cargo clippy",
        );
        let o = match out {
            Err(e) => return Report::new("clippy", "", Status::Error(e)),
            Ok(o) if o.status.success() => return Report::new("clippy", "", Status::Passed),
            Ok(o) => o,
        };
        let (mut findings, notes) = external::clippy(&String::from_utf8_lossy(&o.stdout));
        if findings.is_empty() {
            let stderr = String::from_utf8_lossy(&o.stderr);
            let errors: Vec<&str> = stderr.lines().filter(|l| !l.trim_start().starts_with("Checking ")).collect();
            findings.push(Finding::general(format!("cargo clippy failed ({}):\n{}", o.status, errors.join("\n"))));
        }
        Report { notes, ..Report::from_findings("clippy", String::new(), findings) }
    }

    fn markdownlint(&self, program: &Path, files: &[String]) -> Report {
        let detail = plural(files.len(), "file");
        // `:path` is a literal path, not a glob; --no-globs ignores a `globs` list in the config.
        let args = files.iter().map(|f| format!(":{f}")).chain(["--no-globs".to_owned()]);
        let out = self.output(self.command(program).args(args), "markdownlint-cli2");
        match out {
            Err(e) => Report::new("markdownlint", detail, Status::Error(e)),
            Ok(o) if o.status.success() => Report::new("markdownlint", detail, Status::Passed),
            Ok(o) => {
                let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
                let findings = external::markdownlint(&text);
                if o.status.code() != Some(1) || findings.is_empty() {
                    return Report::new("markdownlint", detail, Status::Error(tool_failed("markdownlint-cli2", &o)));
                }
                Report::from_findings("markdownlint", detail, findings)
            }
        }
    }

    fn check_jsonschema(&self, program: &Path, groups: &[(&'static str, Vec<String>)]) -> Report {
        let detail = plural(groups.iter().map(|g| g.1.len()).sum(), "file");
        let mut findings = Vec::new();
        for (schema, files) in groups {
            let out = self.output(
                self.command(program).args(["--builtin-schema", schema, "--output-format", "json"]).args(files),
                "check-jsonschema",
            );
            let o = match out {
                Err(e) => return Report::new("check-jsonschema", detail, Status::Error(e)),
                Ok(o) if o.status.success() => continue,
                Ok(o) => o,
            };
            let line_at = |file: &str, path: &str| {
                let text = std::fs::read_to_string(self.root.join(file)).ok()?;
                let docs = yaml::parse(&text).ok()?;
                Some(docs.first()?.at_path(path)?.line)
            };
            match external::check_jsonschema(&String::from_utf8_lossy(&o.stdout), line_at) {
                Ok(f) if !f.is_empty() => findings.extend(f),
                _ => {
                    return Report::new("check-jsonschema", detail, Status::Error(tool_failed("check-jsonschema", &o)));
                }
            }
        }
        Report::from_findings("check-jsonschema", detail, findings)
    }

    fn shellcheck(&self, program: &Path, files: &[String]) -> Report {
        let detail = plural(files.len(), "file");
        match self.output(self.command(program).arg("--format=gcc").args(files), "shellcheck") {
            Err(e) => Report::new("shellcheck", detail, Status::Error(e)),
            Ok(o) if o.status.success() => Report::new("shellcheck", detail, Status::Passed),
            Ok(o) => {
                let findings = external::gcc(&String::from_utf8_lossy(&o.stdout), &self.root);
                if o.status.code() != Some(1) || findings.is_empty() {
                    return Report::new("shellcheck", detail, Status::Error(tool_failed("shellcheck", &o)));
                }
                Report::from_findings("shellcheck", detail, findings)
            }
        }
    }

    fn hadolint(&self, program: &Path, files: &[String]) -> Report {
        let detail = plural(files.len(), "file");
        match self.output(self.command(program).args(["--format", "json", "--no-color"]).args(files), "hadolint") {
            Err(e) => Report::new("hadolint", detail, Status::Error(e)),
            Ok(o) if o.status.success() => Report::new("hadolint", detail, Status::Passed),
            Ok(o) => match external::hadolint(&String::from_utf8_lossy(&o.stdout)) {
                Ok(findings) if !findings.is_empty() => Report::from_findings("hadolint", detail, findings),
                _ => Report::new("hadolint", detail, Status::Error(tool_failed("hadolint", &o))),
            },
        }
    }
}

fn tool_failed(name: &str, o: &Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let tail: Vec<&str> = text.trim_end().lines().rev().take(10).collect::<Vec<_>>().into_iter().rev().collect();
    format!("{name} failed ({}): {}", o.status, tail.join("\n    "))
}

/// Prints every report, the annotations and the summary; decides the outcome.
fn finish(cx: &Context, reports: &[Report]) -> Result<Outcome> {
    let mut passed = 0;
    let mut not_applicable = 0;
    let mut skipped = Vec::new();
    let mut errors = Vec::new();
    let mut failed = Vec::new();
    for r in reports {
        let title = r.title();
        match &r.status {
            Status::Passed => {
                passed += 1;
                println!("{} {title}", "✓".green());
            }
            Status::NotApplicable(why) => {
                not_applicable += 1;
                println!("{} {}: not applicable ({why})", "–".dimmed(), r.name);
            }
            Status::Skipped { reason, install } => {
                skipped.push(r.name.clone());
                println!("{} {title}: skipped, {reason}", "!".yellow().bold());
                eprintln!(
                    "{} {} was skipped ({reason}); install it with: {install}",
                    "warning:".yellow().bold(),
                    r.name
                );
            }
            Status::Error(e) => {
                errors.push(format!("{}: {e}", r.name));
                println!("{} {title}: {}", "✗".red().bold(), "could not run".red().bold());
                println!("  {e}");
            }
            Status::Failed => {
                failed.push(r);
                println!("{} {title}: {}", "✗".red().bold(), plural(r.findings.len(), "finding").red().bold());
                if let Some(rule) = r.rule {
                    println!("  rule: {rule}");
                }
                for f in &r.findings {
                    println!("  {f}");
                }
                for n in &r.notes {
                    println!("{n}");
                }
            }
        }
    }

    annotate(cx, &failed);
    let total: usize = failed.iter().map(|r| r.findings.len()).sum();
    let mut counts = vec![format!("{} passed", plural(passed, "check")), format!("{not_applicable} not applicable")];
    if !skipped.is_empty() {
        counts.push(format!("{} skipped (tool missing: {})", skipped.len(), skipped.join(", ")));
    }
    let counts = counts.join(", ");
    let verdict = if !errors.is_empty() {
        format!("{} — {counts}", "lint: could not run every check".red().bold())
    } else if total > 0 {
        let names: Vec<String> = failed.iter().map(|r| format!("{}: {}", r.name, r.findings.len())).collect();
        format!("{} — {} ({}); {counts}", "lint: FAILED".red().bold(), plural(total, "finding"), names.join(", "))
    } else {
        format!("{} — {counts}", "lint: passed".green().bold())
    };
    println!("{verdict}");
    cx.out.step_summary(&markdown(reports, &errors, total))?;

    if !errors.is_empty() {
        bail!("lint could not run every check:\n  {}", errors.join("\n  "));
    }
    Ok(if total > 0 { Outcome::Failed } else { Outcome::Passed })
}

/// `::error file=…,line=…::` annotations for the first findings (GitHub shows 10 a step).
fn annotate(cx: &Context, failed: &[&Report]) {
    let all: Vec<(&Report, &Finding)> = failed.iter().flat_map(|r| r.findings.iter().map(move |f| (*r, f))).collect();
    for (r, f) in all.iter().take(MAX_ANNOTATIONS) {
        let title = format!("lint: {}", r.name);
        let message = match r.rule {
            Some(rule) => format!("{} (rule: {rule})", f.message),
            None => f.message.clone(),
        };
        match &f.path {
            Some(path) => cx.out.annotate_error_at(path, f.line, &title, &message),
            None => cx.out.annotate_error(&title, &message),
        }
    }
    if all.len() > MAX_ANNOTATIONS && cx.out.github {
        println!(
            "{} more findings are not annotated (GitHub shows {MAX_ANNOTATIONS} a step): see the log",
            all.len() - MAX_ANNOTATIONS
        );
    }
}

/// The step summary: one row per check, then the findings.
fn markdown(reports: &[Report], errors: &[String], total: usize) -> String {
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

    #[test]
    fn shell_scripts_by_name_or_shebang() {
        assert!(is_shell_script("scripts/x.sh", b""));
        assert!(is_shell_script(".ci/run", b"#!/usr/bin/env bash\nset -e\n"));
        assert!(is_shell_script("run", b"#!/bin/sh -eu\n"));
        assert!(is_shell_script("run", b"#!/usr/bin/env -S bash -e\n"));
        assert!(!is_shell_script("gen.py", b"#!/usr/bin/env python3\n"));
        assert!(!is_shell_script("x", b"#!/bin/zsh\n"));
        assert!(!is_shell_script("README", b"# title\n"));
    }
}

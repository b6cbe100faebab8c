//! The checks of `cargo xtask lint` as data: which files each external linter gets (`Plan`),
//! running a linter in the linted root and turning its output into a `Report`, the in-process
//! checks (hygiene, policies) and `--fix`. The xtask provides the tools, runs these in parallel
//! and renders their reports (the terminal, annotations, the step summary).

use std::path::{Path, PathBuf};
use std::process::Output;

use xtask_process::Cmd;

use anyhow::Context as _;
use xtask_repo::files::{self, Tree};

use crate::policy::{self, Verdict};
use crate::{Finding, compose, external, hygiene, yaml};

/// The schemas check-jsonschema validates against (bundled with it, so no network).
const SCHEMAS: [&str; 4] =
    ["vendor.github-workflows", "vendor.github-actions", "vendor.dependabot", "vendor.compose-spec"];

#[derive(Debug)]
pub enum Status {
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
pub struct Report {
    /// `rustfmt`, `hygiene`, `policy env-not-committed`, …
    pub name: String,
    /// What was looked at, e.g. `66 files`.
    pub detail: String,
    pub status: Status,
    pub findings: Vec<Finding>,
    /// Printed under the findings when the check fails (clippy's rendered diagnostics).
    pub notes: Vec<String>,
    /// For a policy: the rule, printed with its failure.
    pub rule: Option<&'static str>,
}

impl Report {
    pub fn new(name: impl Into<String>, detail: impl Into<String>, status: Status) -> Report {
        Report { name: name.into(), detail: detail.into(), status, findings: Vec::new(), notes: Vec::new(), rule: None }
    }

    pub fn from_findings(name: &str, detail: String, findings: Vec<Finding>) -> Report {
        let status = if findings.is_empty() { Status::Passed } else { Status::Failed };
        Report { findings, ..Report::new(name, detail, status) }
    }

    pub fn title(&self) -> String {
        if self.detail.is_empty() { self.name.clone() } else { format!("{} ({})", self.name, self.detail) }
    }
}

pub fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// Which files each external check gets; a check with none is not applicable.
pub struct Plan {
    /// The root has a Cargo.toml: rustfmt and clippy apply.
    pub rust: bool,
    pub markdown: Vec<String>,
    /// Files by check-jsonschema schema.
    pub schemas: Vec<(&'static str, Vec<String>)>,
    pub shell: Vec<String>,
    pub dockerfiles: Vec<String>,
    /// Nginx site files (`nginx::is_site`).
    pub nginx: Vec<String>,
    /// Prometheus's files, each with what promtool does with it (`promtool::kind`).
    pub prometheus: Vec<(crate::promtool::Kind, String)>,
}

impl Plan {
    pub fn new(tree: &Tree) -> Plan {
        let markdown = owned(tree.select(|p| p.ends_with(".md")));
        let workflows = tree.select(files::is_workflow);
        let (workflows, actions): (Vec<&str>, Vec<&str>) =
            workflows.into_iter().partition(|p| p.starts_with(".github/workflows/"));
        let dependabot = tree.select(|p| p == ".github/dependabot.yml" || p == ".github/dependabot.yaml");
        let compose = tree.select(compose::is_compose);
        let schemas = SCHEMAS
            .into_iter()
            .zip([workflows, actions, dependabot, compose])
            .filter(|(_, f)| !f.is_empty())
            .map(|(schema, f)| (schema, owned(f)))
            .collect();
        let shell = tree.files.iter().filter(|p| is_shell_script(p, &head(&tree.root.join(p)))).cloned().collect();
        let dockerfiles = owned(tree.select(files::is_dockerfile));
        let nginx = owned(tree.select(crate::nginx::is_site));
        let prometheus = (tree.select(crate::promtool::is_candidate).into_iter())
            .filter_map(|p| {
                let text = String::from_utf8(tree.read(p).ok()?).ok()?;
                Some((crate::promtool::kind(p, &text)?, p.to_owned()))
            })
            .collect();
        let rust = tree.root.join("Cargo.toml").is_file();
        Plan { rust, markdown, schemas, shell, dockerfiles, nginx, prometheus }
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

/// `--fix` on the hygiene rules: rewrites each file that needs it, returns (path, what).
pub fn fix_hygiene(tree: &Tree) -> anyhow::Result<Vec<(String, String)>> {
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

pub fn check_hygiene(tree: &Tree, max_bytes: u64) -> Report {
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

pub fn check_policies(tree: &Tree, cors_paths: &[String]) -> Vec<Report> {
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
pub struct Runner {
    /// The cargo to run (`$CARGO`).
    pub cargo: String,
    /// The linted root: every program runs there.
    pub root: PathBuf,
    /// Colour in cargo's and clippy's output.
    pub color: bool,
}

impl Runner {
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Cmd {
        Cmd::new(program).current_dir(&self.root).env("CARGO_TERM_COLOR", if self.color { "always" } else { "never" })
    }

    /// Runs `c` (named `what` in messages), its output captured whatever its exit status.
    fn output(&self, c: Cmd, what: &str) -> Result<Output, String> {
        c.shown(what).output().map_err(|e| e.to_string())
    }

    pub fn rustfmt_check(&self) -> Report {
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
    pub fn rustfmt_fix(&self) -> Vec<(String, String)> {
        let out =
            self.command(&self.cargo).args(["fmt", "--all", "--", "--color", "never", "--files-with-diff"]).output();
        match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| (xtask_repo::relative(l.trim(), &self.root), "rustfmt".to_owned()))
                .collect(),
            _ => {
                println!("--fix: rustfmt could not format the workspace (see the rustfmt check below)");
                Vec::new()
            }
        }
    }

    pub fn clippy(&self) -> Report {
        let format =
            if self.color { "--message-format=json-diagnostic-rendered-ansi" } else { "--message-format=json" };
        let clippy = self.command(&self.cargo).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            format,
            "--",
            "-D",
            "warnings",
        ]);
        let (clippy, offline) = xtask_repo::sqlx_offline(clippy, &self.root);
        // Said once, in the check's title: `✓ clippy (.sqlx/ found: building offline …)`.
        let detail = if offline { xtask_repo::SQLX_OFFLINE_NOTE } else { "" };
        let o = match self.output(clippy, "cargo clippy") {
            Err(e) => return Report::new("clippy", detail, Status::Error(e)),
            Ok(o) if o.status.success() => return Report::new("clippy", detail, Status::Passed),
            Ok(o) => o,
        };
        let (mut findings, notes) = external::clippy(&String::from_utf8_lossy(&o.stdout), &self.root);
        if findings.is_empty() {
            let stderr = String::from_utf8_lossy(&o.stderr);
            let errors: Vec<&str> = stderr.lines().filter(|l| !l.trim_start().starts_with("Checking ")).collect();
            findings.push(Finding::general(format!("cargo clippy failed ({}):\n{}", o.status, errors.join("\n"))));
        }
        Report { notes, ..Report::from_findings("clippy", detail.to_owned(), findings) }
    }

    pub fn markdownlint(&self, program: &Path, files: &[String]) -> Report {
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

    pub fn check_jsonschema(&self, program: &Path, groups: &[(&'static str, Vec<String>)]) -> Report {
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

    pub fn shellcheck(&self, program: &Path, files: &[String]) -> Report {
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

    pub fn hadolint(&self, program: &Path, files: &[String]) -> Report {
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

/// A program the lint runs when it is installed (Nginx, openssl): on PATH or in /usr/sbin (not
/// on a user's PATH on Debian).
pub fn find_system_program(name: &str) -> Option<std::path::PathBuf> {
    xtask_process::which(name).or_else(|| {
        let p = Path::new("/usr/sbin").join(name);
        xtask_process::is_executable(&p).then_some(p)
    })
}

impl Runner {
    /// `nginx -t` on each site file (`crate::nginx`), when Nginx is installed: not applicable
    /// otherwise ([`find_system_program`]).
    pub fn nginx(&self, files: &[String]) -> Report {
        let detail = plural(files.len(), "file");
        let find = find_system_program;
        let Some(nginx) = find("nginx") else {
            return Report::new("nginx -t", detail, Status::NotApplicable("Nginx is not installed".into()));
        };
        let Some(openssl) = find("openssl") else {
            return Report::new(
                "nginx -t",
                detail,
                Status::Skipped {
                    reason: "openssl is needed for a throwaway certificate".into(),
                    install: "sudo apt-get install openssl".into(),
                },
            );
        };
        let scratch = std::env::temp_dir().join(format!("xtask-nginx-t-{}", std::process::id()));
        let mut found = Vec::new();
        let mut error = None;
        for file in files {
            match crate::nginx::test(&nginx, &openssl, &self.root, file, &scratch) {
                Ok(f) => found.extend(f),
                Err(e) => error = Some(e.replace('\n', "\n    ")),
            }
        }
        let _ = std::fs::remove_dir_all(&scratch);
        match error {
            Some(e) => Report::new("nginx -t", detail, Status::Error(e)),
            None => Report::from_findings("nginx -t", detail, found),
        }
    }
}

impl Runner {
    /// promtool on each Prometheus file (`crate::promtool`): `check config`, `check rules` or
    /// `test rules` as the file's kind says, when promtool is installed (Debian's `prometheus`
    /// package); not applicable otherwise ([`find_system_program`]).
    pub fn promtool(&self, files: &[(crate::promtool::Kind, String)]) -> Report {
        let detail = plural(files.len(), "file");
        let Some(promtool) = find_system_program("promtool") else {
            return Report::new("promtool", detail, Status::NotApplicable("promtool is not installed".into()));
        };
        let mut found = Vec::new();
        let mut notes = Vec::new();
        let mut error = None;
        // The configurations and the rules first, then the tests, so a test that fails because
        // its rule file does not parse comes after that file's findings.
        let mut files = files.to_vec();
        files.sort();
        for (kind, file) in &files {
            match crate::promtool::run(&promtool, &self.root, file, *kind) {
                Ok(outcome) => {
                    found.extend(outcome.findings);
                    notes.extend(outcome.notes);
                }
                Err(e) => error = Some(e.replace('\n', "\n    ")),
            }
        }
        found.dedup();
        match error {
            Some(e) => Report::new("promtool", detail, Status::Error(e)),
            None => Report { notes, ..Report::from_findings("promtool", detail, found) },
        }
    }
}

fn tool_failed(name: &str, o: &Output) -> String {
    xtask_process::failure(name, o).replace('\n', "\n    ")
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

//! `cargo xtask lint`: rustfmt, clippy, file hygiene, Markdown, schemas, shell scripts,
//! Dockerfiles and the project policies, over one checkout. Every check runs, even after one
//! fails; then one summary. Plain `lint` never changes a file; `--fix` applies the safe
//! fixes first and lists each file it changed.
//!
//! Order of work: list the files (git), decide which checks apply, make sure their tools are
//! installed (installing pinned, project-local copies on demand), apply `--fix`, then run the
//! checks in parallel and print their results in a fixed order.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use colored::Colorize;

use crate::output::{At, Level};

use crate::cache::{self, Answer, Inputs, Ran};
use crate::lint::Finding;
use crate::lint::checks::{self, Plan, Report, Runner, Status, plural};
use crate::process::Cmd;
use crate::repo::files::Tree;
use crate::tools::{self, Provided, Tool, WhenMissing};
use crate::{Context, Outcome};

mod render;

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

/// The tools the applicable checks need.
fn tools_for(plan: &Plan) -> Vec<Tool> {
    let mut t = Vec::new();
    if plan.rust {
        t.extend([Tool::Rustfmt, Tool::Clippy]);
    }
    let wanted = [
        (Tool::MarkdownlintCli2, !plan.markdown.is_empty()),
        (Tool::CheckJsonschema, !plan.schemas.is_empty()),
        (Tool::Shellcheck, !plan.shell.is_empty()),
        (Tool::Hadolint, !plan.dockerfiles.is_empty()),
    ];
    t.extend(wanted.into_iter().filter(|(_, w)| *w).map(|(tool, _)| tool));
    t
}

impl LintArgs {
    /// The gate, answered from the verdict cache when it can be (cache.rs).
    pub fn run(self, cx: &Context) -> Result<Outcome> {
        Ok(self.answer(cx)?.outcome)
    }

    /// [`LintArgs::run`], saying whether the cache answered.
    pub fn answer(self, cx: &Context) -> Result<Answer> {
        let inputs = self.cache_inputs();
        cache::through(cx, inputs, || self.run_uncached(cx))
    }

    /// What the verdict depends on besides what every gate reads: the tools folder, a
    /// `SQLX_OFFLINE` of the user's (clippy's build), and which Nginx checks the site files
    /// (`nginx -t` runs when one is installed). `None`: never
    /// cached (`--fix` changes files, `--root` lints another checkout). A run that skipped a
    /// check (a tool it could not install) is not kept either: the next run tries it again.
    pub fn cache_inputs(&self) -> Option<Inputs> {
        if self.fix || self.root.is_some() {
            return None;
        }
        let nginx = checks::find_system_program("nginx").map_or_else(
            || "not installed".to_owned(),
            |nginx| {
                let version = Cmd::new(&nginx).arg("-v").output();
                version.map_or_else(|e| e.to_string(), |o| String::from_utf8_lossy(&o.stderr).trim().to_owned())
            },
        );
        Some(Inputs::new("lint", self).env("XTASK_TOOLS_DIR").env("SQLX_OFFLINE").extra("Nginx", nginx))
    }

    fn run_uncached(&self, cx: &Context) -> Result<Ran> {
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
        let provided: BTreeMap<&'static str, Provided> =
            tools::provide(cx, &tools_for(&plan), !self.no_install, WhenMissing::Report)?
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
            changed.extend(checks::fix_hygiene(&tree)?);
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
            let nginx = s.spawn(|| match &plan.nginx[..] {
                [] => Report::new("nginx -t", "", Status::NotApplicable("no Nginx site file".into())),
                f => runner.nginx(f),
            });
            let hygiene = checks::check_hygiene(&tree, settings.max_file_size_kb * 1024);
            let policies = checks::check_policies(&tree, &settings.cors_paths);
            let join = |h: std::thread::ScopedJoinHandle<'_, Report>| {
                h.join().unwrap_or_else(|_| Report::new("?", "", Status::Error("a check panicked".into())))
            };
            // The order they are printed in: Rust, hygiene, the other linters, the policies.
            let mut reports = vec![join(rustfmt), join(clippy), hygiene];
            reports.extend([markdown, schemas, shell, hadolint, nginx].map(join));
            reports.extend(policies);
            reports
        });

        let skipped: Vec<&str> =
            reports.iter().filter(|r| matches!(r.status, Status::Skipped { .. })).map(|r| r.name.as_str()).collect();
        let ran = Ran::from(finish(cx, &reports)?);
        Ok(if skipped.is_empty() { ran } else { ran.not_kept(format!("{} skipped", skipped.join(", "))) })
    }
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
    cx.out.step_summary(&render::markdown(reports, &errors, total))?;

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
        let at = f.path.as_deref().map(|file| At { file, line: f.line, end_line: None, col: None });
        cx.out.annotate(Level::Error, at, &title, &message);
    }
    if all.len() > MAX_ANNOTATIONS && cx.out.github {
        println!(
            "{} more findings are not annotated (GitHub shows {MAX_ANNOTATIONS} a step): see the log",
            all.len() - MAX_ANNOTATIONS
        );
    }
}

//! `cargo xtask init`: in a workspace that has just copied `xtask/`, write the gates' settings
//! from what the workspace has (`detect`: a compose file and its services, sqlx and its
//! migrations, how the app reads its database), the pre-commit config, the CI workflow and the
//! workflow that posts its coverage comment (with the suppression its trigger needs).
//! Detection gives data (`detect`), the plan decides what to write and why (`plan`), `render`
//! makes the text, and `write` is the one place a file changes: a file that exists is never
//! replaced, and the root `Cargo.toml` is only ever appended to, once, when it has no
//! `[workspace.metadata.xtask]` table. `--dry-run` prints instead. Run twice, it changes
//! nothing the second time.

mod compose;
mod config;
mod detect;
mod plan;
mod render;
mod write;

use std::path::Path;

use anyhow::{Result, bail};

use crate::Outcome;
use detect::{COMMENT_WORKFLOW, Detected, PRE_COMMIT, WORKFLOW};
use plan::Plan;
use write::{Action, Done};

/// Flags of `cargo xtask init` (its help text is on the subcommand in main.rs).
#[derive(Debug, Default, clap::Args)]
pub struct InitArgs {
    /// Print what would be written, in full, and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// Where something was found: a file relative to the root, and a line (0: the file itself).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Evidence {
    pub file: String,
    pub line: usize,
}

impl Evidence {
    pub fn at(file: &str, line: usize) -> Evidence {
        Evidence { file: file.to_owned(), line }
    }
}

impl std::fmt::Display for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            0 => write!(f, "{}", self.file),
            line => write!(f, "{}:{line}", self.file),
        }
    }
}

impl InitArgs {
    /// Runs in the workspace at `root`. It does not read the settings (it writes them): a table
    /// the gates would reject does not stop it.
    pub fn run(self, root: &Path) -> Result<Outcome> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let found = detect::detect(&cargo, root)?;
        let mut plan = plan::plan(&found);
        let actions = actions(&found, &mut plan)?;
        let mode = if self.dry_run { " --dry-run" } else { "" };
        println!("cargo xtask init{mode}: {}", root.display());
        println!("\nFound:");
        for line in &plan.found {
            println!("  {line}");
        }
        println!("\nFiles:");
        let mut changed = 0;
        for action in &actions {
            let (line, change) = if self.dry_run { would(action) } else { did(root, action)? };
            changed += usize::from(change);
            println!("  {line}");
        }
        if !plan.notes.is_empty() {
            println!("\nNotes:");
            for note in &plan.notes {
                println!("  - {note}");
            }
        }
        if self.dry_run {
            for action in &actions {
                match action {
                    Action::Create { path, content } => println!("\n--- {path} (would write):\n{content}"),
                    Action::Append { path, text, .. } => println!("\n--- {path} (would append):\n{text}"),
                    Action::Keep { .. } => {}
                }
            }
        }
        if changed == 0 {
            println!("\nNothing to write: every file is there already (init never overwrites one).");
        } else if self.dry_run {
            println!("\nDry run: nothing was written.");
        }
        Ok(Outcome::Passed)
    }
}

/// What init does with each of its files: the root `Cargo.toml`, the hooks, the workflows, the
/// suppressions file.
fn actions(d: &Detected, plan: &mut Plan) -> Result<Vec<Action>> {
    let branch = plan::branch(d).to_owned();
    let mut actions = Vec::new();
    let (profiles, _) = render::profiles(&d.manifest);
    let missing_profiles = profiles.matches("\n[profile.").count() + usize::from(profiles.starts_with("[profile."));
    if d.has_settings {
        actions.push(Action::Keep {
            path: "Cargo.toml".into(),
            why: "it has a [workspace.metadata.xtask] table already".into(),
        });
        if missing_profiles > 0 {
            plan.notes.push(format!(
                "Cargo.toml lacks {missing_profiles} of the xtask's [profile.dev.package.*] sections: init appends them \
                 only with the settings; copy them from xtask/templates/profiles.toml"
            ));
        }
    } else {
        let settings = render::settings(plan);
        let text = render::appended(&d.manifest, &[&settings, &profiles]);
        if text.is_empty() {
            actions.push(Action::Keep { path: "Cargo.toml".into(), why: "nothing to add".into() });
        } else {
            if let Some((line, problem)) = crate::lint::hygiene::toml_problem(&format!("{}{text}", d.manifest)) {
                bail!(
                    "appending the settings would make Cargo.toml invalid ({problem}, at line {line} of the result): \
                     add them by hand (`cargo xtask init --dry-run` prints them)"
                );
            }
            let mut what = Vec::new();
            if !settings.is_empty() {
                let tables: Vec<&str> = render::tables(plan).iter().map(|t| t.name).collect();
                what.push(format!("the settings ([workspace.metadata.xtask] {})", tables.join(", ")));
            }
            if missing_profiles > 0 {
                what.push(format!("{missing_profiles} [profile.dev.package.*] sections of the xtask"));
            }
            actions.push(Action::Append {
                path: "Cargo.toml".into(),
                before: d.manifest.clone(),
                text,
                what: what.join(" and "),
            });
        }
    }
    actions.push(match d.pre_commit_exists {
        true => Action::Keep { path: PRE_COMMIT.into(), why: "exists".into() },
        false => Action::Create { path: PRE_COMMIT.into(), content: render::pre_commit(&branch) },
    });
    actions.push(match &d.workflow_exists {
        Some(path) => Action::Keep { path: path.clone(), why: "exists".into() },
        None => Action::Create { path: WORKFLOW.into(), content: render::workflow(&branch) },
    });
    match &d.comment_workflow_exists {
        Some(path) => actions.push(Action::Keep { path: path.clone(), why: "exists".into() }),
        None => {
            actions.push(Action::Create { path: COMMENT_WORKFLOW.into(), content: render::comment_workflow() });
            // Its trigger accepted, for a year, where the security gate reads its suppressions;
            // an existing file is left as it is (a note says what it lacks).
            let (path, text) = &d.suppressions;
            actions.push(match text {
                Some(_) => Action::Keep { path: path.clone(), why: "exists".into() },
                None => {
                    let today = crate::security::date::Date::today();
                    let expires = crate::security::date::Date::from_days_since_epoch(today.days_since_epoch() + 365);
                    Action::Create { path: path.clone(), content: render::suppressions(&expires.to_string()) }
                }
            });
        }
    }
    Ok(actions)
}

/// What a dry run would do, and whether that changes a file.
fn would(action: &Action) -> (String, bool) {
    match action {
        Action::Create { path, .. } => (format!("would write {path}"), true),
        Action::Append { path, what, .. } => (format!("would append to {path}: {what}"), true),
        Action::Keep { path, why } => (format!("left alone {path} ({why})"), false),
    }
}

/// Does `action`: what it did, and whether that changed a file.
fn did(root: &Path, action: &Action) -> Result<(String, bool)> {
    let path = action.path();
    Ok(match (write::apply(root, action)?, action) {
        (Done::Wrote, _) => (format!("wrote {path}"), true),
        (Done::Appended, Action::Append { what, .. }) => (format!("appended to {path}: {what}"), true),
        (Done::Appended, _) => (format!("appended to {path}"), true),
        (Done::Kept(why), _) => (format!("left alone {path} ({why})"), false),
    })
}

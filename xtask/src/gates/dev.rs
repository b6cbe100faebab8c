//! `cargo xtask dev`: the app on this machine (`cargo run -p app -- serve`), restarted when
//! its sources change. The app reads `.env` itself (app/src/config.rs, unless
//! `APP_ENV=production` is set): nothing is loaded here. Each run is a process group of its
//! own, and the whole group (cargo, the app, anything they started) is stopped, and gone,
//! before the next one starts, so the port is free; on Ctrl-C nothing is left running.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use rustix::process::{Pid, Signal};

use crate::{Context, Outcome, interrupt};

/// How often the sources are looked at.
const POLL: Duration = Duration::from_millis(500);
/// How long a run gets to stop after SIGTERM before its group is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Flags of `cargo xtask dev` (its help text is on the subcommand in main.rs).
#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// The workspace whose `app/` is watched and run (default: this one; for the tests)
    #[arg(long, hide = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

/// What is watched, relative to the workspace root.
pub const WATCHED: [&str; 3] = ["app/src", "app/migrations", "app/Cargo.toml"];

impl DevArgs {
    pub fn run(self, cx: &Context) -> Result<Outcome> {
        interrupt::install()?;
        let root = self.root.unwrap_or_else(|| cx.root.clone());
        let result = watch(cx, &root);
        interrupt::exit_if_received();
        result
    }
}

fn watch(cx: &Context, root: &Path) -> Result<Outcome> {
    let mut seen = snapshot(root);
    let mut run = Some(Run::start(cx, root)?);
    loop {
        std::thread::sleep(POLL);
        if interrupt::received().is_some() {
            if let Some(r) = run.take() {
                r.stop();
            }
            return Ok(Outcome::Passed);
        }
        if let Some(r) = &mut run
            && let Ok(Some(status)) = r.child.try_wait()
        {
            eprintln!("dev: the app exited ({status}); waiting for a change in {}", WATCHED.join(", "));
            // Its children, if any, go with it.
            run.take().expect("checked above").stop();
        }
        let now = snapshot(root);
        if now != seen {
            if let Some(changed) = first_change(&seen, &now) {
                eprintln!("dev: {} changed; restarting", crate::output::relative(root, &changed));
            }
            seen = now;
            if let Some(r) = run.take() {
                r.stop();
            }
            run = Some(Run::start(cx, root)?);
        }
    }
}

/// One `cargo run -p app -- serve`, in a process group of its own.
struct Run {
    child: Child,
    pgid: Pid,
}

impl Run {
    fn start(cx: &Context, root: &Path) -> Result<Run> {
        eprintln!("dev: $ cargo run -p app -- serve");
        let child = cx.cargo().args(["run", "-p", "app", "--", "serve"]).current_dir(root).process_group().spawn()?;
        let pgid = Pid::from_child(&child);
        Ok(Run { child, pgid })
    }

    /// SIGTERM to the whole group, then SIGKILL after [`STOP_GRACE`]; returns once no
    /// process of the group is left.
    fn stop(mut self) {
        if crate::process::stop_group(self.pgid, &mut self.child, STOP_GRACE) == crate::process::Stopped::Stuck {
            eprintln!("warning: process group {} did not stop", self.pgid.as_raw_nonzero());
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        // Only on an unexpected way out (stop() consumed the others): leave nothing running.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = rustix::process::kill_process_group(self.pgid, Signal::KILL);
            let _ = self.child.wait();
        }
    }
}

/// Any process of the group left that is not a zombie (an orphan that nobody reaped yet).
/// The modification time of every file under [`WATCHED`].
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, SystemTime> {
    let mut files = BTreeMap::new();
    let mut stack: Vec<PathBuf> = WATCHED.iter().map(|w| root.join(w)).collect();
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        } else if let Ok(modified) = meta.modified() {
            files.insert(path, modified);
        }
    }
    files
}

/// A file added, removed or modified between two snapshots.
fn first_change(before: &BTreeMap<PathBuf, SystemTime>, after: &BTreeMap<PathBuf, SystemTime>) -> Option<PathBuf> {
    after
        .iter()
        .find(|(p, t)| before.get(*p) != Some(t))
        .map(|(p, _)| p.clone())
        .or_else(|| before.keys().find(|p| !after.contains_key(*p)).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_see_added_modified_and_removed_files() {
        let tmp = std::env::temp_dir().join(format!("xtask-dev-{}", std::process::id()));
        std::fs::create_dir_all(tmp.join("app/src/routes")).unwrap();
        std::fs::write(tmp.join("app/src/main.rs"), "").unwrap();
        std::fs::write(tmp.join("app/Cargo.toml"), "").unwrap();
        std::fs::write(tmp.join("README.md"), "").unwrap();
        let a = snapshot(&tmp);
        assert_eq!(a.len(), 2);
        std::fs::write(tmp.join("app/src/routes/health.rs"), "").unwrap();
        let b = snapshot(&tmp);
        assert_eq!(first_change(&a, &b), Some(tmp.join("app/src/routes/health.rs")));
        std::fs::remove_file(tmp.join("app/src/main.rs")).unwrap();
        let c = snapshot(&tmp);
        assert_eq!(first_change(&b, &c), Some(tmp.join("app/src/main.rs")));
        assert_eq!(first_change(&c, &c), None);
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}

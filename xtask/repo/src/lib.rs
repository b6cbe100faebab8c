//! The repository as the gates see it: `git` run at a checkout's root ([`git`]), the files git
//! lists there and the kinds of file more than one gate looks for (`files`), and the path globs
//! of the settings, the coverage inputs, the per-path gates and the security suppressions
//! (`glob`). Used by the gates (the xtask), `xtask-core`, both engines and `xtask-audit`, each
//! directly.

pub mod files;
pub mod glob;

use std::path::Path;
use std::process::Command;

/// Git variables that point at a repository. Git hooks export some of them (GIT_DIR,
/// GIT_INDEX_FILE), and they would make git ignore the folder it runs in: the gates always ask
/// about the checkout at their root, found from that folder.
const GIT_LOCATION_VARS: [&str; 7] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_PREFIX",
];

/// `git`, run in `root`, with the location variables removed.
pub fn git(root: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(root);
    for var in GIT_LOCATION_VARS {
        c.env_remove(var);
    }
    c
}

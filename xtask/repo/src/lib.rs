//! The repository as the gates see it: `git` run at a checkout's root ([`git`]), the files git
//! lists there and the kinds of file more than one gate looks for (`files`), a path a tool
//! printed as one relative to the root ([`relative`]), where in it a compiler diagnostic
//! belongs, a macro's expansion followed back to the user's call (`span`), the path globs of
//! the settings, the coverage inputs, the per-path gates and the security suppressions (`glob`),
//! and whether a build there runs offline for sqlx ([`sqlx_offline`]). Used by the gates (the
//! xtask), `xtask-core`, both engines and `xtask-audit`, each directly.

pub mod files;
pub mod glob;
pub mod span;

use std::path::Path;

use xtask_process::Cmd;

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
pub fn git(root: &Path) -> Cmd {
    GIT_LOCATION_VARS.iter().fold(Cmd::new("git").current_dir(root), |c, var| c.env_remove(var))
}

/// The commit checked out at `root`, or `unknown` outside git (or before the first commit):
/// what a record (the ratchet's, the test history's) names the tree by.
pub fn head(root: &Path) -> String {
    git(root)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(|| "unknown".to_owned(), |o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

/// A path as a tool printed it, made relative to the checkout's root when it is inside it (the
/// root as given or its canonical form), with `/` separators; else as printed, without `./`.
pub fn relative(path: &str, root: &Path) -> String {
    let p = Path::new(path);
    for base in [root.to_path_buf(), root.canonicalize().unwrap_or_else(|_| root.to_path_buf())] {
        if let Ok(rel) = p.strip_prefix(&base) {
            return rel.to_string_lossy().replace('\\', "/");
        }
    }
    path.trim_start_matches("./").to_owned()
}

/// What a gate says, once, when [`sqlx_offline`] made its build offline.
pub const SQLX_OFFLINE_NOTE: &str = ".sqlx/ found: building offline (SQLX_OFFLINE=true)";

/// `c`, a build in `root` that only compiles (clippy), with `SQLX_OFFLINE=true` when the
/// workspace has sqlx's offline query data (`.sqlx/` at its root): sqlx's macros then check
/// the queries against it and never reach for the database the workspace's `.env` names. A
/// `SQLX_OFFLINE` already in the environment is the user's and is left as it is. Also whether
/// it was set, for the gate to say so ([`SQLX_OFFLINE_NOTE`]).
pub fn sqlx_offline(c: Cmd, root: &Path) -> (Cmd, bool) {
    if root.join(".sqlx").is_dir() && std::env::var_os("SQLX_OFFLINE").is_none() {
        (c.env("SQLX_OFFLINE", "true"), true)
    } else {
        (c, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_paths_become_relative_to_the_root() {
        assert_eq!(relative("/r/src/main.rs", Path::new("/r")), "src/main.rs");
        assert_eq!(relative("./src/main.rs", Path::new("/r")), "src/main.rs");
        assert_eq!(relative("/elsewhere/a.rs", Path::new("/r")), "/elsewhere/a.rs");
        let root = std::env::current_dir().unwrap();
        let through = root.join("..").join(root.file_name().unwrap());
        let inside = root.canonicalize().unwrap().join("Cargo.toml");
        assert_eq!(relative(inside.to_str().unwrap(), &through), "Cargo.toml");
    }

    #[test]
    fn a_build_is_offline_where_sqlx_s_query_data_is_unless_the_user_chose() {
        let root = std::env::temp_dir().join(format!("xtask-repo-sqlx-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let offline = |root: &Path| {
            let (c, said) = sqlx_offline(Cmd::new("cargo"), root);
            let value = c.get_envs().find(|(k, _)| *k == "SQLX_OFFLINE").and_then(|(_, v)| v.map(|v| v.to_owned()));
            (said, value)
        };
        assert_eq!(offline(&root), (false, None), "no .sqlx/: online, as sqlx decides");
        std::fs::create_dir_all(root.join(".sqlx")).unwrap();
        let expected = match std::env::var_os("SQLX_OFFLINE") {
            Some(_) => (false, None),
            None => (true, Some("true".into())),
        };
        assert_eq!(offline(&root), expected, "a user's SQLX_OFFLINE is left as it is");
        std::fs::remove_dir_all(&root).unwrap();
    }
}

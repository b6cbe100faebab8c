//! What the xtask's gates share, below them: the [`Context`] a gate is handed, and one module
//! for each shared mechanic (settings, output, tools, Docker, the test database, the verdict
//! cache, impact-aware runs). The gates themselves are the `xtask` crate's `gates/`, which this
//! crate cannot reach. See docs/architecture.md.

/// The coverage grading, a crate of its own (`xtask/coverage/`); reading the reports, the hot
/// path, is `xtask/reader/`, the one crate built optimised (see their Cargo.toml).
pub use xtask_coverage as coverage;
pub mod cache;
pub mod capture;
pub mod change;
pub mod db;
pub mod docker;
pub mod http;
pub mod images;
pub mod impact;
pub mod interrupt;
pub mod jsonl;
pub mod kept_image;
pub mod output;
/// Running external programs, a crate of its own (`xtask/process/`): the engines run tools too.
pub use xtask_process as process;
/// The repository as the gates see it (`git` at the root, the files git lists, globs), a crate
/// of its own (`xtask/repo/`): the engines and the advisory audit use it too.
pub use xtask_repo as repo;
pub mod settings;
pub mod snapshot;
pub mod test_run;
pub mod tools;

use std::path::{Path, PathBuf};

use anyhow::Result;

/// What a gate decided. Errors (bad input, missing tools) are `Err` and exit 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Passed,
    /// Exit 1: the gate ran and the code did not meet it.
    Failed,
}

/// Everything a gate needs, built once in `main` and passed down.
pub struct Context {
    pub root: PathBuf,
    /// The cargo that runs us (`$CARGO`), so nested cargo calls use the same toolchain.
    pub cargo: String,
    pub settings: settings::Settings,
    pub out: output::Output,
    /// `--no-cache` (or `XTASK_NO_CACHE`): the gates run even when the verdict cache could
    /// answer; their verdicts are still kept (cache.rs).
    pub no_cache: bool,
}

impl Context {
    pub fn new(out: output::Output) -> Result<Context> {
        let root = project_root();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let settings = settings::Settings::load(&cargo, &root)?;
        Ok(Context { root, cargo, settings, out, no_cache: false })
    }

    /// `program`, run in the workspace root: how a gate starts any program (a
    /// [`process::Cmd`]; its name is how messages show it).
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> process::Cmd {
        process::Cmd::new(program).current_dir(&self.root)
    }

    /// The cargo that runs us, in the workspace root, with cargo's colours following the
    /// output mode (`CARGO_TERM_COLOR`); shown as `cargo …`.
    pub fn cargo(&self) -> process::Cmd {
        self.cmd(&self.cargo).env("CARGO_TERM_COLOR", self.out.cargo_term_color())
    }
}

/// The workspace's target folder: `CARGO_TARGET_DIR` (relative to the root when relative),
/// else `target/`.
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// The workspace root: the parent of the xtask crate's folder. That folder is the one cargo
/// names in `CARGO_MANIFEST_DIR` when it runs us (`cargo run`, `cargo xtask`, the xtask's own
/// tests), so a binary built in one checkout works on the checkout it is run for (several
/// worktrees can share one `CARGO_TARGET_DIR`); else the folder it was compiled in (this
/// crate's folder is `xtask/core`).
pub fn project_root() -> PathBuf {
    let compiled_in = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask-core lives in xtask/");
    let from_cargo = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).filter(|dir| is_xtask_crate(dir));
    let dir = from_cargo.as_deref().unwrap_or(compiled_in);
    dir.parent().expect("xtask lives inside the workspace").to_path_buf()
}

/// Whether `dir/Cargo.toml` is this crate's manifest (`name = "xtask"`), not another package's.
fn is_xtask_crate(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .is_ok_and(|m| m.lines().map(|l| l.replace(' ', "")).any(|l| l == "name=\"xtask\""))
}

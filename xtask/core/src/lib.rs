//! What the xtask's gates share, below them: the [`Context`] a gate is handed, and one module
//! for each shared mechanic (settings, output, tools, Docker, the test database, the verdict
//! cache, impact-aware runs). The gates themselves are the `xtask` crate's `gates/`, which this
//! crate cannot reach. See docs/architecture.md.

/// The coverage grading, a crate of its own (`xtask/coverage/`); reading the reports, the hot
/// path, is `xtask/reader/`, the one crate built optimised (see their Cargo.toml).
pub use xtask_coverage as coverage;
pub mod cache;
pub mod capture;
pub mod db;
pub mod docker;
pub mod http;
pub mod images;
pub mod impact;
pub mod interrupt;
pub mod output;
/// Running external programs, a crate of its own (`xtask/process/`): the engines run tools too.
pub use xtask_process as process;
/// The repository as the gates see it (`git` at the root, the files git lists, globs), a crate
/// of its own (`xtask/repo/`): the engines and the advisory audit use it too.
pub use xtask_repo as repo;
pub mod settings;
pub mod snapshot;
pub mod tools;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

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
    /// Rooted at the workspace root.
    pub sh: xshell::Shell,
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
        let sh = xshell::Shell::new().context("cannot create a shell")?;
        sh.change_dir(&root);
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let settings = settings::Settings::load(&cargo, &root)?;
        sh.set_var("CARGO_TERM_COLOR", out.cargo_term_color());
        Ok(Context { sh, root, cargo, settings, out, no_cache: false })
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

/// The variables an enclosing `cargo llvm-cov` run gave this process (when a test of that run
/// started the xtask): its private `__CARGO_LLVM_COV*` and a `RUSTC_WRAPPER` naming
/// cargo-llvm-cov. Handed on to the gate's own `cargo llvm-cov`, they make it take itself for
/// that run's rustc wrapper and start itself again and again. Cargo commands leave them out
/// ([`without_coverage_run_leftovers`]).
pub fn without_coverage_run_leftovers(mut cmd: xshell::Cmd<'_>) -> xshell::Cmd<'_> {
    for name in coverage_run_leftovers() {
        cmd = cmd.env_remove(name);
    }
    cmd
}

/// See [`without_coverage_run_leftovers`].
pub fn coverage_run_leftovers() -> Vec<std::ffi::OsString> {
    std::env::vars_os()
        .filter(|(name, value)| {
            name.to_string_lossy().starts_with("__CARGO_LLVM_COV")
                || (name == "RUSTC_WRAPPER" && Path::new(value).file_stem().is_some_and(|s| s == "cargo-llvm-cov"))
        })
        .map(|(name, _)| name)
        .collect()
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

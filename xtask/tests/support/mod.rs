//! Shared helpers for the CLI tests: run the real `xtask` binary, write scratch files.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

pub mod standin;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// The xtask binary with a clean, predictable environment (no colour, not in CI), and the
/// verdict cache out of the way: every gate runs (`XTASK_NO_CACHE`), and what it keeps goes to
/// a folder of the tests, not the checkout's `target/xtask-cache` (tests/verdict_cache.rs
/// undoes both). So does the coverage trend (`XTASK_TREND_DIR`): the reports the tests grade
/// never reach the checkout's history (tests/coverage_trend.rs undoes it).
pub fn xtask() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    c.env("XTASK_NO_CACHE", "1")
        .env("XTASK_CACHE_DIR", tmp.join("xtask-cache"))
        .env("XTASK_TREND_DIR", tmp.join("xtask-trend"));
    for var in [
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_REF",
        "GITHUB_EVENT_PATH",
        "CLICOLOR_FORCE",
        "NO_COLOR",
        "CI",
        "DATABASE_URL",
        "XTASK_PG_BIN",
        "XTASK_ADVISORY_DB",
        "XTASK_ACCEPT_STALE_DB",
        "XTASK_AUDIT_BIN",
        "SQLX_OFFLINE",
    ] {
        c.env_remove(var);
    }
    c
}

/// The advisory audit, built once into this test run's target folder (so a coverage run
/// builds it instrumented, beside the xtask), for `XTASK_AUDIT_BIN`: the security gate
/// otherwise builds it with `cargo run`, under the test's scratch `CARGO_HOME`.
pub fn audit_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // <target>/<profile>/deps/<test binary>
    let target = exe.ancestors().nth(3).expect("a test binary lives in <target>/<profile>/deps");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--quiet", "--package", "xtask-audit", "--target-dir"])
        .arg(target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "cannot build xtask-audit: {}", String::from_utf8_lossy(&out.stderr));
    target.join("debug/xtask-audit")
}

/// The xtask ended as a process killed by `signal` does: dead of it, or, when built for
/// coverage (which must write its profile at exit), exited with the shell's `128 + signal`.
pub fn assert_ended_by_signal(status: std::process::ExitStatus, signal: i32, context: &str) {
    use std::os::unix::process::ExitStatusExt as _;
    if cfg!(coverage) {
        assert_eq!(status.code(), Some(128 + signal), "{status:?}: {context}");
    } else {
        assert_eq!(status.signal(), Some(signal), "{status:?}: {context}");
    }
}

pub fn run(mut c: Command) -> Run {
    let out = c.output().expect("the xtask binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `cargo xtask coverage --file <path> <args…>`.
pub fn grade(path: &Path, args: &[&str]) -> Run {
    let mut c = xtask();
    c.arg("coverage").arg("--file").arg(path).args(args);
    run(c)
}

/// A scratch folder under the target dir, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Creates (`on`) or removes an empty marker file that a stand-in executable looks for.
    pub fn set(&self, flag: &str, on: bool) {
        if on {
            self.write(flag, "");
        } else {
            let _ = std::fs::remove_file(self.path(flag));
        }
    }

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes an executable file (mode 755), with its folders.
pub fn write_exe(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
    make_executable(path);
}

pub fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A Cobertura report: each file with its `(line, hits)` pairs.
pub fn cobertura(files: &[(&str, Vec<(u32, u64)>)]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" ?>\n<coverage version=\"test\">\n<packages><package name=\"p\"><classes>\n",
    );
    for (name, lines) in files {
        s.push_str(&format!("<class name=\"c\" filename=\"{name}\"><methods/><lines>\n"));
        for (n, hits) in lines {
            s.push_str(&format!("  <line number=\"{n}\" hits=\"{hits}\"/>\n"));
        }
        s.push_str("</lines></class>\n");
    }
    s.push_str("</classes></package></packages>\n</coverage>\n");
    s
}

/// One file with `covered` of `valid` lines hit.
pub fn percent_report(covered: u32, valid: u32) -> String {
    cobertura(&[("src/lib.rs", (1..=valid).map(|n| (n, u64::from(n <= covered))).collect())])
}

/// A stand-in `docker`: records argv in `$STANDIN/log`; `info` succeeds when `$STANDIN/engine`
/// exists, `compose version` when `$STANDIN/compose-v2` does; `network inspect|create edge`
/// use `$STANDIN/network`; `docker compose …` runs the test's own `$STANDIN/compose.sh`.
pub const DOCKER_STANDIN: &str = r#"#!/bin/bash
printf 'docker %s\n' "$*" >> "$STANDIN/log"
case "$*" in
  info) [ -e "$STANDIN/engine" ] && exit 0
        echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
        exit 1 ;;
  "compose version") [ -e "$STANDIN/compose-v2" ] && { echo "Docker Compose version v2.27.0"; exit 0; }
                     echo "docker: 'compose' is not a docker command." >&2; exit 1 ;;
  "network inspect edge") [ -e "$STANDIN/network" ] && exit 0; exit 1 ;;
  "network create edge") touch "$STANDIN/network"; exit 0 ;;
esac
[ "$1" = compose ] || exit 1
shift
source "$STANDIN/compose.sh"
"#;

/// A stand-in standalone `docker-compose`: records argv, then the same `$STANDIN/compose.sh`.
pub const DOCKER_COMPOSE_STANDIN: &str = r#"#!/bin/bash
printf 'docker-compose %s\n' "$*" >> "$STANDIN/log"
source "$STANDIN/compose.sh"
"#;

/// A copy of the fixture advisory database (`fixtures/security/advisory-db`, fictional crates)
/// at `to`, with a STAMP dated `stamp` (none: no STAMP).
pub fn advisory_db(to: &Path, stamp: Option<&str>) -> PathBuf {
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/security/advisory-db"), to);
    if let Some(date) = stamp {
        std::fs::write(to.join("STAMP"), format!("commit=0123abc\ndate={date}T08:00:00+00:00\n")).unwrap();
    }
    to.to_path_buf()
}

/// Yesterday (UTC) as `YYYY-MM-DD`: a fresh database's date.
pub fn yesterday() -> String {
    use xtask::security::date::Date;
    Date::from_days_since_epoch(Date::today().days_since_epoch() - 1).to_string()
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A stand-in `docker` for the ops scripts (`scripts/*.sh`): appends each call's argv to
/// `$STANDIN/log`, prefixed with `APP_IMAGE=… ` when that is set. A call with the word W among
/// its arguments fails when `$STANDIN/fail-W` exists, after writing a partial line to stdout
/// (so `fail-pg_dump` is a dump cut short). `pg_dump` prints `$STANDIN/dump.sql`; `psql`
/// without `-c` appends its stdin to `$STANDIN/psql-stdin`; `cat` in a container prints
/// `$STANDIN/seeds.sql`. Everything else succeeds silently.
pub const OPS_DOCKER_STANDIN: &str = r#"#!/bin/bash
printf '%sdocker %s\n' "${APP_IMAGE:+APP_IMAGE=$APP_IMAGE }" "$*" >> "$STANDIN/log"
for word in "$@"; do
  if [ -e "$STANDIN/fail-$word" ]; then
    echo "-- partial output"
    echo "stand-in docker: $word failed" >&2
    exit 1
  fi
done
words=" $* "
case "$words" in
  *" pg_dump "*) cat "$STANDIN/dump.sql" ;;
  *" psql "*" -c "*) ;;
  *" psql "*) cat >> "$STANDIN/psql-stdin" ;;
  *" --entrypoint cat "*) cat "$STANDIN/seeds.sql" ;;
esac
exit 0
"#;

// ---------------------------------------------------------------------------------------
// The real Docker engine

/// Whether `CI` is set (to anything but empty, `0` or `false`): tests that need a component
/// must not skip themselves there.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// Whether a Docker engine with Compose v2 answers. When none does, the test says why and
/// returns early; in CI that is a failure instead, so a missing engine never passes silently.
pub fn docker_engine(test: &str) -> bool {
    let info = Command::new("docker").arg("info").output();
    let compose = Command::new("docker").args(["compose", "version"]).output();
    let why = match (info, compose) {
        (Ok(i), Ok(c)) if i.status.success() && c.status.success() => return true,
        (Err(e), _) => format!("`docker` cannot be run ({e})"),
        (Ok(i), _) if !i.status.success() => {
            format!("no Docker engine answers ({})", String::from_utf8_lossy(&i.stderr).trim())
        }
        _ => "the Docker Compose v2 plugin is missing".to_owned(),
    };
    assert!(!in_ci(), "{test}: CI is set, and this test needs a real Docker engine: {why}");
    // Straight to stderr, past the test harness's capture of `eprintln!`: a skip is news.
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "skipped {test}: {why} (to run it: {})", xtask::docker::DOCKER_START);
    false
}

/// One stack at a time on the engine: image builds and health timings stay predictable on a
/// small machine. Within a test binary; nextest's `docker` test group does it across processes.
pub fn docker_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The workspace root of this checkout.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A copy of the working tree (every file git lists, tracked or new), for a test that changes
/// a file before building the image. The xtask works on it when run with
/// `CARGO_MANIFEST_DIR=<copy>/xtask`.
pub fn copy_checkout(to: &Path) {
    copy_files(to, &[]);
}

/// [`copy_checkout`] of the files under these paths of the working tree only (`xtask`, say),
/// each at its place under `to`.
pub fn copy_files(to: &Path, paths: &[&str]) {
    let root = workspace_root();
    let out = Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--"])
        .args(paths)
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(out.status.success(), "git ls-files: {}", String::from_utf8_lossy(&out.stderr));
    for path in out.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let path = Path::new(std::str::from_utf8(path).unwrap());
        let from = root.join(path);
        if !from.is_file() {
            continue; // deleted in the working tree
        }
        let dest = to.join(path);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&from, &dest).unwrap();
    }
}

/// Replaces `old` (which must be there) by `new` in a file.
pub fn edit(path: &Path, old: &str, new: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(old), "{} does not contain {old:?}", path.display());
    std::fs::write(path, text.replacen(old, new, 1)).unwrap();
}

/// An image tag of a test's own (`REPO:<pid>`), removed before the test uses it and when the
/// test ends, passed or failed.
pub struct TestImage(pub String);

impl TestImage {
    pub fn new(repo: &str) -> TestImage {
        let image = TestImage(format!("{repo}:{}", std::process::id()));
        image.remove();
        image
    }

    fn remove(&self) {
        let _ = Command::new("docker").args(["image", "rm", "--force", &self.0]).output();
    }
}

impl Drop for TestImage {
    fn drop(&mut self) {
        self.remove();
    }
}

/// What the engine still has of a compose project: containers, volumes, networks.
pub fn leftovers(project: &str) -> Vec<String> {
    let label = format!("label=com.docker.compose.project={project}");
    let mut found = Vec::new();
    for (kind, format) in [("container", "{{.Names}}"), ("volume", "{{.Name}}"), ("network", "{{.Name}}")] {
        let mut c = Command::new("docker");
        c.args([kind, "ls", "--filter", &label, "--format", format]);
        if kind == "container" {
            c.arg("--all");
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "docker {kind} ls: {}", String::from_utf8_lossy(&out.stderr));
        found.extend(String::from_utf8_lossy(&out.stdout).lines().map(|n| format!("{kind} {n}")));
    }
    found
}

/// A stand-in `cargo` for the gates' tests (lint, coverage, security, ci).
pub const CARGO_STANDIN: &str = r#"#!/usr/bin/env bash
# Stand-in cargo for the gates: records argv in $STANDIN/log; fmt fails when $STANDIN/fmt-fails
# exists; the coverage run's reports are $STANDIN/report.xml and empty LCOV and HTML. Settings
# come from $STANDIN/ws/Cargo.toml, so that the reports go to the test's folder, never to the
# real workspace's.
printf '%s\n' "$*" >> "$STANDIN/log"
case "$1 $2" in
  metadata*) exec "$REAL_CARGO" metadata --format-version 1 --no-deps --offline --manifest-path "$STANDIN/ws/Cargo.toml" ;;
  "fmt --version"|"clippy --version") echo "$1 1.0.0" ;;
  fmt*) [ -e "$STANDIN/fmt-fails" ] && { echo "Diff in src/lib.rs at line 1:"; exit 1; }; exit 0 ;;
  clippy*) exit 0 ;;
  "llvm-cov --version") echo "cargo-llvm-cov 0.9.1" ;;
  "llvm-cov clean") exit 0 ;;
  "llvm-cov report")
    out=""; while [ $# -gt 0 ]; do case "$1" in --output-path|--output-dir) out="$2"; shift ;; esac; shift; done
    case "$(tail -n 1 "$STANDIN/log")" in
      *--html*) mkdir -p "$out/html"; echo '<html/>' > "$out/html/index.html" ;;
      *--lcov*) printf 'TN:\nend_of_record\n' > "$out" ;;
      *) cp "$STANDIN/report.xml" "$out" ;;
    esac ;;
  "nextest --version") echo "cargo-nextest 0.9.143" ;;
  "llvm-cov nextest") echo "running tests" ;;
  *) echo "stand-in cargo: unexpected $*" >&2; exit 99 ;;
esac
"#;

/// `xtask` working on the workspace at `root` (whose `xtask/Cargo.toml` names it as the root),
/// with none of an enclosing coverage run's build settings leaking into the run it starts: its
/// target folder, its RUSTFLAGS, its per-test recorder, and above all its rustc wrapper
/// (cargo-llvm-cov itself, which would wrap the inner run's own, again and again). Its
/// `LLVM_PROFILE_FILE` stays: the xtask binary is that run's instrumented build, and without it
/// writes its profile to `default_*.profraw` in its working folder instead of where the run
/// collects them (the inner run's own cargo-llvm-cov sets the variable afresh for its tests).
pub fn xtask_on(root: &Path) -> Command {
    let mut c = xtask();
    for (var, _) in std::env::vars_os() {
        if leaks_from_an_enclosing_run(&var.to_string_lossy()) {
            c.env_remove(&var);
        }
    }
    c.env("CARGO_MANIFEST_DIR", root.join("xtask")).current_dir(root);
    c
}

/// What `cargo llvm-cov`, nextest or the xtask's recorder set for the tests they run, but for
/// the one a program built for coverage reads when it runs: `LLVM_PROFILE_FILE`, where its
/// profile goes (cargo-llvm-cov sets it; the recorder names a test in it).
pub fn leaks_from_an_enclosing_run(name: &str) -> bool {
    const PREFIXES: [&str; 4] = ["CARGO_LLVM_COV", "__CARGO_LLVM_COV", "NEXTEST", "XTASK_MAP"];
    const NAMES: [&str; 8] = [
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTC_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTDOCFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p))
        || NAMES.contains(&name)
        || (name.starts_with("CARGO_TARGET_") && name.ends_with("_RUNNER"))
}

/// A loopback port that answers every connection's startup message as a PostgreSQL server
/// that trusts everyone does (AuthenticationOk), for as long as the test runs: what the gates'
/// probe asks without `pg_isready`. Nothing else is spoken; the tests' stand-in `cargo` never
/// connects.
pub fn postgres_greeter() -> u16 {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut socket in listener.incoming().flatten() {
            let mut len = [0u8; 4];
            if socket.read_exact(&mut len).is_ok() {
                let mut rest = vec![0u8; (u32::from_be_bytes(len) as usize).saturating_sub(4)];
                if socket.read_exact(&mut rest).is_ok() {
                    let _ = socket.write_all(b"R\0\0\0\x08\0\0\0\0");
                }
            }
        }
    });
    port
}

/// `git ARGS` in a test's own repository at `dir` (none of the enclosing checkout's `GIT_DIR`
/// and the like, a fixed author), its stdout; a failure fails the test.
pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let mut git = Command::new("git");
    for var in ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"] {
        git.env_remove(var);
    }
    let out =
        git.args(["-c", "user.name=t", "-c", "user.email=t@example.com"]).args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

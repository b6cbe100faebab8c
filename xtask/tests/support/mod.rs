//! Shared helpers for the CLI tests: run the real `xtask` binary, write scratch files.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// The xtask binary with a clean, predictable environment (no colour, not in CI).
pub fn xtask() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    for var in [
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
        "CLICOLOR_FORCE",
        "NO_COLOR",
        "CI",
        "DATABASE_URL",
        "XTASK_PG_BIN",
        "XTASK_ADVISORY_DB",
        "XTASK_ACCEPT_STALE_DB",
    ] {
        c.env_remove(var);
    }
    c
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
    xtask::security::today().yesterday().unwrap().to_string()
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

//! Docker Compose, shared by the test database (db.rs) and `cargo xtask up | down | logs`
//! (gates/compose.rs): is a Docker engine answering, which compose file, and which compose
//! program (the v2 plugin `docker compose`, else the standalone `docker-compose` with a
//! warning). Docker is a prerequisite: the xtask never installs it.

use std::ffi::OsString;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Looked for at the workspace root, in this order, when no compose file is configured.
pub const COMPOSE_FILES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];
const DOCKER_INFO_TIMEOUT: Duration = Duration::from_secs(5);
/// Printed when `docker` is missing.
pub const DOCKER_INSTALL: &str = "install Docker Engine (https://docs.docker.com/engine/install/) or Docker Desktop";
/// Printed when the engine does not answer.
pub const DOCKER_START: &str = "start it with `sudo systemctl start docker` (Linux) or by opening Docker Desktop";
pub const STANDALONE_WARNING: &str = "warning: the Docker Compose v2 plugin (`docker compose`) is missing; using the \
                                      standalone `docker-compose` (it needs `up --wait`, Compose 2.1 or later)";

/// `Ok(())` when `docker info` succeeds; else why not, in one line.
pub fn engine(docker: &Path) -> Result<(), String> {
    match run_with_timeout(Command::new(docker).arg("info"), DOCKER_INFO_TIMEOUT) {
        Ok(Some(out)) if out.status.success() => Ok(()),
        Ok(Some(out)) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
            Err(format!("no Docker engine answers (`docker info`: {first})"))
        }
        Ok(None) => {
            let secs = DOCKER_INFO_TIMEOUT.as_secs();
            Err(format!("no Docker engine answers (`docker info` timed out after {secs} s)"))
        }
        Err(e) => Err(format!("cannot run `docker info`: {e}")),
    }
}

/// The configured compose file, else the first of [`COMPOSE_FILES`] under `root`.
pub fn file(root: &Path, configured: Option<&Path>) -> Result<PathBuf, String> {
    match configured {
        Some(f) if f.is_file() => Ok(f.to_path_buf()),
        Some(f) => Err(format!("{} does not exist", f.display())),
        None => COMPOSE_FILES
            .iter()
            .map(|f| root.join(f))
            .find(|f| f.is_file())
            .ok_or_else(|| format!("there is no compose file ({})", COMPOSE_FILES.join(", "))),
    }
}

/// `docker compose -f FILE` when the v2 plugin answers (`docker compose version`), else
/// `docker-compose -f FILE` with [`STANDALONE_WARNING`] on stderr; `None` when neither exists.
pub fn program(docker: &Path, file: &Path) -> Option<Vec<OsString>> {
    let quiet = |c: &mut Command| c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
    let mut program: Vec<OsString> =
        if quiet(Command::new(docker).args(["compose", "version"])).is_ok_and(|s| s.success()) {
            vec![docker.into(), "compose".into()]
        } else if let Some(standalone) = crate::db::which("docker-compose") {
            eprintln!("{STANDALONE_WARNING}");
            vec![standalone.into()]
        } else {
            return None;
        };
    program.extend(["-f".into(), file.into()]);
    Some(program)
}

/// A command running `program` (from [`program`]), stdin closed.
pub fn command(program: &[OsString]) -> Command {
    let mut c = Command::new(&program[0]);
    c.args(&program[1..]).stdin(Stdio::null());
    c
}

/// `program` and `args` as a user would type them (the program by its name, not its path).
pub fn shown(program: &[OsString], args: &str) -> String {
    let name = |p: &OsString| Path::new(p).file_name().unwrap_or(p).to_string_lossy().into_owned();
    let program: Vec<_> = program
        .iter()
        .enumerate()
        .map(|(i, p)| if i == 0 { name(p) } else { p.to_string_lossy().into_owned() })
        .collect();
    format!("{} {args}", program.join(" "))
}

/// Runs a command with its stderr captured; `Ok(None)` when it did not finish in time (it is
/// then killed). For probes whose output is small.
fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> std::io::Result<Option<Output>> {
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn()?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            let mut stderr = Vec::new();
            if let Some(mut e) = child.stderr.take() {
                e.read_to_end(&mut stderr)?;
            }
            return Ok(Some(Output { status, stdout: Vec::new(), stderr }));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

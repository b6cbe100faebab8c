//! Docker and Docker Compose, for every gate that uses them: the test database (`db/`),
//! `cargo xtask up | down | logs` and `cargo xtask smoke`. Is an engine answering, which
//! compose file, which compose program (the v2 plugin `docker compose`, else the standalone
//! `docker-compose` with a warning), throwaway projects (a name and an environment of their
//! own, removed afterwards) and the stack's state. Docker is a prerequisite: the xtask never
//! installs it. This module imports no gate and not `db/`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read as _;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};

use crate::process::{self, Cmd};
use crate::tools;

/// Looked for at the workspace root, in this order, when no compose file is configured.
pub const COMPOSE_FILES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];
const DOCKER_INFO_TIMEOUT: Duration = Duration::from_secs(5);
/// Printed when the engine does not answer.
pub const DOCKER_START: &str = "start it with `sudo systemctl start docker` (Linux) or by opening Docker Desktop";
/// Printed when neither compose program exists (tools.rs lists Docker's prerequisites).
pub const COMPOSE_INSTALL: &str = tools::DOCKER_COMPOSE.install;
pub const STANDALONE_WARNING: &str = "warning: the Docker Compose v2 plugin (`docker compose`) is missing; using the \
                                      standalone `docker-compose` (it needs `up --wait`, Compose 2.1 or later)";

/// `docker` on PATH with an engine answering it; else why not and the fix, in one line.
pub fn docker() -> Result<PathBuf, String> {
    let docker = process::which("docker")
        .ok_or_else(|| format!("`docker` is not on PATH: {}; the xtask does not install it", tools::DOCKER.install))?;
    engine(&docker).map_err(|why| format!("{why}: {DOCKER_START}"))?;
    Ok(docker)
}

/// The local id of `image`, when the engine has it.
pub fn image_id(docker: &Path, image: &str) -> Option<String> {
    let out = Cmd::new(docker).args(["image", "inspect", "--format", "{{.Id}}", image]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A tag the xtask builds is its own: the image it named before a build (`before`) is removed
/// once the build moved the tag (`after`), so repeated builds leave no untagged images (the
/// build cache keeps the layers). An image that another tag or a container still uses is left
/// alone.
pub fn drop_superseded(docker: &Path, before: Option<String>, after: Option<String>) {
    if let Some(old) = before.filter(|old| after.as_ref() != Some(old)) {
        let _ = Cmd::new(docker).args(["image", "rm", &old]).output();
    }
}

/// `Ok(())` when `docker info` succeeds; else why not, in one line.
pub fn engine(docker: &Path) -> Result<(), String> {
    match Cmd::new(docker).arg("info").output_within(DOCKER_INFO_TIMEOUT) {
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
        Err(e) => Err(e.to_string()),
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

/// A compose program bound to one compose file, and for a throwaway stack to one project
/// and environment.
#[derive(Clone, Debug)]
pub struct Compose {
    /// `docker compose -f FILE …` or `docker-compose -f FILE …`.
    program: Vec<OsString>,
    pub file: PathBuf,
    /// The standalone `docker-compose` (Compose v1 or a v2 binary), not the plugin.
    pub standalone: bool,
    throwaway: Option<Throwaway>,
}

#[derive(Clone, Debug)]
struct Throwaway {
    project: String,
    /// Everything the compose program sees of the environment besides [`KEPT_VARIABLES`].
    env: BTreeMap<String, String>,
}

/// What a throwaway stack's compose still gets from the caller's environment: how to reach
/// the engine and the registries, nothing that changes what the stack is.
const KEPT_VARIABLES: [&str; 12] = [
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "LANG",
    "LC_ALL",
    "TERM",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "XDG_CONFIG_HOME",
    "XDG_RUNTIME_DIR",
];

impl Compose {
    /// `docker compose -f FILE` when the v2 plugin answers (`docker compose version`), else
    /// `docker-compose -f FILE` with [`STANDALONE_WARNING`] on stderr; `None` when neither exists.
    pub fn find(docker: &Path, file: &Path) -> Option<Compose> {
        let plugin = Cmd::new(docker).args(["compose", "version"]).stdin(Stdio::null()).output();
        let (mut program, standalone): (Vec<OsString>, bool) = if plugin.is_ok_and(|out| out.status.success()) {
            (vec![docker.into(), "compose".into()], false)
        } else if let Some(binary) = process::which("docker-compose") {
            eprintln!("{STANDALONE_WARNING}");
            (vec![binary.into()], true)
        } else {
            return None;
        };
        program.extend(["-f".into(), file.into()]);
        Some(Compose { program, file: file.to_path_buf(), standalone, throwaway: None })
    }

    /// With `overlay` laid over the file (`-f FILE -f OVERLAY`); an error when it is missing.
    pub fn with_overlay(mut self, overlay: &Path) -> Result<Compose, String> {
        if !overlay.is_file() {
            return Err(format!("the compose file {} (`dev-file`) does not exist", overlay.display()));
        }
        self.program.extend(["-f".into(), overlay.into()]);
        Ok(self)
    }

    /// The same file as a throwaway project: `-p PROJECT`, no `.env` read (`--env-file
    /// /dev/null`), and an environment of its own (`env`, plus [`KEPT_VARIABLES`] and the
    /// caller's `DOCKER_*`, `BUILDKIT_*` and proxy settings), so neither a developer's running
    /// stack nor their `.env` or shell can change it.
    pub fn throwaway(&self, project: &str, env: BTreeMap<String, String>) -> Compose {
        let mut program = self.program.clone();
        program.extend(["-p".into(), project.into(), "--env-file".into(), "/dev/null".into()]);
        Compose { program, throwaway: Some(Throwaway { project: project.to_owned(), env }), ..self.clone() }
    }

    pub fn project(&self) -> Option<&str> {
        self.throwaway.as_ref().map(|t| t.project.as_str())
    }

    /// A command running the compose program (then `args`), stdin closed.
    pub fn command(&self) -> Cmd {
        let mut c = Cmd::new(&self.program[0]).args(&self.program[1..]).stdin(Stdio::null());
        if let Some(t) = &self.throwaway {
            c = c.env_clear();
            for (key, value) in std::env::vars_os() {
                let k = key.to_string_lossy();
                let kept = KEPT_VARIABLES.contains(&k.as_ref())
                    || ["DOCKER_", "BUILDKIT_", "BUILDX_"].iter().any(|p| k.starts_with(p))
                    || k.eq_ignore_ascii_case("http_proxy")
                    || k.eq_ignore_ascii_case("https_proxy")
                    || k.eq_ignore_ascii_case("no_proxy");
                if kept {
                    c = c.env(key, value);
                }
            }
            c = c.envs(&t.env);
        }
        c
    }

    /// The compose program and `args` as a user would type them (the program by its name).
    pub fn shown(&self, args: &str) -> String {
        let name = |p: &OsString| Path::new(p).file_name().unwrap_or(p).to_string_lossy().into_owned();
        let words: Vec<String> = self
            .program
            .iter()
            .enumerate()
            .map(|(i, p)| if i == 0 { name(p) } else { p.to_string_lossy().into_owned() })
            .collect();
        format!("{} {args}", words.join(" "))
    }

    /// Runs `args` to completion, output captured; `Err` with the output when it fails.
    pub fn checked(&self, args: &[&str]) -> Result<Output> {
        self.command().args(args).shown(self.shown(&args.join(" "))).run()
    }

    /// Every container of the project, running or not (`ps --all --format json`).
    pub fn ps(&self) -> Result<Vec<ServiceState>> {
        let out = self.checked(&["ps", "--all", "--format", "json"])?;
        parse_ps(&String::from_utf8_lossy(&out.stdout))
    }

    /// Where the host reaches `service`'s container port (`docker compose port`); an
    /// unspecified address (0.0.0.0, ::) is reached on 127.0.0.1.
    pub fn published(&self, service: &str, port: u16) -> Result<SocketAddr> {
        let out = self.checked(&["port", service, &port.to_string()])?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let (host, p) = text
            .rsplit_once(':')
            .ok_or_else(|| anyhow!("the `{service}` service publishes no port for {port} ({text:?})"))?;
        let host = match host.trim_matches(['[', ']']) {
            "0.0.0.0" | "::" | "" => "127.0.0.1",
            h => h,
        };
        let p: u16 = p.parse().map_err(|_| anyhow!("unexpected `docker compose port` answer {text:?}"))?;
        (host, p)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| anyhow!("`docker compose port` named an address that does not resolve: {text}"))
    }

    /// `config --format json`: the resolved file, which holds the secrets. Never print it;
    /// on failure only compose's stderr is shown.
    pub fn config(&self) -> Result<serde_json::Value> {
        let out = self.command().args(["config", "--format", "json"]).output()?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let hint = if self.throwaway.is_some() && stderr.contains("required variable") {
                "\n(a throwaway stack reads no .env: give the variable in `env` of \
                 [workspace.metadata.xtask.compose] in Cargo.toml)"
            } else {
                ""
            };
            bail!("`{}` failed ({}):\n{}{hint}", self.shown("config --format json"), out.status, stderr.trim_end());
        }
        serde_json::from_slice(&out.stdout).context("`docker compose config --format json` did not print JSON")
    }

    /// Removes the throwaway project: containers, networks and volumes. Waits at most
    /// `timeout` for each container to stop.
    pub fn remove(&self, timeout: Duration) -> Result<()> {
        let secs = timeout.as_secs().to_string();
        self.checked(&["down", "--volumes", "--remove-orphans", "--timeout", &secs]).map(drop)
    }
}

/// One container of `docker compose ps --all --format json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceState {
    pub service: String,
    /// The container's name, for `docker inspect` and `docker top`.
    pub name: String,
    /// `running`, `exited`, `restarting`, `created`, …
    pub state: String,
    /// `healthy`, `unhealthy`, `starting`, or empty without a healthcheck.
    pub health: String,
    pub status: String,
    pub exit_code: i64,
}

impl ServiceState {
    /// Running, and not unhealthy or still starting.
    pub fn ok(&self) -> bool {
        self.state == "running" && (self.health.is_empty() || self.health == "healthy")
    }
}

/// `docker compose ps --format json`: JSON Lines (one object a line, Compose 2.21 and later)
/// or one JSON array (before).
pub fn parse_ps(text: &str) -> Result<Vec<ServiceState>> {
    let text = text.trim();
    let values: Vec<serde_json::Value> = if text.starts_with('[') {
        serde_json::from_str(text).context("`docker compose ps --format json` printed a malformed array")?
    } else {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).with_context(|| format!("`docker compose ps --format json`: {l:?}")))
            .collect::<Result<_>>()?
    };
    let field = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or("").to_owned();
    Ok(values
        .iter()
        .map(|v| ServiceState {
            service: field(v, "Service"),
            name: field(v, "Name"),
            state: field(v, "State"),
            health: field(v, "Health"),
            status: field(v, "Status"),
            exit_code: v["ExitCode"].as_i64().unwrap_or(0),
        })
        .collect())
}

/// The names of the `external` networks in `docker compose config --format json`.
pub fn external_networks(config: &serde_json::Value) -> Vec<String> {
    let Some(networks) = config["networks"].as_object() else { return Vec::new() };
    networks
        .iter()
        .filter(|(_, n)| n["external"].as_bool() == Some(true) || n["external"].is_object())
        .map(|(key, n)| n["name"].as_str().or(n["external"]["name"].as_str()).unwrap_or(key).to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Throwaway projects

/// A throwaway compose project, a name and an environment of its own: removed with its
/// containers, networks and volumes by [`ThrowawayProject::remove`] or when dropped, so every
/// way out (an error, Ctrl-C) cleans up. Each line it prints starts with its owner's `label`.
pub struct ThrowawayProject {
    pub compose: Compose,
    label: &'static str,
    to_stdout: bool,
    removed: bool,
}

impl ThrowawayProject {
    /// The project `PREFIX-HOST-PID` of `compose`'s file with `env`. Projects of the same prefix
    /// that runs killed outright left on this host are removed first.
    pub fn new(
        docker: &Path,
        compose: &Compose,
        prefix: &str,
        env: BTreeMap<String, String>,
        label: &'static str,
        to_stdout: bool,
    ) -> ThrowawayProject {
        let say = |line: String| if to_stdout { println!("{line}") } else { eprintln!("{line}") };
        // The same variables: compose reads the whole file, also to take a project down.
        for stale in stale_projects(docker, prefix) {
            if compose.throwaway(&stale, env.clone()).remove(Duration::from_secs(5)).is_ok() {
                say(format!("{label}: removed the compose project {stale}, left by an earlier run"));
            }
        }
        let project = throwaway_project(prefix);
        ThrowawayProject { compose: compose.throwaway(&project, env), label, to_stdout, removed: false }
    }

    pub fn project(&self) -> &str {
        self.compose.project().unwrap_or_default()
    }

    /// Removes the project (once); says so.
    pub fn remove(&mut self) -> Result<()> {
        if self.removed {
            return Ok(());
        }
        self.removed = true;
        self.compose.remove(Duration::from_secs(10))?;
        let line =
            format!("{}: removed the compose project {} (containers, networks, volumes)", self.label, self.project());
        if self.to_stdout {
            println!("{line}")
        } else {
            eprintln!("{line}")
        }
        Ok(())
    }
}

impl Drop for ThrowawayProject {
    fn drop(&mut self) {
        if let Err(e) = self.remove() {
            eprintln!("warning: {e:#}");
        }
    }
}

/// The name of this run's throwaway project: `PREFIX-HOST-PID`. The host and pid let a later
/// run on the same machine find projects left by a run that was killed outright.
fn throwaway_project(prefix: &str) -> String {
    format!("{prefix}-{}-{}", host_tag(), std::process::id())
}

/// This machine's name, reduced to what a compose project name allows.
fn host_tag() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let tag: String = name.trim().to_ascii_lowercase().chars().filter(char::is_ascii_alphanumeric).take(16).collect();
    if tag.is_empty() { "host".into() } else { tag }
}

/// The projects named `PREFIX-HOST-PID` (this host) whose xtask is gone: left by a run that
/// was killed outright (SIGKILL, a closed terminal, a power cut).
fn stale_projects(docker: &Path, prefix: &str) -> Vec<String> {
    let mine = format!("{prefix}-{}-", host_tag());
    projects(docker)
        .into_iter()
        .filter(|p| {
            let pid = p.strip_prefix(&mine).and_then(|pid| pid.parse::<i32>().ok());
            pid.and_then(rustix::process::Pid::from_raw).is_some_and(|pid| !xtask_runs_as(pid))
        })
        .collect()
}

/// Whether `pid` is a live xtask; a pid the kernel has since given to another program is not.
fn xtask_runs_as(pid: rustix::process::Pid) -> bool {
    if !process::alive(pid) {
        return false;
    }
    match std::fs::read(format!("/proc/{}/cmdline", pid.as_raw_nonzero())) {
        Ok(cmdline) => {
            let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
            let name = Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(argv0));
            name.file_name().is_some_and(|n| n.to_string_lossy().starts_with("xtask"))
        }
        // No /proc (or not ours to read): trust the pid.
        Err(_) => true,
    }
}

/// Every compose project with a container, volume or network on the engine.
fn projects(docker: &Path) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    for kind in [&["container", "ls", "--all"][..], &["volume", "ls"], &["network", "ls"]] {
        let out = Cmd::new(docker)
            .args(kind)
            .args(["--filter", "label=com.docker.compose.project", "--format"])
            .arg("{{.Label \"com.docker.compose.project\"}}")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        if let Ok(out) = out
            && out.status.success()
        {
            names.extend(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned),
            );
        }
    }
    names.into_iter().collect()
}

/// A throwaway stack's variables from their template (`[workspace.metadata.xtask.compose]
/// env`): `{secret}` becomes a fresh random value, `{port}` a free port on 127.0.0.1,
/// `{image}` the given image.
pub fn render_env(template: &BTreeMap<String, String>, image: &str) -> Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    for (key, value) in template {
        let mut v = value.replace("{image}", image);
        while v.contains("{secret}") {
            v = v.replacen("{secret}", &random_hex(16)?, 1);
        }
        while v.contains("{port}") {
            v = v.replacen("{port}", &free_port()?.to_string(), 1);
        }
        env.insert(key.clone(), v);
    }
    Ok(env)
}

/// `bytes` random bytes from the kernel, as lower-case hex.
pub fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf)).context("cannot read /dev/urandom")?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A port on 127.0.0.1 that nothing listens on now.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("cannot find a free local port")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_as_json_lines_or_array() {
        let lines = "{\"Service\":\"app\",\"Name\":\"p-app-1\",\"State\":\"running\",\"Health\":\"healthy\",\
                     \"Status\":\"Up 5s (healthy)\",\"ExitCode\":0}\n\
                     {\"Service\":\"migrate\",\"State\":\"exited\",\"Health\":\"\",\"Status\":\"Exited (3)\",\"ExitCode\":3}\n";
        let array = format!("[{}]", lines.trim().replace('\n', ","));
        let a = parse_ps(lines).unwrap();
        assert_eq!(a, parse_ps(&array).unwrap());
        assert_eq!(a.len(), 2);
        assert!(a[0].ok());
        assert_eq!(a[0].name, "p-app-1");
        assert!(!a[1].ok());
        assert_eq!(a[1].exit_code, 3);
        assert!(parse_ps("").unwrap().is_empty());
        assert!(!parse_ps("{\"Service\":\"app\",\"State\":\"running\",\"Health\":\"unhealthy\"}").unwrap()[0].ok());
        assert!(parse_ps("[{").is_err());
    }

    #[test]
    fn external_networks_only() {
        let json = serde_json::json!({"networks": {"default": {"name": "clicknback_default"},
            "edge": {"name": "edge", "external": true}, "old": {"external": {"name": "legacy"}}}});
        assert_eq!(external_networks(&json), ["edge", "legacy"]);
        assert!(external_networks(&serde_json::json!({"services": {}})).is_empty());
    }

    #[test]
    fn env_templates_get_fresh_secrets_and_free_ports() {
        let template: BTreeMap<String, String> = [
            ("IMAGE", "{image}"),
            ("A_SECRET", "{secret}"),
            ("B_SECRET", "{secret}"),
            ("PORT", "{port}"),
            ("URL", "http://127.0.0.1:{port}/{secret}"),
            ("USER", "smoke"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let env = render_env(&template, "clicknback:smoke").unwrap();
        assert_eq!(env["IMAGE"], "clicknback:smoke");
        assert_eq!(env["USER"], "smoke");
        assert_eq!(env["A_SECRET"].len(), 32);
        assert!(env["A_SECRET"].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(env["A_SECRET"], env["B_SECRET"], "each {{secret}} is its own");
        assert!(env["PORT"].parse::<u16>().unwrap() > 0);
        assert!(env["URL"].starts_with("http://127.0.0.1:") && !env["URL"].contains('{'), "{}", env["URL"]);
    }

    #[test]
    fn throwaway_projects_carry_host_and_pid() {
        let name = throwaway_project("xtask-smoke");
        assert!(name.starts_with("xtask-smoke-") && name.ends_with(&format!("-{}", std::process::id())), "{name}");
        assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'), "{name}");
    }

    #[test]
    fn a_throwaway_compose_reads_no_env_file_and_gets_only_its_environment() {
        let base = Compose {
            program: vec!["/usr/bin/docker".into(), "compose".into(), "-f".into(), "/w/compose.yaml".into()],
            file: "/w/compose.yaml".into(),
            standalone: false,
            throwaway: None,
        };
        let env = BTreeMap::from([("POSTGRES_USER".to_owned(), "smoke".to_owned())]);
        let t = base.throwaway("xtask-smoke-h-1", env);
        assert_eq!(t.shown("ps"), "docker compose -f /w/compose.yaml -p xtask-smoke-h-1 --env-file /dev/null ps");
        assert_eq!(t.project(), Some("xtask-smoke-h-1"));
        let cmd = t.command();
        let envs: BTreeMap<_, _> = cmd.get_envs().collect();
        assert_eq!(envs.get(std::ffi::OsStr::new("POSTGRES_USER")).copied().flatten(), Some("smoke".as_ref()));
        assert_eq!(base.project(), None);
        let dev =
            base.clone().with_overlay(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml").as_path()).unwrap();
        assert!(dev.shown("up").starts_with("docker compose -f /w/compose.yaml -f /"), "{}", dev.shown("up"));
        let missing = base.with_overlay(Path::new("/w/nope.yml")).unwrap_err();
        assert_eq!(missing, "the compose file /w/nope.yml (`dev-file`) does not exist");
    }
}

//! `cargo xtask up | down | logs`: the Docker Compose stack (docker-compose.yml) without
//! remembering the flags. Docker is a prerequisite, never installed by the xtask: when
//! `docker` is missing or its engine does not answer, the error (exit 2) says how to install
//! or start it. The compose file and program are found as for the test database (compose.rs).

use std::ffi::OsString;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};

use crate::{Context, Outcome, compose, db};

/// Where the readiness probe asks, on 127.0.0.1:`APP_PORT`.
pub const READY_PATH: &str = "/health/ready";
const DEFAULT_APP_PORT: u16 = 8000;
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Flags of `cargo xtask up` (its help text is on the subcommand in main.rs).
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Build the images before starting the containers (`docker compose up --build`)
    #[arg(long)]
    pub build: bool,
}

/// Flags of `cargo xtask down`.
#[derive(Debug, clap::Args)]
pub struct DownArgs {
    /// Also remove the named volumes (the database's data)
    #[arg(long)]
    pub volumes: bool,
}

/// Flags of `cargo xtask logs`.
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// The service whose logs to follow
    #[arg(default_value = "app")]
    pub service: String,
    /// How many past lines to show before following
    #[arg(long, default_value = "100", value_name = "N")]
    pub tail: String,
}

/// The compose program (`docker compose -f FILE` or `docker-compose -f FILE`) and the file,
/// once a Docker engine answers; every failure here is a tool error (exit 2).
fn stack(cx: &Context) -> Result<(Vec<OsString>, std::path::PathBuf)> {
    let docker = db::which("docker").ok_or_else(|| {
        anyhow!("`docker` is not on PATH: {}; the xtask does not install it", compose::DOCKER_INSTALL)
    })?;
    compose::engine(&docker).map_err(|why| anyhow!("{why}: {}", compose::DOCKER_START))?;
    let file = compose::file(&cx.root, cx.settings.test.compose_file.as_deref()).map_err(|why| anyhow!("{why}"))?;
    let program = compose::program(&docker, &file).ok_or_else(|| {
        anyhow!(
            "Docker Compose is missing: install the v2 plugin (`sudo apt-get install docker-compose-plugin`, or \
             Docker Desktop) or the standalone `docker-compose`"
        )
    })?;
    Ok((program, file))
}

/// Runs `program args` with the terminal's stdio; `Err` only when it cannot be started.
fn status(program: &[OsString], args: &[&str]) -> Result<bool> {
    let shown = compose::shown(program, &args.join(" "));
    eprintln!("$ {shown}");
    let status = compose::command(program).args(args).status().with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        eprintln!("`{shown}` failed ({status})");
    }
    Ok(status.success())
}

impl UpArgs {
    pub fn run(self, cx: &Context) -> Result<Outcome> {
        let (program, file) = stack(cx)?;
        create_external_networks(&program)?;
        let mut args = vec!["up", "-d", "--wait"];
        if self.build {
            args.push("--build");
        }
        let up_ok = status(&program, &args)?;

        let ps = compose::command(&program)
            .args(["ps", "--format", "json"])
            .output()
            .with_context(|| format!("cannot run {}", compose::shown(&program, "ps --format json")))?;
        let mut healthy = up_ok;
        if ps.status.success() {
            let services = parse_ps(&String::from_utf8_lossy(&ps.stdout))?;
            println!("{:<12} {:<10} {:<10} STATUS", "SERVICE", "STATE", "HEALTH");
            for s in &services {
                println!("{:<12} {:<10} {:<10} {}", s.service, s.state, s.health, s.status);
                healthy &= s.ok();
            }
        } else {
            eprintln!(
                "`{}` failed:\n{}",
                compose::shown(&program, "ps --format json"),
                String::from_utf8_lossy(&ps.stderr)
            );
            healthy = false;
        }

        let port = app_port(file.parent().unwrap_or(Path::new(".")))?;
        let url = format!("http://127.0.0.1:{port}{READY_PATH}");
        match probe(port) {
            Ok((code, line)) => {
                println!("readiness: GET {url} → {line}");
                healthy &= code == 200;
            }
            Err(e) => {
                println!("readiness: GET {url} → no answer ({e})");
                healthy = false;
            }
        }
        Ok(if healthy { Outcome::Passed } else { Outcome::Failed })
    }
}

impl DownArgs {
    pub fn run(self, cx: &Context) -> Result<Outcome> {
        let (program, _) = stack(cx)?;
        let mut args = vec!["down"];
        if self.volumes {
            args.push("--volumes");
        }
        Ok(if status(&program, &args)? { Outcome::Passed } else { Outcome::Failed })
    }
}

impl LogsArgs {
    pub fn run(self, cx: &Context) -> Result<Outcome> {
        let (program, _) = stack(cx)?;
        Ok(if status(&program, &["logs", "-f", "--tail", &self.tail, &self.service])? {
            Outcome::Passed
        } else {
            Outcome::Failed
        })
    }
}

/// The networks the compose file declares `external: true` are created when missing (compose
/// refuses to start without them). Only the network names are read from the resolved config:
/// it holds the secrets, and is never printed.
fn create_external_networks(program: &[OsString]) -> Result<()> {
    let out = compose::command(program)
        .args(["config", "--format", "json"])
        .output()
        .with_context(|| format!("cannot run {}", compose::shown(program, "config --format json")))?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}):\n{}",
            compose::shown(program, "config --format json"),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    let docker = db::which("docker").ok_or_else(|| anyhow!("`docker` is not on PATH"))?;
    for name in external_networks(&out.stdout)? {
        let quiet = Command::new(&docker).args(["network", "inspect", &name]).output();
        if quiet.is_ok_and(|o| o.status.success()) {
            continue;
        }
        eprintln!("$ docker network create {name}");
        let created = Command::new(&docker).args(["network", "create", &name]).status()?;
        if !created.success() {
            bail!("`docker network create {name}` failed ({created})");
        }
    }
    Ok(())
}

/// The names of the `external` networks in `docker compose config --format json`.
pub fn external_networks(json: &[u8]) -> Result<Vec<String>> {
    let config: serde_json::Value =
        serde_json::from_slice(json).context("`docker compose config --format json` did not print JSON")?;
    let Some(networks) = config["networks"].as_object() else { return Ok(Vec::new()) };
    Ok(networks
        .iter()
        .filter(|(_, n)| n["external"].as_bool() == Some(true) || n["external"].is_object())
        .map(|(key, n)| n["name"].as_str().or(n["external"]["name"].as_str()).unwrap_or(key).to_owned())
        .collect())
}

/// One line of `docker compose ps`.
#[derive(Debug, PartialEq, Eq)]
pub struct ServiceState {
    pub service: String,
    pub state: String,
    /// `healthy`, `unhealthy`, `starting`, or empty without a healthcheck.
    pub health: String,
    pub status: String,
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
            state: field(v, "State"),
            health: field(v, "Health"),
            status: field(v, "Status"),
        })
        .collect())
}

/// `APP_PORT` from the environment, else from the `.env` next to the compose file (only that
/// line is read: nothing else of `.env` is kept or shown), else 8000.
pub fn app_port(dir: &Path) -> Result<u16> {
    let from_file = || {
        let text = std::fs::read_to_string(dir.join(".env")).ok()?;
        text.lines().find_map(|l| {
            let l = l.trim().strip_prefix("export ").unwrap_or(l.trim());
            let (k, v) = l.split_once('=')?;
            (k.trim() == "APP_PORT").then(|| v.trim().trim_matches(['"', '\'']).to_owned())
        })
    };
    match std::env::var("APP_PORT").ok().filter(|v| !v.is_empty()).or_else(from_file) {
        None => Ok(DEFAULT_APP_PORT),
        Some(v) => v.parse().map_err(|_| anyhow!("APP_PORT is not a port number: {v:?}")),
    }
}

/// `GET /health/ready` over plain HTTP/1.1: the status code and the status line.
fn probe(port: u16) -> Result<(u16, String)> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
    write!(stream, "GET {READY_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")?;
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 8192 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let line = text.lines().next().unwrap_or("").trim().to_owned();
    let code = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow!("not an HTTP answer: {line:?}"))?;
    Ok((code, line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_as_json_lines_or_array() {
        let lines = "{\"Service\":\"app\",\"State\":\"running\",\"Health\":\"healthy\",\"Status\":\"Up 5s (healthy)\"}\n\
                     {\"Service\":\"db\",\"State\":\"running\",\"Health\":\"\",\"Status\":\"Up 9s\"}\n";
        let array = "[{\"Service\":\"app\",\"State\":\"running\",\"Health\":\"healthy\",\"Status\":\"Up 5s (healthy)\"},\
                     {\"Service\":\"db\",\"State\":\"running\",\"Health\":\"\",\"Status\":\"Up 9s\"}]";
        let a = parse_ps(lines).unwrap();
        assert_eq!(a, parse_ps(array).unwrap());
        assert_eq!(a.len(), 2);
        assert!(a.iter().all(ServiceState::ok));
        assert!(parse_ps("").unwrap().is_empty());
        assert!(!parse_ps("{\"Service\":\"app\",\"State\":\"running\",\"Health\":\"unhealthy\"}").unwrap()[0].ok());
        assert!(parse_ps("[{").is_err());
    }

    #[test]
    fn external_networks_only() {
        let json = br#"{"networks": {"default": {"name": "clicknback_default"},
            "edge": {"name": "edge", "external": true}, "old": {"external": {"name": "legacy"}}}}"#;
        assert_eq!(external_networks(json).unwrap(), ["edge", "legacy"]);
        assert!(external_networks(br#"{"services": {}}"#).unwrap().is_empty());
    }
}

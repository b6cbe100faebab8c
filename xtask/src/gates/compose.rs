//! `cargo xtask up | down | logs`: the developer's Docker Compose stack (docker-compose.yml,
//! with their `.env`) without remembering the flags. Docker is a prerequisite, never installed
//! by the xtask: when `docker` is missing or its engine does not answer, the error (exit 2)
//! says how to install or start it. The Docker mechanics are in docker.rs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};

use crate::process::Cmd;
use crate::{Context, Outcome, docker, http};

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
    /// The service whose logs to show
    #[arg(default_value = "app")]
    pub service: String,
    /// How many past lines to show
    #[arg(long, default_value = "100", value_name = "N")]
    pub tail: String,
    /// Print the lines and exit instead of following new ones
    #[arg(long)]
    pub no_follow: bool,
}

/// `docker` and the compose program, once a Docker engine answers; every failure here is a
/// tool error (exit 2).
fn stack(cx: &Context) -> Result<(PathBuf, docker::Compose)> {
    let docker = docker::docker().map_err(|why| anyhow!(why))?;
    let file = docker::file(&cx.root, cx.settings.compose.file.as_deref()).map_err(|why| anyhow!("{why}"))?;
    let mut compose = docker::Compose::find(&docker, &file).ok_or_else(|| {
        anyhow!("Docker Compose is missing: {}, or the standalone `docker-compose`", docker::COMPOSE_INSTALL)
    })?;
    if let Some(dev) = &cx.settings.compose.dev_file {
        compose = compose.with_overlay(dev).map_err(|why| anyhow!(why))?;
    }
    Ok((docker, compose))
}

/// Runs `compose args` with the terminal's stdio; `Err` only when it cannot be started.
fn status(compose: &docker::Compose, args: &[&str]) -> Result<bool> {
    let shown = compose.shown(&args.join(" "));
    eprintln!("$ {shown}");
    let status = compose.command().args(args).status().with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        eprintln!("`{shown}` failed ({status})");
    }
    Ok(status.success())
}

impl UpArgs {
    pub fn run(self, cx: &Context) -> Result<Outcome> {
        let (docker, compose) = stack(cx)?;
        create_external_networks(&docker, &compose)?;
        let mut args = vec!["up", "-d", "--wait"];
        if self.build {
            args.push("--build");
        }
        let mut healthy = status(&compose, &args)?;

        match compose.ps() {
            Ok(services) => {
                println!("{:<12} {:<10} {:<10} STATUS", "SERVICE", "STATE", "HEALTH");
                for s in &services {
                    println!("{:<12} {:<10} {:<10} {}", s.service, s.state, s.health, s.status);
                    // A one-shot service (the migrations) is fine once it exited 0.
                    healthy &= s.ok() || (s.state == "exited" && s.exit_code == 0);
                }
            }
            Err(e) => {
                eprintln!("{e:#}");
                healthy = false;
            }
        }

        let (service, port, ready) =
            (&cx.settings.compose.app_service, cx.settings.compose.app_port, &cx.settings.compose.ready_path);
        match compose.published(service, port) {
            Ok(addr) => {
                let url = format!("http://{addr}{ready}");
                match http::get(addr, ready, PROBE_TIMEOUT) {
                    Ok(r) => {
                        println!("readiness: GET {url} → {} {}", r.status_line, r.body.trim());
                        healthy &= r.status == 200;
                    }
                    Err(e) => {
                        println!("readiness: GET {url} → no answer ({e:#})");
                        healthy = false;
                    }
                }
            }
            Err(e) => {
                println!("readiness: the `{service}` service's port {port} is not published ({e:#})");
                healthy = false;
            }
        }
        Ok(if healthy { Outcome::Passed } else { Outcome::Failed })
    }
}

impl DownArgs {
    pub fn run(self, cx: &Context) -> Result<Outcome> {
        let (_, compose) = stack(cx)?;
        let mut args = vec!["down"];
        if self.volumes {
            args.push("--volumes");
        }
        Ok(if status(&compose, &args)? { Outcome::Passed } else { Outcome::Failed })
    }
}

impl LogsArgs {
    pub fn run(self, cx: &Context) -> Result<Outcome> {
        let (_, compose) = stack(cx)?;
        let mut args = vec!["logs", "--tail", &self.tail];
        if !self.no_follow {
            args.push("-f");
        }
        args.push(&self.service);
        Ok(if status(&compose, &args)? { Outcome::Passed } else { Outcome::Failed })
    }
}

/// The networks the compose file declares `external: true` are created when missing (compose
/// refuses to start without them). Only the network names are read from the resolved config:
/// it holds the secrets, and is never printed.
fn create_external_networks(docker: &Path, compose: &docker::Compose) -> Result<()> {
    let config = compose.config()?;
    for name in docker::external_networks(&config) {
        let quiet = Cmd::new(docker).args(["network", "inspect", &name]).output();
        if quiet.is_ok_and(|o| o.status.success()) {
            continue;
        }
        eprintln!("$ docker network create {name}");
        let created = Cmd::new(docker).args(["network", "create", &name]).status()?;
        if !created.success() {
            bail!("`docker network create {name}` failed ({created})");
        }
    }
    Ok(())
}

//! The other compose services the tests need (`services` in `[workspace.metadata.xtask.test]`:
//! Redis, say). Only Docker provides them, from the workspace's compose file. [`plan`] checks,
//! before anything starts, that they can be: an engine, the compose file, each service in it,
//! each publishing the ports the tests read. [`Plan::start`] then runs `up -d --wait` for them
//! in the database's compose project when the database came from compose, else in a throwaway
//! project of their own, and waits until each published port takes a TCP connection.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow};

use super::compose::{COMPOSE_PROJECT_PREFIX, READY_TIMEOUT};
use crate::process::{self, Cmd};
use crate::settings::Field;
use crate::{Context, docker, interrupt};

/// The services, checked: what [`Plan::start`] starts.
pub(super) struct Plan {
    docker: PathBuf,
    /// The compose file (with the development overlay), not yet a project.
    compose: docker::Compose,
    services: Vec<Service>,
}

struct Service {
    name: String,
    /// The container ports the tests reach: the first one the service publishes, then those
    /// `env` names (`{redis.port.6380}`).
    ports: Vec<u16>,
}

/// A running service as the tests reach it.
pub(super) struct Reached {
    pub host: IpAddr,
    /// (container port, host port), the first declared first.
    pub ports: Vec<(u16, u16)>,
}

impl Reached {
    /// The host port of `container` (`None`: of the first declared port).
    pub fn port(&self, container: Option<u16>) -> Option<u16> {
        match container {
            None => self.ports.first().map(|(_, host)| *host),
            Some(c) => self.ports.iter().find(|(target, _)| *target == c).map(|(_, host)| *host),
        }
    }
}

/// The services started; their project, when it is their own, is removed by [`Started::stop`]
/// or when dropped.
pub(super) struct Started {
    pub reached: BTreeMap<String, Reached>,
    own: Option<docker::ThrowawayProject>,
}

impl Started {
    pub fn stop(mut self) -> Result<()> {
        match self.own.as_mut() {
            Some(project) => project.remove(),
            None => Ok(()),
        }
    }
}

/// "the compose service `redis`" or "the compose services `redis`, `mq`".
fn needed(names: &[String]) -> String {
    let list = names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    let s = if names.len() == 1 { "" } else { "s" };
    format!("the tests need the compose service{s} {list} (`services` in [workspace.metadata.xtask.test])")
}

/// The error when the services cannot be provided: each reason on a line of its own.
fn cannot(names: &[String], problems: &[String]) -> anyhow::Error {
    let mut msg = format!("{}, which cannot be provided:", needed(names));
    for p in problems {
        msg.push_str(&format!("\n  - {p}"));
    }
    anyhow!(msg)
}

/// Checks that Docker can start `names` (the settings' `services` besides the database) and
/// that each publishes what the tests read; starts nothing. An error (exit 2) names each
/// service that cannot be provided, why, and the fix.
pub(super) fn plan(cx: &Context, names: &[String]) -> Result<Plan> {
    let settings = &cx.settings.compose;
    let only_docker = "only Docker provides services other than PostgreSQL";
    let docker = docker::docker().map_err(|why| cannot(names, &[format!("{why} ({only_docker})")]))?;
    let file = docker::file(&cx.root, settings.file.as_deref()).map_err(|why| {
        cannot(
            names,
            &[format!(
                "a Docker engine answers, but {why}: add one that defines them (or name it in `file` of \
                 [workspace.metadata.xtask.compose])"
            )],
        )
    })?;
    let mut compose = docker::Compose::find(&docker, &file).ok_or_else(|| {
        cannot(names, &[format!("a Docker engine answers, but Docker Compose is missing: {}", docker::COMPOSE_INSTALL)])
    })?;
    if let Some(dev) = &settings.dev_file {
        compose =
            compose.with_overlay(dev).map_err(|why| cannot(names, &[format!("a Docker engine answers, but {why}")]))?;
    }
    // With a throwaway project's variables, as the services will run: the file may require them.
    let env = docker::render_env(&settings.env, &cx.settings.smoke.image)?;
    let config =
        compose.throwaway(COMPOSE_PROJECT_PREFIX, env).config().map_err(|e| cannot(names, &[format!("{e:#}")]))?;
    let where_ = match &settings.dev_file {
        Some(dev) => format!("{} (or {})", file.display(), dev.display()),
        None => file.display().to_string(),
    };
    let mut problems = Vec::new();
    let mut services = Vec::new();
    for name in names {
        let service = &config["services"][name.as_str()];
        if service.is_null() {
            problems.push(format!(
                "{} has no `{name}` service: add it there, or remove `{name}` from `services`",
                file.display()
            ));
            continue;
        }
        let declared = published_targets(&service["ports"]);
        let Some(&first) = declared.first() else {
            let port = suggested_port(&docker, service).map_or("PORT".to_owned(), |p| p.to_string());
            let which = if port == "PORT" { " (PORT: the port it listens on in its container)" } else { "" };
            problems.push(format!(
                "the `{name}` service publishes no port, so the tests cannot reach it: add \
                 `ports: [\"127.0.0.1::{port}\"]` to it in {where_}{which}; the host port is then a free one, on \
                 the loopback only"
            ));
            continue;
        };
        let mut ports = vec![first];
        for (key, template) in &cx.settings.test.env {
            for (_, field) in template.placeholders().filter(|(s, _)| s == name) {
                let Field::Port(Some(port)) = field else { continue };
                if !declared.contains(&port) {
                    problems.push(format!(
                        "`env.{key}` reads `{{{name}.port.{port}}}`, but the `{name}` service does not publish \
                         {port}: add `\"127.0.0.1::{port}\"` to its `ports` in {where_}"
                    ));
                } else if !ports.contains(&port) {
                    ports.push(port);
                }
            }
        }
        services.push(Service { name: name.clone(), ports });
    }
    if !problems.is_empty() {
        return Err(cannot(names, &problems));
    }
    Ok(Plan { docker, compose, services })
}

/// The container ports a service's `ports` publishes, in order (`docker compose config
/// --format json` gives objects with a `target`; a short string is read too).
fn published_targets(ports: &serde_json::Value) -> Vec<u16> {
    let Some(list) = ports.as_array() else { return Vec::new() };
    list.iter()
        .filter_map(|p| match p {
            serde_json::Value::Object(o) => o.get("target").and_then(|t| {
                t.as_u64().and_then(|n| u16::try_from(n).ok()).or_else(|| t.as_str().and_then(|s| s.parse().ok()))
            }),
            serde_json::Value::String(s) => {
                let target = s.rsplit(':').next().unwrap_or(s).split('/').next().unwrap_or("");
                target.split('-').next().and_then(|t| t.parse().ok())
            }
            serde_json::Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
            _ => None,
        })
        .collect()
}

/// The port to suggest publishing for a service that publishes none: the first it `expose`s,
/// else the first its image declares (when the engine has the image).
fn suggested_port(docker: &Path, service: &serde_json::Value) -> Option<u16> {
    let exposed = service["expose"].as_array().and_then(|e| e.first()).and_then(|p| {
        let text = p.as_str().map(str::to_owned).unwrap_or_else(|| p.to_string());
        text.split(['/', '-']).next().and_then(|n| n.parse().ok())
    });
    if exposed.is_some() {
        return exposed;
    }
    let image = service["image"].as_str()?;
    let out = Cmd::new(docker)
        .args(["image", "inspect", "--format", "{{json .Config.ExposedPorts}}", image])
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let ports: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let mut numbers: Vec<u16> =
        ports.as_object()?.keys().filter_map(|k| k.split('/').next().and_then(|n| n.parse().ok())).collect();
    numbers.sort_unstable();
    numbers.first().copied()
}

impl Plan {
    /// Starts the services: in `db_project` (the database's compose project) when there is one,
    /// else in a throwaway project of their own; then waits until each published port takes a
    /// connection. One line a service says where it is. An error names the services, and
    /// whatever was started is removed (here, or by the database's guard).
    pub(super) fn start(self, cx: &Context, db_project: Option<&docker::ThrowawayProject>) -> Result<Started> {
        let names: Vec<String> = self.services.iter().map(|s| s.name.clone()).collect();
        let mut own = None;
        let compose = match db_project {
            Some(project) => project.compose.clone(),
            None => {
                let env = docker::render_env(&cx.settings.compose.env, &cx.settings.smoke.image)?;
                let project = docker::ThrowawayProject::new(
                    &self.docker,
                    &self.compose,
                    COMPOSE_PROJECT_PREFIX,
                    env,
                    "services",
                    false,
                );
                own.insert(project).compose.clone()
            }
        };
        let project = compose.project().unwrap_or_default().to_owned();
        let up = format!("up -d --wait {}", names.join(" "));
        eprintln!("services: $ {}", compose.shown(&up));
        // Captured, and shown only when it fails; a Ctrl-C during a long image pull reaches it.
        let out = interrupt::output(compose.command().args(["up", "-d", "--wait"]).args(&names))?;
        interrupt::check()?;
        if !out.status.success() {
            return Err(cannot(
                &names,
                &[format!(
                    "`{}` failed ({}):\n{}",
                    compose.shown(&up),
                    out.status,
                    process::last_lines(&process::text(&out), 10)
                )],
            ));
        }
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut reached = BTreeMap::new();
        for service in &self.services {
            let name = &service.name;
            let mut ports = Vec::new();
            let mut host = None;
            for &target in &service.ports {
                let addr = compose
                    .published(name, target)
                    .map_err(|e| cannot(&names, &[format!("`{name}` publishes no host port for {target}: {e:#}")]))?;
                wait_accepting(name, target, addr, deadline).map_err(|e| {
                    if e.is::<interrupt::Interrupted>() { e } else { cannot(&names, &[format!("{e:#}")]) }
                })?;
                host.get_or_insert(addr.ip());
                ports.push((target, addr.port()));
            }
            let host = host.unwrap_or(IpAddr::from([127, 0, 0, 1]));
            let shown: Vec<String> = ports
                .iter()
                .map(|(target, port)| format!("{} (port {target})", SocketAddr::new(host, *port)))
                .collect();
            eprintln!("services: compose `{name}` service, project {project}: {}", shown.join(", "));
            reached.insert(name.clone(), Reached { host, ports });
        }
        Ok(Started { reached, own })
    }
}

/// Polls until `addr` takes a TCP connection, up to `deadline`.
fn wait_accepting(service: &str, target: u16, addr: SocketAddr, deadline: Instant) -> Result<()> {
    loop {
        interrupt::check()?;
        let attempt = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
        match attempt {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() >= deadline => {
                return Err(e).with_context(|| {
                    format!(
                        "the `{service}` service's port {target} (on {addr}) takes no connection after {} s",
                        READY_TIMEOUT.as_secs()
                    )
                });
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_ports_as_compose_config_gives_them() {
        let config = serde_json::json!([
            {"mode": "ingress", "host_ip": "127.0.0.1", "target": 6379, "protocol": "tcp"},
            {"target": "6380"},
            "127.0.0.1::7000",
            "8000:8001/udp",
            9000,
            {"published": "1"},
        ]);
        assert_eq!(published_targets(&config), [6379, 6380, 7000, 8001, 9000]);
        assert!(published_targets(&serde_json::Value::Null).is_empty());
    }

    #[test]
    fn reached_ports_by_container_port() {
        let r = Reached { host: IpAddr::from([127, 0, 0, 1]), ports: vec![(6379, 49153), (6380, 49154)] };
        assert_eq!((r.port(None), r.port(Some(6380)), r.port(Some(1))), (Some(49153), Some(49154), None));
    }

    #[test]
    fn the_error_names_every_service_and_every_reason() {
        let one = cannot(&["redis".into()], &["no Docker engine answers".into()]).to_string();
        assert_eq!(
            one,
            "the tests need the compose service `redis` (`services` in [workspace.metadata.xtask.test]), which \
             cannot be provided:\n  - no Docker engine answers"
        );
        let two = cannot(&["redis".into(), "mq".into()], &["a".into(), "b".into()]).to_string();
        assert!(two.starts_with("the tests need the compose services `redis`, `mq` ("), "{two}");
        assert!(two.ends_with(":\n  - a\n  - b"), "{two}");
    }

    #[test]
    fn a_port_that_takes_connections_is_ready_and_one_that_does_not_times_out() {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        wait_accepting("redis", 6379, addr, Instant::now() + Duration::from_secs(5)).unwrap();
        drop(listener);
        let err = wait_accepting("redis", 6379, addr, Instant::now()).unwrap_err();
        assert!(
            format!("{err:#}").starts_with(&format!("the `redis` service's port 6379 (on {addr}) takes no connection")),
            "{err:#}"
        );
    }
}

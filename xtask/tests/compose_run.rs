//! `cargo xtask up | down | logs` against a stand-in `docker` (and `docker-compose`) that
//! records its argv and answers like the real one; the readiness probe is answered by a
//! listener in the test, on a free port passed as APP_PORT.

mod support;

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::process::Command;

use support::{Run, Scratch};

/// Stand-in cargo: only `metadata`, on the scratch workspace (for the compose-file setting).
const CARGO_STANDIN: &str = r#"#!/bin/bash
case "$1" in
  metadata) exec "$REAL_CARGO" metadata --format-version 1 --no-deps --offline --manifest-path "$STANDIN/ws/Cargo.toml" ;;
esac
exit 1
"#;

/// The compose commands, shared by `docker compose` and `docker-compose`.
const COMPOSE_SH: &str = r#"[ "$1" = -f ] && shift 2
case "$1" in
  config) printf '%s\n' "$(<"$STANDIN/config.json")" ;;
  up) [ -e "$STANDIN/up-fails" ] && { echo "dependency failed to start: container app is unhealthy" >&2; exit 1; } ;;
  ps) printf '%s\n' "$(<"$STANDIN/ps.json")" ;;
  down|logs) ;;
  *) exit 1 ;;
esac
exit 0
"#;

/// What `config --format json` prints: the password must never be shown.
const CONFIG_JSON: &str = r#"{"name": "clicknback", "services": {"db": {"environment":
  {"POSTGRES_PASSWORD": "s3cr3t-pw"}}}, "networks": {"default": {"name": "clicknback_default"}}}"#;
const PS_LINES: &str = r#"{"Service":"app","State":"running","Health":"healthy","Status":"Up 5 seconds (healthy)"}
{"Service":"db","State":"running","Health":"healthy","Status":"Up 20 seconds (healthy)"}"#;
const PS_ARRAY: &str = r#"[{"Service":"app","State":"running","Health":"healthy","Status":"Up 5 seconds (healthy)"},
{"Service":"db","State":"running","Health":"healthy","Status":"Up 20 seconds (healthy)"}]"#;

struct StandIn {
    dir: Scratch,
    file: String,
}

/// The scratch folder's helpers (`path`, `set`, `write`) on the stand-in itself.
impl std::ops::Deref for StandIn {
    type Target = Scratch;
    fn deref(&self) -> &Scratch {
        &self.dir
    }
}

impl StandIn {
    /// Docker answers, with the compose v2 plugin.
    fn new() -> StandIn {
        let dir = Scratch::new("compose-standin");
        for (name, body) in [
            ("bin/cargo", CARGO_STANDIN),
            ("bin/docker", support::DOCKER_STANDIN),
            ("compose-bin/docker-compose", support::DOCKER_COMPOSE_STANDIN),
        ] {
            let path = dir.write(name, body);
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        dir.write("compose.sh", COMPOSE_SH);
        dir.write("config.json", CONFIG_JSON);
        dir.write("ps.json", PS_LINES);
        dir.write("ws/src/lib.rs", "");
        let file = dir.write("ws/compose.yaml", "services:\n  app:\n    image: clicknback:local\n");
        let file = file.display().to_string();
        dir.write(
            "ws/Cargo.toml",
            format!(
                "[package]\nname = \"standin\"\nversion = \"0.0.0\"\nedition = \"2021\"\n[workspace]\n\
                 [workspace.metadata.xtask.test]\ncompose-file = \"{file}\"\n"
            ),
        );
        let s = StandIn { dir, file };
        s.set("engine", true);
        s.set("compose-v2", true);
        s
    }

    /// The xtask with only the stand-ins on PATH.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = support::xtask();
        c.env("CARGO", self.path("bin/cargo"))
            .env("REAL_CARGO", std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .env("STANDIN", &self.dir.0)
            .env("PATH", format!("{}:{}", self.path("bin").display(), self.path("compose-bin").display()))
            .env_remove("APP_PORT")
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        support::run(self.command(args))
    }

    fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("log")).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    /// `docker compose -f FILE args`
    fn c(&self, args: &str) -> String {
        format!("docker compose -f {} {args}", self.file)
    }
}

/// A readiness endpoint on a free port answering `status_line`; returns the port and a handle
/// that yields the request it received.
fn ready_server(status_line: &'static str) -> (u16, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        let mut request = Vec::new();
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
        }
        let body = "{\"status\":\"ready\"}";
        let answer = format!("{status_line}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        let _ = stream.write_all(answer.as_bytes());
        String::from_utf8_lossy(&request).into_owned()
    });
    (port, handle)
}

fn up(s: &StandIn, args: &[&str], port: u16) -> Run {
    let mut all = vec!["up"];
    all.extend(args);
    let mut c = s.command(&all);
    c.env("APP_PORT", port.to_string());
    support::run(c)
}

#[test]
fn up_waits_for_the_stack_then_shows_the_states_and_the_readiness_answer() {
    let s = StandIn::new();
    let (port, server) = ready_server("HTTP/1.1 200 OK");
    let run = up(&s, &[], port);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        s.log(),
        [
            "docker info".to_owned(),
            "docker compose version".to_owned(),
            s.c("config --format json"),
            s.c("up -d --wait"),
            s.c("ps --format json"),
        ]
    );
    let request = server.join().unwrap();
    assert!(request.starts_with("GET /health/ready HTTP/1.1\r\n"), "{request}");
    assert!(run.stdout.contains("app          running    healthy    Up 5 seconds (healthy)"), "{run:?}");
    assert!(run.stdout.contains("db           running    healthy"), "{run:?}");
    assert!(run.stdout.contains(&format!("GET http://127.0.0.1:{port}/health/ready → HTTP/1.1 200 OK")), "{run:?}");
    assert!(!format!("{run:?}").contains("s3cr3t-pw"), "{run:?}");
}

#[test]
fn up_build_is_passed_on_and_ps_as_a_json_array_is_read() {
    let s = StandIn::new();
    s.dir.write("ps.json", PS_ARRAY);
    let (port, server) = ready_server("HTTP/1.1 200 OK");
    let run = up(&s, &["--build"], port);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(s.log()[3], s.c("up -d --wait --build"));
    server.join().unwrap();
    assert!(run.stdout.contains("app          running    healthy"), "{run:?}");
    assert!(run.stdout.contains("db           running    healthy"), "{run:?}");
}

#[test]
fn app_port_comes_from_the_env_file_next_to_the_compose_file() {
    let s = StandIn::new();
    let (port, server) = ready_server("HTTP/1.1 200 OK");
    s.dir.write("ws/.env", format!("POSTGRES_PASSWORD=s3cr3t-pw\nAPP_PORT={port}\n"));
    let run = s.run(&["up"]);
    assert_eq!(run.code, 0, "{run:?}");
    server.join().unwrap();
    assert!(run.stdout.contains(&format!("127.0.0.1:{port}/health/ready → HTTP/1.1 200 OK")), "{run:?}");
    assert!(!format!("{run:?}").contains("s3cr3t-pw"), "{run:?}");
}

#[test]
fn an_unhealthy_service_or_a_failing_probe_or_up_exits_1() {
    let s = StandIn::new();
    s.dir.write("ps.json", r#"{"Service":"app","State":"running","Health":"unhealthy","Status":"Up (unhealthy)"}"#);
    let (port, server) = ready_server("HTTP/1.1 200 OK");
    let run = up(&s, &[], port);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("app          running    unhealthy"), "{run:?}");
    server.join().unwrap();

    let s = StandIn::new();
    let (port, server) = ready_server("HTTP/1.1 503 Service Unavailable");
    let run = up(&s, &[], port);
    assert_eq!(run.code, 1, "{run:?}");
    server.join().unwrap();
    assert!(run.stdout.contains("→ HTTP/1.1 503 Service Unavailable"), "{run:?}");

    let s = StandIn::new();
    s.set("up-fails", true);
    let (port, server) = ready_server("HTTP/1.1 200 OK");
    let run = up(&s, &[], port);
    assert_eq!(run.code, 1, "{run:?}");
    server.join().unwrap();
    assert!(run.stderr.contains(&format!("`{}` failed", s.c("up -d --wait"))), "{run:?}");

    // Nothing listens: no answer.
    let s = StandIn::new();
    let port = TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
    let run = up(&s, &[], port);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("no answer"), "{run:?}");
}

#[test]
fn an_external_network_is_created_when_missing() {
    let s = StandIn::new();
    s.dir.write("config.json", r#"{"networks": {"edge": {"name": "edge", "external": true}}}"#);
    let (port, server) = ready_server("HTTP/1.1 200 OK");
    assert_eq!(up(&s, &[], port).code, 0);
    server.join().unwrap();
    assert_eq!(s.log()[3..5], ["docker network inspect edge", "docker network create edge"]);
    assert_eq!(s.log()[5], s.c("up -d --wait"));
}

#[test]
fn engine_not_running_is_a_tool_error_that_says_how_to_start_it() {
    let s = StandIn::new();
    s.set("engine", false);
    for cmd in [&["up"][..], &["down"], &["logs"]] {
        let run = s.run(cmd);
        assert_eq!(run.code, 2, "{run:?}");
        assert!(run.stderr.contains("no Docker engine answers"), "{run:?}");
        assert!(run.stderr.contains("sudo systemctl start docker"), "{run:?}");
    }
    assert!(s.log().iter().all(|l| l == "docker info"), "{:?}", s.log());
}

#[test]
fn docker_missing_is_a_tool_error_that_says_how_to_install_it() {
    let s = StandIn::new();
    let mut c = s.command(&["up"]);
    c.env("PATH", s.path("compose-bin"));
    let run = support::run(c);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("`docker` is not on PATH: install Docker Engine"), "{run:?}");
}

#[test]
fn without_the_compose_plugin_docker_compose_is_used_with_a_warning() {
    let s = StandIn::new();
    s.set("compose-v2", false);
    let run = s.run(&["down"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("warning: the Docker Compose v2 plugin (`docker compose`) is missing"), "{run:?}");
    assert_eq!(
        s.log(),
        ["docker info".to_owned(), "docker compose version".to_owned(), format!("docker-compose -f {} down", s.file)]
    );
}

#[test]
fn down_keeps_the_volumes_unless_asked() {
    let s = StandIn::new();
    assert_eq!(s.run(&["down"]).code, 0);
    assert_eq!(s.log().last().unwrap(), &s.c("down"));
    assert_eq!(s.run(&["down", "--volumes"]).code, 0);
    assert_eq!(s.log().last().unwrap(), &s.c("down --volumes"));
}

#[test]
fn logs_follow_the_app_by_default() {
    let s = StandIn::new();
    assert_eq!(s.run(&["logs"]).code, 0);
    assert_eq!(s.log().last().unwrap(), &s.c("logs -f --tail 100 app"));
    assert_eq!(s.run(&["logs", "db", "--tail", "50"]).code, 0);
    assert_eq!(s.log().last().unwrap(), &s.c("logs -f --tail 50 db"));
}

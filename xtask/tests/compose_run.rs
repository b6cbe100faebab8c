//! `cargo xtask up | down | logs` on the real Docker engine, on a copy of this checkout with a
//! `.env` made from `.env.example` (as a newcomer does) and a compose project name of the
//! test's own. A stand-in `docker` (and `docker-compose`) shows only what a real engine
//! cannot: an engine that is not running, `docker` missing, and Compose v1 alone.

mod support;

use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};

use support::standin::StandIn;
use support::{Run, Scratch};

/// A copy of this checkout with a `.env` from `.env.example` (free ports, its own image tag),
/// whose compose file also attaches the app to an external network (as a server's shared
/// proxy network would be); the xtask runs on it as compose project `project`.
struct Stack {
    dir: Scratch,
    project: String,
    network: String,
}

impl Stack {
    fn new(name: &str, change: impl FnOnce(&std::path::Path)) -> Stack {
        let dir = Scratch::new(name);
        support::copy_checkout(&dir.0);
        let n = dir.0.file_name().unwrap().to_string_lossy().replace(['_', '.'], "-");
        let (project, network) = (format!("xtask-{n}"), format!("xtask-edge-{n}"));
        let example = std::fs::read_to_string(dir.path(".env.example")).unwrap();
        let port = || xtask::docker::free_port().unwrap().to_string();
        let env: String = example
            .lines()
            .map(|l| match l.split_once('=') {
                Some(("APP_PORT", _)) => format!("APP_PORT={}", port()),
                Some(("DB_PORT", _)) => format!("DB_PORT={}", port()),
                Some(("APP_IMAGE", _)) => "APP_IMAGE=clicknback:compose-run-test".to_owned(),
                _ => l.to_owned(),
            })
            .map(|l| l + "\n")
            .collect();
        dir.write(".env", env);
        let compose = dir.path("docker-compose.yml");
        support::edit(&compose, "    networks: [backend, default]\n", "    networks: [backend, default, edge]\n");
        support::edit(
            &compose,
            "    internal: true\n",
            &format!("    internal: true\n  edge:\n    name: {network}\n    external: true\n"),
        );
        change(&dir.0);
        Stack { dir, project, network }
    }

    fn xtask(&self, args: &[&str]) -> Command {
        let mut c = support::xtask();
        c.env("CARGO_MANIFEST_DIR", self.dir.path("xtask"))
            .env("COMPOSE_PROJECT_NAME", &self.project)
            .current_dir(&self.dir.0)
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        support::run(self.xtask(args))
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let compose = self.dir.path("docker-compose.yml");
        let _ = Command::new("docker")
            .args(["compose", "-f"])
            .arg(&compose)
            .args(["-p", &self.project, "down", "--volumes", "--remove-orphans", "--timeout", "5"])
            .output();
        let _ = Command::new("docker").args(["network", "rm", &self.network]).output();
        let _ = Command::new("docker").args(["image", "rm", "clicknback:compose-run-test"]).output();
    }
}

#[test]
fn up_logs_down_run_the_stack_from_a_fresh_env_file() {
    if !support::docker_engine("up_logs_down_run_the_stack_from_a_fresh_env_file") {
        return;
    }
    let _engine = support::docker_lock();
    let stack = Stack::new("compose-up", |_| {});

    let run = stack.run(&["up", "--build"]);
    assert_eq!(run.code, 0, "{run:?}");
    let row = |service: &str| {
        let line =
            run.stdout.lines().find(|l| l.starts_with(&format!("{service} "))).unwrap_or_else(|| panic!("{run:?}"));
        line.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    };
    assert_eq!(row("db"), "db running healthy", "{run:?}");
    assert_eq!(row("app"), "app running healthy", "{run:?}");
    assert!(row("migrate").starts_with("migrate exited"), "{run:?}");
    let port = std::fs::read_to_string(stack.dir.path(".env")).unwrap();
    let port = port.lines().find_map(|l| l.strip_prefix("APP_PORT=")).unwrap().to_owned();
    assert!(
        run.stdout.contains(&format!(
            "readiness: GET http://127.0.0.1:{port}/health/ready → HTTP/1.1 200 OK {{\"status\":\"ready\"}}"
        )),
        "{run:?}"
    );
    assert!(run.stderr.contains(&format!("$ docker network create {}", stack.network)), "{run:?}");
    assert!(Command::new("docker").args(["network", "inspect", &stack.network]).output().unwrap().status.success());
    assert!(!format!("{run:?}").contains("clicknback-dev-password"), "the resolved config is never printed: {run:?}");

    // The app's JSON log lines, printed and done.
    let run = stack.run(&["logs", "app", "--no-follow", "--tail", "20"]);
    assert_eq!(run.code, 0, "{run:?}");
    let json: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .filter_map(|l| l.split_once(" | ").map(|(_, json)| json))
        .filter_map(|j| serde_json::from_str(j).ok())
        .collect();
    assert!(json.iter().any(|j| j["level"] == "INFO"), "{run:?}");

    // Following: a Ctrl-C in the terminal (the whole process group) ends it.
    let mut child =
        stack.xtask(&["logs"]).process_group(0).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let first =
        BufReader::new(child.stdout.take().unwrap()).lines().map(Result::unwrap).find(|l| l.contains("\"level\""));
    assert!(first.is_some(), "a JSON line while following");
    let group = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process_group(group, rustix::process::Signal::INT).unwrap();
    child.wait().unwrap();

    // down keeps the database's volume; --volumes removes it too.
    let run = stack.run(&["down"]);
    assert_eq!(run.code, 0, "{run:?}");
    let left = support::leftovers(&stack.project);
    assert!(left.iter().all(|l| l.starts_with("volume ")) && !left.is_empty(), "{left:?}");
    let run = stack.run(&["down", "--volumes"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(support::leftovers(&stack.project), Vec::<String>::new());
}

/// Removes a project that was only created, never started.
struct Created(String);

impl Drop for Created {
    fn drop(&mut self) {
        let root = support::workspace_root();
        let _ = Command::new("docker")
            .args(["compose", "-f", "docker-compose.yml", "-f", "docker-compose.dev.yml", "--env-file", ".env.example"])
            .args(["-p", &self.0, "down", "--volumes", "--remove-orphans", "--timeout", "1"])
            .current_dir(root)
            .output();
    }
}

/// Production's configuration (docker-compose.yml alone) as the engine creates it: the
/// database publishes no port and sits on an internal network only, every service's logs
/// rotate, the app and the database have memory and CPU limits. With the development overlay,
/// the database is published on the host's loopback. (Created, not started: any image will do.)
#[test]
fn production_hides_the_database_and_bounds_logs_and_resources() {
    if !support::docker_engine("production_hides_the_database_and_bounds_logs_and_resources") {
        return;
    }
    let _engine = support::docker_lock();
    let root = support::workspace_root();
    let db_port = xtask::docker::free_port().unwrap().to_string();
    let create = |project: &str, files: &[&str]| {
        let mut c = Command::new("docker");
        c.arg("compose");
        for f in files {
            c.args(["-f", f]);
        }
        let out = c
            .args(["--env-file", ".env.example", "-p", project, "create", "--no-build", "--pull", "never"])
            .current_dir(&root)
            .env("APP_IMAGE", "postgres:16")
            .env("DB_PORT", &db_port)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    let inspect = |what: &[&str]| -> serde_json::Value {
        let out = Command::new("docker").args(what).output().unwrap();
        assert!(out.status.success(), "{what:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()[0].take()
    };

    let prod = Created(format!("xtask-prod-{}", std::process::id()));
    create(&prod.0, &["docker-compose.yml"]);
    let container = |service: &str| inspect(&["inspect", &format!("{}-{service}-1", prod.0)]);
    let (db, migrate, app) = (container("db"), container("migrate"), container("app"));
    for (name, c) in [("db", &db), ("migrate", &migrate), ("app", &app)] {
        let log = &c["HostConfig"]["LogConfig"];
        assert_eq!(log["Type"], "json-file", "{name}");
        assert_eq!((&log["Config"]["max-size"], &log["Config"]["max-file"]), (&"10m".into(), &"3".into()), "{name}");
        assert!(c["HostConfig"]["Memory"].as_u64().is_some_and(|m| m > 0), "{name}: no memory limit");
        assert!(c["HostConfig"]["NanoCpus"].as_u64().is_some_and(|n| n > 0), "{name}: no CPU limit");
    }
    assert_eq!(app["HostConfig"]["Memory"], 512 * 1024 * 1024);
    assert_eq!(db["HostConfig"]["Memory"], 512 * 1024 * 1024);
    assert_eq!(db["HostConfig"]["NanoCpus"], 1_000_000_000u64);
    assert!(db["HostConfig"]["PortBindings"].as_object().is_none_or(|p| p.is_empty()), "{}", db["HostConfig"]);
    let networks = |c: &serde_json::Value| -> Vec<String> {
        c["NetworkSettings"]["Networks"].as_object().unwrap().keys().cloned().collect()
    };
    let backend = format!("{}_backend", prod.0);
    assert_eq!(networks(&db), std::slice::from_ref(&backend));
    assert_eq!(networks(&app), [backend.clone(), format!("{}_default", prod.0)]);
    assert_eq!(inspect(&["network", "inspect", &backend])["Internal"], true);
    // The app's port stays on the host's loopback, for the edge proxy.
    assert_eq!(app["HostConfig"]["PortBindings"]["8000/tcp"][0]["HostIp"], "127.0.0.1");

    let dev = Created(format!("xtask-dev-{}", std::process::id()));
    create(&dev.0, &["docker-compose.yml", "docker-compose.dev.yml"]);
    let db = inspect(&["inspect", &format!("{}-db-1", dev.0)]);
    let binding = &db["HostConfig"]["PortBindings"]["5432/tcp"][0];
    assert_eq!((&binding["HostIp"], &binding["HostPort"]), (&"127.0.0.1".into(), &db_port.clone().into()));
}

#[test]
fn up_exits_1_and_shows_the_states_when_the_migrations_fail() {
    if !support::docker_engine("up_exits_1_and_shows_the_states_when_the_migrations_fail") {
        return;
    }
    let _engine = support::docker_lock();
    let stack = Stack::new("compose-fail", |root| {
        support::edit(&root.join("docker-compose.yml"), "command: [\"migrate\"]", "command: [\"migrate\", \"--bad\"]")
    });
    let run = stack.run(&["up", "--build"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("up -d --wait --build` failed"), "{run:?}");
    let migrate = run.stdout.lines().find(|l| l.starts_with("migrate ")).unwrap_or_else(|| panic!("{run:?}"));
    assert!(migrate.contains("exited") && migrate.contains("Exited (2)"), "{run:?}");
    assert!(run.stdout.contains("readiness: the `app` service's port 8000 is not published"), "{run:?}");
    assert_eq!(stack.run(&["down", "--volumes"]).code, 0);
    assert_eq!(support::leftovers(&stack.project), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------
// What a real engine cannot show (stand-in docker)

/// Stand-in cargo: only `metadata`, on the scratch workspace.
const CARGO_STANDIN: &str = r#"#!/bin/bash
case "$1" in
  metadata) exec "$REAL_CARGO" metadata --format-version 1 --no-deps --offline --manifest-path "$STANDIN/ws/Cargo.toml" ;;
esac
exit 1
"#;

/// The compose commands, shared by `docker compose` and `docker-compose`.
const COMPOSE_SH: &str = r#"[ "$1" = -f ] && shift 2
case "$1" in
  down|logs) ;;
  *) exit 1 ;;
esac
exit 0
"#;

/// Docker answers, with the compose v2 plugin; only the stand-ins on PATH.
fn standin() -> StandIn {
    let s = StandIn::new("compose-standin").cargo(CARGO_STANDIN).docker(COMPOSE_SH).env_remove("APP_PORT");
    let path = format!("{}:{}", s.path("bin").display(), s.path("compose-bin").display());
    let s = s.env("PATH", path);
    let file = s.write("ws/compose.yaml", "services:\n  app:\n    image: clicknback:local\n");
    s.workspace(&format!("[workspace.metadata.xtask.compose]\nfile = \"{}\"\n", file.display()));
    s.set("engine", true);
    s.set("compose-v2", true);
    s
}

#[test]
fn engine_not_running_is_a_tool_error_that_says_how_to_start_it() {
    let s = standin();
    s.set("engine", false);
    for cmd in [&["up"][..], &["down"], &["logs"], &["smoke"]] {
        let run = s.run(cmd);
        assert_eq!(run.code, 2, "{run:?}");
        assert!(run.stderr.contains("no Docker engine answers"), "{run:?}");
        assert!(run.stderr.contains("sudo systemctl start docker"), "{run:?}");
    }
    assert!(s.log().iter().all(|l| l == "docker info"), "{:?}", s.log());
}

#[test]
fn docker_missing_is_a_tool_error_that_says_how_to_install_it() {
    let s = standin();
    let run = support::run(s.command_with_path(&["up"], s.path("compose-bin")));
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("`docker` is not on PATH: install Docker Engine"), "{run:?}");
}

#[test]
fn without_the_compose_plugin_docker_compose_is_used_with_a_warning() {
    let s = standin();
    s.set("compose-v2", false);
    let run = s.run(&["down"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("warning: the Docker Compose v2 plugin (`docker compose`) is missing"), "{run:?}");
    assert_eq!(
        s.log(),
        [
            "docker info".to_owned(),
            "docker compose version".to_owned(),
            format!("docker-compose -f {} down", s.path("ws/compose.yaml").display())
        ]
    );
}

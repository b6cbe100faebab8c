//! The built binary, in the order compose runs it: a fresh database, `app migrate` (twice:
//! it must be idempotent), `app serve`, `app healthcheck`, both probes, then SIGTERM.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestDb, client, free_port, test_env};

const APP: &str = env!("CARGO_BIN_EXE_app");

/// The binary with exactly these variables (no inherited `RUST_LOG`, `DATABASE_URL`, …), run
/// in an empty directory so that no `.env` file is picked up.
fn app(args: &[&str], env: &HashMap<&'static str, String>) -> Command {
    let mut command = Command::new(APP);
    command.args(args).env_clear().envs(env).current_dir(empty_dir());
    // Under `cargo xtask coverage` the binary is instrumented: keep its profile going where
    // cargo-llvm-cov collects it (this variable changes nothing about the app's behaviour).
    if let Some(profile) = std::env::var_os("LLVM_PROFILE_FILE") {
        command.env("LLVM_PROFILE_FILE", profile);
    }
    command
}

/// A directory under target/ with no `.env` in it (cargo gives integration tests one).
fn empty_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("stack-cwd");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(args: &[&str], env: &HashMap<&'static str, String>) -> Output {
    app(args, env).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Kills the server if the test fails before stopping it.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn stack_starts_probes_and_stops_in_compose_order() {
    let db = TestDb::empty().await;
    let port = free_port();
    let mut env = test_env(&db);
    env.insert("PORT", port.to_string());

    // migrate: twice, both exit 0, and the schema is there once.
    for attempt in 1..=2 {
        let migrate = run(&["migrate"], &env);
        assert!(migrate.status.success(), "migrate #{attempt}: {}{}", text(&migrate.stdout), text(&migrate.stderr));
        assert!(text(&migrate.stdout).contains("database schema is up to date"), "{}", text(&migrate.stdout));
    }
    let pool = db.pool().await;
    let applied: i64 =
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success").fetch_one(&pool).await.unwrap();
    assert_eq!(applied, app::MIGRATOR.iter().count() as i64);
    pool.close().await;

    // healthcheck before serve: nothing listens, exit 1.
    let early = run(&["healthcheck"], &env);
    assert_eq!(early.status.code(), Some(1));
    assert!(text(&early.stderr).starts_with("not ready: cannot connect"), "{}", text(&early.stderr));

    // serve, then wait for healthcheck to pass.
    let mut server = Server(app(&["serve"], &env).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap());
    let started = Instant::now();
    loop {
        let check = run(&["healthcheck"], &env);
        if check.status.success() {
            assert_eq!(text(&check.stdout).trim(), "ready");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "never ready: {}", text(&check.stderr));
        assert!(server.0.try_wait().unwrap().is_none(), "serve exited early");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let client = client();
    let live = client.get(format!("http://127.0.0.1:{port}/health/live")).send().await.unwrap();
    let ready = client.get(format!("http://127.0.0.1:{port}/health/ready")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    assert_eq!(live.json::<Value>().await.unwrap(), json!({"status": "alive"}));
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap(), json!({"status": "ready"}));

    // SIGTERM (what `docker stop` sends): a clean exit 0, logged.
    rustix::process::kill_process(rustix::process::Pid::from_child(&server.0), rustix::process::Signal::TERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not stop within 10 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0));
    let stdout = BufReader::new(server.0.stdout.take().unwrap());
    let lines: Vec<Value> =
        stdout.lines().map(|l| serde_json::from_str(&l.unwrap()).expect("every log line is JSON")).collect();
    let messages: Vec<&str> = lines.iter().filter_map(|l| l["message"].as_str()).collect();
    assert!(messages.contains(&"listening"), "{messages:?}");
    assert!(messages.contains(&"shutting down"), "{messages:?}");
    assert_eq!(messages.last(), Some(&"stopped"), "{messages:?}");
}

#[test]
fn serve_exits_1_with_one_line_per_problem_on_missing_configuration() {
    let env = HashMap::from([("APP_ENV", "production".to_owned()), ("CORS_ORIGINS", "*".to_owned())]);

    let output = run(&["serve"], &env);

    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with("error: invalid configuration (3 problems):"), "{stderr}");
    assert!(stderr.contains("\n  - DATABASE_URL is missing"), "{stderr}");
    assert!(stderr.contains("\n  - CORS_ORIGINS: a wildcard is refused"), "{stderr}");
    assert!(stderr.contains("\n  - JWT_SECRET is missing"), "{stderr}");
}

#[test]
fn migrate_exits_1_on_unreachable_database() {
    let closed = free_port();
    let env = HashMap::from([
        ("DATABASE_URL", format!("postgres://postgres:not-logged@127.0.0.1:{closed}/x")),
        ("DATABASE_ACQUIRE_TIMEOUT_MS", "500".to_owned()),
    ]);

    let output = run(&["migrate"], &env);

    assert_eq!(output.status.code(), Some(1));
    let all = text(&output.stdout) + &text(&output.stderr);
    assert!(all.contains("migration failed"), "{all}");
    assert!(!all.contains("not-logged"), "{all}");
}

/// A `.env` in the working directory fills in what the environment lacks in development, and
/// is ignored on production, where only the environment counts (the container's). A variable
/// the environment sets wins over the file.
#[test]
fn a_dotenv_file_is_read_in_development_and_ignored_in_production() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dotenv-cwd");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".env"), "JWT_SECRET=tiny-secret\nPORT=70000\n").unwrap();
    let serve = |app_env: &str| {
        let env = HashMap::from([("APP_ENV", app_env.to_owned()), ("PORT", "8001".to_owned())]);
        let out = app(&["serve"], &env).current_dir(&dir).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        text(&out.stderr)
    };

    let development = serve("development");
    assert!(development.contains("JWT_SECRET is too short (11 bytes)"), "{development}");
    assert!(!development.contains("PORT: 70000"), "the environment's PORT wins: {development}");
    let production = serve("production");
    assert!(production.contains("JWT_SECRET is missing"), "{production}");
}

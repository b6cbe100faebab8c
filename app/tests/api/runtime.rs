//! The runtime knobs: worker threads, the body-size limit and the graceful-shutdown timeout,
//! each from its variable, on the real binary or a real server.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use app::Application;
use serde_json::{Value, json};

use crate::helpers::{TestDb, client, error_body, free_port, hung_database_config, spawn, test_config, test_env};

#[test]
fn worker_threads_come_from_worker_threads() {
    let db = tokio::runtime::Runtime::new().unwrap().block_on(TestDb::migrated());
    let mut env: HashMap<&str, String> = test_env(&db);
    let port = free_port();
    env.insert("PORT", port.to_string());
    env.insert("WORKER_THREADS", "3".into());
    let mut command = Command::new(env!("CARGO_BIN_EXE_app"));
    command.arg("serve").env_clear().envs(&env).stdout(Stdio::piped()).stderr(Stdio::null());
    if let Some(profile) = std::env::var_os("LLVM_PROFILE_FILE") {
        command.env("LLVM_PROFILE_FILE", profile);
    }
    let mut server = command.spawn().unwrap();
    let stdout = BufReader::new(server.stdout.take().unwrap());

    // The start-up line says what the runtime has (tokio's own count of its workers).
    let listening = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(&l.unwrap()).unwrap())
        .find(|l| l["message"] == "listening");
    let _ = server.kill();
    let _ = server.wait();
    let listening = listening.expect("a listening line");
    assert_eq!(listening["worker_threads"], 3, "{listening}");
    assert_eq!(listening["environment"], "production", "{listening}");
}

#[tokio::test]
async fn a_body_over_max_body_bytes_is_refused_with_413() {
    let db = TestDb::migrated().await;
    let mut config = test_config(&db);
    config.server.max_body_bytes = 1024;
    let address = spawn(config).await;
    let client = client();
    let post = |name: String| {
        let body = json!({"email": "not-an-email", "password": "x", "full_name": name});
        client.post(format!("{address}/api/v1/users")).json(&body).send()
    };

    error_body(post("a".repeat(2000)).await.unwrap(), 413, "payload_too_large").await;
    // Under the limit, the body is read and judged.
    error_body(post("a".repeat(800)).await.unwrap(), 422, "validation_error").await;
}

#[tokio::test]
async fn requests_in_flight_get_the_shutdown_timeout_then_the_server_stops() {
    // The readiness probe waits on a hung database: a request in flight.
    let db = TestDb::empty().await;
    let mut config = hung_database_config(&db).await;
    config.database.readiness_timeout = Duration::from_secs(30);
    config.server.shutdown_timeout = Duration::from_millis(500);
    let app = Application::build(config).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let in_flight = tokio::spawn(client().get(format!("{address}/health/ready")).send());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!in_flight.is_finished(), "the probe is waiting on the hung database");

    let signalled = Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server).await.expect("stopped").unwrap().unwrap();

    let took = signalled.elapsed();
    assert!(took >= Duration::from_millis(500), "waited for the request in flight: {took:?}");
    assert!(took < Duration::from_secs(3), "then stopped without it: {took:?}");
}

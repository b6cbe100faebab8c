//! No secret reaches a log, at any level: register, log in and use the token with every
//! crate logging at TRACE into a buffer, then search the buffer.
//!
//! A binary of its own, because it installs a process-wide logger.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// A log destination the test can read back.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

#[tokio::test]
async fn logs_hold_no_password_hash_or_token_on_register_and_login() {
    let buffer = Buffer::default();
    let subscriber = app::telemetry::subscriber(EnvFilter::new("trace"), buffer.clone());
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let app = helpers::spawn_app().await;
    let password = "correct-horse-battery-staple";

    let register = app.register("ann@example.com", password).await;
    let request_id = register.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(register.status(), 201);
    let token = helpers::token_of(app.login("ann@example.com", password).await).await;
    let started = std::time::Instant::now();
    assert_eq!(app.get("/api/v1/merchants", Some(&token)).await.status(), 200);
    let round_trip_ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(app.login("ann@example.com", "wrong-password-guess").await.status(), 401);
    assert_eq!(app.login("nobody@example.com", password).await.status(), 401);
    let weak = app.post("/api/v1/users", &json!({"email": "b@example.com", "password": "tiny"}), None).await;
    assert_eq!(weak.status(), 422);
    let pool = app.db.pool().await;
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users").fetch_one(&pool).await.unwrap();
    pool.close().await;

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    // The capture works: the request's id is there, and every line is JSON.
    assert!(logs.contains(&request_id), "no request id in the captured logs");
    let lines: Vec<Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    // A request that succeeded ends in one INFO line in its span, its latency in milliseconds:
    // within the client's round trip.
    let finished = (lines.iter())
        .find(|l| l["span"]["path"] == "/api/v1/merchants" && l["status"] == 200)
        .expect("the merchants request's last line");
    assert_eq!((&finished["message"], &finished["level"]), (&json!("request finished"), &json!("INFO")), "{finished}");
    // The rate limits are on (the default): no line says they are off.
    assert!(!logs.contains("the rate limits are off"), "{logs}");
    let latency_ms = finished["latency_ms"].as_f64().unwrap();
    assert!((0.0..=round_trip_ms).contains(&latency_ms), "{latency_ms} ms, within {round_trip_ms} ms: {finished}");
    let signature = token.rsplit('.').next().unwrap();
    let hash_output = hash.rsplit('$').next().unwrap();
    for (what, secret) in [
        ("password", password),
        ("wrong password", "wrong-password-guess"),
        ("short password", "tiny"),
        ("password hash", hash.as_str()),
        ("hash output", hash_output),
        ("token", token.as_str()),
        ("token signature", signature),
        ("JWT secret", helpers::JWT_SECRET),
        ("argon2 marker", "$argon2id$"),
    ] {
        assert!(!logs.contains(secret), "the {what} is in the logs");
    }
}

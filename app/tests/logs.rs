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
    assert_eq!(app.get("/api/v1/merchants", Some(&token)).await.status(), 200);
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
    for line in logs.lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
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

//! Probes for the orchestrator, outside the versioned API.
//!
//! - `GET /health/live`: the process answers (no I/O). A failure means "restart me".
//! - `GET /health/ready`: the database answers `SELECT 1` within `READINESS_TIMEOUT_MS`.
//!   A failure (503) means "send me no traffic", not "restart me".

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::state::AppState;

/// The liveness probe's path.
pub const LIVE_PATH: &str = "/health/live";
/// The readiness probe's path: what `app healthcheck` (the container health check) asks, and
/// the xtask's `up` and smoke gate wait for.
pub const READY_PATH: &str = "/health/ready";

pub fn router() -> Router<AppState> {
    Router::new().route(LIVE_PATH, get(live)).route(READY_PATH, get(ready))
}

async fn live() -> Json<Value> {
    Json(json!({"status": "alive"}))
}

async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    // The timeout covers waiting for a pooled connection too, so a hung or unreachable
    // database cannot hang the probe.
    let check = tokio::time::timeout(state.readiness_timeout, sqlx::query("SELECT 1").execute(&state.pool)).await;
    match check {
        Ok(Ok(_)) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable"})))
        }
        Err(_) => {
            tracing::warn!(timeout_ms = state.readiness_timeout.as_millis(), "readiness check timed out");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable"})))
        }
    }
}

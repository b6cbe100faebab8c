//! Probes for the orchestrator, outside the versioned API.
//!
//! - `GET /health/live`: the process answers (no I/O). A failure means "restart me".
//! - `GET /health/ready`: the database answers within `READINESS_TIMEOUT_MS` and has every
//!   migration this binary embeds applied, unchanged (one query on `_sqlx_migrations`, the
//!   table `app migrate` keeps). A failure (503) means "send me no traffic", not "restart me":
//!   a new binary waits for its `migrate` job instead of serving an old schema.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::metrics::ReadinessFailure;
use crate::schema;
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

async fn ready(State(state): State<AppState>) -> Response {
    // The timeout covers waiting for a pooled connection too, so a hung or unreachable
    // database cannot hang the probe.
    let reason = match tokio::time::timeout(state.readiness_timeout, schema::check(&state.pool)).await {
        Ok(Ok(schema::Schema::UpToDate)) => return (StatusCode::OK, Json(json!({"status": "ready"}))).into_response(),
        Ok(Ok(behind)) => {
            tracing::warn!(reason = %behind, "not ready: the database schema is not this binary's");
            "schema"
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            "database"
        }
        Err(_) => {
            tracing::warn!(timeout_ms = state.readiness_timeout.as_millis(), "readiness check timed out");
            "timeout"
        }
    };
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable"}))).into_response();
    response.extensions_mut().insert(ReadinessFailure(reason));
    response
}

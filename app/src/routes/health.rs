//! Probes for the orchestrator, outside the versioned API.
//!
//! - `GET /health/live`: the process answers (no I/O). A failure means "restart me".
//! - `GET /health/ready`: the database answers within `READINESS_TIMEOUT_MS` and has every
//!   migration this binary embeds applied, unchanged (one query on `_sqlx_migrations`, the
//!   table `app migrate` keeps). A failure (503) means "send me no traffic", not "restart me":
//!   a new binary waits for its `migrate` job instead of serving an old schema.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::metrics::{ReadinessFailure, ReadinessPassed};
use crate::schema;
use crate::state::AppState;

/// The liveness probe's path.
pub const LIVE_PATH: &str = "/health/live";
/// The readiness probe's path: what `app healthcheck` (the container health check) asks, and
/// the xtask's `up` and smoke gate wait for.
pub const READY_PATH: &str = "/health/ready";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(live)).routes(routes!(ready))
}

/// A probe's answer.
#[derive(Serialize, ToSchema)]
pub struct Probe {
    status: ProbeStatus,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum ProbeStatus {
    Alive,
    Ready,
    Unavailable,
}

fn probe(status: StatusCode, probe: ProbeStatus) -> Response {
    (status, Json(Probe { status: probe })).into_response()
}

/// Liveness: the process answers (no I/O).
#[utoipa::path(
    get,
    path = LIVE_PATH,
    operation_id = "live",
    tag = "health",
    responses((status = OK, description = "Alive", body = Probe))
)]
async fn live() -> Response {
    probe(StatusCode::OK, ProbeStatus::Alive)
}

/// Readiness: the database answers and has this binary's migrations.
#[utoipa::path(
    get,
    path = READY_PATH,
    operation_id = "ready",
    tag = "health",
    responses(
        (status = OK, description = "Ready for traffic", body = Probe),
        (status = SERVICE_UNAVAILABLE, description = "Send no traffic; the log says why", body = Probe),
    )
)]
async fn ready(State(state): State<AppState>) -> Response {
    // The timeout covers waiting for a pooled connection too, so a hung or unreachable
    // database cannot hang the probe.
    let reason = match tokio::time::timeout(state.readiness_timeout, schema::check(&state.pool)).await {
        Ok(Ok(schema::Schema::UpToDate)) => {
            let mut response = probe(StatusCode::OK, ProbeStatus::Ready);
            response.extensions_mut().insert(ReadinessPassed);
            return response;
        }
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
    let mut response = probe(StatusCode::SERVICE_UNAVAILABLE, ProbeStatus::Unavailable);
    response.extensions_mut().insert(ReadinessFailure(reason));
    response
}

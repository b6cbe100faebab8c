//! Logs: JSON lines on stdout, one per event, each carrying the request's id.
//!
//! What must never be logged: passwords, password hashes, tokens, `JWT_SECRET`, the database
//! password. Nothing here logs headers, bodies or query strings, secrets are held in types
//! whose `Debug` redacts them, and a test (`tests/logs.rs`) runs register and login under a
//! TRACE-level capture of every crate and searches the output for each of them.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::{Instrument, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::request_id;

/// The filter used when `RUST_LOG` is unset. PostgreSQL's notices ("relation already exists,
/// skipping" on every `migrate`) are not worth an INFO line.
pub const DEFAULT_FILTER: &str = "info,sqlx::postgres::notice=warn";

/// The filter from `RUST_LOG` (default [`DEFAULT_FILTER`]); an invalid value is an error that
/// names the variable.
pub fn filter_from_env() -> Result<EnvFilter, String> {
    match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => EnvFilter::try_new(value.trim())
            .map_err(|e| format!("RUST_LOG: `{}` is not a log filter ({e})", value.trim())),
        _ => Ok(EnvFilter::new(DEFAULT_FILTER)),
    }
}

/// A JSON subscriber writing to `writer` (stdout in the service, a buffer in tests).
pub fn subscriber<W>(filter: EnvFilter, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}

/// Installs the JSON subscriber on stdout for the whole process.
pub fn init() -> Result<(), String> {
    let filter = filter_from_env()?;
    tracing::subscriber::set_global_default(subscriber(filter, std::io::stdout))
        .map_err(|e| format!("cannot install the logger: {e}"))
}

/// Middleware: one span per request (request id, method, path; never headers or the query
/// string), and one event when the response is ready. Probes log at DEBUG so a health check
/// every few seconds does not drown the log; any 5xx is logged at ERROR.
pub async fn trace_request(request: Request, next: Next) -> Response {
    let request_id = request_id::of(&request);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let probe = path.starts_with("/health/");
    let span = tracing::info_span!("request", %request_id, %method, %path);
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    // Whole microseconds, shown in milliseconds (0.257, not 0.25700000000000001).
    let latency_ms = started.elapsed().as_micros() as f64 / 1000.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, latency_ms, "request failed");
        } else if probe {
            tracing::debug!(status, latency_ms, "request finished");
        } else {
            tracing::info!(status, latency_ms, "request finished");
        }
    });
    response
}

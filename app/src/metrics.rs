//! Prometheus metrics, served in the text format on a listener of their own (`METRICS_ADDR`,
//! default 127.0.0.1:9464), never on the API's port: the Nginx in front proxies the API's
//! port only, so the metrics stay inside the host or the compose network.
//!
//! Each `Application` has its own registry (tests run many side by side). Requests are counted
//! by route template (`/api/v1/merchants`, never a raw path with ids in it), method and status.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};
use sqlx::PgPool;

/// The path the metrics are served on (on `METRICS_ADDR`).
pub const PATH: &str = "/metrics";

/// Set on a response the readiness probe failed with: why (one of [`READINESS_REASONS`]).
#[derive(Debug, Clone, Copy)]
pub struct ReadinessFailure(pub &'static str);

/// Set on a response the readiness probe passed with.
#[derive(Debug, Clone, Copy)]
pub struct ReadinessPassed;

/// Why a readiness probe can fail: each one's counter exists from the start, at 0, so the
/// first failure is an increase Prometheus sees (a series that appears at 1 is not).
pub const READINESS_REASONS: [&str; 3] = ["database", "timeout", "schema"];

/// Set on a 429: which limit (one of [`RATE_LIMITS`]).
#[derive(Debug, Clone, Copy)]
pub struct RateLimited(pub &'static str);

/// The rate limits' names, each one's counter exported from the start, at 0.
pub const RATE_LIMITS: [&str; 2] = ["auth", "api"];

/// The request latency histogram's upper bounds, in seconds. 0.2 is one of them because the
/// alert on p95 > 200 ms (deploy/prometheus/) compares with it: at a bucket's bound the
/// estimate is exact (p95 > 0.2 exactly when more than 5% took longer than 200 ms), between
/// two bounds it is interpolated.
pub const LATENCY_BUCKETS: [f64; 14] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    in_flight: IntGauge,
    readiness_failures: IntCounterVec,
    rate_limited: IntCounterVec,
    ready: IntGauge,
    pool_size: IntGauge,
    pool_idle: IntGauge,
    pool_max: IntGauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let labels = ["method", "route", "status"];
        let requests = IntCounterVec::new(Opts::new("http_requests_total", "HTTP requests answered"), &labels)
            .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time to answer an HTTP request")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &labels,
        )
        .expect("valid metric");
        let in_flight =
            IntGauge::new("http_requests_in_flight", "HTTP requests being answered now").expect("valid metric");
        let readiness_failures = IntCounterVec::new(
            Opts::new("readiness_failures_total", "Readiness probes answered 503, by reason"),
            &["reason"],
        )
        .expect("valid metric");
        for reason in READINESS_REASONS {
            readiness_failures.with_label_values(&[reason]);
        }
        let ready = IntGauge::new(
            "app_ready",
            "1 when the last readiness probe passed, 0 when it failed (or none has run since the start)",
        )
        .expect("valid metric");
        let rate_limited =
            IntCounterVec::new(Opts::new("rate_limited_requests_total", "Requests refused with 429"), &["limit"])
                .expect("valid metric");
        for limit in RATE_LIMITS {
            rate_limited.with_label_values(&[limit]);
        }
        let pool_size = IntGauge::new("db_pool_connections", "Open database connections").expect("valid metric");
        let pool_idle =
            IntGauge::new("db_pool_idle_connections", "Open database connections not in use").expect("valid metric");
        let pool_max =
            IntGauge::new("db_pool_max_connections", "The most connections the pool opens").expect("valid metric");
        let build_info = IntGaugeVec::new(
            Opts::new("app_build_info", "The running build: always 1, its labels say which"),
            &["version", "commit"],
        )
        .expect("valid metric");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), option_env!("APP_COMMIT").unwrap_or("unknown")])
            .set(1);
        for metric in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(in_flight.clone()),
            Box::new(readiness_failures.clone()),
            Box::new(ready.clone()),
            Box::new(rate_limited.clone()),
            Box::new(pool_size.clone()),
            Box::new(pool_idle.clone()),
            Box::new(pool_max.clone()),
            Box::new(build_info),
        ] {
            registry.register(metric).expect("each metric is registered once");
        }
        Metrics {
            registry,
            requests,
            latency,
            in_flight,
            readiness_failures,
            ready,
            rate_limited,
            pool_size,
            pool_idle,
            pool_max,
        }
    }

    /// The text exposition, with the pool's gauges read now.
    pub fn render(&self, pool: &PgPool) -> String {
        self.pool_size.set(i64::from(pool.size()));
        self.pool_idle.set(i64::try_from(pool.num_idle()).unwrap_or(i64::MAX));
        self.pool_max.set(i64::from(pool.options().get_max_connections()));
        let mut out = String::new();
        if let Err(e) = TextEncoder::new().encode_utf8(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "cannot render the metrics");
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Middleware (after routing, so the route template is known): counts and times every request.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = request.method().as_str().to_owned();
    metrics.in_flight.inc();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.in_flight.dec();
    let status = response.status().as_u16().to_string();
    let labels = [method.as_str(), route.as_str(), status.as_str()];
    metrics.requests.with_label_values(&labels).inc();
    metrics.latency.with_label_values(&labels).observe(started.elapsed().as_secs_f64());
    if let Some(ReadinessFailure(reason)) = response.extensions().get::<ReadinessFailure>() {
        metrics.readiness_failures.with_label_values(&[*reason]).inc();
        metrics.ready.set(0);
    } else if response.extensions().get::<ReadinessPassed>().is_some() {
        metrics.ready.set(1);
    }
    if let Some(RateLimited(limit)) = response.extensions().get::<RateLimited>() {
        metrics.rate_limited.with_label_values(&[*limit]).inc();
    }
    response
}

/// The metrics listener's router: `GET /metrics`, nothing else.
pub fn router(metrics: Arc<Metrics>, pool: PgPool) -> Router {
    Router::new().route(
        PATH,
        get(move || {
            let (metrics, pool) = (metrics.clone(), pool.clone());
            async move {
                let body = metrics.render(&pool);
                let mut response = (StatusCode::OK, body).into_response();
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
                response
            }
        }),
    )
}

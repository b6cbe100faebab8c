//! Wiring: the pool, the router and its middleware, the listener, graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{Method, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use sqlx::postgres::{PgPool, PgPoolOptions};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use crate::auth::password;
use crate::auth::token::Tokens;
use crate::config::{Config, CorsConfig, DatabaseConfig};
use crate::metrics::{self, Metrics};
use crate::rate_limit::{self, RateLimits};
use crate::request_id::{self, REQUEST_ID_HEADER};
use crate::security_headers::{self, Hsts};
use crate::state::AppState;
use crate::{error, openapi, routes, telemetry};

/// The service, bound to its port but not yet serving.
pub struct Application {
    listener: TcpListener,
    router: Router,
    pool: PgPool,
    port: u16,
    shutdown_timeout: Duration,
    rate_limits: Arc<RateLimits>,
    metrics_listener: TcpListener,
    metrics_router: Router,
}

impl Application {
    /// Builds the pool (lazily: no connection is made yet, so the service starts while the
    /// database is down), the router, and binds the listener (`PORT=0` picks a free port).
    pub async fn build(config: Config) -> io::Result<Self> {
        let pool = connection_pool(&config.database);
        let state = AppState {
            pool: pool.clone(),
            tokens: Arc::new(Tokens::new(&config.auth)),
            readiness_timeout: config.database.readiness_timeout,
        };
        let rate_limits = Arc::new(RateLimits::new(&config.rate_limit));
        if !config.rate_limit.enabled {
            tracing::warn!("the rate limits are off (RATE_LIMIT_ENABLED=false): only a proxy in front limits requests");
        }
        rate_limit::spawn_sweeper(&rate_limits);
        let metrics = Arc::new(Metrics::new());
        let router = router(state, &config, rate_limits.clone(), metrics.clone());
        let metrics_router = metrics::router(metrics, pool.clone());
        let metrics_listener = TcpListener::bind(config.server.metrics_addr)
            .await
            .map_err(|e| io::Error::new(e.kind(), format!("METRICS_ADDR {}: {e}", config.server.metrics_addr)))?;
        let listener = TcpListener::bind(SocketAddr::new(config.server.host, config.server.port)).await?;
        let port = listener.local_addr()?.port();
        // Pay for the login timing guard now, not on the first login.
        tokio::task::spawn_blocking(password::warm_up);
        let shutdown_timeout = config.server.shutdown_timeout;
        Ok(Application {
            listener,
            router,
            pool,
            port,
            shutdown_timeout,
            rate_limits,
            metrics_listener,
            metrics_router,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `GET /metrics` is served on (`METRICS_ADDR`).
    pub fn metrics_port(&self) -> u16 {
        self.metrics_listener.local_addr().map_or(0, |a| a.port())
    }

    /// The rate limits' tables (tests look at their size).
    pub fn rate_limits(&self) -> Arc<RateLimits> {
        self.rate_limits.clone()
    }

    /// Serves until SIGTERM or Ctrl-C, then finishes the requests in flight and closes the pool.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes (tests pass their own signal), then lets the requests
    /// in flight finish for at most `SHUTDOWN_TIMEOUT_MS` before stopping anyway.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        let (signalled, on_signal) = tokio::sync::oneshot::channel::<()>();
        // The peer's address reaches the rate limits as `ConnectInfo`.
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let serve = axum::serve(self.listener, service).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = signalled.send(());
        });
        // The metrics listener lives as long as the API's; it has no requests worth waiting for.
        let metrics = axum::serve(self.metrics_listener, self.metrics_router).into_future();
        let metrics = tokio::spawn(async move {
            if let Err(e) = metrics.await {
                tracing::error!(error = %e, "the metrics listener failed");
            }
        });
        let _stop_metrics = AbortOnDrop(metrics);
        let deadline = async {
            if on_signal.await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(self.shutdown_timeout).await;
        };
        tokio::select! {
            served = serve.into_future() => served?,
            () = deadline => {
                tracing::warn!(
                    timeout_ms = self.shutdown_timeout.as_millis(),
                    "requests still running at the shutdown timeout: stopping without them"
                );
                // Their connections are not coming back to the pool: close the idle ones only.
                let _ = tokio::time::timeout(Duration::from_millis(100), self.pool.close()).await;
                return Ok(());
            }
        }
        self.pool.close().await;
        Ok(())
    }
}

/// Stops a spawned task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A lazy pool with an explicit acquire timeout (sqlx's default, 30 s, is longer than any
/// health check or client would wait).
pub fn connection_pool(database: &DatabaseConfig) -> PgPool {
    PgPoolOptions::new()
        .max_connections(database.max_connections)
        .min_connections(database.min_connections)
        .idle_timeout(database.idle_timeout)
        .acquire_timeout(database.acquire_timeout)
        .connect_lazy_with(database.options.clone())
}

/// The whole HTTP surface: probes at the root, the API under `/api/v1`, and the middleware.
///
/// Middleware, outermost first: the security headers (on every response, errors included);
/// the request id (`request_id`: drop an unusable client id, set
/// one if missing, copy it to the response); the metrics (count and time, by route template);
/// the request span and its log line; the error
/// envelope; CORS; panics to 500; the request timeout. Inside, on the API's routes only: the
/// rate limits (`rate_limit`, applied in `routes::all`, their tables added here as a request
/// extension). The OpenAPI document is built from the same routers.
pub fn router(state: AppState, config: &Config, limits: Arc<RateLimits>, metrics: Arc<Metrics>) -> Router {
    let (routes, collected) = routes::all().split_for_parts();
    let document = openapi::to_json(&openapi::complete(collected));
    let middleware = ServiceBuilder::new()
        .layer(from_fn_with_state(Hsts(config.server.behind_tls), security_headers::add))
        .layer(request_id::layer())
        .layer(from_fn_with_state(metrics, metrics::track))
        .layer(from_fn(telemetry::trace_request))
        .layer(from_fn(error::envelope))
        .layer(cors_layer(&config.cors))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, config.server.request_timeout));
    routes
        .layer(Extension(routes::openapi::Document(document.into())))
        .layer(Extension(limits))
        .layer(DefaultBodyLimit::max(config.server.max_body_bytes))
        .layer(middleware)
        .with_state(state)
}

/// A panic becomes a plain 500, which the envelope turns into the error shape. The panic's
/// message is not logged: it could hold any value the code was handling.
fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// Allowed origins only; JSON bodies and bearer tokens need `Content-Type` and
/// `Authorization` in the allowed headers, and clients may read `X-Request-ID`.
fn cors_layer(cors: &CorsConfig) -> CorsLayer {
    let origins = match cors {
        CorsConfig::Origins(list) => AllowOrigin::list(list.iter().cloned()),
        // Development only: `Config` refuses a wildcard when APP_ENV=production.
        CorsConfig::AnyOriginInDevelopment => AllowOrigin::any(), // xtask-lint: allow(cors-no-wildcard)
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([CONTENT_TYPE, AUTHORIZATION, REQUEST_ID_HEADER.clone()])
        .expose_headers([REQUEST_ID_HEADER.clone()])
        .max_age(std::time::Duration::from_secs(600))
}

/// Completes on SIGTERM (what `docker stop` sends) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!(signal = "SIGINT", "shutting down"),
        () = terminate => tracing::info!(signal = "SIGTERM", "shutting down"),
    }
}

//! Wiring: the pool, the router and its middleware, the listener, graceful shutdown, and the
//! embedded migrations.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{Method, StatusCode};
use axum::middleware::from_fn;
use axum::response::{IntoResponse, Response};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use crate::auth::password;
use crate::auth::token::Tokens;
use crate::config::{Config, CorsConfig, DatabaseConfig};
use crate::request_id::{self, REQUEST_ID_HEADER};
use crate::state::AppState;
use crate::{error, input, routes, telemetry};

/// The migrations in `app/migrations`, compiled into the binary (`app migrate` applies them).
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The service, bound to its port but not yet serving.
pub struct Application {
    listener: TcpListener,
    router: Router,
    pool: PgPool,
    port: u16,
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
        let router = router(state, &config);
        let listener = TcpListener::bind(SocketAddr::new(config.server.host, config.server.port)).await?;
        let port = listener.local_addr()?.port();
        // Pay for the login timing guard now, not on the first login.
        tokio::task::spawn_blocking(password::warm_up);
        Ok(Application { listener, router, pool, port })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or Ctrl-C, then finishes the requests in flight and closes the pool.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes (tests pass their own signal).
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        axum::serve(self.listener, self.router).with_graceful_shutdown(shutdown).await?;
        self.pool.close().await;
        Ok(())
    }
}

/// A lazy pool with an explicit acquire timeout (sqlx's default, 30 s, is longer than any
/// health check or client would wait).
pub fn connection_pool(database: &DatabaseConfig) -> PgPool {
    PgPoolOptions::new()
        .max_connections(database.max_connections)
        .acquire_timeout(database.acquire_timeout)
        .connect_lazy_with(database.options.clone())
}

/// Applies the embedded migrations; safe to run twice and concurrently (sqlx takes an
/// advisory lock and skips what is applied).
pub async fn migrate(database: &DatabaseConfig) -> Result<usize, sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(database.acquire_timeout)
        .connect_with(database.options.clone())
        .await?;
    MIGRATOR.run(&pool).await?;
    pool.close().await;
    Ok(MIGRATOR.iter().count())
}

/// The whole HTTP surface: probes at the root, the API under `/api/v1`, and the middleware.
///
/// Middleware, outermost first: the request id (`request_id`: drop an unusable client id, set
/// one if missing, copy it to the response); the request span and its log line; the error
/// envelope; CORS; panics to 500; the request timeout.
pub fn router(state: AppState, config: &Config) -> Router {
    let api =
        Router::new().merge(routes::users::router()).merge(routes::auth::router()).merge(routes::merchants::router());
    let middleware = ServiceBuilder::new()
        .layer(request_id::layer())
        .layer(from_fn(telemetry::trace_request))
        .layer(from_fn(error::envelope))
        .layer(cors_layer(&config.cors))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, config.server.request_timeout));
    Router::new()
        .merge(routes::health::router())
        .nest("/api/v1", api)
        .layer(DefaultBodyLimit::max(input::MAX_BODY_BYTES))
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

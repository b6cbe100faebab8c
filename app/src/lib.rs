//! ClickNBack: a cashback demo API (users, login, merchants) on axum, tokio and PostgreSQL.
//!
//! Where things are: `main.rs` parses the command line (`serve | migrate | healthcheck | openapi`);
//! `config` reads and validates the environment; `startup` builds the application (pool,
//! router, middleware, listener); `routes` has one module per resource (`routes::health`
//! defines the probe paths); `input` reads request bodies into the `domain` types (an email, a
//! name, a cashback rate); `auth` verifies passwords and tokens; `request_id` is the
//! `X-Request-ID` header and its middleware; `error` is the one error type and response shape;
//! `rate_limit` holds clients to their request rates; `security_headers` are the headers every
//! response gets; `schema` holds the embedded migrations, applies them and tells whether the
//! database has them (readiness); `metrics` is `GET /metrics` on its own listener; `openapi` is
//! the API's OpenAPI document; `telemetry` is the JSON logging; `healthcheck` is the container
//! probe.

pub mod auth;
pub mod cashback;
pub mod config;
pub mod domain;
pub mod error;
pub mod healthcheck;
pub mod input;
pub mod metrics;
pub mod openapi;
pub mod rate_limit;
pub mod request_id;
pub mod routes;
pub mod schema;
pub mod security_headers;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use cashback::cashback_cents;
pub use config::Config;
pub use schema::MIGRATOR;
pub use startup::Application;

//! One module per resource; each exposes `router()` with paths relative to where [`all`]
//! mounts it (`/health/…` at the root, the API under `/api/v1`). Handlers carry their OpenAPI
//! operation (`#[utoipa::path]`), and the routers collect it as they route them: the document
//! (`crate::openapi`) lists exactly the routes that are served.

pub mod auth;
pub mod health;
pub mod merchants;
pub mod openapi;
pub mod users;

use axum::middleware::from_fn;
use utoipa_axum::router::OpenApiRouter;

use crate::rate_limit;
use crate::state::AppState;

/// Where the versioned API is mounted.
pub const API_PREFIX: &str = "/api/v1";

/// Every route, with its operation: login and registration count against the strict rate
/// limit, every API route against the looser one; the probes against none. Needs no runtime
/// settings: the limits' tables reach the middleware as a request extension (`Arc<RateLimits>`,
/// added by `crate::startup::router`), so the OpenAPI document is built from this same table.
pub fn all() -> OpenApiRouter<AppState> {
    let auth = OpenApiRouter::new().merge(users::router()).merge(auth::router()).route_layer(from_fn(rate_limit::auth));
    let api = OpenApiRouter::new()
        .merge(auth)
        .merge(merchants::router())
        .merge(openapi::router())
        .route_layer(from_fn(rate_limit::api));
    OpenApiRouter::new().merge(health::router()).nest(API_PREFIX, api)
}

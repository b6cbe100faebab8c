//! What every handler can reach: the database pool and the token keys.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use sqlx::PgPool;

use crate::auth::token::Tokens;

#[derive(Debug, Clone)]
pub struct AppState {
    /// Lazy: the service starts (and `/health/live` answers) while the database is down.
    pub pool: PgPool,
    pub tokens: Arc<Tokens>,
    /// How long `/health/ready` waits for its check (a pooled connection, then the schema's
    /// migrations against this binary's, `schema::check`) before answering 503.
    pub readiness_timeout: Duration,
}

/// The token keys, for the `auth` extractors.
impl FromRef<AppState> for Arc<Tokens> {
    fn from_ref(state: &AppState) -> Self {
        state.tokens.clone()
    }
}

//! `POST /api/v1/auth/login`: email and password for a bearer token.

use axum::Json;
use axum::extract::State;
use secrecy::SecretString;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{Role, password};
use crate::domain::Email;
use crate::error::{ApiError, ErrorBody};
use crate::input::{Body, request_body};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login))
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send it as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    #[schema(value_type = String, examples("bearer"))]
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

#[derive(sqlx::FromRow)]
struct Credentials {
    id: Uuid,
    password_hash: String,
    role: String,
}

request_body! {
    /// What login reads.
    pub struct Login {
        // Any string, compared trimmed and lower-cased: an invalid email is a 401, like an
        // unknown one.
        email: String,
        #[schema(value_type = String)]
        password: SecretString,
    }
}

/// Exchange an email and password for a bearer token.
#[utoipa::path(
    post,
    path = "/auth/login",
    operation_id = "login",
    tag = "auth",
    request_body = Login,
    responses(
        (status = OK, description = "A bearer token", body = TokenResponse),
        (status = UNAUTHORIZED, description = "Unknown email or wrong password (`invalid_credentials`)", body = ErrorBody),
    )
)]
async fn login(
    State(state): State<AppState>,
    Body(Login { email, password }): Body<Login>,
) -> Result<Json<TokenResponse>, ApiError> {
    // No stored email holds a NUL (registration refuses it), and PostgreSQL refuses one in a
    // text parameter: such an email is unknown, not a server error (found by the contract test).
    let found = if email.contains('\0') {
        None
    } else {
        sqlx::query_as::<_, Credentials>("SELECT id, password_hash, role FROM users WHERE email = $1")
            .bind(Email::normalize(&email))
            .fetch_optional(&state.pool)
            .await?
    };
    let (user, stored_hash) = match found {
        Some(c) => (Some((c.id, c.role)), Some(SecretString::from(c.password_hash))),
        None => (None, None),
    };
    // Always verifies (against a dummy hash for an unknown email): the same answer, in about
    // the same time, whether the email or the password was wrong.
    let matches = password::verify(password, stored_hash).await?;
    let Some((id, role)) = user.filter(|_| matches) else {
        tracing::info!("login refused");
        return Err(ApiError::InvalidCredentials);
    };
    let role: Role = role.parse().map_err(ApiError::internal)?;
    tracing::info!(user_id = %id, "login succeeded");
    Ok(Json(TokenResponse {
        access_token: state.tokens.issue(id, role),
        token_type: "bearer",
        expires_in: state.tokens.ttl().as_secs(),
    }))
}

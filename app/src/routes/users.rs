//! `POST /api/v1/users`: self-registration. New accounts get the `user` role; admins come
//! from the seed data or an operator.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::password;
use crate::error::{ApiError, ErrorBody};
use crate::input::{self, JsonObject};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(register))
}

/// A user as the API shows it: never the password or its hash.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    #[schema(examples("user", "admin"))]
    pub role: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// What registration reads (the document's view of the fields `register` checks).
#[derive(ToSchema)]
#[allow(dead_code, reason = "the document's view of the body: the handler reads the fields one by one")]
pub struct Registration {
    /// Stored trimmed and lower-cased.
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// Kept exactly as typed.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    /// Trimmed; 1 to 100 characters after trimming.
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\u0000]*\S[^\u0000]*$")]
    full_name: String,
}

/// Register a user (role `user`).
#[utoipa::path(
    post,
    path = "/users",
    operation_id = "registerUser",
    tag = "users",
    request_body = Registration,
    responses(
        (status = CREATED, description = "The new user", body = User),
        (status = CONFLICT, description = "The email is taken (`conflict`)", body = ErrorBody),
    )
)]
async fn register(State(state): State<AppState>, body: JsonObject) -> Result<(StatusCode, Json<User>), ApiError> {
    let mut input = body.into_input();
    let email = input.field("email", email);
    let password = input.field("password", new_password);
    let full_name = input.field("full_name", |v| input::text(v, 1, 100));
    let (Some(email), Some(password), Some(full_name)) = (email, password, full_name) else {
        return Err(input.into_error());
    };
    let password_hash = password::hash(password).await?;
    // A taken email fails on the unique constraint: 409 (see `ApiError::from`), with no
    // race between a lookup and the insert.
    let user = sqlx::query_as::<_, User>(
        "INSERT INTO users (email, password_hash, full_name) VALUES ($1, $2, $3) \
         RETURNING id, email, full_name, role, created_at",
    )
    .bind(&email)
    .bind(&password_hash)
    .bind(&full_name)
    .fetch_one(&state.pool)
    .await?;
    tracing::info!(user_id = %user.id, "user registered");
    Ok((StatusCode::CREATED, Json(user)))
}

/// Trimmed and lower-cased; one `@`, something before it, a dot in the domain, no spaces.
pub fn email(value: Value) -> Result<String, String> {
    let email = input::string(value)?.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c == '\0')
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid { Ok(email) } else { Err("must be an email address".to_owned()) }
}

/// 8 to 128 characters, kept exactly as typed (no trimming).
fn new_password(value: Value) -> Result<SecretString, String> {
    let password = input::string(value)?;
    let n = password.chars().count();
    if (8..=128).contains(&n) {
        Ok(SecretString::from(password))
    } else {
        Err("must have 8 to 128 characters".to_owned())
    }
}

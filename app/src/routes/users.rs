//! `POST /api/v1/users`: self-registration. New accounts get the `user` role; admins come
//! from the seed data or an operator.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::password;
use crate::error::ApiError;
use crate::input::{self, JsonObject};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/users", post(register))
}

/// A user as the API shows it: never the password or its hash.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

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
        && !email.chars().any(char::is_whitespace)
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

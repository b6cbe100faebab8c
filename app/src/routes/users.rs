//! `POST /api/v1/users`: self-registration. New accounts get the `user` role; admins come
//! from the seed data or an operator.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::password;
use crate::domain::{Email, Name, NewPassword};
use crate::error::{ApiError, ErrorBody};
use crate::input::{Body, request_body};
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

request_body! {
    /// What registration reads.
    pub struct Registration {
        /// Stored trimmed and lower-cased.
        #[schema(value_type = String, format = Email, max_length = 254)]
        email: Email,
        /// Kept exactly as typed.
        #[schema(value_type = String, min_length = 8, max_length = 128)]
        password: NewPassword,
        /// Trimmed; 1 to 100 characters after trimming.
        #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$")]
        full_name: Name,
    }
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
async fn register(
    State(state): State<AppState>,
    Body(Registration { email, password, full_name }): Body<Registration>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let password_hash = password::hash(password.into_secret()).await?;
    // A taken email fails on the unique constraint: 409 (see `ApiError::from`), with no
    // race between a lookup and the insert.
    let user = sqlx::query_as::<_, User>(
        "INSERT INTO users (email, password_hash, full_name) VALUES ($1, $2, $3) \
         RETURNING id, email, full_name, role, created_at",
    )
    .bind(email.as_str())
    .bind(&password_hash)
    .bind(full_name.as_str())
    .fetch_one(&state.pool)
    .await?;
    tracing::info!(user_id = %user.id, "user registered");
    Ok((StatusCode::CREATED, Json(user)))
}

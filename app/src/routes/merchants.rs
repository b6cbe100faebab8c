//! `GET /api/v1/merchants` (any authenticated user) and `POST /api/v1/merchants` (admins).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{Admin, AuthUser};
use crate::error::{ApiError, ErrorBody};
use crate::input::{self, JsonObject};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create))
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Merchant {
    pub id: Uuid,
    pub name: String,
    /// Percent of the purchase paid back, 0 to 100 with at most two decimals.
    pub cashback_percentage: f64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Every merchant, by name.
#[utoipa::path(
    get,
    path = "/merchants",
    operation_id = "listMerchants",
    tag = "merchants",
    security(("bearer" = [])),
    responses(
        (status = OK, description = "The merchants, ordered by name", body = Vec<Merchant>),
        (status = UNAUTHORIZED, description = "No valid bearer token (`unauthenticated`)", body = ErrorBody),
    )
)]
async fn list(State(state): State<AppState>, _user: AuthUser) -> Result<Json<Vec<Merchant>>, ApiError> {
    let merchants = sqlx::query_as::<_, Merchant>(
        "SELECT id, name, cashback_percentage::float8 AS cashback_percentage, created_at FROM merchants ORDER BY name",
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(merchants))
}

/// What creating a merchant reads.
#[derive(ToSchema)]
#[allow(dead_code, reason = "the document's view of the body: the handler reads the fields one by one")]
pub struct NewMerchant {
    /// Trimmed; 1 to 100 characters after trimming; unique.
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\u0000]*\S[^\u0000]*$")]
    name: String,
    /// 0 to 100, at most two decimals.
    #[schema(minimum = 0, maximum = 100, multiple_of = 0.01)]
    cashback_percentage: f64,
}

/// Add a merchant (admins only).
#[utoipa::path(
    post,
    path = "/merchants",
    operation_id = "createMerchant",
    tag = "merchants",
    security(("bearer" = [])),
    request_body = NewMerchant,
    responses(
        (status = CREATED, description = "The new merchant", body = Merchant),
        (status = UNAUTHORIZED, description = "No valid bearer token (`unauthenticated`)", body = ErrorBody),
        (status = FORBIDDEN, description = "The user is not an admin (`forbidden`)", body = ErrorBody),
        (status = CONFLICT, description = "The name is taken (`conflict`)", body = ErrorBody),
    )
)]
async fn create(
    State(state): State<AppState>,
    Admin(admin): Admin,
    body: JsonObject,
) -> Result<(StatusCode, Json<Merchant>), ApiError> {
    let mut input = body.into_input();
    let name = input.field("name", |v| input::text(v, 1, 100));
    let percentage = input.field("cashback_percentage", cashback_percentage);
    let (Some(name), Some(percentage)) = (name, percentage) else {
        return Err(input.into_error());
    };
    let merchant = sqlx::query_as::<_, Merchant>(
        "INSERT INTO merchants (name, cashback_percentage) VALUES ($1, $2::numeric(5, 2)) \
         RETURNING id, name, cashback_percentage::float8 AS cashback_percentage, created_at",
    )
    .bind(&name)
    .bind(percentage)
    .fetch_one(&state.pool)
    .await?;
    tracing::info!(merchant_id = %merchant.id, admin_id = %admin.id, "merchant created");
    Ok((StatusCode::CREATED, Json(merchant)))
}

/// A number from 0 to 100 with at most two decimals (the column is NUMERIC(5, 2), which
/// would otherwise round silently). The decimals are those of the shortest decimal that reads
/// back as the same number, so `0.07` passes and `1e-252` does not.
pub fn cashback_percentage(value: Value) -> Result<f64, String> {
    let p = input::number(value)?;
    if !(0.0..=100.0).contains(&p) {
        return Err("must be between 0 and 100".to_owned());
    }
    if p.to_string().split_once('.').is_some_and(|(_, decimals)| decimals.len() > 2) {
        return Err("must have at most two decimals".to_owned());
    }
    Ok(p)
}

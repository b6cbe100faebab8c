//! `GET /api/v1/merchants` (any authenticated user) and `POST /api/v1/merchants` (admins).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{Admin, AuthUser};
use crate::domain::{CashbackRate, Name};
use crate::error::{ApiError, ErrorBody};
use crate::input::{Body, request_body};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create))
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Merchant {
    pub id: Uuid,
    pub name: String,
    /// Percent of the purchase paid back, 0 to 100 with at most two decimals.
    #[schema(value_type = f64)]
    #[sqlx(rename = "cashback_basis_points", try_from = "i32")]
    pub cashback_percentage: CashbackRate,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A merchant's columns as [`Merchant`] reads them (the rate exactly, in basis points).
macro_rules! merchant_columns {
    () => {
        "id, name, (cashback_percentage * 100)::int4 AS cashback_basis_points, created_at"
    };
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
    let merchants =
        sqlx::query_as::<_, Merchant>(concat!("SELECT ", merchant_columns!(), " FROM merchants ORDER BY name"))
            .fetch_all(&state.pool)
            .await?;
    Ok(Json(merchants))
}

request_body! {
    /// What creating a merchant reads.
    pub struct NewMerchant {
        /// Trimmed; 1 to 100 characters after trimming; unique.
        #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$")]
        name: Name,
        /// 0 to 100, at most two decimals.
        #[schema(value_type = f64, minimum = 0, maximum = 100, multiple_of = 0.01)]
        cashback_percentage: CashbackRate,
    }
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
    Body(NewMerchant { name, cashback_percentage }): Body<NewMerchant>,
) -> Result<(StatusCode, Json<Merchant>), ApiError> {
    let merchant = sqlx::query_as::<_, Merchant>(concat!(
        "INSERT INTO merchants (name, cashback_percentage) VALUES ($1, $2::int4 / 100.0) RETURNING ",
        merchant_columns!()
    ))
    .bind(name.as_str())
    .bind(i32::from(cashback_percentage.basis_points()))
    .fetch_one(&state.pool)
    .await?;
    tracing::info!(merchant_id = %merchant.id, admin_id = %admin.id, "merchant created");
    Ok((StatusCode::CREATED, Json(merchant)))
}

//! `GET /api/v1/merchants` (any authenticated user) and `POST /api/v1/merchants` (admins).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::{Admin, AuthUser};
use crate::error::ApiError;
use crate::input::{self, JsonObject};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/merchants", get(list).post(create))
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Merchant {
    pub id: Uuid,
    pub name: String,
    /// Percent of the purchase paid back, 0 to 100 with at most two decimals.
    pub cashback_percentage: f64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

async fn list(State(state): State<AppState>, _user: AuthUser) -> Result<Json<Vec<Merchant>>, ApiError> {
    let merchants = sqlx::query_as::<_, Merchant>(
        "SELECT id, name, cashback_percentage::float8 AS cashback_percentage, created_at FROM merchants ORDER BY name",
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(merchants))
}

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
/// would otherwise round silently).
pub fn cashback_percentage(value: Value) -> Result<f64, String> {
    let p = input::number(value)?;
    if !(0.0..=100.0).contains(&p) {
        return Err("must be between 0 and 100".to_owned());
    }
    if ((p * 100.0).round() - p * 100.0).abs() > 1e-6 {
        return Err("must have at most two decimals".to_owned());
    }
    Ok(p)
}

//! `GET /api/v1/openapi.json`: the API's OpenAPI document (built once, at start-up, by
//! `crate::openapi`).

use axum::Extension;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(document))
}

/// The document as served, added to the router as an extension once it is complete.
#[derive(Clone)]
pub struct Document(pub axum::body::Bytes);

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapiDocument",
    tag = "meta",
    responses((status = OK, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
async fn document(Extension(Document(json)): Extension<Document>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], json)
}

//! One error type for the API, and one shape for every 4xx and 5xx response:
//!
//! ```json
//! {"code": "validation_error", "message": "invalid input: email, password", "request_id": "…",
//!  "details": [{"field": "email", "message": "is not an email address"}]}
//! ```
//!
//! `details` appears only on validation errors. Handlers return [`ApiError`]; the [`envelope`]
//! middleware adds the request id, and also reshapes the errors the framework writes itself
//! (unknown route, wrong method, timeout, panic) so that clients meet a single format.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::request_id;

/// The body of every error response.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// Stable, machine-readable: clients branch on this, never on `message`.
    #[schema(value_type = String, examples("validation_error", "unauthenticated", "rate_limited"))]
    pub code: &'static str,
    /// For people; may change.
    pub message: String,
    /// The `X-Request-ID` of the request, to find its log lines.
    pub request_id: String,
    /// Validation errors only: every invalid field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, nullable = false)]
    pub details: Option<Vec<FieldError>>,
}

/// One invalid input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    #[schema(value_type = String)]
    pub field: &'static str,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 422: the body is JSON but some fields are missing or invalid (all are listed).
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// 400, 413 or 415: the body cannot be read as a JSON object.
    #[error("{message}")]
    BadRequest { status: StatusCode, message: String },
    /// 401 on login: the same answer for an unknown email and a wrong password.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// 401: no bearer token, or one that is malformed, forged or expired.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// 403: authenticated, but the role does not allow it.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 409: the request conflicts with stored data (a database constraint refused it).
    #[error("{0}")]
    Conflict(String),
    /// 429: over a rate limit; `Retry-After` says when to come back.
    #[error("too many requests: retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// 500: logged with its cause; the client gets a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest { status, .. } => *status,
            ApiError::InvalidCredentials | ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn body(&self) -> ErrorBody {
        let (code, message, details) = match self {
            ApiError::Validation(fields) => {
                let names: Vec<&str> = fields.iter().map(|f| f.field).collect();
                ("validation_error", format!("invalid input: {}", names.join(", ")), Some(fields.clone()))
            }
            ApiError::BadRequest { status, message } => (code_for_status(*status), message.clone(), None),
            ApiError::InvalidCredentials => ("invalid_credentials", self.to_string(), None),
            ApiError::Unauthenticated(_) => ("unauthenticated", self.to_string(), None),
            ApiError::Forbidden(_) => ("forbidden", self.to_string(), None),
            ApiError::Conflict(_) => ("conflict", self.to_string(), None),
            ApiError::RateLimited { .. } => ("rate_limited", self.to_string(), None),
            ApiError::Internal(_) => ("internal_error", "internal server error".to_owned(), None),
        };
        ErrorBody { code, message, request_id: String::new(), details }
    }
}

/// Constraint violations are the database refusing the data: 409, with a message for the
/// constraints a client can run into. Anything else from the database is a 500.
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error
            && !matches!(db.kind(), sqlx::error::ErrorKind::Other)
        {
            let message = match db.constraint() {
                Some("users_email_key") => "a user with this email already exists",
                Some("merchants_name_key") => "a merchant with this name already exists",
                _ => "the request conflicts with existing data",
            };
            return ApiError::Conflict(message.to_owned());
        }
        ApiError::internal(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            // Inside the request span, so the line carries the request id.
            tracing::error!(error = %cause, "internal error");
        }
        let status = self.status();
        let body = self.body();
        let mut response = (status, axum::Json(&body)).into_response();
        if matches!(self, ApiError::InvalidCredentials | ApiError::Unauthenticated(_)) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::RateLimited { retry_after_secs } = &self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        response.extensions_mut().insert(body);
        response
    }
}

/// A stable code for the errors the framework writes itself.
fn code_for_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "validation_error",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        s if s.is_server_error() => "internal_error",
        _ => "error",
    }
}

fn message_for_status(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "no route for this path".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed for this path".to_owned(),
        StatusCode::REQUEST_TIMEOUT => "the request took too long".to_owned(),
        s if s.is_server_error() => "internal server error".to_owned(),
        s => s.canonical_reason().unwrap_or("error").to_lowercase(),
    }
}

/// Middleware: every 4xx/5xx leaves in the [`ErrorBody`] shape, with the request id.
///
/// A JSON error body that did not come from [`ApiError`] was written on purpose and is kept
/// (the readiness probe's `{"status":"unavailable"}`); any other error body (plain text or
/// empty, from axum or tower-http) is replaced.
pub async fn envelope(request: Request, next: Next) -> Response {
    let request_id = request_id::of(&request);
    let mut response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let mut body = match response.extensions_mut().remove::<ErrorBody>() {
        Some(body) => body,
        None if is_json(&response) => return response,
        None => {
            if status.is_server_error() {
                tracing::error!(status = status.as_u16(), "request failed outside a handler");
            }
            ErrorBody {
                code: code_for_status(status),
                message: message_for_status(status),
                request_id: String::new(),
                details: None,
            }
        }
    };
    body.request_id = request_id;
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"code\":\"internal_error\"}".to_vec());
    Response::from_parts(parts, Body::from(bytes))
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::{code_for_status, message_for_status};

    /// Clients switch on `code`: each status the framework or a middleware may answer with
    /// keeps its code and message (the handlers' own errors have theirs in `ApiError`).
    #[test]
    fn the_frameworks_errors_keep_their_stable_codes() {
        let table = [
            (400, "bad_request", "bad request"),
            (401, "unauthenticated", "unauthorized"),
            (403, "forbidden", "forbidden"),
            (404, "not_found", "no route for this path"),
            (405, "method_not_allowed", "method not allowed for this path"),
            (408, "timeout", "the request took too long"),
            (413, "payload_too_large", "payload too large"),
            (415, "unsupported_media_type", "unsupported media type"),
            (422, "validation_error", "unprocessable entity"),
            (429, "rate_limited", "too many requests"),
            (500, "internal_error", "internal server error"),
            (503, "internal_error", "internal server error"),
            (418, "error", "i'm a teapot"),
        ];
        for (status, code, message) in table {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!((code_for_status(status), message_for_status(status).as_str()), (code, message), "{status}");
        }
    }
}

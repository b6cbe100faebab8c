//! Request bodies: a JSON object whose fields are checked one by one, so that a 422 lists
//! every missing or invalid field at once instead of stopping at the first.

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::error::{ApiError, FieldError};

/// Extractor: the body as a JSON object (`Content-Type: application/json`). No `Debug`: the
/// body may hold a password.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<Value>::from_request(request, state).await {
            Ok(Json(Value::Object(map))) => Ok(JsonObject(map)),
            Ok(Json(_)) => Err(ApiError::BadRequest {
                status: StatusCode::BAD_REQUEST,
                message: "the body must be a JSON object".to_owned(),
            }),
            // Missing content type (415), too large (413), not JSON (400). The rejection's text
            // describes the syntax error and its position, never the body's content.
            Err(rejection) => Err(ApiError::BadRequest { status: rejection.status(), message: rejection.body_text() }),
        }
    }
}

impl JsonObject {
    pub fn into_input(self) -> Input {
        Input { fields: self.0, errors: Vec::new() }
    }
}

/// Fields taken out of a JSON object, with the problems found so far (no `Debug`, as above).
pub struct Input {
    fields: Map<String, Value>,
    errors: Vec<FieldError>,
}

impl Input {
    /// A required field, checked by `check` (which says what is wrong in a few words). A
    /// missing or `null` field is reported as required; `None` means the field was invalid.
    pub fn field<T>(&mut self, name: &'static str, check: impl FnOnce(Value) -> Result<T, String>) -> Option<T> {
        let result = match self.fields.remove(name) {
            None | Some(Value::Null) => Err("is required".to_owned()),
            Some(value) => check(value),
        };
        result.map_err(|message| self.errors.push(FieldError { field: name, message })).ok()
    }

    /// The 422 listing every problem found (call it when a field came back `None`).
    pub fn into_error(self) -> ApiError {
        ApiError::Validation(self.errors)
    }
}

/// A JSON string, as is.
pub fn string(value: Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s),
        _ => Err("must be a string".to_owned()),
    }
}

/// A JSON string, trimmed, with `min..=max` characters and no NUL (PostgreSQL's text cannot
/// hold one).
pub fn text(value: Value, min: usize, max: usize) -> Result<String, String> {
    let s = string(value)?;
    if s.contains('\0') {
        return Err(NUL.to_owned());
    }
    let s = s.trim();
    let n = s.chars().count();
    if n < min || n > max {
        return Err(format!("must have {min} to {max} characters"));
    }
    Ok(s.to_owned())
}

/// Why a string with a NUL character is refused.
pub const NUL: &str = "must not contain NUL characters";

/// A JSON number.
pub fn number(value: Value) -> Result<f64, String> {
    value.as_f64().filter(|n| n.is_finite()).ok_or_else(|| "must be a number".to_owned())
}

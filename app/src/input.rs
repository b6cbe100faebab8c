//! Request bodies: a JSON object whose fields are parsed one by one into their types (the
//! domain's, `crate::domain`), so that a 422 lists every missing or invalid field at once
//! instead of stopping at the first.
//!
//! A body is one type, declared with `request_body!`: the struct the handler receives
//! (through the [`Body`] extractor) is also the schema the OpenAPI document shows.

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::error::{ApiError, FieldError};

/// A value a body's field parses into; `Err` says what is wrong in a few words.
pub trait FromJson: Sized {
    fn from_json(value: Value) -> Result<Self, String>;
}

/// Any JSON string, as is.
impl FromJson for String {
    fn from_json(value: Value) -> Result<Self, String> {
        match value {
            Value::String(s) => Ok(s),
            _ => Err("must be a string".to_owned()),
        }
    }
}

/// Any JSON string, kept secret (a password to check, not to store).
impl FromJson for SecretString {
    fn from_json(value: Value) -> Result<Self, String> {
        String::from_json(value).map(SecretString::from)
    }
}

/// A JSON number.
pub fn number(value: Value) -> Result<f64, String> {
    value.as_f64().filter(|n| n.is_finite()).ok_or_else(|| "must be a number".to_owned())
}

/// The fields of a body's JSON object, with the problems found so far (no `Debug`: the body
/// may hold a password).
pub struct Fields {
    fields: Map<String, Value>,
    errors: Vec<FieldError>,
}

impl Fields {
    /// A required field, parsed. A missing or `null` field is reported as required; `None`
    /// means the field was missing or invalid (the problem is kept for the 422).
    pub fn take<T: FromJson>(&mut self, name: &'static str) -> Option<T> {
        let result = match self.fields.remove(name) {
            None | Some(Value::Null) => Err("is required".to_owned()),
            Some(value) => T::from_json(value),
        };
        result.map_err(|message| self.errors.push(FieldError { field: name, message })).ok()
    }
}

/// A body read field by field (implemented by `request_body!`): `None` when any field was
/// missing or invalid, every field having been tried.
pub trait FromFields: Sized {
    fn from_fields(fields: &mut Fields) -> Option<Self>;
}

/// Extractor: the body (`Content-Type: application/json`, a JSON object) parsed into `T`.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: FromFields> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let fields = match Json::<Value>::from_request(request, state).await {
            Ok(Json(Value::Object(map))) => map,
            Ok(Json(_)) => {
                return Err(ApiError::BadRequest {
                    status: StatusCode::BAD_REQUEST,
                    message: "the body must be a JSON object".to_owned(),
                });
            }
            // Missing content type (415), too large (413), not JSON (400). The rejection's text
            // describes the syntax error and its position, never the body's content.
            Err(rejection) => {
                return Err(ApiError::BadRequest { status: rejection.status(), message: rejection.body_text() });
            }
        };
        let mut fields = Fields { fields, errors: Vec::new() };
        T::from_fields(&mut fields).map(Body).ok_or(ApiError::Validation(fields.errors))
    }
}

/// Declares a request body: the struct (deriving `utoipa::ToSchema`, so its field attributes
/// and doc comments describe it in the OpenAPI document) and its [`FromFields`], which takes
/// every field by its name, in order, each parsed by its type's [`FromJson`].
macro_rules! request_body {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$field_meta:meta])* $field_vis:vis $field:ident: $type:ty ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(utoipa::ToSchema)]
        $vis struct $name {
            $( $(#[$field_meta])* $field_vis $field: $type ),+
        }

        impl $crate::input::FromFields for $name {
            fn from_fields(fields: &mut $crate::input::Fields) -> Option<Self> {
                $( let $field = fields.take(stringify!($field)); )+
                Some($name { $( $field: $field? ),+ })
            }
        }
    };
}
pub(crate) use request_body;

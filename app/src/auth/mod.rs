//! Who is calling: roles, and the extractors that turn a bearer token into a user.
//!
//! A handler that takes [`AuthUser`] answers 401 without a valid token; one that takes
//! [`Admin`] also answers 403 for a non-admin, before its body is even read.

pub mod password;
pub mod token;

use std::str::FromStr;

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use self::token::Tokens;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "user" => Ok(Role::User),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role `{other}`")),
        }
    }
}

/// The authenticated caller, from `Authorization: Bearer <token>`, checked with the token keys
/// of any state that has them (`crate::state::AppState` does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthUser {
    pub id: Uuid,
    pub role: Role,
}

impl<S: Send + Sync> FromRequestParts<S> for AuthUser
where
    Arc<Tokens>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        let token = header
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or(ApiError::Unauthenticated("a bearer token is required"))?;
        let claims = Arc::<Tokens>::from_ref(state).verify(token).map_err(|e| {
            tracing::debug!(reason = %e, "token refused");
            ApiError::Unauthenticated("invalid or expired token")
        })?;
        Ok(AuthUser { id: claims.sub, role: claims.role })
    }
}

/// An authenticated caller with the admin role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admin(pub AuthUser);

impl<S: Send + Sync> FromRequestParts<S> for Admin
where
    Arc<Tokens>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if user.role == Role::Admin { Ok(Admin(user)) } else { Err(ApiError::Forbidden("admin role required")) }
    }
}

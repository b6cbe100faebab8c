//! One module per resource; each exposes `router()` with paths relative to where
//! `startup::router` mounts it (`/health/…` at the root, the API under `/api/v1`).

pub mod auth;
pub mod health;
pub mod merchants;
pub mod users;

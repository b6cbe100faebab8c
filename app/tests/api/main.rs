//! The API's tests, against a real PostgreSQL server (`DATABASE_URL`; `cargo xtask test`
//! provides one). One binary for all of them, so they link once.

mod alert_rules;
mod auth;
mod config;
mod contract;
mod edge_proxy;
mod health;
mod helpers;
mod http;
mod merchants;
mod metrics;
mod openapi;
mod rate_limit;
mod runtime;
mod security_headers;
mod seeds;
mod stack;
mod uptime;
mod users;

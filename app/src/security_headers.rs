//! Security headers on every response, errors and probes included (OWASP's REST guidance for a
//! JSON API): no MIME sniffing, no framing, no referrer, a CSP that allows nothing (a JSON API
//! loads no scripts, styles or frames), and `Cache-Control: no-store` so no proxy or browser
//! keeps a token or an account in its cache. `Strict-Transport-Security` only when the service
//! is told it is reached over TLS (`BEHIND_TLS=true`): sent over plain HTTP it would be
//! meaningless at best, and a trap on a development host at worst.

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderName, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::middleware::Next;
use axum::response::Response;

/// The headers every response gets, in the order they are set.
pub const ALWAYS: [(HeaderName, &str); 5] = [
    (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (X_FRAME_OPTIONS, "DENY"),
    (REFERRER_POLICY, "no-referrer"),
    (CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'"),
    (CACHE_CONTROL, "no-store"),
];

/// Two years, subdomains included: what the HSTS preload list asks for.
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Whether `Strict-Transport-Security` is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hsts(pub bool);

/// Adds the headers a handler did not set itself.
pub async fn add(State(hsts): State<Hsts>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in &ALWAYS {
        if !headers.contains_key(name) {
            headers.insert(name.clone(), HeaderValue::from_static(value));
        }
    }
    if hsts.0 {
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    response
}

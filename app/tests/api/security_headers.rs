//! Every response carries the security headers: successes, errors, probes, CORS preflights
//! and the auth endpoints; `Strict-Transport-Security` only when the service is behind TLS.

use reqwest::{Method, Response};
use serde_json::json;

use crate::helpers::{ALLOWED_ORIGIN, TestDb, client, spawn, spawn_app, test_config};

const EXPECTED: [(&str, &str); 5] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
    ("cache-control", "no-store"),
];

fn assert_secured(response: &Response, what: &str) {
    for (name, value) in EXPECTED {
        let got = response.headers().get(name).map(|v| v.to_str().unwrap());
        assert_eq!(got, Some(value), "{what}: {name}");
    }
}

#[tokio::test]
async fn every_kind_of_response_carries_the_security_headers_and_no_hsts_on_plain_http() {
    let app = spawn_app().await;
    let token = app.user_token("ann@example.com").await;
    let login = app.login("ann@example.com", "password123").await;
    let responses = [
        ("liveness", app.get("/health/live", None).await),
        ("readiness", app.get("/health/ready", None).await),
        ("login (an auth response)", login),
        ("a failed login", app.login("ann@example.com", "wrong-password").await),
        ("an authenticated read", app.get("/api/v1/merchants", Some(&token)).await),
        ("no token", app.get("/api/v1/merchants", None).await),
        ("unknown route", app.get("/api/v1/nowhere", None).await),
        ("invalid body", app.post("/api/v1/users", &json!({"email": "x"}), None).await),
        (
            "CORS preflight",
            app.client
                .request(Method::OPTIONS, app.url("/api/v1/merchants"))
                .header("origin", ALLOWED_ORIGIN)
                .header("access-control-request-method", "GET")
                .send()
                .await
                .unwrap(),
        ),
    ];
    let statuses: Vec<u16> = responses.iter().map(|(_, r)| r.status().as_u16()).collect();
    assert_eq!(statuses, [200, 200, 200, 401, 200, 401, 404, 422, 200], "the responses are the kinds named");
    for (what, response) in &responses {
        assert_secured(response, what);
        assert!(response.headers().get("strict-transport-security").is_none(), "{what}: HSTS on plain HTTP");
    }
}

#[tokio::test]
async fn behind_tls_responses_carry_hsts() {
    let db = TestDb::migrated().await;
    let mut config = test_config(&db);
    config.server.behind_tls = true;
    let address = spawn(config).await;
    let client = client();

    for path in ["/health/live", "/api/v1/nowhere"] {
        let response = client.get(format!("{address}{path}")).send().await.unwrap();
        assert_secured(&response, path);
        let hsts = response.headers().get("strict-transport-security").map(|v| v.to_str().unwrap());
        assert_eq!(hsts, Some("max-age=63072000; includeSubDomains"), "{path}");
    }
}

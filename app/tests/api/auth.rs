//! `POST /api/v1/auth/login` and bearer tokens.

use serde_json::{Value, json};

use crate::helpers::{error_body, spawn_app};

#[tokio::test]
async fn login_returns_bearer_token_on_valid_credentials() {
    let app = spawn_app().await;
    assert_eq!(app.register("ann@example.com", "password123").await.status(), 201);

    let response = app.login("ANN@example.com", "password123").await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 1800);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3);
    assert_eq!(app.get("/api/v1/merchants", Some(token)).await.status(), 200);
}

#[tokio::test]
async fn login_answers_same_401_on_wrong_email_or_password() {
    let app = spawn_app().await;
    assert_eq!(app.register("ann@example.com", "password123").await.status(), 201);

    let wrong_password = app.login("ann@example.com", "password124").await;
    let wrong_email = app.login("bob@example.com", "password123").await;

    assert_eq!(wrong_password.headers()["www-authenticate"], "Bearer");
    let a = error_body(wrong_password, 401, "invalid_credentials").await;
    let b = error_body(wrong_email, 401, "invalid_credentials").await;
    assert_eq!(a["message"], "invalid email or password");
    assert_eq!(a["message"], b["message"]);
}

/// Found by the contract test (another seed): PostgreSQL refuses a NUL in a text parameter,
/// and the login answered 500.
#[tokio::test]
async fn login_with_a_nul_in_the_email_is_an_unknown_email() {
    let app = spawn_app().await;

    let response = app.login("ann\u{0}@example.com", "password123").await;

    let body = error_body(response, 401, "invalid_credentials").await;
    assert_eq!(body["message"], "invalid email or password");
}

#[tokio::test]
async fn login_lists_missing_fields_on_empty_body() {
    let app = spawn_app().await;

    let response = app.post("/api/v1/auth/login", &json!({}), None).await;

    let body = error_body(response, 422, "validation_error").await;
    assert_eq!(body["message"], "invalid input: email, password");
}

#[tokio::test]
async fn protected_route_answers_401_on_missing_or_bad_token() {
    let app = spawn_app().await;
    let token = app.user_token("ann@example.com").await;
    let (head, rest) = token.split_once('.').unwrap();
    let tampered = format!("{head}.{}x", rest);

    let missing = app.get("/api/v1/merchants", None).await;
    let garbage = app.get("/api/v1/merchants", Some("not-a-token")).await;
    let forged = app.get("/api/v1/merchants", Some(&tampered)).await;
    let basic = app.client.get(app.url("/api/v1/merchants")).basic_auth("ann", Some("pw")).send().await.unwrap();

    let body = error_body(missing, 401, "unauthenticated").await;
    assert_eq!(body["message"], "a bearer token is required");
    let body = error_body(garbage, 401, "unauthenticated").await;
    assert_eq!(body["message"], "invalid or expired token");
    error_body(forged, 401, "unauthenticated").await;
    error_body(basic, 401, "unauthenticated").await;
}

//! `POST /api/v1/users`.

use serde_json::{Value, json};

use crate::helpers::{error_body, spawn_app};

#[tokio::test]
async fn register_creates_user_on_valid_input() {
    let app = spawn_app().await;

    let response = app
        .post(
            "/api/v1/users",
            &json!({"email": " Ann@Example.COM ", "password": "password123", "full_name": "Ann"}),
            None,
        )
        .await;

    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["email"], "ann@example.com");
    assert_eq!(body["full_name"], "Ann");
    assert_eq!(body["role"], "user");
    assert!(uuid::Uuid::parse_str(body["id"].as_str().unwrap()).is_ok());
    assert!(body["created_at"].as_str().is_some());
    // Never the password or its hash.
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert!(!body.to_string().contains("password123") && !body.to_string().contains("argon2"));
}

#[tokio::test]
async fn register_answers_conflict_on_taken_email() {
    let app = spawn_app().await;
    assert_eq!(app.register("ann@example.com", "password123").await.status(), 201);

    let again = app.register("ANN@example.com", "another-password").await;

    let body = error_body(again, 409, "conflict").await;
    assert_eq!(body["message"], "a user with this email already exists");
}

#[tokio::test]
async fn register_lists_every_invalid_field_on_bad_input() {
    let app = spawn_app().await;

    let response = app.post("/api/v1/users", &json!({"email": "not-an-email", "password": "short"}), None).await;

    let body = error_body(response, 422, "validation_error").await;
    assert_eq!(body["message"], "invalid input: email, password, full_name");
    assert_eq!(
        body["details"],
        json!([
            {"field": "email", "message": "must be an email address"},
            {"field": "password", "message": "must have 8 to 128 characters"},
            {"field": "full_name", "message": "is required"},
        ])
    );
}

#[tokio::test]
async fn register_refuses_wrong_types_and_empty_values() {
    let app = spawn_app().await;

    let response = app.post("/api/v1/users", &json!({"email": 42, "password": null, "full_name": "   "}), None).await;

    let body = error_body(response, 422, "validation_error").await;
    assert_eq!(
        body["details"],
        json!([
            {"field": "email", "message": "must be a string"},
            {"field": "password", "message": "is required"},
            {"field": "full_name", "message": "must have 1 to 100 characters"},
        ])
    );
}

/// Found by the contract test: PostgreSQL's text cannot hold NUL, so it was a 500.
#[tokio::test]
async fn register_refuses_nul_characters() {
    let app = crate::helpers::spawn_app().await;
    let body =
        serde_json::json!({"email": "a\u{0}b@example.com", "password": "pass\u{0}word123", "full_name": "A\u{0}B"});
    let response = app.post("/api/v1/users", &body, None).await;
    let body = crate::helpers::error_body(response, 422, "validation_error").await;
    assert_eq!(
        body["details"],
        serde_json::json!([
            {"field": "email", "message": "must be an email address"},
            {"field": "full_name", "message": "must not contain NUL characters"},
        ])
    );
}

//! What every route shares: the `/api/v1` prefix, the error shape, the request id, CORS.

use serde_json::{Value, json};

use crate::helpers::{ALLOWED_ORIGIN, error_body, spawn_app};

#[tokio::test]
async fn api_answers_under_v1_prefix_only() {
    let app = spawn_app().await;

    let prefixed = app.post("/api/v1/auth/login", &json!({"email": "a@b.co", "password": "x"}), None).await;
    let unprefixed = app.post("/auth/login", &json!({"email": "a@b.co", "password": "x"}), None).await;
    let users =
        app.post("/users", &json!({"email": "a@b.co", "password": "password123", "full_name": "A"}), None).await;

    assert_eq!(prefixed.status(), 401);
    let body = error_body(unprefixed, 404, "not_found").await;
    assert_eq!(body["message"], "no route for this path");
    error_body(users, 404, "not_found").await;
}

#[tokio::test]
async fn error_has_one_shape_on_framework_errors() {
    let app = spawn_app().await;

    let wrong_method = app.client.delete(app.url("/api/v1/merchants")).send().await.unwrap();
    let not_json = app.client.post(app.url("/api/v1/users")).body("{}").send().await.unwrap();
    let bad_json = app
        .client
        .post(app.url("/api/v1/users"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let not_object = app.post("/api/v1/users", &json!(["a"]), None).await;
    let too_large = app
        .client
        .post(app.url("/api/v1/users"))
        .header("content-type", "application/json")
        .body(format!(r#"{{"email":"{}"}}"#, "a".repeat(20_000)))
        .send()
        .await
        .unwrap();

    assert_eq!(wrong_method.headers()["allow"], "GET,HEAD,POST");
    error_body(wrong_method, 405, "method_not_allowed").await;
    error_body(not_json, 415, "unsupported_media_type").await;
    error_body(bad_json, 400, "bad_request").await;
    error_body(not_object, 400, "bad_request").await;
    error_body(too_large, 413, "payload_too_large").await;
}

#[tokio::test]
async fn request_id_is_generated_on_request_without_one() {
    let app = spawn_app().await;

    let first = app.get("/health/live", None).await;
    let second = app.get("/health/live", None).await;

    let first = first.headers()["x-request-id"].to_str().unwrap().to_owned();
    let second = second.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&first).is_ok(), "{first}");
    assert_ne!(first, second);
}

#[tokio::test]
async fn request_id_is_propagated_on_client_id() {
    let app = spawn_app().await;

    let ok = app.client.get(app.url("/health/live")).header("x-request-id", "client-id-42").send().await.unwrap();
    let error = app.client.get(app.url("/nowhere")).header("x-request-id", "client-id-43").send().await.unwrap();

    assert_eq!(ok.headers()["x-request-id"], "client-id-42");
    let body = error_body(error, 404, "not_found").await;
    assert_eq!(body["request_id"], "client-id-43");
}

#[tokio::test]
async fn request_id_is_replaced_on_unusable_client_id() {
    let app = spawn_app().await;

    let long = "x".repeat(200);
    let too_long = app.client.get(app.url("/health/live")).header("x-request-id", &long).send().await.unwrap();
    let odd = app.client.get(app.url("/health/live")).header("x-request-id", "a b\"c").send().await.unwrap();

    let replaced = too_long.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(replaced).is_ok(), "{replaced}");
    let replaced = odd.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(replaced).is_ok(), "{replaced}");
}

#[tokio::test]
async fn cors_allows_listed_origin_on_preflight_and_request() {
    let app = spawn_app().await;

    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/users"))
        .header("origin", ALLOWED_ORIGIN)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,authorization")
        .send()
        .await
        .unwrap();
    let request = app.client.get(app.url("/health/live")).header("origin", ALLOWED_ORIGIN).send().await.unwrap();

    assert!(preflight.status().is_success(), "{}", preflight.status());
    let headers = preflight.headers();
    assert_eq!(headers["access-control-allow-origin"], ALLOWED_ORIGIN);
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let allowed = headers["access-control-allow-headers"].to_str().unwrap();
    assert!(allowed.contains("content-type") && allowed.contains("authorization"), "{allowed}");
    assert_eq!(request.headers()["access-control-allow-origin"], ALLOWED_ORIGIN);
    assert_eq!(request.headers()["access-control-expose-headers"], "x-request-id");
}

#[tokio::test]
async fn cors_refuses_unlisted_origin() {
    let app = spawn_app().await;

    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/users"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    let request =
        app.client.get(app.url("/health/live")).header("origin", "https://evil.example").send().await.unwrap();

    // No allow-origin header: the browser refuses to hand the response to the page.
    assert!(preflight.headers().get("access-control-allow-origin").is_none());
    assert!(request.headers().get("access-control-allow-origin").is_none());
    assert_eq!(request.json::<Value>().await.unwrap(), json!({"status": "alive"}));
}

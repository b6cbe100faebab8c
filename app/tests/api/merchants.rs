//! `GET` and `POST /api/v1/merchants`.

use serde_json::{Value, json};

use crate::helpers::{error_body, spawn_app};

#[tokio::test]
async fn merchant_is_created_on_admin_request() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;

    let response =
        app.post("/api/v1/merchants", &json!({"name": "Acme", "cashback_percentage": 2.5}), Some(&admin)).await;

    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["name"], "Acme");
    assert_eq!(body["cashback_percentage"], 2.5);
    let user = app.user_token("ann@example.com").await;
    let list: Value = app.get("/api/v1/merchants", Some(&user)).await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "Acme");
}

#[tokio::test]
async fn merchant_is_refused_403_on_non_admin_request() {
    let app = spawn_app().await;
    let user = app.user_token("ann@example.com").await;

    let response =
        app.post("/api/v1/merchants", &json!({"name": "Acme", "cashback_percentage": 2.5}), Some(&user)).await;
    // 403 comes before the body is read: even an invalid body gets 403, not 422.
    let invalid = app.post("/api/v1/merchants", &json!({}), Some(&user)).await;

    let body = error_body(response, 403, "forbidden").await;
    assert_eq!(body["message"], "admin role required");
    error_body(invalid, 403, "forbidden").await;
}

#[tokio::test]
async fn merchant_is_refused_401_on_anonymous_request() {
    let app = spawn_app().await;

    let response = app.post("/api/v1/merchants", &json!({"name": "Acme", "cashback_percentage": 2.5}), None).await;

    error_body(response, 401, "unauthenticated").await;
}

#[tokio::test]
async fn merchant_percentage_is_checked_on_bounds() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;

    let zero = app.post("/api/v1/merchants", &json!({"name": "Zero", "cashback_percentage": 0}), Some(&admin)).await;
    let hundred =
        app.post("/api/v1/merchants", &json!({"name": "All", "cashback_percentage": 100}), Some(&admin)).await;
    let above =
        app.post("/api/v1/merchants", &json!({"name": "Above", "cashback_percentage": 100.01}), Some(&admin)).await;
    let below = app.post("/api/v1/merchants", &json!({"name": "Below", "cashback_percentage": -1}), Some(&admin)).await;
    let decimals =
        app.post("/api/v1/merchants", &json!({"name": "Fine", "cashback_percentage": 2.555}), Some(&admin)).await;
    let text = app.post("/api/v1/merchants", &json!({"name": "", "cashback_percentage": "5"}), Some(&admin)).await;
    // Found by the contract test: a tiny number passed the old tolerance and was stored as 0.
    let tiny =
        app.post("/api/v1/merchants", &json!({"name": "Tiny", "cashback_percentage": 4.3e-252}), Some(&admin)).await;
    let cents =
        app.post("/api/v1/merchants", &json!({"name": "Cents", "cashback_percentage": 0.07}), Some(&admin)).await;
    let nul = app.post("/api/v1/merchants", &json!({"name": "A\u{0}", "cashback_percentage": 1}), Some(&admin)).await;
    // Found by the contract test (another seed): read as 100.0 by a best-effort float parse.
    let just_above = app
        .post("/api/v1/merchants", &json!({"name": "Over", "cashback_percentage": 100.00000000000001}), Some(&admin))
        .await;

    assert_eq!(zero.status(), 201);
    assert_eq!(hundred.status(), 201);
    assert_eq!(hundred.json::<Value>().await.unwrap()["cashback_percentage"], 100.0);
    let body = error_body(above, 422, "validation_error").await;
    assert_eq!(body["details"], json!([{"field": "cashback_percentage", "message": "must be between 0 and 100"}]));
    let body = error_body(just_above, 422, "validation_error").await;
    assert_eq!(body["details"], json!([{"field": "cashback_percentage", "message": "must be between 0 and 100"}]));
    error_body(below, 422, "validation_error").await;
    let body = error_body(decimals, 422, "validation_error").await;
    assert_eq!(body["details"][0]["message"], "must have at most two decimals");
    let body = error_body(text, 422, "validation_error").await;
    assert_eq!(body["message"], "invalid input: name, cashback_percentage");
    let body = error_body(tiny, 422, "validation_error").await;
    assert_eq!(body["details"][0]["message"], "must have at most two decimals");
    assert_eq!(cents.json::<Value>().await.unwrap()["cashback_percentage"], 0.07);
    let body = error_body(nul, 422, "validation_error").await;
    assert_eq!(body["details"], json!([{"field": "name", "message": "must not contain NUL characters"}]));
}

#[tokio::test]
async fn merchant_answers_conflict_on_taken_name() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let acme = json!({"name": "Acme", "cashback_percentage": 1});
    assert_eq!(app.post("/api/v1/merchants", &acme, Some(&admin)).await.status(), 201);

    let again = app.post("/api/v1/merchants", &acme, Some(&admin)).await;

    let body = error_body(again, 409, "conflict").await;
    assert_eq!(body["message"], "a merchant with this name already exists");
}

#[tokio::test]
async fn database_refuses_percentage_outside_range() {
    // The check constraint holds even for writes that bypass the API.
    let app = spawn_app().await;
    let pool = app.db.pool().await;

    let result =
        sqlx::query("INSERT INTO merchants (name, cashback_percentage) VALUES ('Direct', 150)").execute(&pool).await;

    let error = result.unwrap_err();
    let db = error.as_database_error().expect("a database error");
    assert_eq!(db.constraint(), Some("merchants_cashback_percentage_range"));
}

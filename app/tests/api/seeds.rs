//! `seeds/all.sql`: the demo admin can log in and manage merchants, and a second run changes
//! nothing.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

const SEEDS: &str = include_str!("../../seeds/all.sql");

#[tokio::test]
async fn seeds_create_working_demo_admin_on_repeated_runs() {
    let app = spawn_app().await;
    let pool = app.db.pool().await;

    sqlx::raw_sql(SEEDS).execute(&pool).await.expect("first run");
    sqlx::raw_sql(SEEDS).execute(&pool).await.expect("second run");

    let counts: (i64, i64) = sqlx::query_as("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM merchants)")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(counts, (1, 5));
    let login = app.login("admin@clicknback.com", "demo1234").await;
    assert_eq!(login.status(), 200);
    let token = login.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let created =
        app.post("/api/v1/merchants", &json!({"name": "Seeded Shop", "cashback_percentage": 4}), Some(&token)).await;
    assert_eq!(created.status(), 201);
    let list: Value = app.get("/api/v1/merchants", Some(&token)).await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 6);
}

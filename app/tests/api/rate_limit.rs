//! The rate limits on a real server: 429 in the error shape with `Retry-After`, buckets per
//! client address (from a trusted proxy's `X-Forwarded-For` only), and a table that stays
//! bounded under a flood of addresses.

use app::Application;
use app::config::Config;
use app::rate_limit::Limit;
use serde_json::json;

use crate::helpers::{TestDb, client, error_body, test_config};

fn limited(db: &TestDb, auth: u32, api: u32, trusted: &str) -> Config {
    let mut config = test_config(db);
    config.rate_limit.auth_per_minute = auth.try_into().unwrap();
    config.rate_limit.api_per_minute = api.try_into().unwrap();
    config.rate_limit.trusted_proxies =
        trusted.split(',').filter(|t| !t.is_empty()).map(|t| t.parse().unwrap()).collect();
    config
}

async fn serve(config: Config) -> (String, Application) {
    let app = Application::build(config).await.unwrap();
    (format!("http://127.0.0.1:{}", app.port()), app)
}

#[tokio::test]
async fn logins_over_the_limit_get_429_with_retry_after_and_other_routes_do_not() {
    let db = TestDb::migrated().await;
    let (address, app) = serve(limited(&db, 3, 1000, "")).await;
    tokio::spawn(app.run_until(std::future::pending()));
    let client = client();
    let login = || {
        client
            .post(format!("{address}/api/v1/auth/login"))
            .json(&json!({"email": "ann@example.com", "password": "wrong-password"}))
            .send()
    };

    for attempt in 1..=3 {
        assert_eq!(login().await.unwrap().status(), 401, "attempt {attempt} is within the limit");
    }
    let over = login().await.unwrap();
    let retry_after: u64 = over.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry_after), "3 a minute: the next in at most 20 s, not {retry_after}");
    let body = error_body(over, 429, "rate_limited").await;
    assert!(body["message"].as_str().unwrap().contains("retry in"), "{body}");
    // Registration shares the strict limit; the rest of the API and the probes do not.
    let register = client.post(format!("{address}/api/v1/users")).json(&json!({})).send().await.unwrap();
    assert_eq!(register.status(), 429);
    assert_eq!(client.get(format!("{address}/api/v1/merchants")).send().await.unwrap().status(), 401);
    assert_eq!(client.get(format!("{address}/health/live")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn switched_off_nothing_is_limited() {
    let db = TestDb::migrated().await;
    let mut config = limited(&db, 1, 1, "");
    config.rate_limit.enabled = false;
    let (address, app) = serve(config).await;
    let limits = app.rate_limits();
    tokio::spawn(app.run_until(std::future::pending()));
    let client = client();
    for attempt in 1..=3 {
        let login = client.post(format!("{address}/api/v1/auth/login")).json(&json!({})).send().await.unwrap();
        assert_eq!(login.status(), 422, "attempt {attempt}");
    }
    assert_eq!((limits.tracked(Limit::Auth), limits.tracked(Limit::Api)), (0, 0));
}

#[tokio::test]
async fn the_bucket_is_the_trusted_proxys_client_and_a_header_from_anyone_else_is_ignored() {
    let db = TestDb::migrated().await;
    let client = client();
    let get = |address: String, forwarded: &'static str| {
        client.get(format!("{address}/api/v1/merchants")).header("x-forwarded-for", forwarded).send()
    };

    // Not a trusted proxy: every request is the peer's, whatever it claims.
    let (untrusted, app) = serve(limited(&db, 10, 2, "")).await;
    tokio::spawn(app.run_until(std::future::pending()));
    let statuses = [
        get(untrusted.clone(), "203.0.113.1").await.unwrap().status(),
        get(untrusted.clone(), "203.0.113.2").await.unwrap().status(),
        get(untrusted.clone(), "203.0.113.3").await.unwrap().status(),
    ];
    assert_eq!(statuses.map(|s| s.as_u16()), [401, 401, 429]);

    // Behind a trusted proxy (this test, on 127.0.0.1): one bucket per forwarded client. A
    // client's own entry (left of the one the proxy appended) picks nothing.
    let (proxied, app) = serve(limited(&db, 10, 2, "127.0.0.1")).await;
    tokio::spawn(app.run_until(std::future::pending()));
    for forwarded in ["198.51.100.7", "1.2.3.4, 198.51.100.7"] {
        assert_eq!(get(proxied.clone(), forwarded).await.unwrap().status(), 401, "{forwarded}");
    }
    assert_eq!(get(proxied.clone(), "5.6.7.8, 198.51.100.7").await.unwrap().status(), 429);
    assert_eq!(get(proxied.clone(), "198.51.100.8").await.unwrap().status(), 401, "another client");
}

#[tokio::test]
async fn a_flood_of_addresses_keeps_the_table_bounded() {
    let db = TestDb::migrated().await;
    // One request a minute: no bucket is back at full capacity during the test, so the sweep
    // cannot drop any, and the table must start afresh to stay within its bound.
    let mut config = limited(&db, 10, 1, "127.0.0.1");
    config.rate_limit.max_clients = 100;
    let (address, app) = serve(config).await;
    let limits = app.rate_limits();
    tokio::spawn(app.run_until(std::future::pending()));
    let client = client();

    let mut most = 0;
    for i in 0..1000u32 {
        let forwarded = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
        let response = client
            .get(format!("{address}/api/v1/merchants"))
            .header("x-forwarded-for", forwarded)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "request {i}: under the limit");
        most = most.max(limits.tracked(Limit::Api));
    }
    assert!(most <= 100, "the table never held more than RATE_LIMIT_MAX_CLIENTS: {most}");
    assert!(limits.tracked(Limit::Api) > 0);
}

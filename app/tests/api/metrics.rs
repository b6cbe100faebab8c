//! `GET /metrics` on its own listener: Prometheus text with requests by route template,
//! latency, requests in flight, the pool, readiness failures, rate-limited requests and the
//! build; never on the API's port.

use app::Application;
use app::config::Config;

use crate::helpers::{TestDb, client, test_config};

pub struct Served {
    /// The API's base URL.
    pub api: String,
    /// The metrics' URL (`…/metrics`).
    pub metrics: String,
}

/// Serves `config` in the background (until the test's runtime ends).
pub async fn serve(config: Config) -> Served {
    let app = Application::build(config).await.unwrap();
    let served = Served {
        api: format!("http://127.0.0.1:{}", app.port()),
        metrics: format!("http://127.0.0.1:{}/metrics", app.metrics_port()),
    };
    tokio::spawn(app.run_until(std::future::pending()));
    served
}

/// The value of the sample whose name and labels are exactly `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_say_why_readiness_failed() {
    // Never migrated: readiness fails on the schema.
    let db = TestDb::empty().await;
    let mut config = test_config(&db);
    config.rate_limit.api_per_minute = 2.try_into().unwrap();
    let served = serve(config).await;
    let client = client();
    for _ in 0..3 {
        client.get(format!("{}/api/v1/merchants", served.api)).send().await.unwrap();
    }
    client.get(format!("{}/api/v1/merchants/123/nowhere", served.api)).send().await.unwrap();
    assert_eq!(client.get(format!("{}/health/ready", served.api)).send().await.unwrap().status(), 503);

    let response = client.get(&served.metrics).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = response.text().await.unwrap();

    let merchants = r#"http_requests_total{method="GET",route="/api/v1/merchants",status="#;
    assert_eq!(sample(&text, &format!(r#"{merchants}"401"}}"#)), Some(2.0), "{text}");
    assert_eq!(sample(&text, &format!(r#"{merchants}"429"}}"#)), Some(1.0), "{text}");
    assert_eq!(
        sample(&text, r#"http_requests_total{method="GET",route="unmatched",status="404"}"#),
        Some(1.0),
        "a raw path never becomes a label: {text}"
    );
    assert!(!text.contains("/123/"), "{text}");
    let latency = r#"http_request_duration_seconds_count{method="GET",route="/health/ready",status="503"}"#;
    assert_eq!(sample(&text, latency), Some(1.0), "{text}");
    assert_eq!(sample(&text, r#"readiness_failures_total{reason="schema"}"#), Some(1.0), "{text}");
    assert_eq!(sample(&text, r#"rate_limited_requests_total{limit="api"}"#), Some(1.0), "{text}");
    assert_eq!(sample(&text, "http_requests_in_flight"), Some(0.0), "{text}");
    assert!(sample(&text, "db_pool_connections").is_some_and(|n| n >= 1.0), "the probe opened one: {text}");
    assert!(sample(&text, "db_pool_idle_connections").is_some(), "{text}");
    assert_eq!(sample(&text, "db_pool_max_connections"), Some(10.0), "DATABASE_MAX_CONNECTIONS' default: {text}");
    assert_eq!(sample(&text, "app_ready"), Some(0.0), "the probe failed: {text}");
    // The reasons and limits that have not happened are there from the start, at 0.
    assert_eq!(sample(&text, r#"readiness_failures_total{reason="database"}"#), Some(0.0), "{text}");
    assert_eq!(sample(&text, r#"readiness_failures_total{reason="timeout"}"#), Some(0.0), "{text}");
    assert_eq!(sample(&text, r#"rate_limited_requests_total{limit="auth"}"#), Some(0.0), "{text}");
    // The p95 alert's threshold is a bucket bound (deploy/prometheus/rules/clicknback.yml).
    let bucket = r#"http_request_duration_seconds_bucket{method="GET",route="/health/ready",status="503",le="0.2"}"#;
    assert_eq!(sample(&text, bucket), Some(1.0), "{text}");
    let build = format!(r#"app_build_info{{commit="unknown",version="{}"}}"#, env!("CARGO_PKG_VERSION"));
    assert_eq!(sample(&text, &build), Some(1.0), "{text}");
}

/// A readiness probe's status, then `app_ready` and `db_pool_max_connections` as scraped after it.
async fn probe_then_scrape(client: &reqwest::Client, served: &Served) -> (u16, Option<f64>, Option<f64>) {
    let status = client.get(format!("{}/health/ready", served.api)).send().await.unwrap().status();
    let text = client.get(&served.metrics).send().await.unwrap().text().await.unwrap();
    (status.as_u16(), sample(&text, "app_ready"), sample(&text, "db_pool_max_connections"))
}

/// `app_ready` is the last readiness probe's verdict: 0 while the schema is missing, 1 once the
/// migrations are applied and a probe passes, and 0 again when one fails.
#[tokio::test]
async fn the_readiness_gauge_follows_the_last_probe() {
    let db = TestDb::empty().await;
    let mut config = test_config(&db);
    config.database.max_connections = 3;
    let served = serve(config).await;
    let client = client();
    let ready = || probe_then_scrape(&client, &served);
    assert_eq!(ready().await, (503, Some(0.0), Some(3.0)));

    let pool = db.pool().await;
    app::MIGRATOR.run(&pool).await.unwrap();
    assert_eq!(ready().await, (200, Some(1.0), Some(3.0)));

    // The newest migration's record gone: the schema is not this binary's any more.
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(ready().await, (503, Some(0.0), Some(3.0)));
    pool.close().await;
}

#[tokio::test]
async fn metrics_are_not_served_on_the_apis_port() {
    let db = TestDb::migrated().await;
    let served = serve(test_config(&db)).await;
    let client = client();

    let on_api = client.get(format!("{}/metrics", served.api)).send().await.unwrap();
    assert_eq!(on_api.status(), 404);
    // And the metrics listener serves nothing but the metrics.
    let api_on_metrics = served.metrics.replace("/metrics", "/health/live");
    assert_eq!(client.get(api_on_metrics).send().await.unwrap().status(), 404);
}

/// The metrics listener lives as long as the API's: once the server has stopped, nothing
/// answers on its port.
#[tokio::test]
async fn the_metrics_listener_stops_with_the_server() {
    let db = TestDb::migrated().await;
    let app = Application::build(test_config(&db)).await.unwrap();
    let metrics = format!("127.0.0.1:{}", app.metrics_port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    assert!(tokio::net::TcpStream::connect(&metrics).await.is_ok(), "listening while the server runs");

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    // The listener's task is aborted; the runtime drops it (and its socket) on its next turn.
    let mut refused = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(&metrics).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(refused, "{metrics} still answers after the server stopped");
}

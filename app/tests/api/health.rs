//! The probes: liveness without I/O, readiness only with a database that answers in time.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::helpers::{Proxy, TestDb, client, hung_database_config, server_addr, spawn, spawn_app, test_config};

#[tokio::test]
async fn live_answers_alive_on_request() {
    let app = spawn_app().await;

    let response = app.get("/health/live", None).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"status": "alive"}));
}

#[tokio::test]
async fn ready_answers_ready_on_database_up() {
    let app = spawn_app().await;

    let response = app.get("/health/ready", None).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"status": "ready"}));
}

#[tokio::test]
async fn ready_answers_unavailable_on_database_stopped() {
    // The app reaches the database through a proxy that the test cuts: ready, then gone.
    let db = TestDb::migrated().await;
    let proxy = Proxy::start(server_addr().await).await;
    let mut config = test_config(&db);
    config.database.options = config.database.options.host("127.0.0.1").port(proxy.addr.port());
    let config_readiness = config.database.readiness_timeout;
    assert!(config_readiness > config.database.acquire_timeout + Duration::from_secs(5));
    let address = spawn(config).await;
    let client = client();
    let ready = client.get(format!("{address}/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    proxy.stop().await;
    let started = Instant::now();
    let response = client.get(format!("{address}/health/ready")).send().await.unwrap();

    assert_eq!(response.status(), 503);
    // Noticed as an error (the pool's connection attempts end at their 2 s acquire timeout),
    // not waited out to the probe's own 10 s timeout.
    let elapsed = started.elapsed();
    assert!(elapsed < config_readiness, "took {elapsed:?}: the probe's timeout, not the database's error, answered");
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"status": "unavailable"}));
    // Liveness does not depend on the database.
    let live = client.get(format!("{address}/health/live")).send().await.unwrap();
    assert_eq!(live.status(), 200);
}

#[tokio::test]
async fn ready_answers_unavailable_on_nothing_listening() {
    let db = TestDb::empty().await;
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut config = test_config(&db);
    config.database.options = config.database.options.host("127.0.0.1").port(port);
    let address = spawn(config).await;

    let response = client().get(format!("{address}/health/ready")).send().await.unwrap();

    assert_eq!(response.status(), 503);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"status": "unavailable"}));
}

#[tokio::test]
async fn ready_answers_within_its_timeout_on_hung_database() {
    let db = TestDb::empty().await;
    let mut config = hung_database_config(&db).await;
    config.database.readiness_timeout = Duration::from_millis(300);
    let address = spawn(config).await;
    let started = Instant::now();

    let response = client().get(format!("{address}/health/ready")).send().await.unwrap();

    assert_eq!(response.status(), 503);
    let elapsed = started.elapsed();
    // At the probe's 300 ms, not the pool's 30 s acquire timeout (with room for a loaded machine).
    assert!(elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

#[tokio::test]
async fn ready_waits_for_every_migration_the_binary_embeds() {
    let db = TestDb::empty().await;
    let address = spawn(test_config(&db)).await;
    let client = client();
    let probe = || async { client.get(format!("{address}/health/ready")).send().await.unwrap() };
    let unavailable = json!({"status": "unavailable"});

    // A reachable database that was never migrated: no traffic yet.
    let response = probe().await;
    assert_eq!(response.status(), 503, "never migrated");
    assert_eq!(response.json::<Value>().await.unwrap(), unavailable);

    let pool = db.pool().await;
    app::MIGRATOR.run(&pool).await.unwrap();
    assert_eq!(probe().await.status(), 200, "every migration applied");

    // The newest migration missing (an older schema), then applied from other files.
    let newest = app::MIGRATOR.iter().map(|m| m.version).max().unwrap();
    let row: (i64, Vec<u8>) =
        sqlx::query_as("DELETE FROM _sqlx_migrations WHERE version = $1 RETURNING version, checksum")
            .bind(newest)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(probe().await.status(), 503, "migration {newest} not applied");
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES ($1, 'edited', true, $2, 0)")
        .bind(newest)
        .bind(b"not the embedded checksum".to_vec())
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(probe().await.status(), 503, "migration {newest} applied from another file");
    sqlx::query("UPDATE _sqlx_migrations SET checksum = $2 WHERE version = $1")
        .bind(row.0)
        .bind(&row.1)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(probe().await.status(), 200, "the schema is the binary's again");
    pool.close().await;
}

/// The readiness check tells a database that was never migrated (a state: `app migrate` mends
/// it) from one it cannot read, which is an error and logged as one.
#[tokio::test]
async fn the_schema_check_tells_never_migrated_from_a_database_error() {
    let db = TestDb::empty().await;
    let pool = db.pool().await;
    assert!(matches!(app::schema::check(&pool).await, Ok(app::schema::Schema::NeverMigrated)));

    // A table of that name that is not sqlx's: PostgreSQL's undefined_column, not undefined_table.
    sqlx::query("CREATE TABLE _sqlx_migrations (version bigint)").execute(&pool).await.unwrap();
    match app::schema::check(&pool).await {
        Err(sqlx::Error::Database(e)) => assert_eq!(e.code().as_deref(), Some("42703"), "{e}"),
        Err(e) => panic!("another error: {e}"),
        Ok(schema) => panic!("a table that is not sqlx's read as a schema state: {schema}"),
    }
}

//! The test harness: a fresh database per test on the PostgreSQL server named by
//! `DATABASE_URL`, and the application on a free port of 127.0.0.1.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use app::config::Config;
use app::{Application, MIGRATOR};
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, PgPool};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use uuid::Uuid;

/// The allowed origin of the test configuration.
pub const ALLOWED_ORIGIN: &str = "https://clicknback.com";
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// The server the tests create their databases on. Unset: the tests cannot run, and say how
/// to run them.
pub fn server_options() -> PgConnectOptions {
    let url = std::env::var("DATABASE_URL").unwrap_or_default();
    assert!(
        !url.trim().is_empty(),
        "DATABASE_URL is not set: the app's tests need a PostgreSQL server. Run them with \
         `cargo xtask test`, which provides one, or set DATABASE_URL to a server URL whose role \
         may create databases, e.g. postgres://postgres@127.0.0.1:5432/postgres"
    );
    PgConnectOptions::from_str(&url).expect("DATABASE_URL is not a valid PostgreSQL URL")
}

/// A database of its own for one test, dropped (with its connections) when the test ends,
/// even when it fails.
pub struct TestDb {
    pub name: String,
    pub options: PgConnectOptions,
}

impl TestDb {
    /// A new, empty database.
    pub async fn empty() -> TestDb {
        let server = server_options();
        let name = format!("clicknback_test_{}", Uuid::new_v4().simple());
        let mut conn = PgConnection::connect_with(&server).await.expect("cannot connect to DATABASE_URL");
        conn.execute(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .await
            .expect("cannot create a test database");
        conn.close().await.ok();
        let options = server.database(&name);
        TestDb { name, options }
    }

    /// A new database with the migrations applied.
    pub async fn migrated() -> TestDb {
        let db = TestDb::empty().await;
        let pool = db.pool().await;
        MIGRATOR.run(&pool).await.expect("migrations failed");
        pool.close().await;
        db
    }

    pub async fn pool(&self) -> PgPool {
        PgPoolOptions::new().max_connections(2).connect_with(self.options.clone()).await.expect("cannot connect")
    }

    /// `postgres://…/name`, for the binary's `DATABASE_URL`.
    pub fn url(&self) -> String {
        let server = std::env::var("DATABASE_URL").unwrap_or_default();
        let mut url = reqwest::Url::parse(&server).expect("DATABASE_URL is not a URL");
        url.set_path(&self.name);
        url.to_string()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot block on async work: use a thread
        // with a runtime of its own, and wait for it.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async move {
                let mut conn = PgConnection::connect_with(&server_options()).await.ok()?;
                let sql = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
                conn.execute(sqlx::AssertSqlSafe(sql)).await.ok()?;
                conn.close().await.ok()
            })
        });
        let _ = dropped.join();
    }
}

/// The environment of a production deployment, pointed at `db`.
pub fn test_env(db: &TestDb) -> HashMap<&'static str, String> {
    HashMap::from([
        ("APP_ENV", "production".to_owned()),
        ("HOST", "127.0.0.1".to_owned()),
        ("DATABASE_URL", db.url()),
        ("JWT_SECRET", JWT_SECRET.to_owned()),
        ("CORS_ORIGINS", ALLOWED_ORIGIN.to_owned()),
        // Generous: a test's first probe opens the pool's first connection, which under a
        // loaded CI machine and coverage took over 500 ms once (issue 23). The probes' timeout
        // tests set their own.
        ("READINESS_TIMEOUT_MS", "10000".to_owned()),
        ("DATABASE_ACQUIRE_TIMEOUT_MS", "2000".to_owned()),
        // The tests log in and register far more often than a person would; the rate limits'
        // own tests set theirs.
        ("RATE_LIMIT_AUTH_PER_MINUTE", "100000".to_owned()),
        // A free port for each app's metrics listener.
        ("METRICS_ADDR", "127.0.0.1:0".to_owned()),
        ("RATE_LIMIT_API_PER_MINUTE", "100000".to_owned()),
    ])
}

/// A configuration for `db`, on a free port (0).
pub fn test_config(db: &TestDb) -> Config {
    let env = test_env(db);
    let mut config = Config::from_lookup(|k| env.get(k).cloned()).expect("test configuration is valid");
    config.server.port = 0;
    config
}

/// `test_config(db)` pointed at a "database" that accepts connections and never says a word
/// (a hung server), with an acquire timeout long enough that only the caller's timeouts count.
pub async fn hung_database_config(db: &TestDb) -> Config {
    let hung = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = hung.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hung.accept().await {
            held.push(socket);
        }
    });
    let mut config = test_config(db);
    config.database.options = config.database.options.host("127.0.0.1").port(port);
    config.database.acquire_timeout = Duration::from_secs(30);
    config
}

/// A running application with its own database.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: TestDb,
}

/// zero2prod's `spawn_app`: a migrated database, the app on a free port, a client.
pub async fn spawn_app() -> TestApp {
    let db = TestDb::migrated().await;
    let config = test_config(&db);
    let address = spawn(config).await;
    TestApp { address, client: client(), db }
}

/// Serves `config` in the background (until the test's runtime ends); returns its base URL.
pub async fn spawn(config: Config) -> String {
    let app = Application::build(config).await.expect("cannot build the application");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until(std::future::pending()));
    address
}

/// A port of 127.0.0.1 that was free a moment ago (for a server the test starts itself).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().unwrap()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn register(&self, email: &str, password: &str) -> reqwest::Response {
        self.post("/api/v1/users", &json!({"email": email, "password": password, "full_name": "Test User"}), None).await
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post("/api/v1/auth/login", &json!({"email": email, "password": password}), None).await
    }

    /// Registers a user and returns its access token.
    pub async fn user_token(&self, email: &str) -> String {
        assert_eq!(self.register(email, "password123").await.status(), 201);
        token_of(self.login(email, "password123").await).await
    }

    /// Registers a user, promotes it to admin in the database, and returns its token.
    pub async fn admin_token(&self) -> String {
        let email = "admin@example.com";
        assert_eq!(self.register(email, "password123").await.status(), 201);
        let pool = self.db.pool().await;
        sqlx::query("UPDATE users SET role = 'admin' WHERE email = $1").bind(email).execute(&pool).await.unwrap();
        pool.close().await;
        token_of(self.login(email, "password123").await).await
    }
}

pub async fn token_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// Asserts the one error shape, that its request id is the response's `X-Request-ID`, and
/// returns the body.
pub async fn error_body(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status);
    let header = response.headers().get("x-request-id").expect("no X-Request-ID").to_str().unwrap().to_owned();
    let body: Value = response.json().await.expect("error body is not JSON");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert_eq!(body["request_id"], header.as_str(), "{body}");
    body
}

/// A TCP proxy to the database that can be cut, to take the database away from a running app.
pub struct Proxy {
    pub addr: SocketAddr,
    tasks: JoinSet<()>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Proxy { addr, tasks }
    }

    /// Closes the listener and every connection: the database is gone for the app.
    pub async fn stop(mut self) {
        self.tasks.shutdown().await;
    }
}

/// The server's address, for the proxy.
pub async fn server_addr() -> SocketAddr {
    let server = server_options();
    tokio::net::lookup_host((server.get_host(), server.get_port())).await.unwrap().next().unwrap()
}

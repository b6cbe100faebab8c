//! Configuration from environment variables, validated once at start-up.
//!
//! Every problem is collected and reported together, one line per variable, so a broken
//! deployment is fixed in one pass. Values that hold secrets (`DATABASE_URL`'s password,
//! `JWT_SECRET`) are never echoed in a message and are redacted from `Debug`.
//!
//! In development a `.env` file in the working directory is loaded first (variables already
//! set in the environment win); in production (`APP_ENV=production`) it is never read.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use axum::http::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::PgConnectOptions;

/// The placeholder `JWT_SECRET` of `.env.example`: refused in production.
pub const EXAMPLE_JWT_SECRET: &str = "change-me-to-at-least-32-random-bytes-in-production";
/// The shortest `JWT_SECRET` accepted, in bytes (HS256 wants a key as long as its output).
pub const MIN_JWT_SECRET_BYTES: usize = 32;
/// `MAX_BODY_BYTES`' default: the API's bodies are a few hundred bytes.
const DEFAULT_MAX_BODY_BYTES: u64 = 16 * 1024;
/// A lone `*`: in `CORS_ORIGINS` it means "any origin", accepted in development only.
const WILDCARD: &str = "*";

/// Where the service runs: `APP_ENV=development` or `APP_ENV=production` (the default, so a
/// deployment that forgets the variable gets the strict checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Production => "production",
        }
    }
}

/// Everything `app serve` needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub cors: CorsConfig,
    pub auth: AuthConfig,
    pub rate_limit: RateLimitConfig,
}

/// The rate limits (see `rate_limit`).
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// `RATE_LIMIT_AUTH_PER_MINUTE`, default 10: logins and registrations per client address.
    pub auth_per_minute: NonZeroU32,
    /// `RATE_LIMIT_API_PER_MINUTE`, default 600: requests to the API per client address.
    pub api_per_minute: NonZeroU32,
    /// `RATE_LIMIT_MAX_CLIENTS`, default 100000: addresses tracked per limit, at most.
    pub max_clients: usize,
    /// `TRUSTED_PROXIES`, default none: addresses or networks (`172.16.0.0/12`) whose
    /// `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<TrustedNet>,
    /// `RATE_LIMIT_ENABLED`, default true: false leaves limiting to the edge proxy (and lets a
    /// benchmark measure what the limits cost).
    pub enabled: bool,
}

/// An address or a network in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedNet {
    addr: IpAddr,
    prefix: u8,
}

impl TrustedNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for TrustedNet {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| ())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or(())?,
        };
        Ok(TrustedNet { addr, prefix })
    }
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `HOST`, default 127.0.0.1 (the container image sets 0.0.0.0).
    pub host: IpAddr,
    /// `PORT`, default 8000. Port 0 (tests only) binds a free port: see `Application::port`.
    pub port: u16,
    /// `REQUEST_TIMEOUT_MS`, default 15 s: a request still running then gets 408.
    pub request_timeout: Duration,
    /// `SHUTDOWN_TIMEOUT_MS`, default 15 s: after SIGTERM, how long requests in flight may
    /// finish before the server stops anyway (below the stop grace period, 20 s in docker-compose.yml).
    pub shutdown_timeout: Duration,
    /// `MAX_BODY_BYTES`, default 16 KiB: a larger request body gets 413.
    pub max_body_bytes: usize,
    /// `WORKER_THREADS`, default: one per CPU the process may use. The runtime's threads.
    pub worker_threads: Option<usize>,
    /// `METRICS_ADDR`, default 127.0.0.1:9464: where `GET /metrics` is served, apart from
    /// the API (the container sets 0.0.0.0:9464, reachable inside the compose network only).
    pub metrics_addr: SocketAddr,
    /// `BEHIND_TLS`, default false: clients reach the service over HTTPS (a TLS proxy in
    /// front), so responses carry `Strict-Transport-Security`. Never set it on plain HTTP.
    pub behind_tls: bool,
}

/// The database settings, shared by `serve` and `migrate`.
#[derive(Clone)]
pub struct DatabaseConfig {
    /// Parsed from `DATABASE_URL`; holds the password, so `Debug` shows only where it points.
    pub options: PgConnectOptions,
    /// `DATABASE_MAX_CONNECTIONS`, default 10.
    pub max_connections: u32,
    /// `DATABASE_ACQUIRE_TIMEOUT_MS`, default 5 s: how long a request waits for a connection.
    pub acquire_timeout: Duration,
    /// `READINESS_TIMEOUT_MS`, default 1 s: `/health/ready` answers 503 after this, even if
    /// the database hangs.
    pub readiness_timeout: Duration,
    /// `DATABASE_MIN_CONNECTIONS`, default 0: connections the pool keeps open when idle.
    pub min_connections: u32,
    /// `DATABASE_IDLE_TIMEOUT_MS`, default 10 min: an idle connection above the minimum is closed after this.
    pub idle_timeout: Duration,
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("host", &self.options.get_host())
            .field("port", &self.options.get_port())
            .field("database", &self.options.get_database())
            .field("username", &self.options.get_username())
            .field("password", &"[REDACTED]")
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("readiness_timeout", &self.readiness_timeout)
            .field("min_connections", &self.min_connections)
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

/// Which browser origins may call the API (`CORS_ORIGINS`, comma-separated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsConfig {
    /// Exactly these origins (none by default: no cross-origin browser access).
    Origins(Vec<HeaderValue>),
    /// Any origin: `CORS_ORIGINS` holds a lone wildcard, which is refused in production.
    AnyOriginInDevelopment,
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `JWT_SECRET`: signs the access tokens (HS256), at least 32 bytes.
    pub jwt_secret: SecretString,
    /// `ACCESS_TOKEN_EXPIRE_MINUTES`, default 30.
    pub token_ttl: Duration,
}

/// Every problem found in the configuration, one line each, each naming its variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration ({} problem{}):", self.problems.len(), plural(self.problems.len()))?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Loads `.env` from the working directory unless the environment says production.
/// Variables already set in the environment are never overridden.
pub fn load_dotenv() {
    let production = std::env::var("APP_ENV").is_ok_and(|v| v.trim().eq_ignore_ascii_case("production"));
    if !production {
        // A missing .env is normal (containers, CI); the variables then come from the environment.
        let _ = dotenvy::dotenv();
    }
}

fn env_lookup(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

impl Config {
    /// Reads and validates the process environment (call [`load_dotenv`] first).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env_lookup)
    }

    /// Reads and validates the configuration from any source of variables (tests use a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut r = Reader::new(lookup);
        let environment = r.environment();
        let server = ServerConfig {
            host: r.parse("HOST", IpAddr::V4(Ipv4Addr::LOCALHOST), "an IP address (e.g. 0.0.0.0 or 127.0.0.1)"),
            port: r.port(),
            request_timeout: r.millis("REQUEST_TIMEOUT_MS", 15_000, 100..=600_000),
            shutdown_timeout: r.millis("SHUTDOWN_TIMEOUT_MS", 15_000, 0..=600_000),
            // At most 16 MiB, which fits any usize the app builds for.
            max_body_bytes: usize::try_from(r.number("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 256..=16 * 1024 * 1024))
                .unwrap_or(usize::MAX),
            worker_threads: r.optional_number("WORKER_THREADS", 1..=1_024).and_then(|n| usize::try_from(n).ok()),
            metrics_addr: r.parse(
                "METRICS_ADDR",
                SocketAddr::from(([127, 0, 0, 1], 9464)),
                "an address and port (e.g. 127.0.0.1:9464)",
            ),
            behind_tls: r.parse("BEHIND_TLS", false, "true or false"),
        };
        let database = r.database();
        let cors = r.cors(environment);
        let auth = r.auth(environment);
        let rate_limit = r.rate_limit();
        r.finish()?;
        // `finish` returned Ok, so every required value was present and valid.
        match (database, auth) {
            (Some(database), Some(auth)) => Ok(Config { environment, server, database, cors, auth, rate_limit }),
            _ => Err(ConfigError { problems: vec!["internal error: a required value was lost".into()] }),
        }
    }
}

impl DatabaseConfig {
    /// What `app migrate` needs: `DATABASE_URL` and the pool timeouts.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env_lookup)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut r = Reader::new(lookup);
        let database = r.database();
        r.finish()?;
        database.ok_or_else(|| ConfigError { problems: vec!["DATABASE_URL is missing".into()] })
    }
}

/// The port `app healthcheck` probes: `PORT`, default 8000.
pub fn healthcheck_port_from_env() -> Result<u16, ConfigError> {
    let mut r = Reader::new(env_lookup);
    let port = r.port();
    r.finish()?;
    Ok(port)
}

/// Reads variables and collects problems instead of stopping at the first one.
struct Reader<F> {
    lookup: F,
    problems: Vec<String>,
}

impl<F: Fn(&str) -> Option<String>> Reader<F> {
    fn new(lookup: F) -> Self {
        Reader { lookup, problems: Vec::new() }
    }

    fn finish(self) -> Result<(), ConfigError> {
        if self.problems.is_empty() { Ok(()) } else { Err(ConfigError { problems: self.problems }) }
    }

    fn problem(&mut self, message: impl Into<String>) {
        self.problems.push(message.into());
    }

    /// The value, trimmed; an empty value counts as unset.
    fn get(&self, key: &str) -> Option<String> {
        (self.lookup)(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// Parses an optional value (not a secret: it is quoted in the message).
    fn parse<T: FromStr>(&mut self, key: &str, default: T, expected: &str) -> T {
        match self.get(key) {
            None => default,
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                self.problem(format!("{key}: `{raw}` is not {expected}"));
                default
            }),
        }
    }

    fn number(&mut self, key: &str, default: u64, range: std::ops::RangeInclusive<u64>) -> u64 {
        let expected = format!("a whole number from {} to {}", range.start(), range.end());
        let value = self.parse(key, default, &expected);
        if range.contains(&value) {
            value
        } else {
            self.problem(format!("{key}: {value} is not {expected}"));
            default
        }
    }

    /// A number with no default: `None` when unset (or invalid, with the problem noted).
    fn optional_number(&mut self, key: &str, range: std::ops::RangeInclusive<u64>) -> Option<u64> {
        self.get(key)?;
        let value = self.number(key, 0, range.clone());
        range.contains(&value).then_some(value)
    }

    fn millis(&mut self, key: &str, default: u64, range: std::ops::RangeInclusive<u64>) -> Duration {
        Duration::from_millis(self.number(key, default, range))
    }

    fn port(&mut self) -> u16 {
        let port = self.number("PORT", 8000, 1..=65_535);
        u16::try_from(port).unwrap_or(8000)
    }

    fn environment(&mut self) -> Environment {
        match self.get("APP_ENV").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("production") => Environment::Production,
            Some("development") => Environment::Development,
            Some(other) => {
                self.problem(format!("APP_ENV: `{other}` is neither `development` nor `production`"));
                Environment::Production
            }
        }
    }

    fn database(&mut self) -> Option<DatabaseConfig> {
        let max_connections = self.number("DATABASE_MAX_CONNECTIONS", 10, 1..=1_000);
        let acquire_timeout = self.millis("DATABASE_ACQUIRE_TIMEOUT_MS", 5_000, 100..=60_000);
        let readiness_timeout = self.millis("READINESS_TIMEOUT_MS", 1_000, 50..=30_000);
        let min_connections = self.number("DATABASE_MIN_CONNECTIONS", 0, 0..=1_000);
        let idle_timeout = self.millis("DATABASE_IDLE_TIMEOUT_MS", 600_000, 1_000..=86_400_000);
        if min_connections > max_connections {
            self.problem(format!(
                "DATABASE_MIN_CONNECTIONS: {min_connections} is more than DATABASE_MAX_CONNECTIONS ({max_connections})"
            ));
        }
        let Some(url) = self.get("DATABASE_URL") else {
            self.problem("DATABASE_URL is missing: set it to postgres://USER:PASSWORD@HOST:PORT/DATABASE");
            return None;
        };
        // The URL holds the password: name the problem, never the value.
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            self.problem("DATABASE_URL must start with postgres:// or postgresql://");
            return None;
        }
        let options = match PgConnectOptions::from_str(&url) {
            Ok(options) => options.application_name("clicknback"),
            Err(e) => {
                self.problem(format!("DATABASE_URL is not a valid PostgreSQL URL ({e})"));
                return None;
            }
        };
        Some(DatabaseConfig {
            options,
            max_connections: u32::try_from(max_connections).unwrap_or(10),
            acquire_timeout,
            readiness_timeout,
            min_connections: u32::try_from(min_connections.min(max_connections)).unwrap_or(0),
            idle_timeout,
        })
    }

    fn cors(&mut self, environment: Environment) -> CorsConfig {
        let Some(raw) = self.get("CORS_ORIGINS") else { return CorsConfig::Origins(Vec::new()) };
        let entries: Vec<&str> = raw.split(',').map(str::trim).filter(|e| !e.is_empty()).collect();
        if entries.contains(&WILDCARD) {
            if environment == Environment::Production {
                self.problem(
                    "CORS_ORIGINS: a wildcard is refused when APP_ENV=production; \
                     list the allowed origins, e.g. https://clicknback.com",
                );
            } else if entries.len() > 1 {
                self.problem("CORS_ORIGINS: a wildcard cannot be combined with other origins");
            } else {
                return CorsConfig::AnyOriginInDevelopment;
            }
            return CorsConfig::Origins(Vec::new());
        }
        let mut origins = Vec::with_capacity(entries.len());
        for entry in entries {
            match parse_origin(entry) {
                Some(origin) => origins.push(origin),
                None => self.problem(format!(
                    "CORS_ORIGINS: `{entry}` is not an origin: write scheme://host[:port] \
                     (http or https, no path, no trailing slash), e.g. https://clicknback.com"
                )),
            }
        }
        CorsConfig::Origins(origins)
    }

    fn rate_limit(&mut self) -> RateLimitConfig {
        let per_minute = |r: &mut Self, key: &str, default: u64| {
            let n = r.number(key, default, 1..=1_000_000);
            u32::try_from(n).ok().and_then(NonZeroU32::new).unwrap_or(NonZeroU32::MIN)
        };
        let auth_per_minute = per_minute(self, "RATE_LIMIT_AUTH_PER_MINUTE", 10);
        let api_per_minute = per_minute(self, "RATE_LIMIT_API_PER_MINUTE", 600);
        let max_clients =
            usize::try_from(self.number("RATE_LIMIT_MAX_CLIENTS", 100_000, 100..=10_000_000)).unwrap_or(100_000);
        let enabled = self.parse("RATE_LIMIT_ENABLED", true, "true or false");
        let mut trusted_proxies = Vec::new();
        if let Some(raw) = self.get("TRUSTED_PROXIES") {
            for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                match entry.parse() {
                    Ok(net) => trusted_proxies.push(net),
                    Err(()) => self.problem(format!(
                        "TRUSTED_PROXIES: `{entry}` is neither an IP address nor a network such as 172.16.0.0/12"
                    )),
                }
            }
        }
        RateLimitConfig { auth_per_minute, api_per_minute, max_clients, trusted_proxies, enabled }
    }

    fn auth(&mut self, environment: Environment) -> Option<AuthConfig> {
        let minutes = self.number("ACCESS_TOKEN_EXPIRE_MINUTES", 30, 1..=1_440);
        // Not trimmed and never quoted: it is a secret.
        let secret = (self.lookup)("JWT_SECRET").filter(|s| !s.is_empty());
        let Some(secret) = secret else {
            self.problem(format!(
                "JWT_SECRET is missing: set it to at least {MIN_JWT_SECRET_BYTES} random bytes, \
                 e.g. the output of `openssl rand -hex 32`"
            ));
            return None;
        };
        if secret.len() < MIN_JWT_SECRET_BYTES {
            self.problem(format!(
                "JWT_SECRET is too short ({} bytes): use at least {MIN_JWT_SECRET_BYTES} random bytes, \
                 e.g. the output of `openssl rand -hex 32`",
                secret.len()
            ));
            return None;
        }
        if environment == Environment::Production && secret == EXAMPLE_JWT_SECRET {
            self.problem("JWT_SECRET is the example value from .env.example: generate a real one for production");
            return None;
        }
        Some(AuthConfig { jwt_secret: SecretString::from(secret), token_ttl: Duration::from_secs(minutes * 60) })
    }
}

/// `scheme://host[:port]` with scheme http or https, nothing after the authority.
fn parse_origin(entry: &str) -> Option<HeaderValue> {
    let rest = entry.strip_prefix("https://").or_else(|| entry.strip_prefix("http://"))?;
    let (host, port) = match rest.rsplit_once(':') {
        // An IPv6 literal such as [::1] without a port also contains ':'.
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (rest, None),
    };
    let host_ok =
        !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    if !(host_ok && port_ok) {
        return None;
    }
    HeaderValue::from_str(entry).ok()
}

impl AuthConfig {
    /// The signing key's bytes (for the token module only).
    pub(crate) fn secret_bytes(&self) -> &[u8] {
        self.jwt_secret.expose_secret().as_bytes()
    }
}

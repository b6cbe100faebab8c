//! Configuration: one clear message per missing or invalid variable, secrets never shown.

use std::collections::HashMap;
use std::time::Duration;

use app::config::{Config, ConfigError, CorsConfig, EXAMPLE_JWT_SECRET, Environment, MIN_JWT_SECRET_BYTES};

const SECRET: &str = "a-very-secret-signing-key-of-40-bytes-ok";

fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_lookup(|k| vars.get(k).cloned())
}

fn problems(vars: &[(&str, &str)]) -> Vec<String> {
    load(vars).expect_err("configuration should be refused").problems
}

const MINIMAL: [(&str, &str); 2] =
    [("DATABASE_URL", "postgres://app:db-password-123@db:5432/clicknback"), ("JWT_SECRET", SECRET)];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut vars: Vec<_> = MINIMAL.to_vec();
    vars.extend_from_slice(extra);
    vars
}

#[test]
fn config_uses_safe_defaults_on_minimal_environment() {
    let config = load(&MINIMAL).unwrap();

    assert_eq!(config.environment, Environment::Production);
    assert_eq!(config.server.host.to_string(), "127.0.0.1");
    assert_eq!(config.server.port, 8000);
    assert_eq!(config.cors, CorsConfig::Origins(vec![]));
    assert_eq!(config.auth.token_ttl, Duration::from_secs(30 * 60));
    assert_eq!(config.database.readiness_timeout, Duration::from_secs(1));
    assert_eq!(config.database.acquire_timeout, Duration::from_secs(5));
    assert_eq!(config.database.options.get_database(), Some("clicknback"));
}

#[test]
fn config_names_each_missing_variable_on_empty_environment() {
    let problems = problems(&[("JWT_SECRET", "")]);

    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].starts_with("DATABASE_URL is missing"), "{}", problems[0]);
    assert!(problems[1].starts_with("JWT_SECRET is missing"), "{}", problems[1]);
}

#[test]
fn config_reports_every_invalid_value_at_once() {
    let problems = problems(&with(&[
        ("APP_ENV", "staging"),
        ("HOST", "localhost"),
        ("PORT", "70000"),
        ("DATABASE_MAX_CONNECTIONS", "many"),
        ("READINESS_TIMEOUT_MS", "0"),
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "-5"),
    ]));

    assert_eq!(
        problems,
        [
            "APP_ENV: `staging` is neither `development` nor `production`",
            "HOST: `localhost` is not an IP address (e.g. 0.0.0.0 or 127.0.0.1)",
            "PORT: 70000 is not a whole number from 1 to 65535",
            "DATABASE_MAX_CONNECTIONS: `many` is not a whole number from 1 to 1000",
            "READINESS_TIMEOUT_MS: 0 is not a whole number from 50 to 30000",
            "ACCESS_TOKEN_EXPIRE_MINUTES: `-5` is not a whole number from 1 to 1440",
        ]
    );
}

#[test]
fn config_refuses_wildcard_origin_on_production() {
    let problems = problems(&with(&[("APP_ENV", "production"), ("CORS_ORIGINS", "*")]));

    assert_eq!(problems.len(), 1);
    assert!(problems[0].starts_with("CORS_ORIGINS: a wildcard is refused when APP_ENV=production"), "{}", problems[0]);
    // Also when APP_ENV is not set at all: production is the default.
    assert_eq!(self::problems(&with(&[("CORS_ORIGINS", "https://a.com, *")])).len(), 1);
}

#[test]
fn config_accepts_wildcard_origin_on_development() {
    let config = load(&with(&[("APP_ENV", "development"), ("CORS_ORIGINS", "*")])).unwrap();

    assert_eq!(config.environment, Environment::Development);
    assert_eq!(config.cors, CorsConfig::AnyOriginInDevelopment);
    let combined = problems(&with(&[("APP_ENV", "development"), ("CORS_ORIGINS", "*, https://clicknback.com")]));
    assert_eq!(combined, ["CORS_ORIGINS: a wildcard cannot be combined with other origins"]);
}

#[test]
fn config_parses_origin_list_on_valid_origins() {
    let config = load(&with(&[(
        "CORS_ORIGINS",
        "https://clicknback.com, http://localhost:3000,,http://[::1]:8080,http://[::1]",
    )]))
    .unwrap();

    let CorsConfig::Origins(origins) = config.cors else { panic!("a list") };
    assert_eq!(origins, ["https://clicknback.com", "http://localhost:3000", "http://[::1]:8080", "http://[::1]"]);
}

#[test]
fn config_refuses_malformed_origins() {
    for bad in ["clicknback.com", "https://clicknback.com/", "https://a.com/path", "ftp://a.com", "https://a.com:0"] {
        let problems = problems(&with(&[("CORS_ORIGINS", bad)]));
        assert_eq!(problems.len(), 1, "{bad}");
        assert!(problems[0].starts_with(&format!("CORS_ORIGINS: `{bad}` is not an origin")), "{}", problems[0]);
    }
}

#[test]
fn config_refuses_weak_secret_without_showing_it() {
    let short = problems(&[("DATABASE_URL", MINIMAL[0].1), ("JWT_SECRET", "tiny-secret")]);
    let example = problems(&[("DATABASE_URL", MINIMAL[0].1), ("JWT_SECRET", EXAMPLE_JWT_SECRET)]);
    let example_in_development =
        load(&[("DATABASE_URL", MINIMAL[0].1), ("JWT_SECRET", EXAMPLE_JWT_SECRET), ("APP_ENV", "development")]);

    assert_eq!(short.len(), 1);
    assert!(short[0].starts_with("JWT_SECRET is too short (11 bytes)"), "{}", short[0]);
    assert!(!short[0].contains("tiny-secret"));
    assert!(example[0].starts_with("JWT_SECRET is the example value"), "{}", example[0]);
    assert!(example_in_development.is_ok());
    // The minimum is allowed.
    assert!(load(&[("DATABASE_URL", MINIMAL[0].1), ("JWT_SECRET", &"k".repeat(MIN_JWT_SECRET_BYTES))]).is_ok());
}

#[test]
fn config_refuses_bad_database_url_without_showing_password() {
    let scheme = problems(&[("DATABASE_URL", "mysql://u:hunter2-db@h/db"), ("JWT_SECRET", SECRET)]);
    let port = problems(&[("DATABASE_URL", "postgres://u:hunter2-db@h:notaport/db"), ("JWT_SECRET", SECRET)]);

    assert_eq!(scheme, ["DATABASE_URL must start with postgres:// or postgresql://"]);
    assert_eq!(port.len(), 1);
    assert!(port[0].starts_with("DATABASE_URL is not a valid PostgreSQL URL"), "{}", port[0]);
    assert!(!port[0].contains("hunter2-db"), "{}", port[0]);
}

#[test]
fn config_debug_output_redacts_secrets() {
    let config = load(&MINIMAL).unwrap();

    let debug = format!("{config:?}");

    assert!(!debug.contains("db-password-123"), "{debug}");
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(debug.contains("clicknback"), "{debug}");
}

#[test]
fn config_error_lists_one_problem_per_line() {
    let error = load(&[]).unwrap_err();

    let text = error.to_string();

    assert!(text.starts_with("invalid configuration (2 problems):\n  - DATABASE_URL is missing"), "{text}");
    assert_eq!(text.lines().count(), 3);
}

/// `.env.example`'s variables, with the optional ones that are commented out (`# KEY=value`);
/// an active line wins over a commented one.
fn env_example() -> HashMap<String, String> {
    let text = include_str!("../../../.env.example");
    let pairs = |commented: bool| {
        text.lines()
            .filter(move |l| l.starts_with("# ") == commented)
            .map(|l| l.trim_start_matches("# "))
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
    };
    pairs(true).chain(pairs(false)).collect()
}

#[test]
fn env_example_lists_every_variable_the_app_and_compose_read() {
    let example = env_example();
    let read = std::cell::RefCell::new(vec!["RUST_LOG".to_owned()]);

    let config = Config::from_lookup(|k| {
        read.borrow_mut().push(k.to_owned());
        example.get(k).cloned()
    });
    let compose = include_str!("../../../docker-compose.yml");
    let interpolated = compose
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| l.split("${").skip(1))
        .filter_map(|s| s.split([':', '}', '-']).next());

    let config = config.expect(".env.example is a valid development configuration");
    assert_eq!(config.environment, Environment::Development);
    for key in read.borrow().iter().map(String::as_str).chain(interpolated) {
        assert!(example.contains_key(key), "{key} is read but not in .env.example");
    }
}

#[test]
fn env_example_is_refused_as_is_on_production() {
    let mut example = env_example();
    example.insert("APP_ENV".into(), "production".into());

    let error = Config::from_lookup(|k| example.get(k).cloned()).unwrap_err();

    assert_eq!(error.problems.len(), 1);
    assert!(error.problems[0].starts_with("JWT_SECRET is the example value"), "{}", error.problems[0]);
}

#[test]
fn config_reads_the_runtime_knobs_with_defaults() {
    let defaults = load(&MINIMAL).unwrap();
    assert_eq!(defaults.server.shutdown_timeout, Duration::from_secs(15));
    assert_eq!(defaults.server.max_body_bytes, 16 * 1024);
    assert_eq!(defaults.server.worker_threads, None);
    assert!(!defaults.server.behind_tls);
    assert_eq!(defaults.database.min_connections, 0);
    assert_eq!(defaults.database.idle_timeout, Duration::from_secs(600));

    let tuned = load(&with(&[
        ("SHUTDOWN_TIMEOUT_MS", "2500"),
        ("MAX_BODY_BYTES", "65536"),
        ("WORKER_THREADS", "4"),
        ("BEHIND_TLS", "true"),
        ("DATABASE_MIN_CONNECTIONS", "2"),
        ("DATABASE_IDLE_TIMEOUT_MS", "30000"),
    ]))
    .unwrap();
    assert_eq!(tuned.server.shutdown_timeout, Duration::from_millis(2500));
    assert_eq!(tuned.server.max_body_bytes, 65536);
    assert_eq!(tuned.server.worker_threads, Some(4));
    assert!(tuned.server.behind_tls);
    assert_eq!(tuned.database.min_connections, 2);
    assert_eq!(tuned.database.idle_timeout, Duration::from_secs(30));

    // As many connections kept open as allowed at most is fine.
    let even = load(&with(&[("DATABASE_MAX_CONNECTIONS", "4"), ("DATABASE_MIN_CONNECTIONS", "4")])).unwrap();
    assert_eq!((even.database.min_connections, even.database.max_connections), (4, 4));
}

#[test]
fn config_refuses_bad_runtime_knobs_all_at_once() {
    let problems = problems(&with(&[
        ("SHUTDOWN_TIMEOUT_MS", "soon"),
        ("MAX_BODY_BYTES", "10"),
        ("WORKER_THREADS", "0"),
        ("BEHIND_TLS", "yes"),
        ("DATABASE_MAX_CONNECTIONS", "5"),
        ("DATABASE_MIN_CONNECTIONS", "6"),
    ]));

    assert_eq!(
        problems,
        [
            "SHUTDOWN_TIMEOUT_MS: `soon` is not a whole number from 0 to 600000",
            "MAX_BODY_BYTES: 10 is not a whole number from 256 to 16777216",
            "WORKER_THREADS: 0 is not a whole number from 1 to 1024",
            "BEHIND_TLS: `yes` is not true or false",
            "DATABASE_MIN_CONNECTIONS: 6 is more than DATABASE_MAX_CONNECTIONS (5)",
        ]
    );
}

#[test]
fn config_reads_rate_limits_and_trusted_proxies() {
    let defaults = load(&MINIMAL).unwrap().rate_limit;
    assert_eq!((defaults.auth_per_minute.get(), defaults.api_per_minute.get()), (10, 600));
    assert_eq!(defaults.max_clients, 100_000);
    assert!(defaults.trusted_proxies.is_empty(), "no proxy is trusted unless named");
    assert!(defaults.enabled);
    assert!(!load(&with(&[("RATE_LIMIT_ENABLED", "false")])).unwrap().rate_limit.enabled);

    let config = load(&with(&[("TRUSTED_PROXIES", "127.0.0.1, 172.16.0.0/12,::1, fd00::/8")])).unwrap().rate_limit;
    let trusted = |ip: &str| config.trusted_proxies.iter().any(|n| n.contains(ip.parse().unwrap()));
    assert!(trusted("127.0.0.1") && trusted("172.16.0.1") && trusted("172.31.255.254") && trusted("::1"));
    assert!(!trusted("127.0.0.2") && !trusted("172.32.0.1") && !trusted("10.0.0.1") && !trusted("::2"));
    assert!(trusted("fd12:3456::1") && !trusted("fe80::1"), "an IPv6 network");

    let problems = problems(&with(&[
        ("TRUSTED_PROXIES", "10.0.0.0/33,nginx"),
        ("RATE_LIMIT_AUTH_PER_MINUTE", "0"),
        ("RATE_LIMIT_MAX_CLIENTS", "5"),
        ("RATE_LIMIT_ENABLED", "off"),
    ]));
    assert_eq!(
        problems,
        [
            "RATE_LIMIT_AUTH_PER_MINUTE: 0 is not a whole number from 1 to 1000000",
            "RATE_LIMIT_MAX_CLIENTS: 5 is not a whole number from 100 to 10000000",
            "RATE_LIMIT_ENABLED: `off` is not true or false",
            "TRUSTED_PROXIES: `10.0.0.0/33` is neither an IP address nor a network such as 172.16.0.0/12",
            "TRUSTED_PROXIES: `nginx` is neither an IP address nor a network such as 172.16.0.0/12",
        ]
    );
}
